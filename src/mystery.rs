//! Mystery mode: a run with one or two hidden faults, chosen from the fault table by a seed. The learner
//! watches the measurements, names the guide entries they point to, and is scored against the faults'
//! entries.
//!
//! The round's run is the hidden faults' tested scenarios ([`RunForm::show_me`]): the set-ups the
//! symptom tests show each symptom with, so every round has something to find. Nothing here reaches
//! the worker or the detector except that run's configuration.

use crate::form::RunForm;
use faultline_engine::faults::{FaultSpec, Stage};
use faultline_engine::guide::EntryId;
use faultline_engine::rng::Rng;
use serde::{Deserialize, Serialize};

/// The key the score is kept under in `localStorage`; the version changes when [`Score`]'s shape does.
pub const SCORE_KEY: &str = "faultline.mystery.v1";

/// One round: the seed that picks its faults, and how many it hides.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Round {
    pub seed: u64,
    /// 1 or 2.
    pub faults: usize,
}

/// A fault whose symptom ends the run (a NaN stops it, running out of memory refuses it), so it would
/// hide any second fault; two-fault rounds leave these out.
fn ends_the_run(f: &FaultSpec) -> bool {
    matches!(f.guide_entry, EntryId::LossBecomesNan | EntryId::OutOfMemoryOom)
}

/// Whether `a` and `b` can hide in one run: different guide entries, neither ends the run, their
/// scenarios set different settings, and together they make a valid run.
fn compatible(a: &FaultSpec, b: &FaultSpec) -> bool {
    let keys = |f: &FaultSpec| f.scenario.changes().map(|c| c.pair().0).collect::<Vec<_>>();
    a.guide_entry != b.guide_entry
        && !ends_the_run(a)
        && !ends_the_run(b)
        && keys(a).iter().all(|k| !keys(b).contains(k))
        && two_fault_form(a, b).to_config().is_ok()
}

fn two_fault_form(a: &FaultSpec, b: &FaultSpec) -> RunForm {
    let mut form = RunForm::show_me(a.id);
    form.add_scenario(b.id);
    form
}

/// The faults hidden in `round`.
pub fn hidden_faults(round: Round) -> Vec<&'static FaultSpec> {
    if round.faults < 2 {
        let pool: Vec<&FaultSpec> = Stage::Pretraining.faults().collect();
        return vec![pool[Rng::derive(round.seed, "mystery").below(pool.len())]];
    }
    let firsts: Vec<&FaultSpec> = Stage::Pretraining.faults().filter(|f| !ends_the_run(f)).collect();
    let first = firsts[Rng::derive(round.seed, "mystery-two").below(firsts.len())];
    let partners: Vec<&FaultSpec> = Stage::Pretraining.faults().filter(|b| compatible(first, b)).collect();
    match partners.len() {
        0 => vec![first],
        n => vec![first, partners[Rng::derive(round.seed, "mystery-partner").below(n)]],
    }
}

/// The settings of `round`: its faults' scenarios, one over the other.
pub fn round_form(round: Round) -> RunForm {
    let faults = hidden_faults(round);
    let mut form = RunForm::show_me(faults[0].id);
    for f in &faults[1..] {
        form.add_scenario(f.id);
    }
    form
}

/// How a guess compares with a hidden fault's entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// The fault's own entry.
    Right,
    /// Another entry of the same section of the guide: the right family of problem.
    SameSection,
    Wrong,
}

impl Verdict {
    /// Points for one hidden fault: 2 for the entry, 1 for its section.
    pub fn points(self) -> u32 {
        match self {
            Verdict::Right => 2,
            Verdict::SameSection => 1,
            Verdict::Wrong => 0,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Right => "right",
            Verdict::SameSection => "same-section",
            Verdict::Wrong => "wrong",
        }
    }
}

