//! The alignment page's mystery round: a short fine-tuning run, DPO or policy-gradient, with one of
//! that method's fine-tuning faults, or none, chosen by a seed and hidden. The learner reads the run,
//! says which guide entry it shows (or that nothing is wrong), and is judged against the hidden truth;
//! the detector's reading is judged by the same rule beside it.
//!
//! Every DPO fault's guide entry is "DPO loss not decreasing", so that entry is the right answer for
//! each of them, dpo-beta-too-high included. Its measured symptom is not that entry's: the loss falls
//! and the policy stays near its reference, and the detector says nothing. The round's reveal shows
//! that measurement ([`measured_note`]) rather than pretending the loss stayed flat. The
//! policy-gradient fault, no-kl-penalty, shows its entry's symptom: "Reward increases but quality
//! decreases", which the detector names.

use crate::form::{FormKind, RunForm};
use crate::mystery::Verdict;
use faultline_engine::align::Method;
use faultline_engine::diagnosis::Finding;
use faultline_engine::faults::measured::{self, Measured};
use faultline_engine::faults::FaultId;
use faultline_engine::guide::EntryId;
use faultline_engine::rng::Rng;
use faultline_engine::settings::SettingKey;

/// A round's hidden truth: the method its run fine-tunes with, and the fault switched on (none: a
/// healthy run).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Round {
    pub method: Method,
    pub fault: Option<FaultId>,
}

/// Every round a seed can draw, each as likely: each method's healthy run and a run with each of its
/// faults, so a round's method does not give its fault away.
pub const ROUNDS: [Round; 7] = [
    Round { method: Method::Dpo, fault: None },
    Round { method: Method::Dpo, fault: Some(FaultId::DpoLrTooLow) },
    Round { method: Method::Dpo, fault: Some(FaultId::DpoBetaTooHigh) },
    Round { method: Method::Dpo, fault: Some(FaultId::DpoReferenceNotFrozen) },
    Round { method: Method::Dpo, fault: Some(FaultId::DpoLogprobBug) },
    Round { method: Method::Rl, fault: None },
    Round { method: Method::Rl, fault: Some(FaultId::NoKlPenalty) },
];

/// A DPO round's run, shown to the learner: a base model pretrained for 150 steps, then 30 DPO steps at
/// a fine-tuning learning rate that lets a healthy run's loss fall within them (about a minute in a
/// browser). Everything else is the alignment page's defaults.
pub const DPO_RUN: [(SettingKey, &str); 3] =
    [(SettingKey::PretrainSteps, "150"), (SettingKey::Steps, "30"), (SettingKey::FineTuneLr, "0.001")];

/// A policy-gradient round's run: a base model pretrained for 800 steps, then 40 policy-gradient steps
/// (the fewest the detector reads); everything else is the policy-gradient page's defaults. Measured
/// natively (`faultline align rl --pretrain-steps 800 --steps 40 --seed S --json`, with and without
/// `--fault no-kl-penalty`): on seeds 1 to 5 the hacked run's proxy reward climbs (seed 1, the round's:
/// 0.06 to 0.51) while the true quality falls (80% to 52%) and the detector names "Reward increases but
/// quality decreases"; the healthy runs get no diagnosis. A shorter base is too poor to fall from: with
/// 600 pretraining steps it writes 55 to 70% valid answers and the detector misses seeds 1 and 4 even
/// after 80 steps (with 300, nothing valid at all). A policy-gradient step costs about 17 pretraining
/// steps (BENCHMARKS.md), so at the 50 to 100 tiny pretraining steps a second of a browser the round
/// takes about 15 to 30 seconds there.
pub const RL_RUN: [(SettingKey, &str); 2] = [(SettingKey::PretrainSteps, "800"), (SettingKey::Steps, "40")];

/// The settings a round of `method` changes from the alignment page's defaults.
pub fn short_run(method: Method) -> &'static [(SettingKey, &'static str)] {
    match method {
        Method::Dpo => &DPO_RUN,
        Method::Rl => &RL_RUN,
    }
}

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

/// Round `seed`: one of the [`ROUNDS`], each as likely.
pub fn round(seed: u64) -> Round {
    ROUNDS[Rng::derive(seed, "align-mystery").below(ROUNDS.len())]
}

/// The fault hidden in round `seed`; none for a healthy run.
pub fn hidden_fault(seed: u64) -> Option<FaultId> {
    round(seed).fault
}

