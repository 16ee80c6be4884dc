//! A training run: batches, steps, evaluation, sampling, non-finite detection and the run summary.

use crate::backend::{Backend, CpuBackend};
use crate::config::{ModelConfig, RunConfig};
use crate::data::{Dataset, Split};
use crate::error::{ConfigError, EngineError};
use crate::model::{Activations, Gpt, ParamSet, Pass};
use crate::optim::{clip_factor, global_norm, lr_at, Optimizer};
use crate::rng::Rng;
use crate::sampling::{sample_next, SamplingConfig};
use crate::telemetry::{EvalRecord, PhaseTimes, RunSummary, StepRecord};

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
    sample_acts: Option<Activations<B::Buf>>,
    dataset: Dataset,
    batch_rng: Rng,
    x: Vec<u32>,
    y: Vec<u32>,
    steps_done: usize,
    clock: Clock,
    last_step: Option<StepRecord>,
    last_eval: Option<EvalRecord>,
    tokens_trained: usize,
    train_ms: f64,
    stopped: Option<EngineError>,
}

impl Trainer<CpuBackend> {
    /// A run on the plain CPU backend.
    pub fn cpu(cfg: RunConfig, clock: Clock) -> Result<Self, EngineError> {
        Self::new(cfg, CpuBackend::new(), clock)
    }
}

