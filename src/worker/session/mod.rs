//! The worker's training logic, free of any JavaScript: it turns the page's messages into engine calls
//! and engine results into messages for the page. The wasm-only glue (`worker::runtime`) only
//! moves messages and schedules [`Session::run_chunk`]; natively the tests drive a session directly.
//!
//! - here: [`Session`], what the worker holds between messages, and how each message is handled.
//! - `run.rs`: the training run: its phase, its launches of steps, the records, evaluations and
//!   diagnoses it sends, and its move to the CPU when a GPU is lost.
//! - `sweep.rs`: a learning-rate range test, swept a slice at a time.
//! - `logs.rs`: training logs another program wrote, taken in a chunk at a time and diagnosed.
//! - `align.rs`: a fine-tuning run (the alignment page): the base model's pretraining, then DPO or
//!   the policy gradient (`align/tuning.rs`), a slice at a time.
//! - `vocab.rs`: the vocabulary sizes of the corpora loaded, for memory estimates.
//! - `tests.rs`: the session driven natively, message by message, on both backends.
//!
//! Which backend a run trains on, and its trainer, are [`super::compute`]'s.

mod align;
mod logs;
mod run;
mod sweep;
#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests;
mod vocab;

use super::compute::{on_trainer, Chooser, Origin, RunTrainer};
use crate::protocol::{Bytes, EstimateResult, FromWorker, LoadedCheckpoint, LrRangeEvent, RunEvent, RunId, ToWorker};
use align::Alignment;
use faultline_engine::bench::run_training_bench;
use faultline_engine::diagnosis::{examine, Assessment};
use faultline_engine::lr_range::RangeTest;
use faultline_engine::memory;
use faultline_engine::telemetry::History;
use faultline_engine::trainer::Clock;
use faultline_engine::{EngineError, Preset, RunConfig};
use faultline_gpu::bench::GpuBench;
use logs::Logs;
use run::{Phase, Run};
use sweep::Sweep;
use vocab::Vocabularies;

pub use run::FLUSH_EVERY_MS;

/// Everything the worker holds between messages.
pub struct Session {
    clock: Clock,
    run: Option<Run>,
    sweep: Option<Sweep>,
    vocab: Vocabularies,
    chooser: Chooser,
    logs: Logs,
    /// The fine-tuning run in progress; the worker runs it or a training run, never both.
    align: Option<Alignment>,
}

impl Session {
    pub fn new(clock: Clock) -> Self {
        Self {
            clock,
            run: None,
            sweep: None,
            vocab: Vocabularies::default(),
            chooser: Chooser::default(),
            logs: Logs::default(),
            align: None,
        }
    }

    fn estimate(&mut self, config: &RunConfig) -> EstimateResult {
        if let Err(e) = config.validate() {
            return EstimateResult::Unavailable { message: e.to_string() };
        }
        match self.vocab.size(config) {
            Ok(vocab_size) => EstimateResult::Known { vocab_size, memory: memory::estimate(config, vocab_size) },
            Err(message) => EstimateResult::Unavailable { message },
        }
    }

    /// True while a run, a fine-tuning run or a learning-rate range test wants [`Session::run_chunk`]
    /// called again.
    pub fn is_running(&self) -> bool {
        self.sweep.is_some() || self.align.is_some() || self.run.as_ref().is_some_and(|r| r.phase == Phase::Running)
    }

    /// Ends the fine-tuning run in progress, if any, telling the page why.
    fn end_alignment(&mut self, why: &str, out: &mut Vec<FromWorker>) {
        if let Some(align) = self.align.take() {
            out.push(align.stopped(why));
        }
    }

    /// Ends the range test in progress, if any, telling the page why.
    fn end_sweep(&mut self, why: &str, out: &mut Vec<FromWorker>) {
        if let Some(sweep) = self.sweep.take() {
            out.push(sweep.event(LrRangeEvent::Failed { message: format!("the range test stopped: {why}") }));
        }
    }

    /// Makes `trainer` the current run `run` (see [`Run::start`]).
    fn begin(
        &mut self,
        run: RunId,
        trainer: RunTrainer,
        backend_reason: String,
        paused: bool,
        out: &mut Vec<FromWorker>,
    ) {
        self.run = Some(Run::start(run, trainer, backend_reason, paused, self.clock, out));
    }

    /// The current run as checkpoint bytes, pausing it first when it is running.
    fn save_checkpoint(&mut self, out: &mut Vec<FromWorker>) -> Result<Vec<u8>, String> {
        let Some(r) = self.run.as_mut() else {
            return Err("there is no run to save: start one first".to_string());
        };
        r.save(self.clock, out)
    }

