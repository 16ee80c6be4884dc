//! Guided exercises: break the model in a named way, see the symptom in your own run, fix it, and
//! compare what you predicted with what you measured.
//!
//! Every check is a pure function of what the learner did ([`Lab`]): the run they trained ([`RunView`]),
//! its settings (which the learner chose and can see), its telemetry and the detector's findings, and
//! their latest learning-rate range test ([`RangeView`]). Nothing here learns which fault is on from
//! anywhere else.
//!
//! - [`catalog`]: the exercises, in order from the first run to the hardest.
//! - `checks`: the checks their stages run on a run.
//! - [`measure`]: the numbers the checks read off a run.
//! - [`progress`]: what the learner has done, as stored in the browser.

pub mod catalog;
mod checks;
pub mod measure;
pub mod progress;

use crate::form::RunForm;
use crate::range_view::RangeView;
use crate::run_view::RunView;
use faultline_engine::faults::FaultId;
use faultline_engine::guide::{EntryId, SectionId};
use faultline_engine::settings::Change;
use progress::{Evidence, ExerciseProgress, Progress};

pub use catalog::EXERCISES;

/// What a check makes of a run: passed, with the learner's own numbers, or why not (yet).
pub type Check = Result<Evidence, String>;

/// What the checks read: the learner's current training run and their latest range test.
#[derive(Clone, Copy, Debug)]
pub struct Lab<'a> {
    pub run: &'a RunView,
    pub range: &'a RangeView,
}

/// A "predict before you run" question.
#[derive(Debug)]
pub struct Prediction {
    pub question: &'static str,
    pub options: &'static [&'static str],
    /// The index of the option the measurement bears out.
    pub answer: usize,
    /// Why, in one or two sentences, quoting what Faultline measured.
    pub why: &'static str,
}

/// Settings and faults one click puts into the trainer's form.
#[derive(Debug)]
pub struct Setup {
    /// The button's words.
    pub label: &'static str,
    /// A fault whose tested scenario (the fault table's "show me") the form starts from; the defaults
    /// when `None`.
    pub show_me: Option<FaultId>,
    /// Then these changes: settings, and faults switched on.
    pub changes: &'static [Change<'static>],
    /// Then these faults switched off (a fix that keeps the rest of a fault's scenario).
    pub off: &'static [FaultId],
}

impl Setup {
    /// The same setup that also switches `faults` off.
    pub const fn turning_off(self, faults: &'static [FaultId]) -> Setup {
        Setup { off: faults, ..self }
    }

    /// The trainer's form with this setup.
    pub fn form(&self) -> RunForm {
        let mut form = self.show_me.map_or_else(RunForm::default, RunForm::show_me);
        for &change in self.changes {
            form.apply(change);
        }
        for &id in self.off {
            form.set_fault(id, false);
        }
        form
    }
}

/// One half of an exercise: make the symptom appear, or make it go away.
#[derive(Debug)]
pub struct Stage {
    pub title: &'static str,
    pub instructions: &'static str,
    /// The first is the one to use; others are variations worth trying.
    pub setups: &'static [Setup],
    /// Reads a finished run; the fix stage also gets the value the reproduction recorded.
    pub check: fn(&Lab, Option<f32>) -> Check,
}

#[derive(Debug)]
pub struct Exercise {
    pub id: &'static str,
    pub title: &'static str,
    /// The guide section it practises.
    pub section: SectionId,
    pub goal: &'static str,
    pub prediction: Prediction,
    /// The guide entries that explain it, for the hints.
    pub entries: &'static [EntryId],
    pub reproduce: Stage,
    pub fix: Stage,
}

/// The exercise with this id.
pub fn exercise(id: &str) -> Option<&'static Exercise> {
    EXERCISES.iter().find(|e| e.id == id)
}

/// Where the learner stands in one exercise; `as_str` is the list's `data-status`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    NotStarted,
    Reproduced,
    Fixed,
    Done,
}

impl Status {
    pub fn of(p: Option<&ExerciseProgress>) -> Status {
        match p {
            Some(p) if p.done => Status::Done,
            Some(p) if p.fixed.is_some() => Status::Fixed,
            Some(p) if p.reproduced.is_some() => Status::Reproduced,
            _ => Status::NotStarted,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Status::NotStarted => "not-started",
            Status::Reproduced => "reproduced",
            Status::Fixed => "fixed",
            Status::Done => "done",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Status::NotStarted => "not started",
            Status::Reproduced => "reproduced",
            Status::Fixed => "fixed",
            Status::Done => "done",
        }
    }
}

/// Runs the active exercise's checks that have not passed yet on `lab` and records the passes; true
/// when something changed. Checks count only once the learner has answered the prediction, and the fix
/// only after the reproduction, so the recap always has both.
pub fn record(progress: &mut Progress, lab: &Lab) -> bool {
    let Some(ex) = progress.active.as_deref().and_then(exercise) else { return false };
    let p = progress.exercises.entry(ex.id.to_string()).or_default();
    if p.prediction.is_none() || p.done {
        return false;
    }
    let mut changed = false;
    if p.reproduced.is_none() {
        p.reproduced = (ex.reproduce.check)(lab, None).ok();
        changed = p.reproduced.is_some();
    }
    if let (Some(before), None) = (&p.reproduced, &p.fixed) {
        p.fixed = (ex.fix.check)(lab, Some(before.value)).ok();
        changed |= p.fixed.is_some();
    }
    changed
}

/// What the current run means for the exercise's next stage, in words: its pass, or what is missing.
pub fn live(ex: &Exercise, p: Option<&ExerciseProgress>, lab: &Lab) -> Check {
    match p.and_then(|p| p.reproduced.as_ref()) {
        None => (ex.reproduce.check)(lab, None),
        Some(before) => (ex.fix.check)(lab, Some(before.value)),
    }
}

/// The recap: the prediction against the measurement, then the learner's numbers from both runs.
pub fn recap(ex: &Exercise, p: &ExerciseProgress) -> Vec<String> {
    let mut lines = Vec::new();
    if let Some(chosen) = p.prediction.and_then(|i| ex.prediction.options.get(i)) {
        let verdict = if p.prediction == Some(ex.prediction.answer) { "right" } else { "not what you measured" };
        lines.push(format!("You predicted \"{chosen}\": {verdict}. {}", ex.prediction.why));
    }
    if let Some(r) = &p.reproduced {
        lines.push(format!("{}: {}", ex.reproduce.title, r.text));
    }
    if let Some(f) = &p.fixed {
        lines.push(format!("{}: {}", ex.fix.title, f.text));
    }
    lines
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests;
