//! The worker's training logic, free of any JavaScript: it turns the page's messages into engine calls
//! and engine results into messages for the page. The JavaScript glue in [`super::runtime`] only moves
//! messages and schedules [`Session::run_chunk`]; natively the tests drive a session directly.

use super::compute::{continue_on_cpu, Chooser, Origin, RunTrainer};
use crate::protocol::{
    Bytes, EstimateResult, FromWorker, LoadedCheckpoint, LrRangeEvent, RunEvent, RunId, RunInfo, SampleRequest,
    ToWorker,
};
use faultline_engine::backend::BackendKind;
use faultline_engine::bench::run_training_bench;
use faultline_engine::config::CorpusSource;
use faultline_engine::data::Dataset;
use faultline_engine::diagnosis::diagnose;
use faultline_engine::lr_range::RangeTest;
use faultline_engine::memory;
use faultline_engine::telemetry::History;
use faultline_engine::trainer::Clock;
use faultline_engine::{EngineError, Faults, RunConfig, StepRecord};
use faultline_gpu::bench::run_gpu_bench;

/// Step records are sent at most this often (20 messages per second) unless something else is sent.
pub const FLUSH_EVERY_MS: f64 = 50.0;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Running,
    Paused,
    /// Finished, stopped by a NaN or failed: the trainer stays for sampling but takes no more steps.
    Over,
}

struct Run {
    id: RunId,
    trainer: Box<dyn RunTrainer>,
    phase: Phase,
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

/// A learning-rate range test in progress.
struct Sweep {
    request: u32,
    test: RangeTest,
    /// Points already sent to the page.
    sent: usize,
}

impl Sweep {
    fn event(&self, event: LrRangeEvent) -> FromWorker {
        FromWorker::LrRange { request: self.request, event }
    }
}

/// Vocabulary sizes of the corpora already loaded, at most this many remembered.
const VOCAB_CACHE: usize = 8;

/// What a corpus's vocabulary depends on: the text, and the data faults that change the tokenizer.
#[derive(Clone, Debug, PartialEq)]
struct VocabKey {
    corpus: CorpusSource,
    context: usize,
    /// The seed picks the documents a word vocabulary is built from; it matters only then.
    word_seed: Option<u64>,
    word_level_vocab: Option<f32>,
    lossy_normalization: bool,
}

impl VocabKey {
    fn of(config: &RunConfig) -> Self {
        let faults = &config.faults;
        Self {
            corpus: config.corpus.clone(),
            context: config.preset.model(1).context,
            word_seed: faults.word_level_vocab.map(|_| config.seed),
            word_level_vocab: faults.word_level_vocab,
            lossy_normalization: faults.lossy_normalization,
        }
    }
}

/// Everything the worker holds between messages.
pub struct Session {
    clock: Clock,
    run: Option<Run>,
    sweep: Option<Sweep>,
    vocab: Vec<(VocabKey, Result<usize, String>)>,
    chooser: Chooser,
}

impl Session {
    pub fn new(clock: Clock) -> Self {
        Self { clock, run: None, sweep: None, vocab: Vec::new(), chooser: Chooser::default() }
    }

    /// The vocabulary size a run with `config` gets (loading its corpus the first time).
    fn vocab_size(&mut self, config: &RunConfig) -> Result<usize, String> {
        let key = VocabKey::of(config);
        if let Some((_, known)) = self.vocab.iter().find(|(k, _)| *k == key) {
            return known.clone();
        }
        let loaded = Dataset::load_with(&config.corpus, config.seed, key.context, &config.faults)
            .map(|d| d.tokenizer.vocab_size())
            .map_err(|e| e.to_string());
        if self.vocab.len() == VOCAB_CACHE {
            drop(self.vocab.remove(0));
        }
        self.vocab.push((key, loaded.clone()));
        loaded
    }

    fn estimate(&mut self, config: &RunConfig) -> EstimateResult {
        if let Err(e) = config.validate() {
            return EstimateResult::Unavailable { message: e.to_string() };
        }
        match self.vocab_size(config) {
            Ok(vocab_size) => EstimateResult::Known { vocab_size, memory: memory::estimate(config, vocab_size) },
            Err(message) => EstimateResult::Unavailable { message },
        }
    }

    /// True while a run or a learning-rate range test wants [`Session::run_chunk`] called again.
    pub fn is_running(&self) -> bool {
        self.sweep.is_some() || self.run.as_ref().is_some_and(|r| r.phase == Phase::Running)
    }

    /// Ends the range test in progress, if any, telling the page why.
    fn end_sweep(&mut self, why: &str, out: &mut Vec<FromWorker>) {
        if let Some(sweep) = self.sweep.take() {
            out.push(sweep.event(LrRangeEvent::Failed { message: format!("the range test stopped: {why}") }));
        }
    }

