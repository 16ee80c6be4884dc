//! What the page knows about the current run, rebuilt from the worker's messages.

use crate::protocol::{RunEvent, RunId, RunInfo};
use faultline_engine::EvalRecord;

/// Where the run is; `as_str` is the `data-state` of `#status`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RunState {
    #[default]
    Idle,
    /// Start was sent; the worker has not answered yet.
    Starting,
    Running,
    Paused,
    Finished,
    /// A NaN or Inf stopped the run.
    Stopped,
    Error,
}

impl RunState {
    pub fn as_str(self) -> &'static str {
        match self {
            RunState::Idle => "idle",
            RunState::Starting => "starting",
            RunState::Running => "running",
            RunState::Paused => "paused",
            RunState::Finished => "finished",
            RunState::Stopped => "stopped",
            RunState::Error => "error",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            RunState::Idle => "Ready",
            RunState::Starting => "Starting…",
            RunState::Running => "Training",
            RunState::Paused => "Paused",
            RunState::Finished => "Finished",
            RunState::Stopped => "Stopped",
            RunState::Error => "Error",
        }
    }

    /// A run exists that Pause, Resume or Step can act on.
    pub fn is_active(self) -> bool {
        matches!(self, RunState::Starting | RunState::Running | RunState::Paused)
    }
}

/// The page's copy of one run's telemetry.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RunView {
    /// The run whose messages are accepted; others are stale and dropped.
    pub run: RunId,
    pub state: RunState,
    pub info: Option<RunInfo>,
    pub steps_done: usize,
    /// Training loss of every step's batch: (step, loss).
    pub train: Vec<(usize, f32)>,
    pub evals: Vec<EvalRecord>,
    pub tokens_per_s: Option<f64>,
    /// The latest generated text (from an evaluation or asked for) and the step it was generated at.
    pub sample: Option<(usize, String)>,
    /// Why the run stopped or failed.
    pub message: Option<String>,
}

impl RunView {
    /// A fresh view for run `run`, waiting for the worker to start it.
    pub fn starting(run: RunId) -> Self {
        Self { run, state: RunState::Starting, ..Self::default() }
    }

    /// Forgets the run; messages still in flight for it will be ignored.
    pub fn reset(&mut self) {
        *self = Self { run: self.run, ..Self::default() };
    }

    /// Applies one message from the worker; returns false when it was about another run and ignored.
    pub fn apply(&mut self, run: RunId, event: RunEvent) -> bool {
        if run != self.run || self.state == RunState::Idle {
            return false;
        }
        match event {
            RunEvent::Started(info) => {
                self.state = if info.paused { RunState::Paused } else { RunState::Running };
                self.info = Some(info);
            }
            RunEvent::Steps { records, tokens_per_s } => {
                if let Some(last) = records.last() {
                    self.steps_done = last.step;
                }
                self.train.extend(records.iter().map(|r| (r.step, r.loss)));
                if tokens_per_s.is_some() {
                    self.tokens_per_s = tokens_per_s;
                }
            }
            RunEvent::Eval(record) => {
                if let Some(sample) = &record.sample {
                    self.sample = Some((record.step, sample.text.clone()));
                }
                self.evals.push(record);
            }
            RunEvent::Sample { step, text } => self.sample = Some((step, text)),
            RunEvent::Paused { step } => {
                self.steps_done = step;
                self.state = RunState::Paused;
            }
            RunEvent::Resumed { .. } => self.state = RunState::Running,
            RunEvent::Finished(summary) => {
                self.steps_done = summary.steps_run;
                self.state = RunState::Finished;
            }
            RunEvent::Stopped { message, .. } => {
                self.state = RunState::Stopped;
                self.message = Some(message);
            }
            RunEvent::Failed { message } => {
                self.state = RunState::Error;
                self.message = Some(message);
            }
        }
        true
    }

    /// The latest training loss: the last step's batch loss.
    pub fn last_train_loss(&self) -> Option<f32> {
        self.train.last().map(|&(_, loss)| loss)
    }

    /// The latest validation loss.
    pub fn last_val_loss(&self) -> Option<f32> {
        self.evals.iter().rev().find_map(|e| e.val_loss)
    }

    /// The corpus's entropy rate (nats per token), the floor no model can beat on average.
    pub fn entropy_rate(&self) -> Option<f64> {
        self.info.as_ref().and_then(|i| i.corpus.entropy_rate)
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use crate::protocol::test_support::{eval_record, run_info, step_record, summary};

    #[test]
    fn follows_a_run_from_start_to_finish() {
        let mut v = RunView::starting(3);
        assert!(v.apply(3, RunEvent::Started(run_info(false))));
        assert_eq!(v.state, RunState::Running);
        v.apply(
            3,
            RunEvent::Steps { records: vec![step_record(1, 4.2), step_record(2, 4.0)], tokens_per_s: Some(900.0) },
        );
        v.apply(3, RunEvent::Eval(eval_record(2, 4.1, Some(4.3), Some("the cat"))));
        assert_eq!((v.steps_done, v.last_train_loss(), v.last_val_loss()), (2, Some(4.0), Some(4.3)));
        assert_eq!(v.tokens_per_s, Some(900.0));
        assert_eq!(v.sample, Some((2, "the cat".to_string())));
        v.apply(3, RunEvent::Sample { step: 2, text: "a dog".into() });
        assert_eq!(v.sample, Some((2, "a dog".to_string())));
        v.apply(3, RunEvent::Paused { step: 2 });
        assert_eq!(v.state, RunState::Paused);
        v.apply(3, RunEvent::Resumed { step: 2 });
        assert_eq!(v.state, RunState::Running);
        v.apply(3, RunEvent::Finished(summary(2)));
        assert_eq!((v.state, v.steps_done), (RunState::Finished, 2));
    }

    #[test]
    fn drops_messages_of_other_runs_and_after_reset() {
        let mut v = RunView::starting(2);
        assert!(!v.apply(1, RunEvent::Steps { records: vec![step_record(1, 4.2)], tokens_per_s: None }));
        assert!(v.train.is_empty());
        v.apply(2, RunEvent::Started(run_info(true)));
        assert_eq!(v.state, RunState::Paused);
        v.reset();
        assert_eq!(v.state, RunState::Idle);
        assert!(!v.apply(2, RunEvent::Steps { records: vec![step_record(1, 4.2)], tokens_per_s: None }));
    }

    #[test]
    fn a_nan_stops_the_run_with_its_message() {
        let mut v = RunView::starting(1);
        v.apply(1, RunEvent::Started(run_info(false)));
        v.apply(1, RunEvent::Steps { records: vec![step_record(1, 4.2), step_record(2, 9.0)], tokens_per_s: None });
        v.apply(1, RunEvent::Stopped { step: 3, tensor: "logits".into(), message: "NaN in logits".into() });
        assert_eq!((v.state, v.steps_done), (RunState::Stopped, 2));
        assert_eq!(v.message.as_deref(), Some("NaN in logits"));
        assert!(!v.state.is_active());
    }

    #[test]
    fn states_have_the_dom_names() {
        let names: Vec<_> = [
            RunState::Idle,
            RunState::Starting,
            RunState::Running,
            RunState::Paused,
            RunState::Finished,
            RunState::Stopped,
            RunState::Error,
        ]
        .iter()
        .map(|s| s.as_str())
        .collect();
        assert_eq!(names, ["idle", "starting", "running", "paused", "finished", "stopped", "error"]);
    }
}