/// Judges one guess (a guide entry, if any) against one fault.
fn judge_one(fault: &FaultSpec, guess: Option<EntryId>) -> Verdict {
    let answer = fault.guide_entry;
    match guess {
        Some(guess) if guess == answer => Verdict::Right,
        Some(guess) if guess.section() == answer.section() => Verdict::SameSection,
        _ => Verdict::Wrong,
    }
}

/// Judges `guesses` against `round`'s faults: for each hidden fault, in [`hidden_faults`]' order, its
/// verdict and the guess it was paired with. Guesses pair with faults the way that scores best (the
/// order the learner named them in does not matter); a fault left without a guess is wrong.
pub fn judge(round: Round, guesses: &[EntryId]) -> Vec<(Verdict, Option<EntryId>)> {
    let faults = hidden_faults(round);
    let pairing = |order: [usize; 2]| -> Vec<(Verdict, Option<EntryId>)> {
        faults
            .iter()
            .zip(order)
            .map(|(f, g)| {
                let guess = guesses.get(g).copied();
                (judge_one(f, guess), guess)
            })
            .collect()
    };
    let total = |v: &[(Verdict, Option<EntryId>)]| v.iter().map(|(v, _)| v.points()).sum::<u32>();
    let straight = pairing([0, 1]);
    let crossed = pairing([1, 0]);
    if faults.len() > 1 && total(&crossed) > total(&straight) {
        crossed
    } else {
        straight
    }
}

/// The learner's running score, kept between visits.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Score {
    /// Hidden faults guessed at (a two-fault round counts two); the stored name predates those rounds.
    pub rounds: u32,
    pub points: u32,
    /// Hidden faults named by their exact entry.
    pub right: u32,
}

impl Score {
    /// Counts one hidden fault's verdict.
    pub fn add(&mut self, verdict: Verdict) {
        self.rounds += 1;
        self.points += verdict.points();
        self.right += u32::from(verdict == Verdict::Right);
    }

    /// The score stored as `text` (absent: a fresh score), or a fresh score and a notice saying the
    /// stored one could not be read.
    pub fn load(text: Option<&str>) -> (Score, Option<String>) {
        let Some(text) = text else { return (Score::default(), None) };
        match serde_json::from_str::<Score>(text) {
            Ok(score) if score.right <= score.rounds && score.points <= 2 * score.rounds => (score, None),
            _ => (
                Score::default(),
                Some("The saved mystery score could not be read, so it starts again from zero.".into()),
            ),
        }
    }