impl<B: Backend> Trainer<B> {
    /// Validates the settings, loads the corpus and initialises the model from `cfg.seed`.
    pub fn new(cfg: RunConfig, mut backend: B, clock: Clock) -> Result<Self, EngineError> {
        cfg.validate()?;
        let context = cfg.preset.model(1).context;
        let dataset = Dataset::load(&cfg.corpus, cfg.seed, context)?;
        let model_cfg = cfg.preset.model(dataset.tokenizer.vocab_size());
        let model = Gpt::new(&mut backend, model_cfg, cfg.faults.clone(), cfg.seed);
        let grads = model.zeros_like_params(&mut backend);
        let optimizer = Optimizer::new(&mut backend, &model.specs, cfg.optimizer);
        let acts = Activations::new(&mut backend, &model_cfg, cfg.batch_size, model_cfg.context);
        let n = cfg.batch_size * model_cfg.context;
        Ok(Self {
            batch_rng: Rng::derive(cfg.seed, "batches"),
            cfg,
            backend,
            model,
            grads,
            optimizer,
            acts,
            sample_acts: None,
            dataset,
            x: vec![0; n],
            y: vec![0; n],
            steps_done: 0,
            clock,
            last_step: None,
            last_eval: None,
            tokens_trained: 0,
            train_ms: 0.0,
            stopped: None,
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

    pub fn backend_name(&self) -> String {
        self.backend.name()
    }

    pub fn steps_done(&self) -> usize {
        self.steps_done
    }

    pub fn is_done(&self) -> bool {
        self.steps_done >= self.cfg.steps || self.stopped.is_some()
    }

    /// Why the run stopped early, if it did.
    pub fn stopped(&self) -> Option<&EngineError> {
        self.stopped.as_ref()
    }

    /// Whether an evaluation is due after the step just taken.
    pub fn should_evaluate(&self) -> bool {
        self.steps_done > 0
            && (self.steps_done % self.cfg.eval_every == 0 || self.steps_done == self.cfg.steps)
            && self.last_eval.as_ref().is_none_or(|e| e.step != self.steps_done)
    }

    /// The learning rate the schedule gives the next step.
    pub fn current_lr(&self) -> f32 {
        let warmup = if self.cfg.faults.no_warmup { 0 } else { self.cfg.warmup_steps }; // faults.no_warmup: full LR from step 1
        lr_at(self.steps_done, self.cfg.steps, warmup, self.cfg.effective_lr(), self.cfg.min_lr_ratio)
    }

    fn pass(&self, train: bool) -> Pass {
        Pass {
            batch: self.cfg.batch_size,
            time: self.model.config.context,
            dropout: if train { self.cfg.dropout } else { 0.0 },
            dropout_seed: self.cfg.seed ^ (self.steps_done as u64).wrapping_mul(0x2545_F491_4F6C_DD1D),
        }
    }

    /// One optimiser step: a batch, forward, backward, clipping, update. A non-finite loss or gradient
    /// stops the run before the update, so the parameters keep their last good values.
    pub fn step(&mut self) -> Result<StepRecord, EngineError> {
        if let Some(e) = &self.stopped {
            return Err(e.clone());
        }
        if self.steps_done >= self.cfg.steps {
            return Err(ConfigError::new("steps", format!("the run has finished its {} steps", self.cfg.steps)).into());
        }
        let mut times = PhaseTimes::default();
        let now = self.clock;
        let t0 = now();
        self.dataset.batch(
            Split::Train,
            &mut self.batch_rng,
            self.cfg.batch_size,
            self.model.config.context,
            &mut self.x,
            &mut self.y,
        );
        let t1 = now();
        times.data_ms = t1 - t0;

        let pass = self.pass(true);
        self.model.forward(&mut self.backend, &mut self.acts, &self.x, Some(&self.y), pass);
        let t2 = now();
        times.forward_ms = t2 - t1;

        let loss = self.mean_loss();
        if !loss.is_finite() {
            return Err(self.stop_non_finite());
        }
        let t3 = now();
        times.telemetry_ms += t3 - t2;

        for g in self.grads.tensors_mut() {
            self.backend.fill(g, 0.0);
        }
        self.model.backward(&mut self.backend, &mut self.acts, &mut self.grads, &self.x, pass);
        let t4 = now();
        times.backward_ms = t4 - t3;

        let norm = global_norm(&mut self.backend, &self.grads);
        if !norm.is_finite() {
            return Err(self.stop_non_finite());
        }
        let max_norm = if self.cfg.faults.no_grad_clip { 0.0 } else { self.cfg.grad_clip }; // faults.no_grad_clip: no ceiling on the step
        let factor = clip_factor(norm, max_norm);
        if factor != 1.0 {
            for g in self.grads.tensors_mut() {
                self.backend.scale(g, factor);
            }
        }
        let lr = self.current_lr();
        self.optimizer.update(&mut self.backend, &mut self.model.params, &self.grads, &self.model.specs, lr, &self.cfg);
        let t5 = now();
        times.optimizer_ms = t5 - t4;

        self.steps_done += 1;
        let tokens = self.cfg.batch_size * self.model.config.context;
        self.tokens_trained += tokens;
        self.train_ms += t5 - t0;
        let record = StepRecord { step: self.steps_done, loss, grad_norm: norm as f32, lr, tokens, times };
        self.last_step = Some(record.clone());
        Ok(record)
    }

    fn mean_loss(&mut self) -> f32 {
        let losses = self.backend.download(&self.acts.losses);
        (losses.iter().map(|&l| l as f64).sum::<f64>() / losses.len() as f64) as f32
    }

    /// Records and returns the non-finite error, naming the first tensor (parameters, then activations
    /// in forward order, then gradients in backward order) that holds a NaN or Inf.
    fn stop_non_finite(&mut self) -> EngineError {
        let tensor = self.first_non_finite().unwrap_or_else(|| "loss".to_string());
        let err = EngineError::NonFinite { step: self.steps_done + 1, tensor };
        self.stopped = Some(err.clone());
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
                ("attn.qkv", &ba.qkv),
                ("attn.probs", &ba.probs),
                ("attn.out", &ba.attn),
                ("attn.branch", &ba.attn_branch),
                ("x_mid", &ba.x_mid),
                ("ln2", &ba.ln2),
                ("mlp.fc", &ba.fc),
                ("mlp.act", &ba.act),
                ("mlp.branch", &ba.mlp_branch),
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

    /// Mean loss over `eval_batches` fixed batches of each split, dropout off.
    pub fn evaluate(&mut self) -> EvalRecord {
        let train_loss = self.split_loss(Split::Train);
        let val_loss = (!self.dataset.val.is_empty()).then(|| self.split_loss(Split::Val));
        let record = EvalRecord { step: self.steps_done, train_loss, val_loss };
        self.last_eval = Some(record.clone());
        record
    }

    fn split_loss(&mut self, split: Split) -> f32 {
        let label = match split {
            Split::Train => "eval-train",
            Split::Val => "eval-val",
        };
        let mut rng = Rng::derive(self.cfg.seed, label);
        let pass = self.pass(false);
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
        opts.validate()?;
        let mut tokens = self.dataset.tokenizer.encode(prompt)?;
        if tokens.is_empty() {
            let first = self.dataset.val.first().or(self.dataset.train.first()).copied().unwrap_or(0);
            tokens.push(first);
        }
        let m = self.model.config;
        let acts = match self.sample_acts.take() {
            Some(a) => a,
            None => Activations::new(&mut self.backend, &m, 1, m.context),
        };
        let mut acts = acts;
        let mut rng = Rng::derive(seed, "sample");
        for _ in 0..max_new_tokens {
            let start = tokens.len().saturating_sub(m.context);
            let window = &tokens[start..];
            let pass = Pass { batch: 1, time: window.len(), dropout: 0.0, dropout_seed: 0 };
            self.model.forward(&mut self.backend, &mut acts, window, None, pass);
            let logits = self.backend.download(&acts.logits);
            let last = &logits[(window.len() - 1) * m.vocab_size..window.len() * m.vocab_size];
            let next = sample_next(last, window, opts, &mut rng);
            tokens.push(next);
        }
        self.sample_acts = Some(acts);
        Ok(self.dataset.tokenizer.decode(&tokens))
    }

    /// The summary line of `faultline train --json`.
    pub fn summary(&self) -> RunSummary {
        let (diverged_at, first_bad_tensor) = match &self.stopped {
            Some(EngineError::NonFinite { step, tensor }) => (Some(*step), Some(tensor.clone())),
            _ => (None, None),
        };
        RunSummary {
            steps_run: self.steps_done,
            vocab_size: self.model.config.vocab_size,
            corpus: self.dataset.info.id.clone(),
            train_loss: self.last_eval.as_ref().map(|e| e.train_loss).or(self.last_step.as_ref().map(|s| s.loss)),
            val_loss: self.last_eval.as_ref().and_then(|e| e.val_loss),
            diverged_at,
            first_bad_tensor,
            tokens_per_s: if self.train_ms > 0.0 { self.tokens_trained as f64 / (self.train_ms / 1e3) } else { 0.0 },
            entropy_rate: self.dataset.info.entropy_rate,
            diagnosis: Vec::new(),
            backend: self.backend.name(),
        }
    }
}
