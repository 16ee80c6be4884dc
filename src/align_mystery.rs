//! The alignment page's mystery round: a short fine-tuning run with one of the fine-tuning faults, or
//! none, chosen by a seed and hidden. The learner reads the run, says which guide entry it shows (or
//! that nothing is wrong), and is judged against the hidden truth; the detector's reading is judged by
//! the same rule beside it.
//!
//! Every fine-tuning fault's guide entry is "DPO loss not decreasing", so that entry is the right answer
//! for each of them, dpo-beta-too-high included. Its measured symptom is not that entry's: the loss
//! falls and the policy stays near its reference, and the detector says nothing. The round's reveal
//! shows that measurement ([`measured_note`]) rather than pretending the loss stayed flat.

use crate::form::{FormKind, RunForm};
use crate::mystery::Verdict;
use faultline_engine::align::Method;
use faultline_engine::diagnosis::Finding;
use faultline_engine::faults::measured::{self, Measured};
use faultline_engine::faults::FaultId;
use faultline_engine::guide::EntryId;
use faultline_engine::rng::Rng;
use faultline_engine::settings::SettingKey;

/// The round's run, shown to the learner: a base model pretrained for 150 steps, then 30 DPO steps at a
/// fine-tuning learning rate that lets a healthy run's loss fall within them (about a minute in a
/// browser). Everything else is the alignment page's defaults.
pub const SHORT_RUN: [(SettingKey, &str); 3] =
    [(SettingKey::PretrainSteps, "150"), (SettingKey::Steps, "30"), (SettingKey::FineTuneLr, "0.001")];

/// The value of the "nothing is wrong" choice in the guess's select.
pub const HEALTHY: &str = "healthy";

/// What the learner (or the detector) says the run shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Guess {
    /// Nothing is wrong.
    Healthy,
    /// The run shows this guide entry's problem.
    Entry(EntryId),
}

impl Guess {
    /// The guess a select's value names: [`HEALTHY`] or a guide entry's id; none for anything else.
    pub fn parse(value: &str) -> Option<Guess> {
        if value == HEALTHY {
            return Some(Guess::Healthy);
        }
        value.parse().ok().map(Guess::Entry)
    }

    /// What the detector says: its most confident finding's entry, or healthy when it names nothing.
    pub fn of_detector(findings: &[Finding]) -> Guess {
        findings.first().map_or(Guess::Healthy, |f| Guess::Entry(f.entry))
    }

    /// The guess in words.
    pub fn title(self) -> &'static str {
        match self {
            Guess::Healthy => "Healthy: nothing wrong",
            Guess::Entry(entry) => entry.title(),
        }
    }
}

/// The fault hidden in round `seed`: one of the fine-tuning faults, or none (a healthy run), each as
/// likely.
pub fn hidden_fault(seed: u64) -> Option<FaultId> {
    let pool: Vec<Option<FaultId>> = std::iter::once(None).chain(Method::Dpo.faults().map(|f| Some(f.id))).collect();
    pool[Rng::derive(seed, "align-mystery").below(pool.len())]
}

/// The settings of round `seed`: the alignment page's defaults, the [`SHORT_RUN`], and its hidden
/// fault at its default strength.
pub fn round_form(seed: u64) -> RunForm {
    let mut form = RunForm::new(FormKind::Alignment(Method::Dpo));
    for (key, value) in SHORT_RUN {
        form.set(key, value.to_string());
    }
    if let Some(id) = hidden_fault(seed) {
        form.set_fault(id, true);
    }
    form
}

/// The right answer of round `seed`: the hidden fault's guide entry, or healthy.
pub fn answer(seed: u64) -> Guess {
    hidden_fault(seed).map_or(Guess::Healthy, |id| Guess::Entry(id.spec().guide_entry))
}

/// Judges `guess` against round `seed`: the answer is right, another entry of its section is close,
/// and anything else (healthy for a broken run, any entry for a healthy one) is wrong.
pub fn judge(seed: u64, guess: Guess) -> Verdict {
    match (answer(seed), guess) {
        (answer, guess) if answer == guess => Verdict::Right,
        (Guess::Entry(answer), Guess::Entry(guess)) if answer.section() == guess.section() => Verdict::SameSection,
        _ => Verdict::Wrong,
    }
}

