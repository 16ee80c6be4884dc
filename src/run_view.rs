//! What the page knows about the current run, rebuilt from the worker's messages.

use crate::protocol::{Generated, RunEvent, RunId, RunInfo};
use faultline_engine::diagnosis::Finding;
use faultline_engine::{EvalRecord, RunConfig, StepRecord};

/// Evaluations whose attention maps the page keeps; older ones keep their numbers only.
pub const ATTENTION_KEPT: usize = 3;

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

/// What the symptom detector last read in the run's telemetry.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Diagnosis {
    /// Steps taken when it ran.
    pub step: usize,
    pub vocab_size: usize,
    /// Most likely first; empty when the telemetry shows nothing wrong.
    pub findings: Vec<Finding>,
    /// Entries too weakly supported to name yet, most likely first.
    pub watching: Vec<Finding>,
}

/// Where a NaN or Inf stopped the run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StopPoint {
    pub step: usize,
    /// The first tensor found holding the bad value.
    pub tensor: String,
}

/// The page's copy of one run's telemetry.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RunView {
    /// The run whose messages are accepted; others are stale and dropped.
    pub run: RunId,
    pub state: RunState,
    /// The settings the run was started with.
    pub config: Option<RunConfig>,
    pub info: Option<RunInfo>,
    pub steps_done: usize,
    /// Every step's record: its batch's loss, gradient norm, learning rate and phase times.
    pub steps: Vec<StepRecord>,
    /// Every evaluation; only the last [`ATTENTION_KEPT`] keep their attention maps.
    pub evals: Vec<EvalRecord>,
    pub diagnosis: Option<Diagnosis>,
    pub stop: Option<StopPoint>,
    pub tokens_per_s: Option<f64>,
    /// The latest evaluation's sample and the step it was generated at.
    pub sample: Option<(usize, String)>,
    /// The latest text the learner asked for, measured, with the step and the decoding it was
    /// generated at.
    pub generated: Option<Generated>,
    /// A generation was asked for and has not been answered yet.
    pub generating: bool,
    /// Why the run stopped or failed.
    pub message: Option<String>,
}

