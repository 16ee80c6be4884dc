//! A training run: batches, steps, evaluation, sampling, non-finite detection and the run summary.
//!
//! [`Trainer`] is one run on one backend. Its methods live beside the concern they serve:
//!
//! - `mod.rs` (here): the run's state, building it from its settings, what it says about itself,
//!   the learning rate and dropout of a step, [`Trainer::step`] and the summary line.
//! - `launch.rs`: steps recorded back to back on the backend and landed by one readback (a GPU
//!   works through [`GPU_STEPS_PER_READBACK`] of them without waiting for the host), and the weight
//!   faults that strike at a given step.
//! - `forensics.rs`: a non-finite loss or gradient: where the run stops, the step replayed, and the
//!   first tensor that held NaN or Inf.
//! - `evaluate.rs`: evaluations: the split losses and every per-tensor and per-block measurement.
//! - `attention.rs`: attention maps on a fixed probe, and the per-head statistics read off the
//!   probabilities.
//! - `generate.rs`: text generation, decoding, and the measurements of a sample.
//! - `checkpoint.rs`: the run saved to checkpoint bytes and resumed from them.

mod attention;
mod checkpoint;
mod evaluate;
mod forensics;
mod generate;
mod launch;

pub use attention::{attention_logit_scale, attention_row_stats};
pub use launch::GPU_STEPS_PER_READBACK;

use crate::backend::{Backend, BackendKind, CpuBackend, StepReadout};
use crate::config::{ModelConfig, RunConfig};
use crate::data::Dataset;
use crate::error::EngineError;
use crate::faults::Stage;
use crate::model::{Activations, Gpt, ParamSet, Pass};
use crate::optim::{lr_at, Optimizer};
use crate::rng::Rng;
use crate::telemetry::{History, Mode, RunSummary, StepRecord};
use launch::InFlight;

/// A monotonic clock in milliseconds. The engine has no clock of its own, so the same code runs
/// natively ([`native_clock`]) and in a browser worker (`performance.now()`).
pub type Clock = fn() -> f64;

/// Milliseconds since the first call, from `std::time::Instant`.
#[cfg(not(target_arch = "wasm32"))]
pub fn native_clock() -> f64 {
    use std::sync::OnceLock;
    use std::time::Instant;
    static START: OnceLock<Instant> = OnceLock::new();
    START.get_or_init(Instant::now).elapsed().as_secs_f64() * 1e3
}

/// One training run on backend `B`.
pub struct Trainer<B: Backend = CpuBackend> {
    cfg: RunConfig,
    backend: B,
    model: Gpt<B>,
    grads: ParamSet<B::Buf>,
    optimizer: Optimizer<B>,
    acts: Activations<B::Buf>,
    /// The per-row losses of every micro-batch but the last, kept on the backend until the step's
    /// one readback (the last one's are still in `acts.losses`).
    loss_rows: Vec<B::Buf>,
    sample_acts: Activations<B::Buf>,
    dataset: Dataset,
    /// Which adjacent token pairs occur in the training split (`V × V`, row-major).
    train_bigrams: Vec<bool>,
    batch_rng: Rng,
    x: Vec<u32>,
    y: Vec<u32>,
    steps_done: usize,
    clock: Clock,
    history: History,
    tokens_trained: usize,
    train_ms: f64,
    /// Per-tensor squared gradient norms of the last step, before clipping.
    grad_sq: Vec<f64>,
    /// The steps launched since the last readback (see [`Trainer::steps`]).
    in_flight: Vec<InFlight>,
    /// The last readback, one per step launched, its vectors reused from launch to launch.
    readouts: Vec<StepReadout>,
    /// Per-tensor ‖Δw‖/‖w‖ of the last update, measured only when an evaluation follows it.
    update_ratios: Vec<Option<f32>>,
    /// The learning rate of the step being taken by [`Trainer::step_at`], in place of the schedule's.
    lr_override: Option<f32>,
}

impl Trainer<CpuBackend> {
    /// A run on the plain CPU backend.
    pub fn cpu(cfg: RunConfig, clock: Clock) -> Result<Self, EngineError> {
        Self::new(cfg, CpuBackend::new(), clock)
    }
}

