//! The guided exercises' content, shared by the app and the command line (`faultline exercises`):
//! what each exercise breaks, the prediction it asks for, the setups one click puts in the trainer, and
//! the one change its fix may make ([`Lesson`]). The checks that read a learner's runs live in the app
//! (`src/exercises/checks.rs`), one pair per [`ExerciseId`], matched exhaustively, so a new exercise
//! without checks does not compile.
//!
//! A fix stage is a controlled comparison: its run must be the learner's own reproduce run with the one
//! change the exercise teaches, so that what the fix check measures can only come from that change.

mod catalog;

use faultline_engine::align::Method;
use faultline_engine::faults::FaultId;
use faultline_engine::guide::{spelled_ids, EntryId, SectionId};
use faultline_engine::settings::{Change, Knob};
use faultline_engine::RunConfig;

pub use catalog::EXERCISES;

spelled_ids! {
    /// An exercise, in the catalogue's order (which is [`EXERCISES`]'s).
    pub enum ExerciseId {
        FirstRun => "first-run",
        Overfit => "overfit",
        Explode => "explode",
        FindLr => "find-lr",
        Warmup => "warmup",
        Temperature => "temperature",
        Tokenization => "tokenization",
        Roundtrip => "roundtrip",
        Nonsense => "nonsense",
        Oom => "oom",
        Slow => "slow",
        Clip => "clip",
        ZeroGrad => "zero-grad",
        DeadRelu => "dead-relu",
        Stuck => "stuck",
        Vanishing => "vanishing",
        PostNorm => "post-norm",
        Nan => "nan",
        Cheating => "cheating",
        AttnScale => "attn-scale",
        Dpo => "dpo",
        RewardHacking => "reward-hacking",
    }
}

impl ExerciseId {
    /// Its exercise.
    pub fn exercise(self) -> &'static Exercise {
        &EXERCISES[self as usize]
    }
}

/// What the learner answers before running.
#[derive(Debug)]
pub enum Answer {
    /// Pick one of `options`; `right` is the index of the one the measurement bears out.
    Choice { options: &'static [&'static str], right: usize },
    /// Type a number, later set beside the reproduce run's own: its evidence value times `scale`, in
    /// `unit`.
    Number { unit: &'static str, scale: f32 },
}

/// A "predict before you run" question.
#[derive(Debug)]
pub struct Prediction {
    pub question: &'static str,
    pub answer: Answer,
    /// Why, in one or two sentences, quoting what Faultline measured.
    pub why: &'static str,
}

impl Prediction {
    /// The options of a choice; none for a number.
    pub fn options(&self) -> &'static [&'static str] {
        match self.answer {
            Answer::Choice { options, .. } => options,
            Answer::Number { .. } => &[],
        }
    }

    /// The index of the right option of a choice.
    pub fn right(&self) -> Option<usize> {
        match self.answer {
            Answer::Choice { right, .. } => Some(right),
            Answer::Number { .. } => None,
        }
    }

    pub fn is_numeric(&self) -> bool {
        matches!(self.answer, Answer::Number { .. })
    }
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
}

/// One half of an exercise: make the symptom appear, or make it go away.
#[derive(Debug)]
pub struct Stage {
    pub title: &'static str,
    pub instructions: &'static str,
    /// The first is the one to use; others are variations worth trying.
    pub setups: &'static [Setup],
}

/// What a fix stage's run may change from the learner's reproduce run.
#[derive(Debug)]
pub enum Lesson {
    /// The fix stage reads the reproduce stage's own run (the first run: there is nothing to fix).
    SameRun,
    /// One change, made one of several `ways` (the guide's alternative remedies); a way is the settings
    /// and faults that change together as one idea (micro-batches that keep the effective batch: the
    /// fault off and grad-accum up).
    Change {
        ways: &'static [&'static [Knob]],
        /// The change in words, to finish "the comparison needs your reproduce run with one change: …".
        what: &'static str,
    },
    /// No new run: the fix decodes the model the reproduce run trained again, with other decoding
    /// settings (the trainer's Generate panel, which the fix setups fill in), and compares the two
    /// texts of the same weights.
    Resample {
        /// The decoding change in words, to finish "resample … with other decoding settings: …".
        what: &'static str,
    },
}

impl Lesson {
    /// Whether `run`'s settings are `before`'s (the reproduce run's) with this one change made one way,
    /// or what else differs, named with both values. For a [`Lesson::Resample`], whether `run` has
    /// exactly the reproduce run's settings (the model the fix decodes again is that run's).
    pub fn compare(&self, before: Option<&RunConfig>, run: &RunConfig) -> Result<(), String> {
        let what = match self {
            Lesson::SameRun => return Ok(()),
            Lesson::Change { what, .. } | Lesson::Resample { what } => what,
        };
        let before = before.ok_or_else(|| {
            "the fix is compared with your reproduce run, and this browser has none kept: start the exercise over \
             and reproduce the symptom first"
                .to_string()
        })?;
        let differences = before.differences(run);
        let named = |knobs: &mut dyn Iterator<Item = &Knob>| {
            knobs
                .map(|&knob| format!("{knob} ({} → {})", before.knob_value(knob), run.knob_value(knob)))
                .collect::<Vec<_>>()
        };
        let Lesson::Change { ways, .. } = self else {
            if differences.is_empty() {
                return Ok(());
            }
            return Err(format!(
                "this is a new run, not your reproduce run: it changes {}; the fix needs no new run, only the model \
                 your reproduce run trained sampled again with other decoding settings: {what}",
                named(&mut differences.iter()).join(", ")
            ));
        };
        let others = named(&mut differences.iter().filter(|knob| !ways.iter().any(|way| way.contains(knob))));
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
        if !ways.iter().any(|way| differences.iter().all(|knob| way.contains(knob))) {
            return Err(format!(
                "this run makes more than one change ({}); the comparison needs one, to know which did it: {what}",
                named(&mut differences.iter()).join(", ")
            ));
        }
        Ok(())
    }
}

#[derive(Debug)]
pub struct Exercise {
    pub id: ExerciseId,
    pub title: &'static str,
    /// The guide section it practises.
    pub section: SectionId,
    pub goal: &'static str,
    pub prediction: Prediction,
    /// The guide entries that explain it, for the hints; an exercise with a fix reproduces the first.
    pub entries: &'static [EntryId],
    pub reproduce: Stage,
    pub fix: Stage,
    /// What the fix run may change from the reproduce run.
    pub lesson: Lesson,
}

impl Exercise {
    /// The fine-tuning method whose runs on the alignment page the exercise reads; none for one that
    /// reads the trainer's runs.
    pub fn method(&self) -> Option<Method> {
        Method::of(self.entries[0])
    }

    /// Whether `setup` is one of this exercise's reproduce setups (else a fix setup).
    pub fn reproduces_with(&self, setup: &Setup) -> bool {
        self.reproduce.setups.iter().any(|s| std::ptr::eq(s, setup))
    }
}

#[cfg(test)]
mod tests;
