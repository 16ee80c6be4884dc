//! The training run the session holds: its phase, the launches of steps it takes in a chunk, the step
//! records it gathers and sends at most every [`FLUSH_EVERY_MS`], the evaluations and the detector's
//! readings after them, and, on a backend that can be lost (WebGPU), the saved state it continues from
//! on the CPU.

use crate::protocol::{FromWorker, Generated, RunEvent, RunId, RunInfo, SampleRequest};
use crate::worker::compute::{continue_on_cpu, on_trainer, RunTrainer};
use faultline_engine::backend::{Backend, BackendKind};
use faultline_engine::diagnosis::{examine, Assessment};
use faultline_engine::trainer::{Clock, Trainer};
use faultline_engine::{EngineError, StepRecord};

/// Step records are sent at most this often (20 messages per second) unless something else is sent.
pub const FLUSH_EVERY_MS: f64 = 50.0;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Phase {
    Running,
    Paused,
    /// Finished, stopped by a NaN or failed: the trainer stays for sampling but takes no more steps.
    Over,
}

pub(super) struct Run {
    id: RunId,
    trainer: RunTrainer,
    pub(super) phase: Phase,
    /// Step records not yet sent.
    pending: Vec<StepRecord>,
    last_flush_ms: f64,
    /// Tokens and milliseconds of the steps in `pending`, for the throughput figure.
    pending_tokens: usize,
    pending_step_ms: f64,
    /// Milliseconds per step of the last launch, which sizes the next (see [`Run::launch_size`]).
    ms_per_step: Option<f64>,
    /// On a backend that can be lost (WebGPU): the last state saved on the host (checkpoint bytes,
    /// taken at the start and after each evaluation), to continue on the CPU from.
    snapshot: Option<Vec<u8>>,
}

/// What the page learns of a run as it starts: its shape, its backend and why, and a sample of its data.
fn run_info<B: Backend>(trainer: &Trainer<B>, backend_reason: String, paused: bool) -> RunInfo {
    let dataset = trainer.dataset();
    let sample_len = trainer.model_config().context.min(dataset.train.len());
    RunInfo {
        steps: trainer.config().steps,
        backend: trainer.backend_name(),
        backend_kind: trainer.backend_kind(),
        backend_reason,
        threads: faultline_engine::backend::cpu::parallel::threads(),
        param_count: trainer.param_count(),
        model: *trainer.model_config(),
        shapes: trainer.param_shapes(),
        corpus: dataset.info.clone(),
        data_sample: dataset.tokenizer.decode(&dataset.train[..sample_len]),
        paused,
    }
}

impl Run {
    /// Makes `trainer` the run `id` and tells the page it started, on which backend and why (and, for
    /// a loaded run that had already taken all its steps, that it finished).
    pub(super) fn start(
        id: RunId,
        mut trainer: RunTrainer,
        backend_reason: String,
        paused: bool,
        clock: Clock,
        out: &mut Vec<FromWorker>,
    ) -> Self {
        let info = on_trainer!(&trainer, |t| run_info(t, backend_reason, paused));
        out.push(FromWorker::Run { run: id, event: RunEvent::Started(info) });
        let done = on_trainer!(&trainer, |t| t.is_done());
        // A GPU holds the run's only state: keep a copy on the host to continue from if it is lost.
        let snapshot = on_trainer!(&mut trainer, |t| {
            (t.backend_kind() == BackendKind::Gpu).then(|| t.checkpoint().ok()).flatten()
        });
        let mut run = Self {
            id,
            trainer,
            phase: if paused { Phase::Paused } else { Phase::Running },
            pending: Vec::new(),
            last_flush_ms: clock(),
            pending_tokens: 0,
            pending_step_ms: 0.0,
            ms_per_step: None,
            snapshot,
        };
        if done {
            run.phase = Phase::Over;
            out.push(run.event(RunEvent::Finished(on_trainer!(&run.trainer, |t| t.summary()))));
        }
        run
    }

