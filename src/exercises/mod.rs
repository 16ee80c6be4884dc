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
//! The exercises' content (prediction, setups, lesson) is the `faultline-exercises` crate's, which the
//! command line also lists; this module runs it against the learner's runs.
//!
//! - `checks`: the checks each exercise's stages run on a run, one pair per [`ExerciseId`].
//! - [`measure`]: the numbers the checks read off a run.
//! - [`progress`]: what the learner has done, as stored in the browser.

mod checks;
pub mod measure;
pub mod progress;

use crate::align_view::AlignView;
use crate::form::{FormKind, RunForm};
use crate::generation::GenerateForm;
use crate::range_view::RangeView;
use crate::run_view::RunView;
use checks::checks;
use faultline_engine::settings::Change;
use faultline_engine::RunConfig;
use progress::{Evidence, ExerciseProgress, Progress, StageRun};

pub use faultline_exercises::{Answer, Exercise, ExerciseId, Lesson, Prediction, Setup, Stage, EXERCISES};

/// What a check makes of a run: passed, with the learner's own numbers, or why not (yet).
pub type Check = Result<Evidence, String>;

/// A stage's check: reads a finished run; the fix stage also gets the value the reproduction recorded.
pub type CheckFn = fn(&Lab, Option<f32>) -> Check;

/// What the checks read: the learner's current training run, their latest range test, and the
/// alignment page's current fine-tuning run.
#[derive(Clone, Copy, Debug)]
pub struct Lab<'a> {
    pub run: &'a RunView,
    pub range: &'a RangeView,
    pub align: &'a AlignView,
}

impl Lab<'_> {
    /// The settings of the run `ex` reads (the trainer's, or the alignment page's), once it has some.
    fn config_for(&self, ex: &Exercise) -> Option<&RunConfig> {
        match ex.method() {
            None => self.run.config.as_ref(),
            Some(_) => self.align.config.as_ref(),
        }
    }

    /// Whether the run `ex` reads has ended, so a check of it can fail rather than wait.
    fn ended_for(&self, ex: &Exercise) -> bool {
        match ex.method() {
            None => measure::over(self.run).is_ok(),
            Some(_) => measure::align_over(self.align).is_ok(),
        }
    }
}

/// The trainer's form with a reproduce setup: the defaults or its fault's scenario, then its changes.
pub fn setup_form(setup: &Setup) -> RunForm {
    apply_setup(setup, setup.show_me.map_or_else(RunForm::default, RunForm::show_me))
}

/// `form` with `setup`'s changes, then its faults switched off.
fn apply_setup(setup: &Setup, mut form: RunForm) -> RunForm {
    for &change in setup.changes {
        form.apply(change);
    }
    for &id in setup.off {
        form.set_fault(id, false);
    }
    form
}

/// The form a setup of `ex` puts in the trainer: a reproduce setup's own, or a fix setup's change on top
/// of the reproduce run the learner kept (on the first reproduce setup before there is one).
/// A fix setup of a [`Lesson::Resample`] exercise leaves the reproduce run's form as it is: it fills in
/// the Generate panel instead ([`generation_form`]).
pub fn exercise_form(ex: &Exercise, setup: &Setup, p: Option<&ExerciseProgress>) -> RunForm {
    if ex.reproduces_with(setup) {
        return setup_form(setup);
    }
    let kind = ex.method().map_or(FormKind::Trainer, FormKind::Alignment);
    let base = p.and_then(|p| p.reproduce_run.as_ref()).map(|r| RunForm::from_config_in(kind, &r.config));
    let base = base.unwrap_or_else(|| setup_form(&ex.reproduce.setups[0]));
    match ex.lesson {
        Lesson::Resample { .. } => base,
        _ => apply_setup(setup, base),
    }
}

/// `ex`'s reproduce check on `lab`.
pub fn check_reproduce(ex: &Exercise, lab: &Lab) -> Check {
    (checks(ex.id).reproduce)(lab, None)
}