/// The settings of round `seed`: its method's alignment page defaults, its [`short_run`], and its
/// hidden fault at its default strength.
pub fn round_form(seed: u64) -> RunForm {
    let Round { method, fault } = round(seed);
    let mut form = RunForm::new(FormKind::Alignment(method));
    for (key, value) in short_run(method) {
        form.set(*key, value.to_string());
    }
    if let Some(id) = fault {
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
/// says (dpo-beta-too-high: the loss falls rather than staying flat); none for the other rounds. A
/// policy-gradient round has none: no-kl-penalty shows its entry's symptom, and its note is about the
/// entry's fixes.
pub fn measured_note(seed: u64) -> Option<&'static Measured> {
    let Round { method: Method::Dpo, fault: Some(id) } = round(seed) else { return None };
    measured::for_entry(id.spec().guide_entry).find(|m| m.fault == id)
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use crate::align_view::aligned;
    use faultline_engine::diagnosis::Evidence;

    /// The first seed whose round is `round`.
    fn seed_of(round: Round) -> u64 {
        (0..).find(|&s| super::round(s) == round).unwrap()
    }

    fn rounds_of(seeds: std::ops::Range<u64>) -> Vec<Round> {
        seeds.map(round).collect()
    }

    #[test]
    fn rounds_are_reproducible_and_reach_every_method_healthy_and_with_each_of_its_faults() {
        assert_eq!(rounds_of(0..50), rounds_of(0..50));
        let seen = rounds_of(0..500);
        for r in ROUNDS {
            assert!(seen.contains(&r), "500 seeds reach {r:?}");
            assert!(r.fault.is_none_or(|id| r.method.faults().any(|f| f.id == id)), "{r:?} is its method's fault");
        }
        for method in [Method::Dpo, Method::Rl] {
            let hidden = |fault| ROUNDS.contains(&Round { method, fault });
            assert!(hidden(None), "a healthy {} round", method.name());
            assert!(method.faults().all(|f| hidden(Some(f.id))), "every {} fault", method.name());
        }
        assert!(seen.iter().any(|r| r.fault == Some(FaultId::NoKlPenalty)));
        assert_eq!(hidden_fault(2), Some(FaultId::DpoBetaTooHigh), "the browser test's round");
    }

    #[test]
    fn every_round_is_a_short_valid_fine_tuning_run_of_its_method_with_only_its_fault_on() {
        for seed in 0..100 {
            let form = round_form(seed);
            assert_eq!(form.method(), Some(round(seed).method), "seed {seed}");
            let config = form.to_config().unwrap_or_else(|e| panic!("seed {seed}: {e:?}"));
            let run = (config.fine_tuning.pretrain_steps, config.steps);
            match round(seed).method {
                Method::Dpo => assert_eq!((run, config.fine_tuning.lr), ((150, 30), 1e-3), "seed {seed}"),
                Method::Rl => assert_eq!(run, (800, 40), "seed {seed}"),
            }
            let on: Vec<FaultId> = config.faults.active().iter().map(|(id, _)| *id).collect();
            assert_eq!(on, hidden_fault(seed).into_iter().collect::<Vec<_>>(), "seed {seed}");
        }
    }

    #[test]
    fn guesses_are_judged_against_the_hidden_truth() {
        for r in ROUNDS {
            let seed = seed_of(r);
            let truth = r.fault.map_or(Guess::Healthy, |id| Guess::Entry(id.spec().guide_entry));
            assert_eq!(answer(seed), truth, "{r:?}");
            assert_eq!(judge(seed, truth), Verdict::Right, "{r:?}");
            match r.fault {
                None => {
                    assert_eq!(judge(seed, Guess::Entry(r.method.entry())), Verdict::Wrong, "{r:?}");
                }
                Some(_) => {
                    assert_eq!(judge(seed, Guess::Healthy), Verdict::Wrong, "{r:?}");
                    let stranger = EntryId::ALL.iter().find(|e| e.section() != r.method.entry().section());
                    assert_eq!(judge(seed, Guess::Entry(*stranger.unwrap())), Verdict::Wrong, "{r:?}");
                }
            }
        }
        let hacked = seed_of(Round { method: Method::Rl, fault: Some(FaultId::NoKlPenalty) });
        assert_eq!(answer(hacked), Guess::Entry(EntryId::RewardIncreasesButQualityDecreases));
        assert_ne!(judge(hacked, Guess::Entry(EntryId::DpoLossNotDecreasing)), Verdict::Right);
    }

    #[test]
    fn only_the_beta_round_reveals_a_measured_note_and_it_says_the_loss_falls() {
        for r in ROUNDS {
            assert_eq!(measured_note(seed_of(r)).is_some(), r.fault == Some(FaultId::DpoBetaTooHigh), "{r:?}");
        }
        let note = measured_note(2).unwrap();
        assert!(note.measured.contains("falls to about 0"), "{}", note.measured);
    }

    /// Round `seed` run to its end through the worker session, as the mystery page runs it.
    fn played(seed: u64) -> crate::align_view::AlignView {
        let form = round_form(seed);
        aligned(form.to_config().unwrap(), form.method().unwrap())
    }

    #[test]
    fn a_hacked_policy_gradient_round_is_named_by_the_detector_and_a_healthy_one_stays_quiet() {
        let hacked = 1;
        assert_eq!(round(hacked), Round { method: Method::Rl, fault: Some(FaultId::NoKlPenalty) });
        let run = played(hacked);
        let rl = run.rl.as_ref().expect("a policy-gradient run");
        assert_eq!(rl.steps_done(), 40);
        let (before, after) = (&rl.before().unwrap().record, &rl.after().unwrap().record);
        assert!(after.reward > before.reward && after.quality < before.quality - 0.15, "{}", run.status());
        let said = Guess::of_detector(run.findings.as_deref().unwrap());
        assert_eq!((said, judge(hacked, said)), (answer(hacked), Verdict::Right), "{}", run.status());

        let healthy = 0;
        assert_eq!(round(healthy), Round { method: Method::Rl, fault: None });
        let run = played(healthy);
        assert_eq!(run.rl.as_ref().map(|rl| rl.steps_done()), Some(40));
        assert_eq!(run.findings.as_deref(), Some(&[][..]), "{}", run.status());
        assert_eq!(judge(healthy, Guess::of_detector(&[])), Verdict::Right);
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
