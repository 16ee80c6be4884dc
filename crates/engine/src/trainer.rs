//! A training run: batches, steps, evaluation, sampling, non-finite detection and the run summary.

use crate::backend::cpu::activation_slope;
use crate::backend::{AttnShape, Backend, BackendKind, CpuBackend, StepReadout};
use crate::checkpoint::{Checkpoint, NamedTensor};
use crate::config::{ModelConfig, OptimizerKind, RunConfig};
use crate::data::{Dataset, Split};
use crate::error::{ConfigError, EngineError};
use crate::faults::Faults;
use crate::model::{Activations, Gpt, ParamSet, Pass};
use crate::optim::{global_norm, lr_at, Optimizer, UpdateSettings};
use crate::rng::Rng;
use crate::sampling::{next_token_probs, repeated_ngram_rate, sample_next, SamplingConfig};
use crate::telemetry::{
    AttentionMaps, BlockStats, EvalRecord, History, PhaseTimes, RunSummary, SampleStats, StepRecord, TensorStats,
};

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

/// Steps a GPU run records between readbacks of their telemetry: the GPU works through them while
/// the host records the next, instead of idling at every step's wait. The records reach the page
/// in bursts of this many, a fraction of a second apart on a real GPU.
pub const GPU_STEPS_PER_READBACK: usize = 8;

/// A step recorded on the backend whose telemetry has not been read back yet.
#[derive(Clone)]
struct InFlight {
    /// The batch sampler as the step found it, to draw its batches again.
    batches_from: Rng,
    lr: f32,
    times: PhaseTimes,
    /// Milliseconds from its start until it was recorded.
    ms: f64,
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

    /// The run saved as checkpoint bytes (see [`crate::checkpoint`]): settings, steps done,
    /// parameters, optimiser state and the batch sampler's position, read back from the backend.
    /// Fails when a tensor to be saved holds NaN or Inf.
    pub fn checkpoint(&mut self) -> Result<Vec<u8>, EngineError> {
        let layout = self.checkpoint_layout();
        let Trainer { backend, model, optimizer, grads, cfg, .. } = self;
        let buffers =
            saved_buffers(model.params.tensors(), optimizer.state(), cfg.faults.no_zero_grad, || grads.tensors());
        let mut tensors = Vec::with_capacity(layout.len());
        for ((name, shape), buf) in layout.into_iter().zip(buffers) {
            let values = backend.download(buf);
            if values.iter().any(|v| !v.is_finite()) {
                return Err(EngineError::Checkpoint(format!(
                    "{name} holds NaN or Inf, so there is no good state to save"
                )));
            }
            tensors.push(NamedTensor { name, shape, values });
        }
        let file = Checkpoint {
            config: self.cfg.clone(),
            steps_done: self.steps_done,
            optimizer_steps: self.optimizer.steps(),
            batch_rng: self.batch_rng.state(),
            tensors,
        };
        Ok(file.to_bytes())
    }

    /// Continues a run from [`Trainer::checkpoint`]'s bytes on `backend`: the next step is the one the
    /// saved run would have taken, with the same batch, so the losses match an uninterrupted run.
    /// The faults come back with the settings. Fails with [`EngineError::Checkpoint`] when the file
    /// is refused or its tensors do not fit the model its settings describe.
    pub fn from_checkpoint(bytes: &[u8], backend: B, clock: Clock) -> Result<Self, EngineError> {
        let file = Checkpoint::from_bytes(bytes)?;
        let mut trainer = Self::new(file.config, backend, clock)?;
        let layout = trainer.checkpoint_layout();
        if file.tensors.len() != layout.len() {
            return Err(EngineError::Checkpoint(format!(
                "the checkpoint holds {} tensors but its settings describe a run with {}",
                file.tensors.len(),
                layout.len()
            )));
        }
        for (t, (name, shape)) in file.tensors.iter().zip(&layout) {
            if t.name != *name || t.shape != *shape {
                return Err(EngineError::Checkpoint(format!(
                    "tensor {} {:?} in the checkpoint does not match {name} {shape:?} of the model its settings describe",
                    t.name, t.shape
                )));
            }
        }
        let Trainer { backend, model, optimizer, grads, cfg, .. } = &mut trainer;
        let buffers = saved_buffers(model.params.tensors_mut(), optimizer.state_mut(), cfg.faults.no_zero_grad, || {
            grads.tensors_mut()
        });
        for (buf, t) in buffers.into_iter().zip(&file.tensors) {
            backend.upload(buf, &t.values);
        }
        trainer.optimizer.set_steps(file.optimizer_steps);
        trainer.batch_rng = Rng::from_state(file.batch_rng);
        trainer.steps_done = file.steps_done;
        Ok(trainer)
    }