/// `ex`'s fix check on `lab`: the controlled comparison with the reproduce run first, then the stage's
/// own check given the value the reproduction recorded.
pub fn check_fix(ex: &Exercise, p: &ExerciseProgress, before: f32, lab: &Lab) -> Check {
    let Some(config) = lab.config_for(ex) else {
        return Err(match ex.method() {
            None => measure::over(lab.run).err(),
            Some(_) => measure::align_over(lab.align).err(),
        }
        .unwrap_or_else(|| "this run has no settings".into()));
    };
    ex.lesson.compare(p.reproduce_run.as_ref().map(|r| &r.config), config)?;
    if let Lesson::Resample { .. } = ex.lesson {
        same_model(p, lab.run)?;
    }
    (checks(ex.id).fix)(lab, Some(before))
}

/// Whether `v` is the very run the reproduction passed on, whose model a decoding fix samples again: the
/// same run of the page, with the same curves (a new run of the same settings is another model).
fn same_model(p: &ExerciseProgress, v: &RunView) -> Result<(), String> {
    let kept = p.reproduce_run.as_ref().filter(|_| p.reproduce_run_id == Some(v.run));
    let same = kept.is_some_and(|r| StageRun::of_training(v).is_some_and(|now| now.loss == r.loss));
    measure::require(same, || {
        "this is not the model your reproduce run trained: a new run was started since. Reproduce the symptom again, \
         then sample that run's model again, decoded another way"
            .into()
    })
}

/// The Generate panel a fix setup of a [`Lesson::Resample`] exercise fills in: the decoding of the
/// reproduce run the learner kept (of the first reproduce setup before there is one), with the setup's
/// decoding changes. `None` for every other setup: those fill in a run's form.
pub fn generation_form(ex: &Exercise, setup: &Setup, p: Option<&ExerciseProgress>) -> Option<GenerateForm> {
    if ex.reproduces_with(setup) || !matches!(ex.lesson, Lesson::Resample { .. }) {
        return None;
    }
    let kept = p.and_then(|p| p.reproduce_run.as_ref()).map(|r| r.config.clone());
    let reproduce = kept.or_else(|| setup_form(&ex.reproduce.setups[0]).to_config().ok())?;
    let mut decoding = RunConfig { sampling: reproduce.decoding(), ..RunConfig::default() };
    for &change in setup.changes {
        if let Change::Setting(key, value) = change {
            decoding.set(key, value).ok()?;
        }
    }
    Some(GenerateForm::with_decoding(&decoding.sampling))
}

/// A typed numeric prediction: a finite number, not below zero (every question asks for a loss, an
/// entropy, a share or a step), with a trailing unit or % allowed; else why not, in words.
pub fn parse_guess(text: &str) -> Result<f32, String> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err("type a number first, like 3.4".into());
    }
    let end = trimmed.find(|c: char| !(c.is_ascii_digit() || ".,+-eE".contains(c))).unwrap_or(trimmed.len());
    let (number, rest) = trimmed.split_at(end);
    let rest = rest.trim();
    if number.is_empty() || !(rest.is_empty() || rest == "%" || rest.chars().all(char::is_alphabetic)) {
        return Err(format!("'{trimmed}' is not a number: type one, like 3.4"));
    }
    match number.replace(',', ".").parse::<f32>() {
        Ok(v) if !v.is_finite() => Err(format!("'{trimmed}' is not a finite number")),
        Ok(v) if v < 0.0 => Err(format!("{v} is below zero; every answer here is zero or more")),
        Ok(v) => Ok(v),
        Err(_) => Err(format!("'{trimmed}' is not a number: type one, like 3.4")),
    }
}

/// The exercise spelled `id` (a link's, a stored progress's).
pub fn exercise(id: &str) -> Option<&'static Exercise> {
    id.parse::<ExerciseId>().ok().map(ExerciseId::exercise)
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