    /// Makes `trainer` the current run `run` and tells the page it started, on which backend and why
    /// (and, for a loaded run that had already taken all its steps, that it finished).
    fn begin(
        &mut self,
        run: RunId,
        mut trainer: Box<dyn RunTrainer>,
        backend_reason: String,
        paused: bool,
        out: &mut Vec<FromWorker>,
    ) {
        let dataset = trainer.dataset();
        let sample_len = trainer.model_config().context.min(dataset.train.len());
        let info = RunInfo {
            steps: trainer.config().steps,
            backend: trainer.backend_name(),
            backend_kind: trainer.backend_kind(),
            backend_reason,
            threads: faultline_engine::backend::cpu::parallel::threads(),
            param_count: trainer.param_count(),
            model: *trainer.model_config(),
            corpus: dataset.info.clone(),
            data_sample: dataset.tokenizer.decode(&dataset.train[..sample_len]),
            paused,
        };
        out.push(FromWorker::Run { run, event: RunEvent::Started(info) });
        let done = trainer.is_done();
        // A GPU holds the run's only state: keep a copy on the host to continue from if it is lost.
        let snapshot = (trainer.backend_kind() == BackendKind::Gpu).then(|| trainer.checkpoint().ok()).flatten();
        let mut r = Run {
            id: run,
            trainer,
            phase: if paused { Phase::Paused } else { Phase::Running },
            pending: Vec::new(),
            last_flush_ms: (self.clock)(),
            pending_tokens: 0,
            pending_step_ms: 0.0,
            ms_per_step: None,
            snapshot,
        };
        if done {
            r.phase = Phase::Over;
            out.push(r.event(RunEvent::Finished(r.trainer.summary())));
        }
        self.run = Some(r);
    }

    /// The current run as checkpoint bytes, pausing it first when it is running.
    fn save_checkpoint(&mut self, out: &mut Vec<FromWorker>) -> Result<Vec<u8>, String> {
        let Some(r) = self.run.as_mut() else {
            return Err("there is no run to save: start one first".to_string());
        };
        if r.phase == Phase::Running {
            r.phase = Phase::Paused;
            r.flush(self.clock, out);
            let step = r.trainer.steps_done();
            out.push(r.event(RunEvent::Paused { step }));
        }
        r.trainer.checkpoint().map_err(|e| e.to_string())
    }

    /// Handles one message from the page and returns what to post back.
    pub fn handle(&mut self, msg: ToWorker) -> Vec<FromWorker> {
        let mut out = Vec::new();
        match msg {
            ToWorker::Start { run, config, paused, compute } => {
                self.end_sweep("a training run started", &mut out);
                self.run = None;
                match self.chooser.choose(Origin::Fresh(&config), compute, self.clock) {
                    Ok(chosen) => self.begin(run, chosen.trainer, chosen.reason, paused, &mut out),
                    Err(e) => {
                        out.push(FromWorker::Run { run, event: RunEvent::Failed { message: e.to_string() } });
                        if matches!(e, EngineError::OutOfMemory { .. }) {
                            // The detector reads the failed allocation like any other telemetry.
                            let vocab_size = self.vocab_size(&config).unwrap_or(0);
                            let history = History { vocab_size, stopped: Some(e), ..History::default() };
                            let findings = diagnose(&history);
                            out.push(FromWorker::Run {
                                run,
                                event: RunEvent::Diagnosis { step: 0, vocab_size, findings },
                            });
                        }
                    }
                }
            }
            ToWorker::Pause => {
                if let Some(r) = self.run.as_mut().filter(|r| r.phase == Phase::Running) {
                    r.phase = Phase::Paused;
                    r.flush(self.clock, &mut out);
                    let step = r.trainer.steps_done();
                    out.push(FromWorker::Run { run: r.id, event: RunEvent::Paused { step } });
                }
            }
            ToWorker::Resume => {
                if let Some(r) = self.run.as_mut().filter(|r| r.phase == Phase::Paused) {
                    r.phase = Phase::Running;
                    r.last_flush_ms = (self.clock)();
                    let step = r.trainer.steps_done();
                    out.push(FromWorker::Run { run: r.id, event: RunEvent::Resumed { step } });
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
                self.run = None;
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
                out.push(FromWorker::BenchDone(run_training_bench(config, steps, seed, self.clock)));
            }
            ToWorker::GpuBench { config, steps, seed } => {
                self.sweep = None;
                self.run = None;
                out.push(FromWorker::GpuBenchDone(Box::new(run_gpu_bench(
                    config,
                    &Faults::default(),
                    steps,
                    seed,
                    self.clock,
                ))));
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
                        let config = Box::new(chosen.trainer.config().clone());
                        let loaded = LoadedCheckpoint { config, step: chosen.trainer.steps_done() };
                        out.push(FromWorker::CheckpointLoaded { run, result: Ok(loaded) });
                        self.begin(run, chosen.trainer, chosen.reason, paused, &mut out);
                    }
                    Err(e) => out.push(FromWorker::CheckpointLoaded { run, result: Err(e.to_string()) }),
                }
            }
            ToWorker::LrRange { request, config, settings } => {
                self.end_sweep("a newer range test replaced it", &mut out);
                let reply = |event| FromWorker::LrRange { request, event };
                if self.run.as_ref().is_some_and(|r| r.phase != Phase::Over) {
                    let message =
                        "a training run is in progress: let it finish or reset it, then run the range test".to_string();
                    out.push(reply(LrRangeEvent::Failed { message }));
                    return out;
                }
                match RangeTest::cpu(&config, settings, self.clock) {
                    Ok(test) => {
                        out.push(reply(LrRangeEvent::Started { planned: test.planned() }));
                        self.sweep = Some(Sweep { request, test, sent: 0 });
                    }
                    Err(e) => out.push(reply(LrRangeEvent::Failed { message: e.to_string() })),
                }
            }
        }
        out
    }