impl<B: Backend> Trainer<B> {
    /// Validates the settings, loads the corpus and allocates and initialises the model from
    /// `cfg.seed`. Fails with [`EngineError::OutOfMemory`] when the run does not fit its memory budget.
    pub fn new(cfg: RunConfig, mut backend: B, clock: Clock) -> Result<Self, EngineError> {
        cfg.validate()?;
        cfg.faults.only_for(Stage::Pretraining)?;
        let context = cfg.preset.model(1).context;
        let dataset = Dataset::load_with(&cfg.corpus, cfg.seed, context, &cfg.faults)?;
        let model_cfg = cfg.model(dataset.tokenizer.vocab_size());
        backend.set_memory_budget(cfg.memory_budget_bytes());
        let model = Gpt::new(&mut backend, model_cfg, cfg.faults.clone(), cfg.seed)?;
        let grads = model.zeros_like_params(&mut backend, "gradients")?;
        let optimizer = Optimizer::new(&mut backend, &model.specs, cfg.optimizer)?;
        let batch = cfg.effective_batch();
        let acts = Activations::new(&mut backend, &model_cfg, batch, model_cfg.context)?;
        let rows = backend.len(&acts.losses);
        let loss_rows =
            (1..cfg.grad_accum).map(|_| backend.alloc(rows, "micro-batch losses")).collect::<Result<Vec<_>, _>>()?;
        let sample_acts = Activations::new(&mut backend, &model_cfg, 1, model_cfg.context)?;
        let v = model_cfg.vocab_size;
        let mut train_bigrams = vec![false; v * v];
        for pair in dataset.train.windows(2) {
            train_bigrams[pair[0] as usize * v + pair[1] as usize] = true;
        }
        let n = batch * model_cfg.context;
        Ok(Self {
            batch_rng: Rng::derive(cfg.seed, "batches"),
            // Room for the step records up front (up to 10,000 of them), so recording a step
            // allocates nothing.
            history: History { vocab_size: v, steps: Vec::with_capacity(cfg.steps.min(10_000)), ..History::default() },
            cfg,
            backend,
            model,
            grads,
            optimizer,
            acts,
            loss_rows,
            sample_acts,
            dataset,
            train_bigrams,
            x: vec![0; n],
            y: vec![0; n],
            steps_done: 0,
            clock,
            tokens_trained: 0,
            train_ms: 0.0,
            grad_sq: Vec::new(),
            in_flight: Vec::with_capacity(GPU_STEPS_PER_READBACK),
            readouts: Vec::new(),
            update_ratios: Vec::new(),
            lr_override: None,
        })
    }

    pub fn config(&self) -> &RunConfig {
        &self.cfg
    }

    pub fn model_config(&self) -> &ModelConfig {
        &self.model.config
    }

    pub fn dataset(&self) -> &Dataset {
        &self.dataset
    }

    pub fn param_count(&self) -> usize {
        self.model.param_count()
    }

    /// Name and shape of every parameter tensor, as the model holds them, in the order of
    /// [`ParamSet::tensors`].
    pub fn param_shapes(&self) -> Vec<(String, Vec<usize>)> {
        self.model.specs.shapes()
    }

    pub fn backend_name(&self) -> String {
        self.backend.name()
    }

    /// The backend the run trains on.
    pub fn backend(&self) -> &B {
        &self.backend
    }

    pub fn backend_kind(&self) -> BackendKind {
        self.backend.kind()
    }

    /// Why the backend can no longer be trusted, once it cannot ([`Backend::lost`]).
    pub fn backend_lost(&self) -> Option<String> {
        self.backend.lost()
    }

    pub fn steps_done(&self) -> usize {
        self.steps_done
    }

    pub fn is_done(&self) -> bool {
        self.steps_done >= self.cfg.steps || self.history.stopped.is_some()
    }

    /// Why the run stopped early, if it did.
    pub fn stopped(&self) -> Option<&EngineError> {
        self.history.stopped.as_ref()
    }

    /// Everything measured so far: what the detector reads.
    pub fn history(&self) -> &History {
        &self.history
    }