/// Runs the active exercise's checks that have not passed yet on `lab` and records the passes (and,
/// for a decoding fix, a newer reproduce run); true when something changed. Checks count only once the learner has answered the prediction, and the fix
/// only after the reproduction, so the recap always has both.
pub fn record(progress: &mut Progress, lab: &Lab) -> bool {
    let Some(ex) = progress.active.as_deref().and_then(exercise) else { return false };
    let p = progress.entry(ex.id);
    if !p.predicted() || p.done {
        return false;
    }
    let mut changed = false;
    // A decoding fix samples the reproduce run's model again: until it passes, a later run that
    // reproduces the symptom replaces a reproduce run whose model the worker no longer holds.
    let replaced = matches!(ex.lesson, Lesson::Resample { .. })
        && p.fixed.is_none()
        && p.reproduce_run_id.is_some_and(|id| id != lab.run.run);
    if p.reproduced.is_none() || replaced {
        if let Ok(evidence) = check_reproduce(ex, lab) {
            p.reproduced = Some(evidence);
            p.reproduce_run = StageRun::of(lab, ex);
            p.reproduce_run_id = ex.method().is_none().then_some(lab.run.run);
            changed = true;
        }
    }
    if let (Some(before), None) = (&p.reproduced, &p.fixed) {
        if let Ok(evidence) = check_fix(ex, p, before.value, lab) {
            p.fixed = Some(evidence);
            p.fix_run = StageRun::of(lab, ex);
            changed = true;
        }
    }
    changed
}

/// What the current run means for the exercise's next stage, in words: its pass, or what is missing.
pub fn live(ex: &Exercise, p: Option<&ExerciseProgress>, lab: &Lab) -> Check {
    match p.and_then(|p| Some((p, p.reproduced.as_ref()?))) {
        None => check_reproduce(ex, lab),
        Some((p, before)) => check_fix(ex, p, before.value, lab),
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
    let same_as_reproduced = fix && reproduced.is_some_and(|r| lab.config_for(ex) == Some(&r.config));
    // A decoding fix is judged on the reproduce run itself, once text has been sampled from it again.
    let resampled = fix && matches!(ex.lesson, Lesson::Resample { .. }) && lab.run.generated.is_some();
    if lab.ended_for(ex) && (resampled || !same_as_reproduced) {
        CheckState::Failed(why)
    } else {
        CheckState::Waiting(why)
    }
}

/// A number as the learner reads it in `unit`: whole steps, whole percent, else two decimals.
pub fn in_unit(value: f32, unit: &str) -> String {
    match unit {
        "step" | "%" => format!("{value:.0}"),
        _ => format!("{value:.2}"),
    }
}

/// A numeric prediction's guess and what the reproduce run measured, in the question's unit.
pub fn guess_and_measurement(ex: &Exercise, p: &ExerciseProgress) -> Option<(f32, f32)> {
    let Answer::Number { scale, .. } = ex.prediction.answer else { return None };
    let measured = p.reproduced.as_ref().map(|r| r.value * scale).filter(|m| m.is_finite())?;
    Some((p.guess?, measured))
}

/// The recap: the prediction against the measurement, then the learner's numbers from both runs.
pub fn recap(ex: &Exercise, p: &ExerciseProgress) -> Vec<String> {
    let mut lines = Vec::new();
    let why = ex.prediction.why;
    match ex.prediction.answer {
        Answer::Choice { options, right } => {
            if let Some(chosen) = p.prediction.and_then(|i| options.get(i)) {
                let verdict = if p.prediction == Some(right) { "right" } else { "not what you measured" };
                lines.push(format!("You predicted \"{chosen}\": {verdict}. {why}"));
            }
        }
        Answer::Number { unit, .. } => match (guess_and_measurement(ex, p), p.guess) {
            (Some((guess, measured)), _) => {
                let off = (guess - measured).abs();
                let verdict = if off <= 0.2 * measured.abs() {
                    "within 20 %".to_string()
                } else {
                    format!("off by {} {unit}", in_unit(off, unit))
                };
                lines.push(format!(
                    "You guessed {} {unit}; your run measured {} {unit}: {verdict}. {why}",
                    in_unit(guess, unit),
                    in_unit(measured, unit)
                ));
            }
            (None, Some(guess)) => lines.push(format!("You guessed {} {unit}. {why}", in_unit(guess, unit))),
            (None, None) => {}
        },
    }
    if let Some(r) = &p.reproduced {
        lines.push(format!("{}: {}", ex.reproduce.title, r.text));
    }
    if let Some(f) = &p.fixed {
        lines.push(format!("{}: {}", ex.fix.title, f.text));
        if let (Lesson::Resample { .. }, Some(run)) = (&ex.lesson, &p.reproduce_run) {
            lines.push(format!(
                "Both texts came from the same weights, the model your reproduce run trained in {} steps: no new run, \
                 only the decoding changed.",
                run.config.steps
            ));
        }
    }
    lines
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests;