    pub fn to_text(self) -> String {
        serde_json::to_string(&self).unwrap_or_default()
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use faultline_engine::faults::FaultId;

    fn one(seed: u64) -> Round {
        Round { seed, faults: 1 }
    }

    fn two(seed: u64) -> Round {
        Round { seed, faults: 2 }
    }

    fn verdicts(round: Round, guesses: &[EntryId]) -> Vec<Verdict> {
        judge(round, guesses).into_iter().map(|(v, _)| v).collect()
    }

    #[test]
    fn rounds_are_reproducible_and_reach_every_fault() {
        assert_eq!(hidden_faults(one(7)), hidden_faults(one(7)));
        let mut seen: Vec<FaultId> = (0..2000).map(|s| hidden_faults(one(s))[0].id).collect();
        seen.sort_unstable();
        seen.dedup();
        assert_eq!(seen.len(), Stage::Pretraining.faults().count(), "2000 seeds reach every pretraining fault");
        assert_eq!(hidden_faults(one(20))[0].id, FaultId::NoCausalMask, "the browser test's round");
    }

    #[test]
    fn every_round_is_a_valid_run_with_its_faults_on() {
        for round in (0..200).flat_map(|s| [one(s), two(s)]) {
            let config = round_form(round).to_config().unwrap_or_else(|e| panic!("{round:?}: {e:?}"));
            let faults = hidden_faults(round);
            assert_eq!(faults.len(), round.faults, "{round:?}");
            for f in faults {
                assert!(config.faults.active().iter().any(|(on, _)| *on == f.id), "{round:?} runs with {} on", f.id);
            }
        }
    }

    #[test]
    fn two_fault_rounds_pair_faults_that_can_both_show() {
        let mut pairs = Vec::new();
        for seed in 0..500 {
            let faults = hidden_faults(two(seed));
            let (a, b) = (faults[0], faults[1]);
            assert_ne!(a.guide_entry, b.guide_entry, "seed {seed}");
            assert!(!ends_the_run(a) && !ends_the_run(b), "seed {seed}: {} with {}", a.id, b.id);
            pairs.push((a.id, b.id));
        }
        pairs.sort_unstable();
        pairs.dedup();
        assert!(pairs.len() > 50, "only {} different pairs in 500 rounds", pairs.len());
        let nan = Stage::Pretraining.faults().find(|f| f.guide_entry == EntryId::LossBecomesNan).unwrap();
        assert!(Stage::Pretraining.faults().all(|b| !compatible(nan, b)), "a fault that stops the run hides the other");
    }

    #[test]
    fn guesses_are_judged_by_entry_then_section() {
        let round = one(20);
        let answer = hidden_faults(round)[0].guide_entry;
        assert_eq!(verdicts(round, &[answer]), [Verdict::Right]);
        let sibling = EntryId::ALL.iter().find(|e| e.section() == answer.section() && **e != answer);
        if let Some(&sibling) = sibling {
            assert_eq!(verdicts(round, &[sibling]), [Verdict::SameSection]);
        }
        let &stranger = EntryId::ALL.iter().find(|e| e.section() != answer.section()).unwrap();
        assert_eq!(verdicts(round, &[stranger]), [Verdict::Wrong]);
        assert_eq!(verdicts(round, &[]), [Verdict::Wrong]);
    }

    #[test]
    fn two_guesses_score_in_either_order() {
        let round = (0..).map(two).find(|r| {
            let f = hidden_faults(*r);
            f[0].guide_entry.section() != f[1].guide_entry.section()
        });
        let round = round.unwrap();
        let faults = hidden_faults(round);
        let (a, b) = (faults[0].guide_entry, faults[1].guide_entry);
        assert_eq!(verdicts(round, &[a, b]), [Verdict::Right, Verdict::Right]);
        assert_eq!(verdicts(round, &[b, a]), [Verdict::Right, Verdict::Right]);
        let stranger = EntryId::ALL.iter().copied().find(|e| e.section() != a.section() && e.section() != b.section());
        assert_eq!(verdicts(round, &[stranger.unwrap(), a]), [Verdict::Right, Verdict::Wrong]);
        assert_eq!(verdicts(round, &[b]), [Verdict::Wrong, Verdict::Right]);
        assert_eq!(judge(round, &[b, a]), [(Verdict::Right, Some(a)), (Verdict::Right, Some(b))], "paired guesses");
        assert_eq!(verdicts(round, &[a, a]), [Verdict::Right, Verdict::Wrong], "one entry names one fault");
    }

    #[test]
    fn the_score_survives_storage_and_bad_data_is_reset_with_a_notice() {
        let mut score = Score::default();
        score.add(Verdict::Right);
        score.add(Verdict::SameSection);
        score.add(Verdict::Wrong);
        assert_eq!(score, Score { rounds: 3, points: 3, right: 1 });
        assert_eq!(Score::load(Some(&score.to_text())), (score, None));
        assert_eq!(Score::load(None), (Score::default(), None));
        for bad in ["", "{", "null", "[1,2]", r#"{"rounds":1,"points":9,"right":1}"#, r#"{"rounds":"x"}"#] {
            let (loaded, notice) = Score::load(Some(bad));
            assert_eq!(loaded, Score::default(), "{bad:?}");
            assert!(notice.is_some(), "{bad:?} gets a notice");
        }
    }
}