/// What Faultline measured of round `seed`'s hidden fault where it differs from what its guide entry
/// says (dpo-beta-too-high: the loss falls rather than staying flat); none for the other rounds.
pub fn measured_note(seed: u64) -> Option<&'static Measured> {
    let id = hidden_fault(seed)?;
    measured::for_entry(id.spec().guide_entry).find(|m| m.fault == id)
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use faultline_engine::diagnosis::Evidence;

    /// The first seed whose round hides `fault`.
    fn seed_of(fault: Option<FaultId>) -> u64 {
        (0..).find(|&s| hidden_fault(s) == fault).unwrap()
    }

    #[test]
    fn rounds_are_reproducible_and_reach_every_fault_and_the_healthy_run() {
        assert_eq!(hidden_faults_of(0..50), hidden_faults_of(0..50));
        let mut seen = hidden_faults_of(0..500);
        seen.sort_unstable_by_key(|f| f.map(FaultId::as_str));
        seen.dedup();
        assert_eq!(seen.len(), Method::Dpo.faults().count() + 1, "500 seeds reach every fault and none");
        assert_eq!(hidden_fault(2), Some(FaultId::DpoBetaTooHigh), "the browser test's round");
    }

    fn hidden_faults_of(seeds: std::ops::Range<u64>) -> Vec<Option<FaultId>> {
        seeds.map(hidden_fault).collect()
    }

    #[test]
    fn every_round_is_a_short_valid_fine_tuning_run_with_only_its_fault_on() {
        for seed in 0..100 {
            let config = round_form(seed).to_config().unwrap_or_else(|e| panic!("seed {seed}: {e:?}"));
            assert_eq!((config.fine_tuning.pretrain_steps, config.steps, config.fine_tuning.lr), (150, 30, 1e-3));
            let on: Vec<FaultId> = config.faults.active().iter().map(|(id, _)| *id).collect();
            assert_eq!(on, hidden_fault(seed).into_iter().collect::<Vec<_>>(), "seed {seed}");
        }
    }

    #[test]
    fn guesses_are_judged_against_the_hidden_truth() {
        let healthy = seed_of(None);
        assert_eq!(answer(healthy), Guess::Healthy);
        assert_eq!(judge(healthy, Guess::Healthy), Verdict::Right);
        assert_eq!(judge(healthy, Guess::Entry(EntryId::DpoLossNotDecreasing)), Verdict::Wrong);
        for spec in Method::Dpo.faults() {
            let seed = seed_of(Some(spec.id));
            assert_eq!(judge(seed, Guess::Entry(EntryId::DpoLossNotDecreasing)), Verdict::Right, "{}", spec.id);
            assert_eq!(judge(seed, Guess::Healthy), Verdict::Wrong, "{}", spec.id);
            let stranger = EntryId::ALL.iter().find(|e| e.section() != EntryId::DpoLossNotDecreasing.section());
            assert_eq!(judge(seed, Guess::Entry(*stranger.unwrap())), Verdict::Wrong, "{}", spec.id);
        }
    }

    #[test]
    fn only_the_beta_round_reveals_a_measured_note_and_it_says_the_loss_falls() {
        for spec in Method::Dpo.faults() {
            let note = measured_note(seed_of(Some(spec.id)));
            assert_eq!(note.is_some(), spec.id == FaultId::DpoBetaTooHigh, "{}", spec.id);
        }
        assert!(measured_note(seed_of(None)).is_none());
        let note = measured_note(seed_of(Some(FaultId::DpoBetaTooHigh))).unwrap();
        assert!(note.measured.contains("falls to about 0"), "{}", note.measured);
    }

    #[test]
    fn the_choices_parse_and_the_detector_is_read_as_a_guess() {
        assert_eq!(Guess::parse(HEALTHY), Some(Guess::Healthy));
        assert_eq!(Guess::parse("dpo-loss-not-decreasing"), Some(Guess::Entry(EntryId::DpoLossNotDecreasing)));
        assert_eq!(Guess::parse(""), None);
        assert_eq!(Guess::of_detector(&[]), Guess::Healthy);
        let flat = Finding {
            entry: EntryId::DpoLossNotDecreasing,
            confidence: 0.9,
            first_step: Some(30),
            evidence: vec![Evidence::DpoLossFlat { steps: 30, loss: 0.693, margin: 0.0, accuracy: 0.0 }],
        };
        assert_eq!(Guess::of_detector(&[flat]), Guess::Entry(EntryId::DpoLossNotDecreasing));
        assert_eq!(Guess::Healthy.title(), "Healthy: nothing wrong");
    }
}