    fn event(&self, event: RunEvent) -> FromWorker {
        FromWorker::Run { run: self.id, event }
    }

    fn steps_done(&self) -> usize {
        on_trainer!(&self.trainer, |t| t.steps_done())
    }

    /// Pauses the running run, sending the records it holds first.
    pub(super) fn pause(&mut self, clock: Clock, out: &mut Vec<FromWorker>) {
        self.phase = Phase::Paused;
        self.flush(clock, out);
        out.push(self.event(RunEvent::Paused { step: self.steps_done() }));
    }

    /// Resumes the paused run.
    pub(super) fn resume(&mut self, clock: Clock, out: &mut Vec<FromWorker>) {
        self.phase = Phase::Running;
        self.last_flush_ms = clock();
        out.push(self.event(RunEvent::Resumed { step: self.steps_done() }));
    }

    /// The run as checkpoint bytes, pausing it first when it is running.
    pub(super) fn save(&mut self, clock: Clock, out: &mut Vec<FromWorker>) -> Result<Vec<u8>, String> {
        if self.phase == Phase::Running {
            self.pause(clock, out);
        }
        on_trainer!(&mut self.trainer, |t| t.checkpoint()).map_err(|e| e.to_string())
    }

    /// Trains for about `budget_ms` milliseconds (at least one step), in launches sized to the budget,
    /// and sends the records once [`FLUSH_EVERY_MS`] has passed since the last.
    pub(super) fn run_chunk(&mut self, clock: Clock, budget_ms: f64, out: &mut Vec<FromWorker>) {
        let start = clock();
        while self.phase == Phase::Running {
            let launch = self.launch_size(budget_ms - (clock() - start));
            self.advance(clock, launch, out);
            if clock() - start >= budget_ms {
                break;
            }
        }
        if self.phase == Phase::Running && clock() - self.last_flush_ms >= FLUSH_EVERY_MS {
            self.flush(clock, out);
        }
    }

    /// Steps to launch before the next readback: as many as the trainer records between readbacks
    /// (one on the CPU), fewer where that many would overrun `left_ms` at the pace so far, so the
    /// worker still answers the page (a pause, a reset) within about one chunk. One while the pace is
    /// unknown (the first step also compiles the GPU's kernels).
    fn launch_size(&self, left_ms: f64) -> usize {
        let most = on_trainer!(&self.trainer, |t| t.steps_per_readback());
        match self.ms_per_step {
            Some(ms) if ms > 0.0 => ((left_ms / ms).floor().max(0.0) as usize).clamp(1, most),
            _ => 1,
        }
    }

    /// Up to `launch` steps with one readback, then the evaluation (which carries a sample) and the
    /// end-of-run message it makes due.
    pub(super) fn advance(&mut self, clock: Clock, launch: usize, out: &mut Vec<FromWorker>) {
        let before = clock();
        let recorded = on_trainer!(&self.trainer, |t| t.history().steps.len());
        let stepped = on_trainer!(&mut self.trainer, |t| t.steps(launch));
        if self.move_off_a_lost_backend(clock, out) {
            return;
        }
        let new = on_trainer!(&self.trainer, |t| &t.history().steps[recorded..]);
        if !new.is_empty() {
            let ms = clock() - before;
            self.ms_per_step = Some(ms / new.len() as f64);
            self.pending_step_ms += ms;
            self.pending_tokens += new.iter().map(|r| r.tokens).sum::<usize>();
            self.pending.extend_from_slice(new);
        }
        if let Err(e) = stepped {
            self.flush(clock, out);
            self.phase = Phase::Over;
            let message = e.to_string();
            let event = match e {
                EngineError::NonFinite { step, tensor } => RunEvent::Stopped { step, tensor, message },
                _ => RunEvent::Failed { message },
            };
            out.push(self.event(event));
            out.push(self.diagnosis());
            return;
        }
        if on_trainer!(&self.trainer, |t| t.should_evaluate()) {
            // The evaluation carries the run's own sample (decoded with the run's sampling settings).
            self.flush(clock, out);
            let record = on_trainer!(&mut self.trainer, |t| t.evaluate());
            if self.move_off_a_lost_backend(clock, out) {
                return;
            }
            out.push(self.event(RunEvent::Eval(record)));
            out.push(self.diagnosis());
            if self.snapshot.is_some() {
                if let Ok(bytes) = on_trainer!(&mut self.trainer, |t| t.checkpoint()) {
                    if on_trainer!(&self.trainer, |t| t.backend_lost()).is_none() {
                        self.snapshot = Some(bytes);
                    }
                }
            }
        }
        if on_trainer!(&self.trainer, |t| t.is_done()) {
            self.flush(clock, out);
            self.phase = Phase::Over;
            out.push(self.event(RunEvent::Finished(on_trainer!(&self.trainer, |t| t.summary()))));
        }
    }