impl RunView {
    /// A fresh view for run `run` of `config`, waiting for the worker to start it.
    pub fn starting(run: RunId, config: RunConfig) -> Self {
        Self { run, state: RunState::Starting, config: Some(config), ..Self::default() }
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
                self.steps.extend(records);
                if tokens_per_s.is_some() {
                    self.tokens_per_s = tokens_per_s;
                }
            }
            RunEvent::Eval(record) => {
                if let Some(sample) = &record.sample {
                    self.sample = Some((record.step, sample.text.clone()));
                }
                self.evals.push(record);
                let old = self.evals.len().saturating_sub(ATTENTION_KEPT);
                for e in &mut self.evals[..old] {
                    if !e.attention.probs.is_empty() {
                        e.attention.probs = Vec::new();
                    }
                }
            }
            RunEvent::Diagnosis { step, vocab_size, findings, watching } => {
                self.diagnosis = Some(Diagnosis { step, vocab_size, findings, watching });
            }
            RunEvent::Sample(generated) => {
                self.generated = Some(generated);
                self.generating = false;
            }
            RunEvent::Paused { step } => {
                self.steps_done = step;
                self.state = RunState::Paused;
            }
            RunEvent::Resumed { .. } => self.state = RunState::Running,
            RunEvent::Finished(summary) => {
                self.steps_done = summary.steps_run;
                self.state = RunState::Finished;
            }
            RunEvent::Stopped { step, tensor, message } => {
                self.state = RunState::Stopped;
                self.stop = Some(StopPoint { step, tensor });
                self.message = Some(message);
            }
            RunEvent::Failed { message } => {
                self.state = RunState::Error;
                self.message = Some(message);
            }
            RunEvent::Moved { step, backend, backend_kind, reason } => {
                self.steps.retain(|r| r.step <= step);
                self.evals.retain(|e| e.step <= step);
                self.steps_done = step;
                if let Some(info) = self.info.as_mut() {
                    info.backend = backend;
                    info.backend_kind = backend_kind;
                    info.backend_reason = reason;
                }
            }
        }
        true
    }

    /// The latest training loss: the last step's batch loss.
    pub fn last_train_loss(&self) -> Option<f32> {
        self.steps.last().map(|r| r.loss)
    }

    /// The detector's findings, most likely first (none before its first reading).
    pub fn findings(&self) -> &[Finding] {
        self.diagnosis.as_ref().map_or(&[], |d| &d.findings)
    }

    /// What the detector is watching without naming it.
    pub fn watching(&self) -> &[Finding] {
        self.diagnosis.as_ref().map_or(&[], |d| &d.watching)
    }

    /// The latest evaluation that still has its attention maps.
    pub fn latest_attention(&self) -> Option<&EvalRecord> {
        self.evals.iter().rev().find(|e| !e.attention.probs.is_empty())
    }

    /// Whether the run had no fault switched on.
    pub fn is_fault_free(&self) -> bool {
        self.config.as_ref().is_some_and(|c| c.faults.active().is_empty())
    }

    /// The vocabulary size, from the run's start or the detector's last reading.
    pub fn vocab_size(&self) -> Option<usize> {
        let from_info = self.info.as_ref().map(|i| i.corpus.vocab_size);
        from_info.or(self.diagnosis.as_ref().map(|d| d.vocab_size)).filter(|&v| v > 0)
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

/// Trains `config` to its end natively through the worker's own session and applies its messages to a
/// view exactly as the page does: the real run the tests of the page's logic read.
#[cfg(all(test, not(target_arch = "wasm32")))]
pub fn trained(config: RunConfig) -> RunView {
    use crate::protocol::{Compute, FromWorker, ToWorker};
    use crate::worker::session::Session;
    let mut session = Session::new(faultline_engine::trainer::native_clock);
    let mut view = RunView::starting(1, config.clone());
    let mut apply = |out: Vec<FromWorker>| {
        for msg in out {
            if let FromWorker::Run { run, event } = msg {
                view.apply(run, event);
            }
        }
    };
    apply(session.handle(ToWorker::Start { run: 1, config: Box::new(config), paused: false, compute: Compute::Cpu }));
    while session.is_running() {
        apply(session.run_chunk(50.0));
    }
    view
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use crate::protocol::test_support::{eval_record, run_info, step_record, summary};
    use faultline_engine::backend::BackendKind;
    use faultline_engine::diagnosis::Finding;
    use faultline_engine::faults::FaultId;
    use faultline_engine::guide::EntryId;
    use faultline_engine::sampling::SamplingConfig;

    fn starting(run: RunId) -> RunView {
        RunView::starting(run, RunConfig::default())
    }

    #[test]
    fn a_move_to_another_backend_voids_the_records_after_its_saved_step() {
        let mut v = RunView::starting(1, RunConfig::default());
        v.apply(1, RunEvent::Started(run_info(false)));
        let records = (1..=5).map(|s| step_record(s, 4.0 - s as f32 * 0.1)).collect();
        v.apply(1, RunEvent::Steps { records, tokens_per_s: None });
        v.apply(1, RunEvent::Eval(eval_record(2, 3.9, Some(3.9), None)));
        v.apply(1, RunEvent::Eval(eval_record(4, 3.7, Some(3.7), None)));
        let reason = "the GPU device was lost at step 5: the run continues on the CPU from step 2".to_string();
        let moved = RunEvent::Moved {
            step: 2,
            backend: "CPU (SIMD)".into(),
            backend_kind: BackendKind::Cpu,
            reason: reason.clone(),
        };
        assert!(v.apply(1, moved));
        assert_eq!(v.steps.iter().map(|r| r.step).collect::<Vec<_>>(), [1, 2]);
        assert_eq!(v.evals.iter().map(|e| e.step).collect::<Vec<_>>(), [2]);
        assert_eq!((v.steps_done, v.state), (2, RunState::Running));
        let info = v.info.as_ref().unwrap();
        assert_eq!((info.backend.as_str(), &info.backend_reason), ("CPU (SIMD)", &reason));
        v.apply(1, RunEvent::Steps { records: vec![step_record(3, 3.8)], tokens_per_s: None });
        assert_eq!(v.steps.iter().map(|r| r.step).collect::<Vec<_>>(), [1, 2, 3]);
    }

    #[test]
    fn follows_a_run_from_start_to_finish() {
        let mut v = starting(3);
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
        v.generating = true;
        let asked = eval_record(2, 4.1, None, Some("a dog")).sample.expect("a sample");
        let generated = Generated { step: 2, sampling: SamplingConfig::default(), sample: Ok(asked) };
        v.apply(3, RunEvent::Sample(generated.clone()));
        assert_eq!(v.sample, Some((2, "the cat".to_string())), "the evaluation's sample stays");
        assert_eq!((v.generated.clone(), v.generating), (Some(generated), false));
        v.apply(3, RunEvent::Paused { step: 2 });
        assert_eq!(v.state, RunState::Paused);
        v.apply(3, RunEvent::Resumed { step: 2 });
        assert_eq!(v.state, RunState::Running);
        v.apply(3, RunEvent::Finished(summary(2)));
        assert_eq!((v.state, v.steps_done), (RunState::Finished, 2));
    }

    #[test]
    fn drops_messages_of_other_runs_and_after_reset() {
        let mut v = starting(2);
        assert!(!v.apply(1, RunEvent::Steps { records: vec![step_record(1, 4.2)], tokens_per_s: None }));
        assert!(v.steps.is_empty());
        v.apply(2, RunEvent::Started(run_info(true)));
        assert_eq!(v.state, RunState::Paused);
        v.reset();
        assert_eq!(v.state, RunState::Idle);
        assert!(!v.apply(2, RunEvent::Steps { records: vec![step_record(1, 4.2)], tokens_per_s: None }));
    }

    #[test]
    fn keeps_the_detectors_last_reading_and_few_attention_maps() {
        let mut v = starting(4);
        assert!(v.is_fault_free() && v.findings().is_empty());
        v.apply(4, RunEvent::Started(run_info(false)));
        for step in 1..=5 {
            v.apply(4, RunEvent::Eval(eval_record(step * 10, 3.0, None, None)));
        }
        let kept: Vec<usize> = v.evals.iter().filter(|e| !e.attention.probs.is_empty()).map(|e| e.step).collect();
        assert_eq!(kept, [30, 40, 50]);
        assert_eq!(v.latest_attention().map(|e| e.step), Some(50));
        let finding =
            Finding { entry: EntryId::LossBecomesNan, confidence: 1.0, first_step: None, evidence: Vec::new() };
        v.apply(
            4,
            RunEvent::Diagnosis { step: 50, vocab_size: 29, findings: vec![finding.clone()], watching: Vec::new() },
        );
        assert_eq!(v.findings(), [finding]);
        v.apply(4, RunEvent::Diagnosis { step: 100, vocab_size: 29, findings: Vec::new(), watching: Vec::new() });
        assert!(v.findings().is_empty(), "a later reading replaces the earlier one");
        assert_eq!(v.vocab_size(), Some(40), "the corpus's vocabulary from the run's start");
        let mut faulty = RunConfig::default();
        faulty.faults.set(FaultId::NoCausalMask, None).unwrap();
        assert!(!RunView::starting(5, faulty).is_fault_free());
    }

    #[test]
    fn a_nan_stops_the_run_with_its_message() {
        let mut v = starting(1);
        v.apply(1, RunEvent::Started(run_info(false)));
        v.apply(1, RunEvent::Steps { records: vec![step_record(1, 4.2), step_record(2, 9.0)], tokens_per_s: None });
        v.apply(1, RunEvent::Stopped { step: 3, tensor: "logits".into(), message: "NaN in logits".into() });
        assert_eq!((v.state, v.steps_done), (RunState::Stopped, 2));
        assert_eq!(v.message.as_deref(), Some("NaN in logits"));
        assert_eq!(v.stop, Some(StopPoint { step: 3, tensor: "logits".into() }));
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