    /// Handles one message from the page and returns what to post back.
    pub fn handle(&mut self, msg: ToWorker) -> Vec<FromWorker> {
        let mut out = Vec::new();
        match msg {
            ToWorker::Start { run, config, paused, compute } => {
                self.end_sweep("a training run started", &mut out);
                self.end_alignment("a training run started", &mut out);
                self.run = None;
                match self.chooser.choose(Origin::Fresh(&config), compute, self.clock) {
                    Ok(chosen) => self.begin(run, chosen.trainer, chosen.reason, paused, &mut out),
                    Err(e) => {
                        out.push(FromWorker::Run { run, event: RunEvent::Failed { message: e.to_string() } });
                        if matches!(e, EngineError::OutOfMemory { .. }) {
                            // The detector reads the failed allocation like any other telemetry.
                            let vocab_size = self.vocab.size(&config).unwrap_or(0);
                            let history = History { vocab_size, stopped: Some(e), ..History::default() };
                            let Assessment { findings, watching } = examine(&history);
                            out.push(FromWorker::Run {
                                run,
                                event: RunEvent::Diagnosis { step: 0, vocab_size, findings, watching },
                            });
                        }
                    }
                }
            }
            ToWorker::Pause => {
                if let Some(r) = self.run.as_mut().filter(|r| r.phase == Phase::Running) {
                    r.pause(self.clock, &mut out);
                }
            }
            ToWorker::Resume => {
                if let Some(r) = self.run.as_mut().filter(|r| r.phase == Phase::Paused) {
                    r.resume(self.clock, &mut out);
                }
            }
            ToWorker::Step => {
                if let Some(r) = self.run.as_mut().filter(|r| r.phase == Phase::Paused) {
                    r.advance(self.clock, 1, &mut out);
                    r.flush(self.clock, &mut out);
                }
            }
            ToWorker::Reset => {
                self.end_sweep("the page was reset", &mut out);
                self.end_alignment("stopped", &mut out);
                self.run = None;
            }
            ToWorker::Align { run, config, steps, method } => {
                self.end_sweep("a fine-tuning run started", &mut out);
                self.end_alignment("a newer fine-tuning run replaced it", &mut out);
                self.run = None;
                self.align = Alignment::start(run, &config, steps, method, self.clock, &mut out);
            }
            ToWorker::Sample(request) => {
                if let Some(r) = self.run.as_mut() {
                    r.flush(self.clock, &mut out);
                    out.push(r.sample(&request));
                }
            }
            ToWorker::Bench { config, steps, seed } => {
                self.sweep = None;
                self.run = None;
                self.align = None;
                out.push(FromWorker::BenchDone(run_training_bench(config, steps, seed, self.clock)));
            }
            ToWorker::GpuBench { config, steps, seed } => {
                self.sweep = None;
                self.run = None;
                self.align = None;
                out.push(FromWorker::GpuBenchDone(Box::new(gpu_bench(config, steps, seed, self.clock))));
            }
            ToWorker::Estimate { request, config } => {
                out.push(FromWorker::Estimate { request, result: self.estimate(&config) });
            }
            ToWorker::SaveCheckpoint { request } => {
                let result = self.save_checkpoint(&mut out).map(Bytes);
                out.push(FromWorker::Checkpoint { request, result });
            }
            ToWorker::LoadCheckpoint { run, bytes, paused, compute } => {
                match self.chooser.choose(Origin::Checkpoint(&bytes.0), compute, self.clock) {
                    Ok(chosen) => {
                        self.end_sweep("a training run started", &mut out);
                        self.end_alignment("a training run started", &mut out);
                        let loaded = on_trainer!(&chosen.trainer, |t| LoadedCheckpoint {
                            config: Box::new(t.config().clone()),
                            step: t.steps_done()
                        });
                        out.push(FromWorker::CheckpointLoaded { run, result: Ok(loaded) });
                        self.begin(run, chosen.trainer, chosen.reason, paused, &mut out);
                    }
                    Err(e) => out.push(FromWorker::CheckpointLoaded { run, result: Err(e.to_string()) }),
                }
            }
            ToWorker::Log { request, part } => out.extend(self.logs.handle(request, part)),
            ToWorker::LrRange { request, config, settings } => {
                self.end_sweep("a newer range test replaced it", &mut out);
                let reply = |event| FromWorker::LrRange { request, event };
                if self.run.as_ref().is_some_and(|r| r.phase != Phase::Over) {
                    let message =
                        "a training run is in progress: let it finish or reset it, then run the range test".to_string();
                    out.push(reply(LrRangeEvent::Failed { message }));
                    return out;
                }
                if self.align.is_some() {
                    let message = "a fine-tuning run is in progress on the alignment page: let it finish or stop \
                                   it, then run the range test"
                        .to_string();
                    out.push(reply(LrRangeEvent::Failed { message }));
                    return out;
                }
                match RangeTest::cpu(&config, settings, self.clock) {
                    Ok(test) => {
                        out.push(reply(LrRangeEvent::Started { planned: test.planned() }));
                        self.sweep = Some(Sweep::new(request, test));
                    }
                    Err(e) => out.push(reply(LrRangeEvent::Failed { message: e.to_string() })),
                }
            }
        }
        out
    }

    /// Trains (or sweeps the range test, or fine-tunes) for about `budget_ms` milliseconds (at least
    /// one step) and returns what to post.
    pub fn run_chunk(&mut self, budget_ms: f64) -> Vec<FromWorker> {
        let mut out = Vec::new();
        if let Some(sweep) = self.sweep.as_mut() {
            if sweep.run_chunk(self.clock, budget_ms, &mut out) {
                self.sweep = None;
            }
        } else if let Some(align) = self.align.take() {
            self.align = align.run_chunk(self.clock, budget_ms, &mut out);
        } else if let Some(r) = self.run.as_mut().filter(|r| r.phase == Phase::Running) {
            r.run_chunk(self.clock, budget_ms, &mut out);
        }
        out
    }
}

/// The WebGPU training bench, in the worker builds that have WebGPU.
#[cfg(feature = "webgpu")]
fn gpu_bench(config: Preset, steps: usize, seed: u64, clock: Clock) -> GpuBench {
    faultline_gpu::bench::run_gpu_bench(config, &faultline_engine::Faults::default(), steps, seed, clock)
}

/// The WebGPU training bench in the build without WebGPU: unmeasured, saying why.
#[cfg(not(feature = "webgpu"))]
fn gpu_bench(config: Preset, steps: usize, _seed: u64, _clock: Clock) -> GpuBench {
    let mut bench = GpuBench::unmeasured(config, steps);
    bench.result.error = Some(super::compute::NO_WEBGPU.into());
    bench
}