    /// Takes over what `earlier` (the same run, before it was saved and restored here) measured up to
    /// this trainer's step: a checkpoint holds no telemetry, and without it the detector would start
    /// over (a run moved off a lost GPU continues from its saved state on the CPU).
    pub fn adopt_history(&mut self, earlier: &History) {
        let upto = self.steps_done;
        self.history.steps.clear();
        self.history.steps.extend(earlier.steps.iter().filter(|s| s.step <= upto).cloned());
        self.history.evals = earlier.evals.iter().filter(|e| e.step <= upto).cloned().collect();
    }

    /// Bytes allocated for this run.
    pub fn memory_used(&self) -> u64 {
        self.backend.memory_used()
    }

    /// The learning rate the schedule gives the next step.
    pub fn current_lr(&self) -> f32 {
        let warmup = if self.cfg.faults.no_warmup { 0 } else { self.cfg.warmup_steps }; // faults.no_warmup: full LR from step 1
        lr_at(self.steps_done, self.cfg.steps, warmup, self.cfg.effective_lr(), self.cfg.min_lr_ratio)
    }

    /// A forward pass of a step's micro-batch `micro` in `mode`: dropout at the run's rate in training,
    /// none in evaluation.
    fn pass(&self, mode: Mode, micro: usize) -> Pass {
        let dropout = if self.cfg.faults.no_regularization { 0.0 } else { self.cfg.dropout }; // faults.no_regularization
        Pass {
            batch: self.cfg.effective_batch(),
            time: self.model.config.context,
            dropout: match mode {
                Mode::Train => dropout,
                Mode::Eval => 0.0,
            },
            dropout_seed: self.cfg.seed ^ ((self.steps_done * 1024 + micro) as u64).wrapping_mul(0x2545_F491_4F6C_DD1D),
        }
    }

    /// One optimiser step: `grad_accum` micro-batches forward and backward, clipping, update, then one
    /// readback of the step's losses and gradient sums of squares. A non-finite loss or gradient
    /// stops the run: the backend skips the update of such a step, so the parameters keep their last
    /// good values.
    pub fn step(&mut self) -> Result<StepRecord, EngineError> {
        self.steps(1)?;
        Ok(self.history.steps.last().cloned().expect("a step was just recorded"))
    }

    /// One optimiser step at learning rate `lr` instead of the schedule's (the learning-rate range
    /// test sets every step's rate itself). Everything else is [`Trainer::step`].
    pub fn step_at(&mut self, lr: f32) -> Result<StepRecord, EngineError> {
        self.lr_override = Some(lr);
        let record = self.step();
        self.lr_override = None;
        record
    }

    /// The run taken apart for a fine-tuning stage: its backend, its model as trained, its data.
    pub fn into_parts(self) -> (B, Gpt<B>, Dataset) {
        (self.backend, self.model, self.dataset)
    }

    /// The summary line of `faultline train --json`.
    pub fn summary(&self) -> RunSummary {
        let (diverged_at, first_bad_tensor) = match &self.history.stopped {
            Some(EngineError::NonFinite { step, tensor }) => (Some(*step), Some(tensor.clone())),
            _ => (None, None),
        };
        RunSummary {
            steps_run: self.steps_done,
            vocab_size: self.model.config.vocab_size,
            corpus: self.dataset.info.id.clone(),
            train_loss: self.history.evals.last().map(|e| e.train_loss).or(self.history.steps.last().map(|s| s.loss)),
            val_loss: self.history.evals.last().and_then(|e| e.val_loss),
            diverged_at,
            first_bad_tensor,
            tokens_per_s: if self.train_ms > 0.0 { self.tokens_trained as f64 / (self.train_ms / 1e3) } else { 0.0 },
            entropy_rate: self.dataset.info.entropy_rate,
            diagnosis: crate::diagnosis::diagnose(&self.history).into_iter().map(|f| f.entry).collect(),
            backend: self.backend.name(),
        }
    }
}

/// The mean of per-row losses, summed in f64.
fn mean(rows: &[f32]) -> f32 {
    (rows.iter().map(|&l| l as f64).sum::<f64>() / rows.len() as f64) as f32
}
