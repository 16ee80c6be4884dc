//! Guided exercises: break the model in a named way, see the symptom in your own run, fix it, and
//! compare what you predicted with what you measured.
//!
//! Every check is a pure function of what the learner did ([`Lab`]): the run they trained ([`RunView`]),
//! its settings (which the learner chose and can see), its telemetry and the detector's findings, and
//! their latest learning-rate range test ([`RangeView`]). Nothing here learns which fault is on from
//! anywhere else.
//!
//! A fix stage is a controlled comparison: its run must be the learner's own reproduce run with the one
//! change the exercise teaches ([`Lesson`]), so that what the fix check measures can only come from
//! that change. Its setups apply that change on top of the reproduce run's settings.
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
use faultline_engine::settings::{Change, Knob};
use faultline_engine::RunConfig;
use progress::{Evidence, ExerciseProgress, Progress, StageRun};

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

/// Settings and faults one click puts into the trainer's form. A reproduce setup starts from the
/// defaults or a fault's scenario; a fix setup starts from the learner's reproduce run and carries only
/// the change the exercise teaches.
#[derive(Debug)]
pub struct Setup {
    /// The button's words.
    pub label: &'static str,
    /// A fault whose tested scenario (the fault table's "show me") a reproduce setup starts from; the
    /// defaults when `None`. Fix setups have `None`: they start from the reproduce run.
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

    /// The trainer's form with this reproduce setup.
    pub fn form(&self) -> RunForm {
        self.apply_to(self.show_me.map_or_else(RunForm::default, RunForm::show_me))
    }

    /// `form` with this setup's changes, then its faults switched off.
    pub fn apply_to(&self, mut form: RunForm) -> RunForm {
        for &change in self.changes {
            form.apply(change);
        }
        for &id in self.off {
            form.set_fault(id, false);
        }
        form
    }
}

/// What a fix stage's run may change from the learner's reproduce run.
#[derive(Debug)]
pub enum Lesson {
    /// The fix stage reads the reproduce stage's own run (the first run: there is nothing to fix).
    SameRun,
    /// One change: the run may differ from the reproduce run in these settings and faults only (one
    /// idea, even when it takes two settings, as micro-batches that keep the effective batch do).
    Change {
        touches: &'static [Knob],
        /// The change in words, to finish "the comparison needs your reproduce run with one change: …".
        what: &'static str,
    },
}

impl Lesson {
    /// Whether `run`'s settings are `before`'s (the reproduce run's) with this one change, or what else
    /// differs, named with both values.
    pub fn compare(&self, before: Option<&RunConfig>, run: &RunConfig) -> Result<(), String> {
        let Lesson::Change { touches, what } = self else { return Ok(()) };
        let before = before.ok_or_else(|| {
            "the fix is compared with your reproduce run, and this browser has none kept: start the exercise over \
             and reproduce the symptom first"
                .to_string()
        })?;
        let differences = before.differences(run);
        let others: Vec<String> = differences
            .iter()
            .filter(|knob| !touches.contains(knob))
            .map(|&knob| format!("{knob} ({} → {})", before.knob_value(knob), run.knob_value(knob)))
            .collect();
        if !others.is_empty() {
            return Err(format!(
                "this run also changes {} from your reproduce run; the comparison needs your reproduce run with one \
                 change: {what}",
                others.join(", ")
            ));
        }
        if differences.is_empty() {
            return Err(format!("this run has your reproduce run's settings; make the one change: {what}"));
        }
        Ok(())
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
    /// The guide entries that explain it, for the hints; the first is the one its reproduce check
    /// measures.
    pub entries: &'static [EntryId],
    pub reproduce: Stage,
    pub fix: Stage,
    /// What the fix run may change from the reproduce run.
    pub lesson: Lesson,
}

impl Exercise {
    /// The form a setup of this exercise puts in the trainer: a reproduce setup's own, or a fix setup's
    /// change on top of the reproduce run the learner kept (the first reproduce setup before there is one).
    pub fn form(&self, setup: &Setup, p: Option<&ExerciseProgress>) -> RunForm {
        if self.reproduce.setups.iter().any(|s| std::ptr::eq(s, setup)) {
            return setup.form();
        }
        let base = p.and_then(|p| p.reproduce_run.as_ref()).map(|r| RunForm::from_config(&r.config));
        setup.apply_to(base.unwrap_or_else(|| self.reproduce.setups[0].form()))
    }