    /// When the backend has been lost (a GPU device gone), continues the run on the CPU from the
    /// last saved state and tells the page, which drops the records after it; true when it had to.
    fn move_off_a_lost_backend(&mut self, clock: Clock, out: &mut Vec<FromWorker>) -> bool {
        let Some(why) = on_trainer!(&self.trainer, |t| t.backend_lost()) else { return false };
        let lost_at = self.steps_done();
        // The records since the last evaluation come from after the saved state: they are void.
        self.pending.clear();
        self.pending_tokens = 0;
        self.pending_step_ms = 0.0;
        self.last_flush_ms = clock();
        let moved = self.snapshot.take().ok_or_else(|| why.clone()).and_then(|bytes| {
            continue_on_cpu(&bytes, clock).map_err(|e| format!("{why}, and the saved state could not continue: {e}"))
        });
        match moved {
            Ok(mut trainer) => {
                // The detector keeps what it saw before.
                on_trainer!(&self.trainer, |t| trainer.adopt_history(t.history()));
                let step = trainer.steps_done();
                let reason = format!(
                    "WebGPU stopped working at step {lost_at} ({why}): the run continues on the CPU from step \
                     {step}, its last saved state"
                );
                let (backend, backend_kind) = (trainer.backend_name(), trainer.backend_kind());
                self.trainer = trainer.into();
                out.push(self.event(RunEvent::Moved { step, backend, backend_kind, reason }));
            }
            Err(message) => {
                self.phase = Phase::Over;
                out.push(self.event(RunEvent::Failed { message }));
            }
        }
        true
    }

    /// What the detector reads in the telemetry so far.
    fn diagnosis(&self) -> FromWorker {
        let history = on_trainer!(&self.trainer, |t| t.history());
        let Assessment { findings, watching } = examine(history);
        let vocab_size = history.vocab_size;
        self.event(RunEvent::Diagnosis { step: self.steps_done(), vocab_size, findings, watching })
    }

    /// Sends the pending step records, if any.
    pub(super) fn flush(&mut self, clock: Clock, out: &mut Vec<FromWorker>) {
        self.last_flush_ms = clock();
        if self.pending.is_empty() {
            return;
        }
        let tokens_per_s =
            (self.pending_step_ms > 0.0).then(|| self.pending_tokens as f64 / (self.pending_step_ms / 1e3));
        let records = std::mem::take(&mut self.pending);
        self.pending_tokens = 0;
        self.pending_step_ms = 0.0;
        out.push(self.event(RunEvent::Steps { records, tokens_per_s }));
    }

    /// The model's text for the page's `request`, at the step the run has reached.
    pub(super) fn sample(&mut self, request: &SampleRequest) -> FromWorker {
        let step = self.steps_done();
        let sample = on_trainer!(&mut self.trainer, |t| {
            t.sample_stats(&request.prompt, request.max_new_tokens, &request.sampling, request.seed)
        })
        .map_err(|e| e.to_string());
        self.event(RunEvent::Sample(Generated { step, sampling: request.sampling.clone(), sample }))
    }
}