    /// Sweeps for about `budget_ms` milliseconds (at least one step); sends the new points, and the
    /// result once the sweep has ended.
    fn sweep_chunk(&mut self, budget_ms: f64) -> Vec<FromWorker> {
        let clock = self.clock;
        let Some(s) = self.sweep.as_mut() else { return Vec::new() };
        let start = clock();
        let mut failure = None;
        while !s.test.is_done() {
            if let Err(e) = s.test.advance() {
                failure = Some(e);
                break;
            }
            if clock() - start >= budget_ms {
                break;
            }
        }
        let mut out = Vec::new();
        let new = s.test.points()[s.sent..].to_vec();
        s.sent += new.len();
        if !new.is_empty() {
            out.push(s.event(LrRangeEvent::Points(new)));
        }
        if let Some(e) = failure {
            out.push(s.event(LrRangeEvent::Failed { message: e.to_string() }));
            self.sweep = None;
        } else if s.test.is_done() {
            out.push(s.event(LrRangeEvent::Done(s.test.result())));
            self.sweep = None;
        }
        out
    }

    /// Trains (or sweeps the range test) for about `budget_ms` milliseconds (at least one step) and
    /// returns what to post.
    pub fn run_chunk(&mut self, budget_ms: f64) -> Vec<FromWorker> {
        if self.sweep.is_some() {
            return self.sweep_chunk(budget_ms);
        }
        let mut out = Vec::new();
        let clock = self.clock;
        let Some(r) = self.run.as_mut().filter(|r| r.phase == Phase::Running) else {
            return out;
        };
        let start = clock();
        while r.phase == Phase::Running {
            let launch = r.launch_size(budget_ms - (clock() - start));
            r.advance(clock, launch, &mut out);
            if clock() - start >= budget_ms {
                break;
            }
        }
        if r.phase == Phase::Running && clock() - r.last_flush_ms >= FLUSH_EVERY_MS {
            r.flush(clock, &mut out);
        }
        out
    }
}

impl Run {
    fn event(&self, event: RunEvent) -> FromWorker {
        FromWorker::Run { run: self.id, event }
    }

    /// Steps to launch before the next readback: as many as the trainer records between readbacks
    /// (one on the CPU), fewer where that many would overrun `left_ms` at the pace so far, so the
    /// worker still answers the page (a pause, a reset) within about one chunk. One while the pace is
    /// unknown (the first step also compiles the GPU's kernels).
    fn launch_size(&self, left_ms: f64) -> usize {
        let most = self.trainer.steps_per_readback();
        match self.ms_per_step {
            Some(ms) if ms > 0.0 => ((left_ms / ms).floor().max(0.0) as usize).clamp(1, most),
            _ => 1,
        }
    }

    /// Up to `launch` steps with one readback, then the evaluation (which carries a sample) and the
    /// end-of-run message it makes due.
    fn advance(&mut self, clock: Clock, launch: usize, out: &mut Vec<FromWorker>) {
        let before = clock();
        let recorded = self.trainer.history().steps.len();
        let stepped = self.trainer.steps(launch);
        if self.move_off_a_lost_backend(clock, out) {
            return;
        }
        let new = &self.trainer.history().steps[recorded..];
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
        if self.trainer.should_evaluate() {
            // The evaluation carries the run's own sample (decoded with the run's sampling settings).
            self.flush(clock, out);
            let record = self.trainer.evaluate();
            if self.move_off_a_lost_backend(clock, out) {
                return;
            }
            out.push(self.event(RunEvent::Eval(record)));
            out.push(self.diagnosis());
            if self.snapshot.is_some() {
                if let Ok(bytes) = self.trainer.checkpoint() {
                    if self.trainer.backend_lost().is_none() {
                        self.snapshot = Some(bytes);
                    }
                }
            }
        }
        if self.trainer.is_done() {
            self.flush(clock, out);
            self.phase = Phase::Over;
            out.push(self.event(RunEvent::Finished(self.trainer.summary())));
        }
    }