    /// The fix check on `lab`: the controlled comparison with the reproduce run first, then the stage's
    /// own check given the value the reproduction recorded.
    pub fn check_fix(&self, p: &ExerciseProgress, before: f32, lab: &Lab) -> Check {
        let Some(config) = lab.run.config.as_ref() else {
            return Err(measure::over(lab.run).err().unwrap_or_else(|| "this run has no settings".into()));
        };
        self.lesson.compare(p.reproduce_run.as_ref().map(|r| &r.config), config)?;
        (self.fix.check)(lab, Some(before))
    }
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
        if let Ok(evidence) = (ex.reproduce.check)(lab, None) {
            p.reproduced = Some(evidence);
            p.reproduce_run = StageRun::of(lab.run);
            changed = true;
        }
    }
    if let (Some(before), None) = (&p.reproduced, &p.fixed) {
        if let Ok(evidence) = ex.check_fix(p, before.value, lab) {
            p.fixed = Some(evidence);
            p.fix_run = StageRun::of(lab.run);
            changed = true;
        }
    }
    changed
}

/// What the current run means for the exercise's next stage, in words: its pass, or what is missing.
pub fn live(ex: &Exercise, p: Option<&ExerciseProgress>, lab: &Lab) -> Check {
    match p.and_then(|p| Some((p, p.reproduced.as_ref()?))) {
        None => (ex.reproduce.check)(lab, None),
        Some((p, before)) => ex.check_fix(p, before.value, lab),
    }
}

/// Where a stage's check stands: the page's `[data-check-state]` and what the live region announces.
#[derive(Clone, Debug, PartialEq)]
pub enum CheckState {
    /// No run the check can judge yet, and what to do.
    Waiting(String),
    /// Passed, quoting the learner's run.
    Passed(String),
    /// The latest run it can judge did not pass, and why.
    Failed(String),
}

impl CheckState {
    pub fn as_str(&self) -> &'static str {
        match self {
            CheckState::Waiting(_) => "waiting",
            CheckState::Passed(_) => "passed",
            CheckState::Failed(_) => "failed",
        }
    }

    pub fn text(&self) -> &str {
        match self {
            CheckState::Waiting(t) | CheckState::Passed(t) | CheckState::Failed(t) => t,
        }
    }
}

/// Where `ex`'s reproduce (or fix) stage stands for the learner: passed when its evidence is kept; else
/// judged on the current run when the exercise is the `active` one and that run has ended, unless it is
/// the very run the reproduction passed on (not yet a fix attempt); else waiting.
pub fn stage_state(ex: &Exercise, p: Option<&ExerciseProgress>, active: bool, lab: &Lab, fix: bool) -> CheckState {
    let kept = p.and_then(|p| if fix { p.fixed.as_ref() } else { p.reproduced.as_ref() });
    if let Some(evidence) = kept {
        return CheckState::Passed(evidence.text.clone());
    }
    let reproduced = p.and_then(|p| p.reproduce_run.as_ref().filter(|_| p.reproduced.is_some()));
    if fix && reproduced.is_none() {
        return CheckState::Waiting("reproduce the symptom first: the fix is compared with that run".into());
    }
    if !active {
        return CheckState::Waiting(
            "apply a setup: the checks follow the exercise whose setup you applied last".into(),
        );
    }
    let why = match live(ex, p, lab) {
        Ok(evidence) => return CheckState::Passed(evidence.text),
        Err(why) => why,
    };
    let same_as_reproduced = fix && reproduced.is_some_and(|r| lab.run.config.as_ref() == Some(&r.config));
    if measure::over(lab.run).is_ok() && !same_as_reproduced {
        CheckState::Failed(why)
    } else {
        CheckState::Waiting(why)
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
