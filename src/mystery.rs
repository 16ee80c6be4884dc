//! Mystery mode: a run with a hidden fault, chosen from the fault table by a seed. The learner watches
//! the measurements, names the guide entry they point to, and is scored against the fault's entry.
//!
//! The round's run is the fault's tested scenario ([`RunForm::show_me`]): the same set-up the symptom
//! tests show the symptom with, so every round has something to find. Nothing here reaches the worker
//! or the detector except that run's configuration.

use crate::form::RunForm;
use faultline_engine::faults::{FaultSpec, FAULTS};
use faultline_engine::guide::{self, GuideEntry};
use faultline_engine::rng::Rng;
use serde::{Deserialize, Serialize};

/// The key the score is kept under in `localStorage`; the version changes when [`Score`]'s shape does.
pub const SCORE_KEY: &str = "faultline.mystery.v1";

/// The fault hidden in round `seed`.
pub fn hidden_fault(seed: u64) -> &'static FaultSpec {
    &FAULTS[Rng::derive(seed, "mystery").below(FAULTS.len())]
}

/// The settings of round `seed`: its fault's scenario.
pub fn round_form(seed: u64) -> RunForm {
    RunForm::show_me(hidden_fault(seed).id)
}

/// How a guess compares with the hidden fault's entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// The fault's own entry.
    Right,
    /// Another entry of the same section of the guide: the right family of problem.
    SameSection,
    Wrong,
}

impl Verdict {
    /// Points for the round: 2 for the entry, 1 for its section.
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

/// Judges `guess` (a guide entry id) against round `seed`'s fault.
pub fn judge(seed: u64, guess: &str) -> Verdict {
    let answer = hidden_fault(seed).guide_entry;
    let section = |id: &str| guide::entry(id).map(|e: &GuideEntry| e.section_id);
    if guess == answer {
        Verdict::Right
    } else if section(guess).is_some() && section(guess) == section(answer) {
        Verdict::SameSection
    } else {
        Verdict::Wrong
    }
}

/// The learner's running score, kept between visits.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Score {
    pub rounds: u32,
    pub points: u32,
    pub right: u32,
}

impl Score {
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

    #[test]
    fn rounds_are_reproducible_and_reach_every_fault() {
        assert_eq!(hidden_fault(7).id, hidden_fault(7).id);
        let mut seen: Vec<&str> = (0..2000).map(|s| hidden_fault(s).id).collect();
        seen.sort_unstable();
        seen.dedup();
        assert_eq!(seen.len(), FAULTS.len(), "2000 seeds reach every fault");
    }

    #[test]
    fn every_round_is_a_valid_run() {
        for seed in 0..200 {
            let form = round_form(seed);
            let config = form.to_config().unwrap_or_else(|e| panic!("round {seed}: {e:?}"));
            let id = hidden_fault(seed).id;
            assert!(config.faults.active().iter().any(|(f, _)| *f == id), "round {seed} runs with {id} on");
        }
    }

    #[test]
    fn guesses_are_judged_by_entry_then_section() {
        let seed = (0..).find(|&s| hidden_fault(s).id == "no-causal-mask").unwrap();
        let answer = hidden_fault(seed).guide_entry;
        assert_eq!(judge(seed, answer), Verdict::Right);
        let entry = guide::entry(answer).unwrap();
        let sibling = guide::ENTRIES.iter().find(|e| e.section_id == entry.section_id && e.id != answer);
        if let Some(sibling) = sibling {
            assert_eq!(judge(seed, sibling.id), Verdict::SameSection);
        }
        let stranger = guide::ENTRIES.iter().find(|e| e.section_id != entry.section_id).unwrap();
        assert_eq!(judge(seed, stranger.id), Verdict::Wrong);
        assert_eq!(judge(seed, "not-an-entry"), Verdict::Wrong);
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