    /// When the backend has been lost (a GPU device gone), continues the run on the CPU from the
    /// last saved state and tells the page, which drops the records after it; true when it had to.
    fn move_off_a_lost_backend(&mut self, clock: Clock, out: &mut Vec<FromWorker>) -> bool {
        let Some(why) = self.trainer.backend_lost() else { return false };
        let lost_at = self.trainer.steps_done();
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
                trainer.adopt_history(self.trainer.history()); // the detector keeps what it saw before
                let step = trainer.steps_done();
                let reason = format!(
                    "WebGPU stopped working at step {lost_at} ({why}): the run continues on the CPU from step \
                     {step}, its last saved state"
                );
                let (backend, backend_kind) = (trainer.backend_name(), trainer.backend_kind());
                self.trainer = trainer;
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
        let history = self.trainer.history();
        let findings = diagnose(history);
        self.event(RunEvent::Diagnosis { step: self.trainer.steps_done(), vocab_size: history.vocab_size, findings })
    }

    /// Sends the pending step records, if any.
    fn flush(&mut self, clock: Clock, out: &mut Vec<FromWorker>) {
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

    fn sample(&mut self, request: &SampleRequest) -> FromWorker {
        let step = self.trainer.steps_done();
        let sample = self
            .trainer
            .sample_stats(&request.prompt, request.max_new_tokens, &request.sampling, request.seed)
            .map_err(|e| e.to_string());
        self.event(RunEvent::Sample { step, sample })
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use crate::protocol::Compute;
    use faultline_engine::faults::FaultId;
    use faultline_engine::guide::EntryId;
    use faultline_engine::lr_range::{RangePoint, RangeSettings};
    use faultline_engine::sampling::SamplingConfig;
    use faultline_engine::trainer::native_clock;
    use faultline_engine::{OptimizerKind, Preset, RunConfig};

    fn config(steps: usize) -> RunConfig {
        RunConfig { steps, eval_every: 5, eval_batches: 1, batch_size: 2, ..RunConfig::preset(Preset::Tiny) }
    }

    fn events(out: Vec<FromWorker>, run: RunId) -> Vec<RunEvent> {
        out.into_iter()
            .map(|m| match m {
                FromWorker::Run { run: id, event } if id == run => event,
                other => panic!("unexpected message {other:?}"),
            })
            .collect()
    }

    fn step_numbers(events: &[RunEvent]) -> Vec<usize> {
        events
            .iter()
            .flat_map(|e| match e {
                RunEvent::Steps { records, .. } => records.iter().map(|r| r.step).collect(),
                _ => Vec::new(),
            })
            .collect()
    }

    #[test]
    fn a_run_trains_evaluates_samples_and_finishes() {
        let mut s = Session::new(native_clock);
        let started = events(
            s.handle(ToWorker::Start { run: 1, config: Box::new(config(10)), paused: false, compute: Compute::Cpu }),
            1,
        );
        let [RunEvent::Started(info)] = started.as_slice() else { panic!("{started:?}") };
        assert_eq!((info.steps, info.paused), (10, false));
        assert!(info.param_count > 0 && !info.backend.is_empty());
        assert_eq!(info.data_sample.chars().count(), info.model.context, "a context's worth of decoded text");
        let mut all = Vec::new();
        while s.is_running() {
            all.extend(events(s.run_chunk(5.0), 1));
        }
        assert_eq!(step_numbers(&all), (1..=10).collect::<Vec<_>>());
        let evals: Vec<usize> =
            all.iter().filter_map(|e| if let RunEvent::Eval(r) = e { Some(r.step) } else { None }).collect();
        assert_eq!(evals, [5, 10]);
        let samples = all.iter().filter(|e| matches!(e, RunEvent::Eval(r) if r.sample.is_some())).count();
        assert_eq!(samples, 2, "every evaluation carries a sample");
        assert!(matches!(all.last(), Some(RunEvent::Finished(summary)) if summary.steps_run == 10));
    }

    /// Runs `config` to its end on `compute`: what the run said when it started, and its step losses.
    fn train_on(compute: Compute, config: RunConfig) -> (RunInfo, Vec<f32>) {
        let (info, all) = train_in_chunks(compute, config, 50.0);
        let losses = all
            .iter()
            .flat_map(|e| match e {
                RunEvent::Steps { records, .. } => records.iter().map(|r| r.loss).collect(),
                _ => Vec::new(),
            })
            .collect();
        (info, losses)
    }

    /// Runs `config` to its end on `compute` in chunks of `budget_ms`: what the run said when it
    /// started, and every event after.
    fn train_in_chunks(compute: Compute, config: RunConfig, budget_ms: f64) -> (RunInfo, Vec<RunEvent>) {
        let mut s = Session::new(native_clock);
        let started = events(s.handle(ToWorker::Start { run: 1, config: Box::new(config), paused: false, compute }), 1);
        let [RunEvent::Started(info)] = started.as_slice() else { panic!("{started:?}") };
        let mut all = Vec::new();
        while s.is_running() {
            all.extend(events(s.run_chunk(budget_ms), 1));
        }
        (info.clone(), all)
    }

    /// With time to spare in a chunk, a GPU run records several steps per readback (after a first
    /// step alone, which sets the pace): every step still reaches the page once, in order, and the
    /// evaluations come at their steps (a launch stops short before each).
    #[test]
    fn a_gpu_run_in_launches_of_steps_reports_every_step_once() {
        let (info, all) = train_in_chunks(Compute::Webgpu, config(12), 60_000.0);
        assert_eq!(info.backend_kind, BackendKind::Gpu, "{}", info.backend);
        assert_eq!(step_numbers(&all), (1..=12).collect::<Vec<_>>());
        let evals: Vec<usize> =
            all.iter().filter_map(|e| if let RunEvent::Eval(r) = e { Some(r.step) } else { None }).collect();
        assert_eq!(evals, [5, 10, 12], "every 5 steps and at the end");
        assert!(matches!(all.last(), Some(RunEvent::Finished(summary)) if summary.steps_run == 12));
    }

    /// Natively the WebGPU choice runs wgpu on Vulkan (Mesa's lavapipe in CI): the same run as on
    /// the CPU, step for step, and the run says which backend it got and why.
    #[test]
    fn a_run_trains_on_the_backend_chosen_and_says_why() {
        let (cpu, cpu_losses) = train_on(Compute::Cpu, config(12));
        let (gpu, gpu_losses) = train_on(Compute::Webgpu, config(12));
        assert!(cpu.backend.starts_with("CPU"), "{}", cpu.backend);
        assert_eq!(cpu.backend_reason, "the CPU, as chosen in the Compute setting");
        assert_eq!(gpu.backend_kind, BackendKind::Gpu, "{}", gpu.backend);
        assert_eq!(gpu.backend_reason, "WebGPU, as chosen in the Compute setting");
        assert_eq!(gpu_losses.len(), 12);
        for (step, (g, c)) in gpu_losses.iter().zip(&cpu_losses).enumerate() {
            // The GPU sums in another order than the CPU's SIMD kernels; over 12 steps they stay within 1e-3.
            assert!((g - c).abs() <= 1e-3, "step {}: WebGPU {g} vs CPU {c}", step + 1);
        }
    }

    /// "Auto" says what it chose by: a software adapter (natively lavapipe) is ruled out by kind,
    /// a hardware one by a calibration whose figures the reason quotes.
    #[test]
    fn auto_says_what_it_chose_by() {
        let (info, losses) = train_on(Compute::Auto, config(3));
        assert_eq!(losses.len(), 3);
        let reason = &info.backend_reason;
        eprintln!("{reason}");
        assert!(reason.starts_with("auto: "), "{reason}");
        let on_gpu = reason.ends_with("training on WebGPU");
        assert_eq!(info.backend_kind == BackendKind::Gpu, on_gpu, "{} / {reason}", info.backend);
        if reason.contains("software renderer") {
            assert!(!on_gpu, "{reason}");
        } else {
            assert!(reason.contains("steps/s") && reason.contains("3-step calibration"), "{reason}");
        }
    }

    #[test]
    fn pause_step_resume_and_reset() {
        let mut s = Session::new(native_clock);
        s.handle(ToWorker::Start { run: 4, config: Box::new(config(50)), paused: true, compute: Compute::Cpu });
        assert!(!s.is_running());
        let one = events(s.handle(ToWorker::Step), 4);
        assert_eq!(step_numbers(&one), [1]);
        assert!(matches!(events(s.handle(ToWorker::Resume), 4).as_slice(), [RunEvent::Resumed { step: 1 }]));
        let chunk = events(s.run_chunk(0.0), 4);
        let paused = events(s.handle(ToWorker::Pause), 4);
        let mut seen = step_numbers(&chunk);
        seen.extend(step_numbers(&paused));
        assert_eq!(seen, [2], "one step per zero-budget chunk, flushed on pause");
        assert!(matches!(paused.last(), Some(RunEvent::Paused { step: 2 })));
        assert!(s.run_chunk(10.0).is_empty(), "a paused run does not train");
        s.handle(ToWorker::Reset);
        assert!(s.handle(ToWorker::Step).is_empty() && !s.is_running());
    }

    #[test]
    fn a_non_finite_value_stops_the_run_and_names_the_tensor() {
        let mut s = Session::new(native_clock);
        let config =
            RunConfig { optimizer: OptimizerKind::Sgd, lr: 100.0, grad_clip: 0.0, warmup_steps: 0, ..config(200) };
        s.handle(ToWorker::Start { run: 5, config: Box::new(config), paused: false, compute: Compute::Cpu });
        let mut all = Vec::new();
        while s.is_running() {
            all.extend(events(s.run_chunk(5.0), 5));
        }
        let [.., RunEvent::Stopped { step, tensor, message }, RunEvent::Diagnosis { findings, .. }] = all.as_slice()
        else {
            panic!("{:?}", all.last())
        };
        assert!(*step <= 200 && !tensor.is_empty() && message.contains(tensor.as_str()), "{message}");
        assert_eq!(findings[0].entry, EntryId::LossBecomesNan);
        assert!(findings[0].evidence[0].to_string().contains(tensor.as_str()), "{:?}", findings[0].evidence);
        let last_good = step_numbers(&all).last().copied().unwrap_or(0);
        assert_eq!(last_good + 1, *step, "every good step was reported before the stop");
        assert!(s.handle(ToWorker::Resume).is_empty(), "a stopped run cannot be resumed");
    }

    #[test]
    fn every_evaluation_is_followed_by_the_detectors_reading() {
        let mut s = Session::new(native_clock);
        let mut leaky = config(10);
        leaky.faults.set(FaultId::NoCausalMask, None).unwrap();
        s.handle(ToWorker::Start { run: 3, config: Box::new(leaky), paused: false, compute: Compute::Cpu });
        let mut all = Vec::new();
        while s.is_running() {
            all.extend(events(s.run_chunk(5.0), 3));
        }
        let after_evals: Vec<&RunEvent> =
            all.windows(2).filter(|w| matches!(w[0], RunEvent::Eval(_))).map(|w| &w[1]).collect();
        assert_eq!(after_evals.len(), 2);
        for (event, expected_step) in after_evals.into_iter().zip([5, 10]) {
            let RunEvent::Diagnosis { step, vocab_size, findings } = event else { panic!("{event:?}") };
            assert_eq!((*step, *vocab_size > 0), (expected_step, true));
            assert_eq!(findings[0].entry, EntryId::AttentionLooksAtFutureInCausalModel, "{findings:?}");
        }
    }

    #[test]
    fn running_out_of_memory_at_the_start_is_diagnosed() {
        let mut s = Session::new(native_clock);
        let mut huge = config(10);
        huge.faults.set(FaultId::BatchTooLarge, Some(4096.0)).unwrap();
        let out = events(
            s.handle(ToWorker::Start { run: 6, config: Box::new(huge), paused: false, compute: Compute::Cpu }),
            6,
        );
        let [RunEvent::Failed { message }, RunEvent::Diagnosis { step: 0, vocab_size, findings }] = out.as_slice()
        else {
            panic!("{out:?}")
        };
        assert!(message.contains("out of memory"), "{message}");
        assert!(*vocab_size > 0);
        assert_eq!(findings.iter().map(|f| f.entry).collect::<Vec<_>>(), [EntryId::OutOfMemoryOom]);
        assert!(!s.is_running());
    }

    #[test]
    fn estimates_memory_without_starting_a_run() {
        let mut s = Session::new(native_clock);
        let out = s.handle(ToWorker::Estimate { request: 7, config: Box::new(config(10)) });
        let [FromWorker::Estimate { request: 7, result: EstimateResult::Known { vocab_size, memory } }] =
            out.as_slice()
        else {
            panic!("{out:?}")
        };
        assert!(*vocab_size > 0 && memory.fits() && memory.total > memory.parameters);
        assert_eq!(*memory, memory::estimate(&config(10), *vocab_size));
        let again = s.handle(ToWorker::Estimate { request: 8, config: Box::new(config(10)) });
        assert!(matches!(
            again.as_slice(),
            [FromWorker::Estimate { request: 8, result: EstimateResult::Known { .. } }]
        ));
        let bad = RunConfig { lr: -1.0, ..config(10) };
        let out = s.handle(ToWorker::Estimate { request: 9, config: Box::new(bad) });
        assert!(
            matches!(out.as_slice(), [FromWorker::Estimate { result: EstimateResult::Unavailable { message }, .. }] if message.contains("lr")),
            "{out:?}"
        );
        assert!(!s.is_running());
    }

    #[test]
    fn bad_settings_fail_the_start() {
        let mut s = Session::new(native_clock);
        let bad = RunConfig { lr: f32::NAN, ..config(10) };
        let out = events(
            s.handle(ToWorker::Start { run: 2, config: Box::new(bad), paused: false, compute: Compute::Cpu }),
            2,
        );
        assert!(matches!(out.as_slice(), [RunEvent::Failed { message }] if message.contains("lr")), "{out:?}");
        assert!(!s.is_running());
    }

    fn sweep_events(out: Vec<FromWorker>, request: u32) -> Vec<LrRangeEvent> {
        out.into_iter()
            .map(|m| match m {
                FromWorker::LrRange { request: r, event } if r == request => event,
                other => panic!("unexpected message {other:?}"),
            })
            .collect()
    }

    fn sweep(request: u32) -> ToWorker {
        let settings = RangeSettings { start_lr: 1e-4, end_lr: 1.0, num_lrs: 8 };
        ToWorker::LrRange { request, config: Box::new(config(10)), settings }
    }

    #[test]
    fn a_range_test_runs_in_slices_and_ends_with_its_result() {
        let mut s = Session::new(native_clock);
        let started = sweep_events(s.handle(sweep(1)), 1);
        assert_eq!(started, [LrRangeEvent::Started { planned: 8 }]);
        let mut chunks = 0;
        let mut all = Vec::new();
        while s.is_running() {
            all.extend(sweep_events(s.run_chunk(0.0), 1));
            chunks += 1;
        }
        let streamed: Vec<RangePoint> = all
            .iter()
            .flat_map(|e| match e {
                LrRangeEvent::Points(p) => p.clone(),
                _ => Vec::new(),
            })
            .collect();
        assert_eq!(chunks, streamed.len(), "one step per zero-budget chunk");
        let Some(LrRangeEvent::Done(result)) = all.last() else { panic!("{:?}", all.last()) };
        assert_eq!(result.points, streamed);
        let direct = faultline_engine::lr_range::run(&config(10), result.settings, native_clock).unwrap();
        assert_eq!(*result, direct, "the worker's sweep is the engine's");
    }

    #[test]
    fn a_range_test_is_refused_during_a_run_and_ended_by_a_start() {
        let mut s = Session::new(native_clock);
        s.handle(ToWorker::Start { run: 1, config: Box::new(config(10)), paused: true, compute: Compute::Cpu });
        let refused = sweep_events(s.handle(sweep(2)), 2);
        assert!(
            matches!(refused.as_slice(), [LrRangeEvent::Failed { message }] if message.contains("training run")),
            "{refused:?}"
        );
        assert!(!s.is_running(), "the paused run stays paused and no sweep runs");
        s.handle(ToWorker::Step);
        s.handle(ToWorker::Reset);
        assert!(matches!(sweep_events(s.handle(sweep(3)), 3).as_slice(), [LrRangeEvent::Started { .. }]));
        s.run_chunk(0.0);
        let out =
            s.handle(ToWorker::Start { run: 4, config: Box::new(config(10)), paused: true, compute: Compute::Cpu });
        assert!(
            matches!(&out[0], FromWorker::LrRange { request: 3, event: LrRangeEvent::Failed { message } } if message.contains("training run started")),
            "{out:?}"
        );
        assert!(matches!(&out[1], FromWorker::Run { run: 4, event: RunEvent::Started(_) }));
        let bad = ToWorker::LrRange {
            request: 5,
            config: Box::new(config(10)),
            settings: RangeSettings { num_lrs: 1, ..RangeSettings::default() },
        };
        s.handle(ToWorker::Reset);
        let out = sweep_events(s.handle(bad), 5);
        assert!(matches!(out.as_slice(), [LrRangeEvent::Failed { message }] if message.contains("num-lrs")), "{out:?}");
    }

    #[test]
    fn on_demand_samples_carry_the_step() {
        let mut s = Session::new(native_clock);
        s.handle(ToWorker::Start { run: 9, config: Box::new(config(10)), paused: true, compute: Compute::Cpu });
        s.handle(ToWorker::Step);
        let request =
            SampleRequest { prompt: String::new(), max_new_tokens: 8, sampling: SamplingConfig::default(), seed: 3 };
        let out = events(s.handle(ToWorker::Sample(request.clone())), 9);
        let [RunEvent::Sample { step: 1, sample: Ok(stats) }] = out.as_slice() else { panic!("{out:?}") };
        assert!(stats.text.chars().count() > 8, "{stats:?}");
        assert!((0.0..=1.0).contains(&stats.repeated_ngram_rate) && stats.sampler_entropy > 0.0, "{stats:?}");
        let greedy =
            SampleRequest { sampling: SamplingConfig { greedy: true, ..SamplingConfig::default() }, ..request };
        let out = events(s.handle(ToWorker::Sample(greedy)), 9);
        assert!(
            matches!(out.as_slice(), [RunEvent::Sample { sample: Ok(stats), .. }] if stats.sampler_entropy == 0.0),
            "greedy decoding keeps no entropy: {out:?}"
        );
        let bad = SampleRequest {
            prompt: String::new(),
            max_new_tokens: 8,
            sampling: SamplingConfig { temperature: 0.0, ..SamplingConfig::default() },
            seed: 3,
        };
        let out = events(s.handle(ToWorker::Sample(bad)), 9);
        assert!(
            matches!(out.as_slice(), [RunEvent::Sample { sample: Err(message), .. }] if message.contains("temperature")),
            "{out:?}"
        );
    }

    fn save(s: &mut Session, request: u32) -> (Vec<FromWorker>, Result<Bytes, String>) {
        let mut out = s.handle(ToWorker::SaveCheckpoint { request });
        let Some(FromWorker::Checkpoint { request: answered, result }) = out.pop() else { panic!("{out:?}") };
        assert_eq!(answered, request);
        (out, result)
    }

    #[test]
    fn a_saved_run_loads_and_continues_with_the_same_losses() {
        let mut s = Session::new(native_clock);
        s.handle(ToWorker::Start { run: 1, config: Box::new(config(20)), paused: true, compute: Compute::Cpu });
        for _ in 0..3 {
            s.handle(ToWorker::Step);
        }
        let (before, bytes) = save(&mut s, 1);
        assert!(before.is_empty(), "a paused run is saved as it is: {before:?}");
        let bytes = bytes.unwrap();
        let expected: Vec<u32> = (0..2)
            .flat_map(|_| events(s.handle(ToWorker::Step), 1))
            .flat_map(|e| match e {
                RunEvent::Steps { records, .. } => records.into_iter().map(|r| r.loss.to_bits()).collect(),
                _ => Vec::new(),
            })
            .collect();
        s.handle(ToWorker::Reset);
        let mut out = s.handle(ToWorker::LoadCheckpoint { run: 2, bytes, paused: true, compute: Compute::Cpu });
        let rest = events(out.split_off(1), 2);
        let [FromWorker::CheckpointLoaded { run: 2, result: Ok(loaded) }] = out.as_slice() else { panic!("{out:?}") };
        assert_eq!((loaded.step, *loaded.config.clone()), (3, config(20)));
        assert!(matches!(rest.as_slice(), [RunEvent::Started(info)] if info.paused && info.steps == 20), "{rest:?}");
        let resumed: Vec<RunEvent> = (0..2).flat_map(|_| events(s.handle(ToWorker::Step), 2)).collect();
        assert_eq!(step_numbers(&resumed), [4, 5]);
        let losses: Vec<u32> = resumed
            .iter()
            .flat_map(|e| match e {
                RunEvent::Steps { records, .. } => records.iter().map(|r| r.loss.to_bits()).collect(),
                _ => Vec::new(),
            })
            .collect();
        assert_eq!(losses, expected, "the loaded run takes the steps the saved one would have taken");
    }

    #[test]
    fn saving_a_running_run_pauses_it_first_and_saving_nothing_is_refused() {
        let mut s = Session::new(native_clock);
        let (_, nothing) = save(&mut s, 1);
        assert_eq!(nothing, Err("there is no run to save: start one first".to_string()));
        s.handle(ToWorker::Start { run: 3, config: Box::new(config(50)), paused: false, compute: Compute::Cpu });
        let trained = events(s.run_chunk(0.0), 3);
        let (before, bytes) = save(&mut s, 2);
        let mut seen = step_numbers(&trained);
        seen.extend(step_numbers(&events(before.clone(), 3)));
        assert_eq!(seen, [1]);
        assert!(matches!(before.last(), Some(FromWorker::Run { run: 3, event: RunEvent::Paused { step: 1 } })));
        assert!(bytes.unwrap().0.starts_with(b"FLCKPT"));
        assert!(!s.is_running(), "the run stays paused after the save");
    }

    #[test]
    fn a_refused_file_keeps_the_run_in_progress() {
        let mut s = Session::new(native_clock);
        s.handle(ToWorker::Start { run: 1, config: Box::new(config(20)), paused: true, compute: Compute::Cpu });
        s.handle(ToWorker::Step);
        let out = s.handle(ToWorker::LoadCheckpoint {
            run: 2,
            bytes: Bytes(b"not a checkpoint".to_vec()),
            paused: true,
            compute: Compute::Cpu,
        });
        let [FromWorker::CheckpointLoaded { run: 2, result: Err(message) }] = out.as_slice() else { panic!("{out:?}") };
        assert!(message.starts_with("not a Faultline checkpoint"), "{message}");
        assert_eq!(step_numbers(&events(s.handle(ToWorker::Step), 1)), [2], "run 1 goes on where it was");
    }

    #[test]
    fn a_loaded_run_that_had_finished_is_over() {
        let mut s = Session::new(native_clock);
        s.handle(ToWorker::Start { run: 1, config: Box::new(config(2)), paused: false, compute: Compute::Cpu });
        while s.is_running() {
            s.run_chunk(5.0);
        }
        let bytes = save(&mut s, 1).1.unwrap();
        let mut out = s.handle(ToWorker::LoadCheckpoint { run: 2, bytes, paused: false, compute: Compute::Cpu });
        let rest = events(out.split_off(1), 2);
        assert!(
            matches!(rest.as_slice(), [RunEvent::Started(_), RunEvent::Finished(summary)] if summary.steps_run == 2),
            "{rest:?}"
        );
        assert!(!s.is_running());
    }
}
