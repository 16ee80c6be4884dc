//! The learner's progress through the exercises, kept in the browser's localStorage as JSON under a
//! versioned key. Reading never fails: text that cannot be read is set aside with a notice and the
//! progress starts afresh.

use super::{Exercise, Lab};
use crate::kept_runs::{thin, Curve};
use crate::protocol::RunId;
use crate::run_view::RunView;
use crate::stored::read_versioned;
use faultline_engine::{RunConfig, StepRecord};
use faultline_exercises::ExerciseId;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The localStorage key.
pub const STORAGE_KEY: &str = "faultline.progress.v1";
/// Where text that could not be read is kept, so a reset loses nothing.
pub const UNREADABLE_KEY: &str = "faultline.progress.v1.unreadable";
/// The format this build writes.
pub const VERSION: u32 = 1;

/// A check that passed: the measured number a later check compares with, and the sentence that
/// quotes the learner's run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Evidence {
    pub value: f32,
    pub text: String,
}

/// Points kept of each curve of a [`StageRun`]: enough for the recap's small charts.
pub const STAGE_CURVE_POINTS: usize = 120;

/// A run a stage's check passed on: its settings, which the fix run is compared with, and the curves
/// the recap overlays.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StageRun {
    pub config: RunConfig,
    /// Each step's batch loss.
    pub loss: Curve,
    /// Each step's gradient norm, before clipping.
    pub grad_norm: Curve,
    /// Each evaluation's validation loss.
    pub val_loss: Curve,
}

impl StageRun {
    /// What is kept of the run `ex` reads in `lab`: the trainer's with its curves, or the alignment
    /// page's settings (its own charts are on that page); `None` before the run has settings.
    pub fn of(lab: &Lab, ex: &Exercise) -> Option<StageRun> {
        match ex.method() {
            None => StageRun::of_training(lab.run),
            Some(_) => Some(StageRun {
                config: lab.align.config.clone()?,
                loss: Vec::new(),
                grad_norm: Vec::new(),
                val_loss: Vec::new(),
            }),
        }
    }

    /// What is kept of the trainer's run `view`; `None` before it has settings.
    pub fn of_training(view: &RunView) -> Option<StageRun> {
        let per_step = |value: fn(&StepRecord) -> f32| {
            thin(&view.steps.iter().map(|r| (r.step as u32, value(r))).collect::<Vec<_>>(), STAGE_CURVE_POINTS)
        };
        let val: Vec<(u32, f32)> = view.evals.iter().filter_map(|e| Some((e.step as u32, e.val_loss?))).collect();
        Some(StageRun {
            config: view.config.clone()?,
            loss: per_step(|r| r.loss),
            grad_norm: per_step(|r| r.grad_norm),
            val_loss: thin(&val, STAGE_CURVE_POINTS),
        })
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ExerciseProgress {
    /// The option the learner predicted.
    #[serde(default)]
    pub prediction: Option<usize>,
    /// The number the learner predicted, in the question's unit.
    #[serde(default)]
    pub guess: Option<f32>,
    #[serde(default)]
    pub reproduced: Option<Evidence>,
    /// The run the reproduction passed on; the fix run is compared with it.
    #[serde(default)]
    pub reproduce_run: Option<StageRun>,
    /// The page's id of the trainer's run the reproduction passed on: a fix that samples the same
    /// model again must read that very run.
    #[serde(default)]
    pub reproduce_run_id: Option<RunId>,
    #[serde(default)]
    pub fixed: Option<Evidence>,
    #[serde(default)]
    pub fix_run: Option<StageRun>,
    /// The learner has read the recap and closed the exercise.
    #[serde(default)]
    pub done: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Progress {
    pub version: u32,
    /// The exercise whose checks read the current run.
    #[serde(default)]
    pub active: Option<String>,
    #[serde(default)]
    pub exercises: BTreeMap<String, ExerciseProgress>,
}

impl Default for Progress {
    fn default() -> Self {
        Self { version: VERSION, active: None, exercises: BTreeMap::new() }
    }
}

impl ExerciseProgress {
    /// The learner has answered the prediction, by choice or by number.
    pub fn predicted(&self) -> bool {
        self.prediction.is_some() || self.guess.is_some()
    }
}

impl Progress {
    /// The progress stored as `text` (`None`: nothing stored), and a notice when it could not be used.
    pub fn load(text: Option<&str>) -> (Progress, Option<String>) {
        let Some(text) = text else { return (Progress::default(), None) };
        let reset = |why: &str| {
            let notice =
                format!("Your saved exercise progress {why}, so it starts afresh (the old text is kept under {UNREADABLE_KEY}).");
            (Progress::default(), Some(notice))
        };
        match read_versioned::<Progress>(text, VERSION) {
            Ok(kept) => (kept, None),
            Err(why) => reset(&why.why("was")),
        }
    }

    /// The text to store.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    pub fn get(&self, id: ExerciseId) -> Option<&ExerciseProgress> {
        self.exercises.get(id.as_str())
    }

    /// Exercise `id`'s progress, made when there is none.
    pub fn entry(&mut self, id: ExerciseId) -> &mut ExerciseProgress {
        self.exercises.entry(id.as_str().to_string()).or_default()
    }

    /// Whether `id` is the exercise the checks follow.
    pub fn is_active(&self, id: ExerciseId) -> bool {
        self.active.as_deref() == Some(id.as_str())
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;

    fn sample() -> Progress {
        let mut p = Progress { active: Some("first-run".into()), ..Progress::default() };
        p.exercises.insert(
            "first-run".into(),
            ExerciseProgress {
                prediction: Some(1),
                reproduced: Some(Evidence { value: 3.7, text: "your first loss was 3.70".into() }),
                reproduce_run: Some(StageRun {
                    config: RunConfig::default(),
                    loss: vec![(1, 3.7), (2, 3.5)],
                    grad_norm: vec![(1, 0.9), (2, 0.8)],
                    val_loss: Vec::new(),
                }),
                ..ExerciseProgress::default()
            },
        );
        p
    }

    #[test]
    fn nothing_stored_is_a_fresh_start_without_a_notice() {
        assert_eq!(Progress::load(None), (Progress::default(), None));
    }

    #[test]
    fn progress_round_trips() {
        let p = sample();
        assert_eq!(Progress::load(Some(&p.to_json())), (p, None));
    }

    #[test]
    fn unreadable_foreign_and_future_data_reset_with_a_notice() {
        for (text, says) in [
            ("{not json", "could not be read"),
            ("", "could not be read"),
            ("[1,2]", "not in a format"),
            ("{\"exercises\":{}}", "not in a format"),
            ("{\"version\":\"1\"}", "not in a format"),
            ("{\"version\":2,\"anything\":true}", "newer Faultline (format 2)"),
            ("{\"version\":1,\"exercises\":{\"first-run\":{\"prediction\":\"b\"}}}", "could not be read"),
            ("{\"version\":1,\"exercises\":[]}", "could not be read"),
        ] {
            let (p, notice) = Progress::load(Some(text));
            assert_eq!(p, Progress::default(), "{text}");
            let notice = notice.unwrap_or_else(|| panic!("no notice for {text}"));
            assert!(notice.contains(says) && notice.contains(UNREADABLE_KEY), "{text}: {notice}");
        }
    }

    #[test]
    fn missing_optional_fields_take_their_defaults() {
        let (p, notice) = Progress::load(Some("{\"version\":1,\"exercises\":{\"oom\":{}}}"));
        assert_eq!(notice, None);
        assert_eq!(p.get(ExerciseId::Oom), Some(&ExerciseProgress::default()));
        assert_eq!(p.active, None);
    }
}