    /// Name and shape of every tensor a checkpoint of this run holds, in the order of
    /// [`saved_buffers`].
    fn checkpoint_layout(&self) -> Vec<(String, Vec<usize>)> {
        let specs = self.model.specs.tensors();
        let named = |suffix: &'static str| specs.iter().map(move |s| (format!("{}{suffix}", s.name), s.shape.clone()));
        let mut layout: Vec<_> = named("").collect();
        match self.cfg.optimizer {
            OptimizerKind::Adamw => {
                layout.extend(named(" (AdamW first moment)").chain(named(" (AdamW second moment)")))
            }
            OptimizerKind::Sgd => layout.extend(named(" (SGD velocity)")),
        }
        if self.cfg.faults.no_zero_grad {
            layout.extend(named(" (gradient carried over by no-zero-grad)"));
        }
        layout
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

    /// Whether an evaluation is due after the step just taken.
    pub fn should_evaluate(&self) -> bool {
        self.steps_done > 0
            && (self.steps_done.is_multiple_of(self.cfg.eval_every) || self.steps_done == self.cfg.steps)
            && self.history.evals.last().is_none_or(|e| e.step != self.steps_done)
    }

    /// The learning rate the schedule gives the next step.
    pub fn current_lr(&self) -> f32 {
        let warmup = if self.cfg.faults.no_warmup { 0 } else { self.cfg.warmup_steps }; // faults.no_warmup: full LR from step 1
        lr_at(self.steps_done, self.cfg.steps, warmup, self.cfg.effective_lr(), self.cfg.min_lr_ratio)
    }

    fn pass(&self, train: bool, micro: usize) -> Pass {
        let dropout = if self.cfg.faults.no_regularization { 0.0 } else { self.cfg.dropout }; // faults.no_regularization
        Pass {
            batch: self.cfg.effective_batch(),
            time: self.model.config.context,
            dropout: if train { dropout } else { 0.0 },
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

    /// Up to `limit` optimiser steps (at least one), recorded back to back, then one readback of all
    /// their losses and gradient sums of squares: a GPU computes them without waiting for the host
    /// in between (see [`Trainer::steps_per_readback`]). It stops short before an evaluation, at the
    /// end of the run, and after every step under `faults.sync_every_step`. Returns how many steps
    /// it added to the history (its last records). A non-finite loss or gradient stops the run at
    /// the first step that had one: the backend skips its update and every later one before the
    /// readback, so the parameters keep the values of the last good step, and the steps after it
    /// are not counted.
    pub fn steps(&mut self, limit: usize) -> Result<usize, EngineError> {
        if let Some(e) = &self.history.stopped {
            return Err(e.clone());
        }
        if self.steps_done >= self.cfg.steps {
            return Err(ConfigError::new("steps", format!("the run has finished its {} steps", self.cfg.steps)).into());
        }
        let first = (self.steps_done, self.optimizer.steps());
        self.in_flight.clear();
        let mut before = Vec::new();
        loop {
            // The update ratios an evaluation reports need the parameters from before its update.
            let measure_update = self.eval_follows() || self.cfg.faults.sync_every_step;
            self.launch_step(measure_update.then_some(&mut before))?;
            self.steps_done += 1;
            if measure_update || self.in_flight.len() >= limit || self.steps_done >= self.cfg.steps {
                break;
            }
        }
        self.land_steps(first, &before)
    }

    /// How many steps [`Trainer::steps`] should record between readbacks: one on the CPU, where
    /// reading is free, and under `faults.sync_every_step` (that fault *is* a readback every step);
    /// [`GPU_STEPS_PER_READBACK`] on a GPU, whose every wait for the host leaves it idle.
    pub fn steps_per_readback(&self) -> usize {
        if self.cfg.faults.sync_every_step || self.backend.kind() == BackendKind::Cpu {
            1
        } else {
            GPU_STEPS_PER_READBACK
        }
    }

    /// Records one step on the backend, up to its update and the [`Backend::keep_step`] of its
    /// telemetry, without reading anything back (but the parameters into `before`, when given).
    fn launch_step(&mut self, before: Option<&mut Vec<Vec<f32>>>) -> Result<(), EngineError> {
        self.apply_weight_faults()?;
        let now = self.clock;
        let mut times = PhaseTimes::default();
        let t_start = now();
        if !self.cfg.faults.no_zero_grad {
            for g in self.grads.iter_mut() {
                self.backend.fill(g, 0.0); // zero_grad(); faults.no_zero_grad skips it and gradients pile up
            }
        }
        let batches_from = self.batch_rng.clone();
        for micro in 0..self.cfg.grad_accum {
            let t0 = now();
            let (batch, context) = (self.cfg.effective_batch(), self.model.config.context);
            self.dataset.batch(Split::Train, &mut self.batch_rng, batch, context, &mut self.x, &mut self.y);
            let t1 = now();
            let pass = self.pass(true, micro);
            self.model.forward(&mut self.backend, &mut self.acts, &self.x, Some(&self.y), pass);
            let t2 = now();
            if let Some(rows) = self.loss_rows.get_mut(micro) {
                self.backend.copy(rows, &self.acts.losses);
            }
            let t3 = now();
            self.model.backward(&mut self.backend, &mut self.acts, &mut self.grads, &self.x, pass);
            let t4 = now();
            times.data_ms += t1 - t0;
            times.forward_ms += t2 - t1;
            times.telemetry_ms += t3 - t2;
            times.backward_ms += t4 - t3;
        }
        let t4 = now();
        self.mean_over_micro_batches();
        let max_norm = if self.cfg.faults.no_grad_clip { 0.0 } else { self.cfg.grad_clip }; // faults.no_grad_clip: no ceiling on the step
        let losses = (&self.loss_rows[..], &self.acts.losses);
        self.backend.clip_grad_norm(&mut self.grads, &losses, max_norm);
        let lr = self.lr_override.unwrap_or_else(|| self.current_lr());
        if let Some(before) = before {
            *before = self.model.params.tensors().into_iter().map(|p| self.backend.download(p)).collect();
        }
        let weight_decay = if self.cfg.faults.no_regularization { 0.0 } else { self.cfg.weight_decay }; // faults.no_regularization
        let hyper = UpdateSettings { lr, weight_decay, ..UpdateSettings::from(&self.cfg) };
        self.optimizer.update(&mut self.backend, &mut self.model.params, &self.grads, &self.model.specs, hyper);
        let losses = (&self.loss_rows[..], &self.acts.losses);
        self.backend.keep_step(&losses);
        // Clipping and the update (on a GPU, recording them).
        let t_end = now();
        times.optimizer_ms = t_end - t4;
        self.in_flight.push(InFlight { batches_from, lr, times, ms: t_end - t_start });
        Ok(())
    }

    /// The gradients of `grad_accum` micro-batches, summed by the backward passes, divided into
    /// their mean.
    fn mean_over_micro_batches(&mut self) {
        let micro_batches = self.cfg.grad_accum;
        if micro_batches > 1 {
            for g in self.grads.iter_mut() {
                self.backend.scale(g, 1.0 / micro_batches as f32); // the mean over all micro-batches
            }
        }
    }

    /// Reads back the steps launched since `first` (the steps done and the optimiser's updates
    /// then) and records them, up to the first with a non-finite loss or gradient, where the run
    /// stops.
    fn land_steps(&mut self, first: (usize, u32), before: &[Vec<f32>]) -> Result<usize, EngineError> {
        let now = self.clock;
        let t_read = now();
        self.backend.read_steps(&mut self.readouts);
        let waited = now() - t_read;
        let launched = self.in_flight.len();
        let tokens = self.cfg.grad_accum * self.cfg.effective_batch() * self.model.config.context;
        for i in 0..launched {
            let readout = &self.readouts[i];
            // One pass over the micro-batches' mean losses: their sum, or the first that is not finite.
            let mut loss_sum = 0.0f64;
            let mut bad_loss = None;
            for (micro, rows) in readout.losses.iter().enumerate() {
                let m = mean(rows);
                if !m.is_finite() {
                    bad_loss = Some(micro);
                    break;
                }
                loss_sum += m as f64;
            }
            let norm = global_norm(&readout.grad_sq);
            if bad_loss.is_some() || !norm.is_finite() {
                return Err(self.stop_in_launch(first, i, bad_loss));
            }
            self.grad_sq.clone_from(&readout.grad_sq);
            let flight = self.in_flight[i].clone();
            let (mut times, mut ms) = (flight.times, flight.ms);
            if i + 1 == launched {
                // The wait for the readback, and the statistics read after it, count in the last step.
                let t_post = now();
                if !before.is_empty() {
                    self.update_ratios = self.update_ratios_since(before);
                }
                if self.cfg.faults.sync_every_step {
                    // faults.sync_every_step: a validation pass and every statistic read back after
                    // every step, as logging each step does
                    self.split_loss(Split::Val);
                    self.tensor_stats();
                    self.block_stats();
                }
                let post = now() - t_post;
                times.optimizer_ms += waited;
                times.telemetry_ms += post;
                ms += waited + post;
            }
            self.tokens_trained += tokens;
            self.train_ms += ms;
            let loss = (loss_sum / self.cfg.grad_accum as f64) as f32;
            let step = first.0 + i + 1;
            let record = StepRecord { step, loss, grad_norm: norm as f32, lr: flight.lr, tokens, times };
            self.history.steps.push(record);
        }
        Ok(launched)
    }

    /// Stops the run at the `index`-th step launched from `first` (steps done, optimiser updates),
    /// the first whose readback holds a non-finite value (a loss of micro-batch `bad_loss`, or else
    /// a gradient): the steps from it on are undone (the backend skipped their updates), and the
    /// step's state is computed again where the buffers hold a later one's, so the error names the
    /// first tensor that step made non-finite.
    fn stop_in_launch(&mut self, first: (usize, u32), index: usize, bad_loss: Option<usize>) -> EngineError {
        let launched = self.steps_done;
        self.steps_done = first.0 + index;
        self.optimizer.set_steps(first.1 + index as u32);
        let rng = self.in_flight[index].batches_from.clone();
        // The sampler as it was before the stopped step, matching the steps done.
        self.batch_rng = rng.clone();
        match bad_loss {
            // The backend skipped this update and every later one, so the parameters are the ones
            // that gave this loss: its forward pass again shows where the non-finite values began.
            Some(micro) => self.replay_forward(rng, micro),
            // The gradient buffers hold a later step's (piled onto this one's under no_zero_grad,
            // where they stay non-finite), so this step's backward passes run again.
            None if self.steps_done + 1 < launched && !self.cfg.faults.no_zero_grad => self.replay_backward(rng),
            None => {}
        }
        self.stop_non_finite()
    }

    /// One optimiser step at learning rate `lr` instead of the schedule's (the learning-rate range
    /// test sets every step's rate itself). Everything else is [`Trainer::step`].
    pub fn step_at(&mut self, lr: f32) -> Result<StepRecord, EngineError> {
        self.lr_override = Some(lr);
        let record = self.step();
        self.lr_override = None;
        record
    }

    /// Runs micro-batch `micro`'s forward pass again, its batch drawn from `rng` as the step drew it,
    /// so the activations are the ones its non-finite loss came from (the parameters are unchanged:
    /// the backend skipped the update).
    fn replay_forward(&mut self, mut rng: Rng, micro: usize) {
        let (batch, context) = (self.cfg.effective_batch(), self.model.config.context);
        for _ in 0..=micro {
            self.dataset.batch(Split::Train, &mut rng, batch, context, &mut self.x, &mut self.y);
        }
        let pass = self.pass(true, micro);
        self.model.forward(&mut self.backend, &mut self.acts, &self.x, Some(&self.y), pass);
    }

    /// Runs the step about to be taken again up to its gradients, its batches drawn from `rng` as
    /// the step drew them (the parameters are unchanged: the backend skipped the update).
    fn replay_backward(&mut self, mut rng: Rng) {
        let (batch, context) = (self.cfg.effective_batch(), self.model.config.context);
        for g in self.grads.iter_mut() {
            self.backend.fill(g, 0.0);
        }
        for micro in 0..self.cfg.grad_accum {
            self.dataset.batch(Split::Train, &mut rng, batch, context, &mut self.x, &mut self.y);
            let pass = self.pass(true, micro);
            self.model.forward(&mut self.backend, &mut self.acts, &self.x, Some(&self.y), pass);
            self.model.backward(&mut self.backend, &mut self.acts, &mut self.grads, &self.x, pass);
        }
        self.mean_over_micro_batches();
    }

    /// Whether an evaluation is due right after the step about to run.
    fn eval_follows(&self) -> bool {
        (self.steps_done + 1).is_multiple_of(self.cfg.eval_every) || self.steps_done + 1 == self.cfg.steps
    }

    /// The weight faults that strike at a given step.
    fn apply_weight_faults(&mut self) -> Result<(), EngineError> {
        let step = self.steps_done + 1;
        let at = |v: Option<f32>| v.is_some_and(|s| s as usize == step);
        if at(self.cfg.faults.corrupt_embeddings) {
            // faults.corrupt_embeddings: the token table is overwritten with noise of std 1
            let mut rng = Rng::derive(self.cfg.seed, "corrupt");
            let noise: Vec<f32> = (0..self.backend.len(&self.model.params.wte)).map(|_| rng.normal() as f32).collect();
            self.backend.upload(&mut self.model.params.wte, &noise);
        }
        if at(self.cfg.faults.wrong_checkpoint) {
            // faults.wrong_checkpoint: the weights of another, untrained run replace ours
            let foreign = self.model.specs.initial_values(self.cfg.seed.wrapping_add(1), &Faults::default());
            for (p, v) in self.model.params.tensors_mut().into_iter().zip(foreign.tensors()) {
                self.backend.upload(p, v);
            }
        }
        Ok(())
    }

    fn update_ratios_since(&mut self, before: &[Vec<f32>]) -> Vec<Option<f32>> {
        before
            .iter()
            .zip(self.model.params.tensors())
            .map(|(old, p)| {
                let new = self.backend.download(p);
                let delta: f64 = old.iter().zip(&new).map(|(a, b)| ((b - a) as f64).powi(2)).sum();
                let norm: f64 = old.iter().map(|&a| (a as f64).powi(2)).sum();
                (norm > 0.0).then(|| (delta / norm).sqrt() as f32)
            })
            .collect()
    }

    fn mean_loss(&mut self) -> f32 {
        mean(&self.backend.download(&self.acts.losses))
    }

    /// Records and returns the non-finite error, naming the first tensor (parameters, then activations
    /// in forward order, then gradients in backward order) that holds a NaN or Inf.
    fn stop_non_finite(&mut self) -> EngineError {
        let tensor = self.first_non_finite().unwrap_or_else(|| "loss".to_string());
        let err = EngineError::NonFinite { step: self.steps_done + 1, tensor };
        self.history.stopped = Some(err.clone());
        err
    }

    fn first_non_finite(&mut self) -> Option<String> {
        let b = &mut self.backend;
        let mut bad = |name: &str, buf: &B::Buf| {
            let len = b.len(buf);
            (!b.sum_squares(buf, len).is_finite()).then(|| name.to_string())
        };
        for (spec, p) in self.model.specs.tensors().into_iter().zip(self.model.params.tensors()) {
            if let Some(n) = bad(&format!("parameter {}", spec.name), p) {
                return Some(n);
            }
        }
        let a = &self.acts;
        if let Some(n) = bad("activation embeddings", &a.resid[0]) {
            return Some(n);
        }
        for (l, ba) in a.blocks.iter().enumerate() {
            let named = [
                ("ln1", &ba.ln1),
                ("attn.qkv", &ba.attn.qkv),
                ("attn.probs", &ba.attn.probs),
                ("attn.out", &ba.attn.out),
                ("attn.branch", &ba.attn.branch),
                ("sum1", &ba.sum1),
                ("x_mid", &ba.x_mid),
                ("ln2", &ba.ln2),
                ("mlp.fc", &ba.mlp.fc),
                ("mlp.act", &ba.mlp.act),
                ("mlp.branch", &ba.mlp.branch),
                ("sum2", &ba.sum2),
                ("out", &a.resid[l + 1]),
            ];
            for (name, buf) in named {
                if let Some(n) = bad(&format!("activation block{l}.{name}"), buf) {
                    return Some(n);
                }
            }
        }
        for (name, buf) in [("lnf", &a.lnf), ("logits", &a.logits), ("loss", &a.losses)] {
            if let Some(n) = bad(&format!("activation {name}"), buf) {
                return Some(n);
            }
        }
        let specs = self.model.specs.tensors();
        let grads = self.grads.tensors();
        for (spec, g) in specs.into_iter().zip(grads).rev() {
            if let Some(n) = bad(&format!("gradient of {}", spec.name), g) {
                return Some(n);
            }
        }
        None
    }

    /// Evaluates the model: mean loss over `eval_batches` fixed batches of each split (dropout off),
    /// then every per-tensor, per-block and attention measurement, and a generated sample.
    pub fn evaluate(&mut self) -> EvalRecord {
        let train_loss = self.split_loss(Split::Train);
        let val_loss = (!self.dataset.val.is_empty()).then(|| self.split_loss(Split::Val));
        // The activations now hold the last evaluation batch (validation when there is one).
        let blocks = self.block_stats();
        let logits = self.backend.download(&self.acts.logits);
        let max_abs_logit = logits.iter().fold(0.0f32, |m, v| if v.abs() > m || v.is_nan() { v.abs() } else { m });
        let record = EvalRecord {
            step: self.steps_done,
            train_loss,
            val_loss,
            grad_norm: global_norm(&self.grad_sq) as f32,
            tensors: self.tensor_stats(),
            blocks,
            max_abs_logit,
            attention: self.attention_maps(),
            sample: self.eval_sample(),
            tokenizer: self.dataset.tokenizer_stats.clone(),
        };
        let mut kept = record.clone();
        kept.attention.probs = Vec::new();
        self.history.evals.push(kept);
        record
    }

    /// How samples are decoded in this run, after the sampling faults.
    pub fn sampling(&self) -> SamplingConfig {
        let mut opts = self.cfg.sampling.clone();
        if self.cfg.faults.greedy_decoding {
            opts.greedy = true; // faults.greedy_decoding: always the argmax
        }
        if let Some(t) = self.cfg.faults.temperature_too_low {
            opts.temperature = t; // faults.temperature_too_low: a nearly one-hot distribution
        }
        opts
    }

    /// Turns generated ids into the text a reader sees.
    fn decode(&self, ids: &[u32]) -> String {
        if self.cfg.faults.tokenizer_mismatch {
            // faults.tokenizer_mismatch: ids looked up in the vocabulary read back to front
            let v = self.model.config.vocab_size as u32;
            let foreign: Vec<u32> = ids.iter().map(|&id| v - 1 - id.min(v - 1)).collect();
            return self.dataset.tokenizer.decode(&foreign);
        }
        self.dataset.tokenizer.decode(ids)
    }

    /// A sample at the run's sampling settings, measured against the training data.
    fn eval_sample(&mut self) -> Option<SampleStats> {
        if self.cfg.sample_tokens == 0 {
            return None;
        }
        let opts = self.sampling();
        self.sample_stats("", self.cfg.sample_tokens, &opts, self.cfg.seed ^ self.steps_done as u64).ok()
    }

    /// Generates like [`Trainer::sample`] and measures the text as an evaluation's sample is measured
    /// (repeated 4-grams, unseen bigrams, the entropy the decoding kept).
    pub fn sample_stats(
        &mut self,
        prompt: &str,
        max_new_tokens: usize,
        opts: &SamplingConfig,
        seed: u64,
    ) -> Result<SampleStats, EngineError> {
        let (ids, choices) = self.generate(prompt, max_new_tokens, opts, seed)?;
        let text = self.decode(&ids);
        // Measure what the reader sees: re-encode the text (a mismatched vocabulary shows up here).
        let seen = self.dataset.tokenizer.encode(&text).unwrap_or_default();
        let v = self.model.config.vocab_size;
        let pairs = seen.windows(2).count().max(1);
        let unseen = seen.windows(2).filter(|p| !self.train_bigrams[p[0] as usize * v + p[1] as usize]).count();
        let reference: Vec<u32> = self.dataset.val.iter().take(seen.len()).copied().collect();
        Ok(SampleStats {
            text,
            repeated_ngram_rate: repeated_ngram_rate(&seen, 4),
            reference_ngram_rate: repeated_ngram_rate(&reference, 4),
            unseen_bigram_rate: unseen as f32 / pairs as f32,
            reread_loss: self.text_loss(&seen),
            model_entropy: choices.model_entropy,
            sampler_entropy: choices.sampler_entropy,
        })
    }

    /// The model's mean loss on a token sequence, read in context-length windows; `None` when it is
    /// too short to predict anything.
    fn text_loss(&mut self, ids: &[u32]) -> Option<f32> {
        let context = self.model.config.context;
        let (mut total, mut count) = (0.0f64, 0usize);
        let mut start = 0;
        while start + 1 < ids.len() {
            let end = (start + context + 1).min(ids.len());
            let (x, y) = (&ids[start..end - 1], &ids[start + 1..end]);
            let pass = Pass { batch: 1, time: x.len(), dropout: 0.0, dropout_seed: 0 };
            self.model.forward(&mut self.backend, &mut self.sample_acts, x, Some(y), pass);
            let losses = self.backend.download(&self.sample_acts.losses);
            total += losses[..x.len()].iter().map(|&l| l as f64).sum::<f64>();
            count += x.len();
            start = end - 1;
        }
        (count > 0).then(|| (total / count as f64) as f32)
    }

    fn tensor_stats(&mut self) -> Vec<TensorStats> {
        let specs = self.model.specs.tensors();
        let params = self.model.params.tensors();
        specs
            .into_iter()
            .zip(params)
            .enumerate()
            .map(|(i, (spec, p))| {
                let len = self.backend.len(p);
                TensorStats {
                    name: spec.name.clone(),
                    block: spec
                        .name
                        .strip_prefix("block")
                        .and_then(|r| r.split('.').next())
                        .and_then(|n| n.parse().ok()),
                    grad_norm: self.grad_sq.get(i).map_or(0.0, |s| s.sqrt() as f32),
                    param_norm: self.backend.sum_squares(p, len).sqrt() as f32,
                    update_ratio: self.update_ratios.get(i).copied().flatten(),
                }
            })
            .collect()
    }

    fn block_stats(&mut self) -> Vec<BlockStats> {
        let m = self.model.config;
        let (batch, time) = (self.cfg.batch_size, m.context);
        let (n, c, f, heads) = (batch * time, m.d_model, m.mlp_dim(), m.n_heads);
        let specs = self.model.specs.tensors();
        (0..m.n_layers)
            .map(|l| {
                let prefix = format!("block{l}.");
                let grad_sq: f64 =
                    specs.iter().zip(&self.grad_sq).filter(|(s, _)| s.name.starts_with(&prefix)).map(|(_, g)| *g).sum();
                let out = self.backend.download(&self.acts.resid[l + 1]);
                let mean = out[..n * c].iter().map(|&v| v as f64).sum::<f64>() / (n * c) as f64;
                let var = out[..n * c].iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>() / (n * c) as f64;
                let fc = self.backend.download(&self.acts.blocks[l].mlp.fc);
                let act = self.model.mlp_activation();
                let dead =
                    (0..f).filter(|&u| (0..n).all(|r| activation_slope(act, fc[r * f + u]).abs() < 1e-3)).count();
                let probs = self.backend.download(&self.acts.blocks[l].attn.probs);
                let (entropy, above) = attention_row_stats(&probs, batch, heads, time);
                let qkv = self.backend.download(&self.acts.blocks[l].attn.qkv);
                let logit_scale = attention_logit_scale(&probs, &qkv, AttnShape { batch, time, d_model: c, heads });
                BlockStats {
                    block: l,
                    grad_norm: grad_sq.sqrt() as f32,
                    out_mean: mean as f32,
                    out_std: var.sqrt() as f32,
                    dead_fraction: dead as f32 / f as f32,
                    attn_entropy: entropy,
                    attn_above_diag: above,
                    attn_logit_scale: logit_scale,
                }
            })
            .collect()
    }

    /// Runs the model on a fixed probe (the start of the validation text) and keeps every attention map.
    fn attention_maps(&mut self) -> AttentionMaps {
        let m = self.model.config;
        let source = if self.dataset.val.len() > m.context { &self.dataset.val } else { &self.dataset.train };
        let probe: Vec<u32> = source.iter().take(m.context).copied().collect();
        let time = probe.len();
        let pass = Pass { batch: 1, time, dropout: 0.0, dropout_seed: 0 };
        self.model.forward(&mut self.backend, &mut self.sample_acts, &probe, None, pass);
        let mut probs = Vec::with_capacity(m.n_layers * m.n_heads * time * time);
        for block in &self.sample_acts.blocks {
            probs.extend_from_slice(&self.backend.download(&block.attn.probs)[..m.n_heads * time * time]);
        }
        AttentionMaps {
            layers: m.n_layers,
            heads: m.n_heads,
            time,
            tokens: probe.iter().map(|&t| self.dataset.tokenizer.token_label(t)).collect(),
            probs,
        }
    }

    fn split_loss(&mut self, split: Split) -> f32 {
        let label = match split {
            Split::Train => "eval-train",
            Split::Val => "eval-val",
        };
        let mut rng = Rng::derive(self.cfg.seed, label);
        let pass = self.pass(false, 0);
        let mut total = 0.0f64;
        for _ in 0..self.cfg.eval_batches {
            self.dataset.batch(split, &mut rng, pass.batch, pass.time, &mut self.x, &mut self.y);
            self.model.forward(&mut self.backend, &mut self.acts, &self.x, Some(&self.y), pass);
            total += self.mean_loss() as f64;
        }
        (total / self.cfg.eval_batches as f64) as f32
    }

    /// Generates up to `max_new_tokens` tokens after `prompt` (an empty prompt starts from the first
    /// validation token) and returns prompt + continuation as text.
    pub fn sample(
        &mut self,
        prompt: &str,
        max_new_tokens: usize,
        opts: &SamplingConfig,
        seed: u64,
    ) -> Result<String, EngineError> {
        let (ids, _) = self.generate(prompt, max_new_tokens, opts, seed)?;
        Ok(self.decode(&ids))
    }

    fn generate(
        &mut self,
        prompt: &str,
        max_new_tokens: usize,
        opts: &SamplingConfig,
        seed: u64,
    ) -> Result<(Vec<u32>, Choices), EngineError> {
        opts.validate()?;
        let mut tokens = self.dataset.tokenizer.encode(prompt)?;
        if tokens.is_empty() {
            let first = self.dataset.val.first().or(self.dataset.train.first()).copied().unwrap_or(0);
            tokens.push(first);
        }
        let m = self.model.config;
        let mut rng = Rng::derive(seed, "sample");
        let (mut model_entropy, mut sampler_entropy) = (0.0f64, 0.0f64);
        for _ in 0..max_new_tokens {
            let start = tokens.len().saturating_sub(m.context);
            let window = &tokens[start..];
            let pass = Pass { batch: 1, time: window.len(), dropout: 0.0, dropout_seed: 0 };
            self.model.forward(&mut self.backend, &mut self.sample_acts, window, None, pass);
            let logits = self.backend.download(&self.sample_acts.logits);
            let last = &logits[(window.len() - 1) * m.vocab_size..window.len() * m.vocab_size];
            let next = sample_next(last, window, opts, &mut rng);
            let plain = next_token_probs(last, &[], &SamplingConfig::PLAIN);
            model_entropy += entropy(plain);
            sampler_entropy += entropy(next_token_probs(last, window, opts));
            tokens.push(next);
        }
        let n = max_new_tokens.max(1) as f64;
        let choices =
            Choices { model_entropy: (model_entropy / n) as f32, sampler_entropy: (sampler_entropy / n) as f32 };
        Ok((tokens, choices))
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

/// What a checkpoint saves, in its order: parameters, optimiser state and, where the `no-zero-grad`
/// fault lets them carry over to the next step (`keep_grads`), the gradients.
fn saved_buffers<T>(params: Vec<T>, state: Vec<T>, keep_grads: bool, grads: impl FnOnce() -> Vec<T>) -> Vec<T> {
    let mut buffers = params;
    buffers.extend(state);
    if keep_grads {
        buffers.extend(grads());
    }
    buffers
}

/// Mean entropy of the attention rows and mean probability above the diagonal, per head, from
/// `probs [batch, heads, time, time]`.
/// Per head: the spread (standard deviation across a row's visible positions) of the attention logits,
/// recovered as `ln p`, summed over rows, over the same spread of `q·k/√d_k` computed from `qkv`
/// (`[N, 3C]`). Rows where a visible position's probability underflowed to 0 are skipped: their
/// logits cannot be recovered.
/// The mean of per-row losses, summed in f64.
fn mean(rows: &[f32]) -> f32 {
    (rows.iter().map(|&l| l as f64).sum::<f64>() / rows.len() as f64) as f32
}

/// Entropy (nats) of a distribution given as probabilities.
fn entropy(probs: impl IntoIterator<Item = f64>) -> f64 {
    probs.into_iter().filter(|&p| p > 0.0).map(|p| -p * p.ln()).sum()
}

/// How uncertain the model was while generating, and how much of that the decoding kept.
struct Choices {
    /// Mean entropy of the model's own next-token distributions (plain softmax of the logits).
    model_entropy: f32,
    /// Mean entropy of the distributions the sampler actually drew from (after temperature, top-k,
    /// top-p, the repetition penalty or greedy decoding).
    sampler_entropy: f32,
}

pub fn attention_logit_scale(probs: &[f32], qkv: &[f32], shape: AttnShape) -> Vec<f32> {
    let AttnShape { batch, time, d_model, heads } = shape;
    let d_k = shape.head_dim();
    let inv_sqrt = 1.0 / (d_k as f64).sqrt();
    let std = |v: &[f64]| {
        let mean = v.iter().sum::<f64>() / v.len() as f64;
        (v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / v.len() as f64).sqrt()
    };
    let (mut logits, mut dots) = (Vec::with_capacity(time), Vec::with_capacity(time));
    (0..heads)
        .map(|h| {
            let (mut spread_logit, mut spread_dot) = (0.0f64, 0.0f64);
            for b in 0..batch {
                for i in 0..time {
                    let row = &probs[((b * heads + h) * time + i) * time..][..time];
                    if row[..=i].iter().any(|&p| p <= 0.0) {
                        continue;
                    }
                    let q = &qkv[(b * time + i) * 3 * d_model + h * d_k..][..d_k];
                    logits.clear();
                    dots.clear();
                    for (j, &p) in row.iter().enumerate().filter(|(j, &p)| *j <= i || p > 0.0) {
                        let k = &qkv[(b * time + j) * 3 * d_model + d_model + h * d_k..][..d_k];
                        let dot: f64 = q.iter().zip(k).map(|(&a, &b)| a as f64 * b as f64).sum();
                        logits.push((p as f64).ln());
                        dots.push(dot * inv_sqrt);
                    }
                    if logits.len() > 1 {
                        spread_logit += std(&logits);
                        spread_dot += std(&dots);
                    }
                }
            }
            if spread_dot > 0.0 {
                (spread_logit / spread_dot) as f32
            } else {
                1.0
            }
        })
        .collect()
}

pub fn attention_row_stats(probs: &[f32], batch: usize, heads: usize, time: usize) -> (Vec<f32>, Vec<f32>) {
    let mut entropy = vec![0.0f64; heads];
    let mut above = vec![0.0f64; heads];
    for b in 0..batch {
        for (h, (e_sum, a_sum)) in entropy.iter_mut().zip(above.iter_mut()).enumerate() {
            for i in 0..time {
                let row = &probs[((b * heads + h) * time + i) * time..][..time];
                *e_sum -= row.iter().filter(|&&p| p > 0.0).map(|&p| p as f64 * (p as f64).ln()).sum::<f64>();
                *a_sum += row[i + 1..].iter().map(|&p| p as f64).sum::<f64>();
            }
        }
    }
    let rows = (batch * time) as f64;
    (entropy.iter().map(|e| (e / rows) as f32).collect(), above.iter().map(|a| (a / rows) as f32).collect())
}
