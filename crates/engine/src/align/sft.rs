//! Supervised fine-tuning: a pretrained model trained further on a small text of the learner's,
//! every weight or LoRA adapters only, with the loss on the text and on a part of it held out. It is
//! where the guide's "use LoRA against overfitting" can be measured: the gap between the two.

use super::trainable::{may_step, FineTuneMemory, Policy};
use crate::backend::Backend;
use crate::config::RunConfig;
use crate::error::{ConfigError, EngineError};
use crate::model::{Activations, Pass};
use crate::optim::global_norm;
use crate::rng::Rng;
use crate::telemetry::align::{SftEvalRecord, SftHistory, SftStepRecord};
use crate::trainer::Trainer;

/// The share of the text, at its end, held out to measure the validation loss.
pub const SFT_HELD_OUT: f64 = 0.25;
/// Windows of the context's length averaged for each evaluation loss, at most.
const EVAL_WINDOWS: usize = 64;

/// How a supervised fine-tuning run trains.
#[derive(Clone, Debug, PartialEq)]
pub struct SftSettings {
    /// Constant AdamW rate, no weight decay.
    pub lr: f32,
    /// Rank of the LoRA adapters; 0 trains every weight.
    pub lora_rank: usize,
    pub steps: usize,
    pub eval_every: usize,
    /// Sequences per step.
    pub batch: usize,
    pub grad_clip: f32,
    pub seed: u64,
}

impl SftSettings {
    /// The fine-tuning settings of `cfg`: its fine-tuning rate and LoRA rank, its batch, clipping
    /// and seed; 300 steps, evaluated every 25.
    pub fn from_config(cfg: &RunConfig) -> SftSettings {
        SftSettings {
            lr: cfg.fine_tuning.lr,
            lora_rank: cfg.fine_tuning.lora_rank,
            steps: 300,
            eval_every: 25,
            batch: cfg.batch_size,
            grad_clip: cfg.grad_clip,
            seed: cfg.seed,
        }
    }

    /// Checks every setting, naming the first bad one as the command line spells it.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if !(self.lr.is_finite() && self.lr > 0.0) {
            return Err(ConfigError::new("fine-tune-lr", format!("must be a positive number, got {}", self.lr)));
        }
        if self.steps == 0 || self.eval_every == 0 || self.batch == 0 {
            return Err(ConfigError::new("steps", "steps, eval-every and the batch must be at least 1"));
        }
        if !(self.grad_clip.is_finite() && self.grad_clip >= 0.0) {
            return Err(ConfigError::new(
                "grad-clip",
                format!("must be 0 or a positive number, got {}", self.grad_clip),
            ));
        }
        Ok(())
    }
}

/// One supervised fine-tuning run on backend `B`.
pub struct SftRun<B: Backend> {
    settings: SftSettings,
    policy: Policy<B>,
    acts: Activations<B::Buf>,
    train: Vec<u32>,
    val: Vec<u32>,
    rng: Rng,
    x: Vec<u32>,
    y: Vec<u32>,
    history: SftHistory,
    steps_done: usize,
}

impl<B: Backend> SftRun<B> {
    /// Fine-tunes the model `base` holds on `text`, read with the base model's own vocabulary (a
    /// character it never saw is refused, naming it); the last [`SFT_HELD_OUT`] of the text is held
    /// out. Takes a first evaluation at step 0.
    pub fn new(base: Trainer<B>, text: &str, settings: SftSettings) -> Result<Self, EngineError> {
        settings.validate()?;
        let (backend, model, dataset) = base.into_parts();
        let tokens = dataset.tokenizer.encode(text).map_err(|e| {
            ConfigError::new("text-file", format!("fine-tuning keeps the base model's vocabulary, and {e}"))
        })?;
        let m = model.config;
        let cut = tokens.len() - (tokens.len() as f64 * SFT_HELD_OUT) as usize;
        let (train, val) = (tokens[..cut].to_vec(), tokens[cut..].to_vec());
        let needed = m.context + 1;
        if train.len() < needed || val.len() < needed {
            let chars = (needed as f64 / SFT_HELD_OUT).ceil() as usize;
            return Err(ConfigError::new(
                "text-file",
                format!(
                    "the text has {} tokens; fine-tuning needs at least {chars}, so that the part held out ({}%) \
                     holds one window of {needed}",
                    tokens.len(),
                    (SFT_HELD_OUT * 100.0) as usize
                ),
            )
            .into());
        }
        let mut policy = Policy::new(backend, model, settings.lora_rank, settings.seed)?;
        let backend = &mut policy.backend;
        let acts = Activations::new(backend, &m, settings.batch, m.context)?;
        let n = settings.batch * m.context;
        let mut run = SftRun {
            rng: Rng::derive(settings.seed, "sft batches"),
            settings,
            policy,
            acts,
            train,
            val,
            x: vec![0; n],
            y: vec![0; n],
            history: SftHistory::default(),
            steps_done: 0,
        };
        run.evaluate();
        Ok(run)
    }

    pub fn history(&self) -> &SftHistory {
        &self.history
    }

    pub fn steps_done(&self) -> usize {
        self.steps_done
    }

    pub fn is_done(&self) -> bool {
        self.steps_done >= self.settings.steps || self.history.stopped.is_some()
    }

    /// Numbers the optimiser trains.
    pub fn trainable_params(&self) -> usize {
        self.policy.trainable_params()
    }

    pub fn memory(&self) -> FineTuneMemory {
        self.policy.memory()
    }

    /// Token counts of the text's two parts: trained on, held out.
    pub fn split_tokens(&self) -> (usize, usize) {
        (self.train.len(), self.val.len())
    }

    /// One step: a batch of random windows of the text, forward, backward, clipping and an update.
    pub fn step(&mut self) -> Result<SftStepRecord, EngineError> {
        may_step(&self.history.stopped, self.is_done(), self.settings.steps)?;
        let context = self.policy.model.config.context;
        for (x, y) in self.x.chunks_exact_mut(context).zip(self.y.chunks_exact_mut(context)) {
            let start = self.rng.below(self.train.len() - context);
            x.copy_from_slice(&self.train[start..start + context]);
            y.copy_from_slice(&self.train[start + 1..start + context + 1]);
        }
        self.policy.zero_grads();
        let pass = Pass { batch: self.settings.batch, time: context, dropout: 0.0, dropout_seed: 0 };
        self.policy.model.forward(&mut self.policy.backend, &mut self.acts, &self.x, Some(&self.y), pass);
        self.policy.model.backward(&mut self.policy.backend, &mut self.acts, &mut self.policy.grads, &self.x, pass);
        self.policy.project();
        let (clip, lr) = (self.settings.grad_clip, self.settings.lr);
        let readout = self.policy.finish_step(&self.acts.losses, clip, lr);
        let rows = readout.losses.first().map_or(&[][..], |r| &r[..pass.batch * context]);
        let loss = (rows.iter().map(|&l| f64::from(l)).sum::<f64>() / rows.len().max(1) as f64) as f32;
        let grad_norm = global_norm(&readout.grad_sq) as f32;
        self.steps_done += 1;
        let step = self.steps_done;
        if !(loss.is_finite() && grad_norm.is_finite()) {
            let e = EngineError::NonFinite { step, tensor: if loss.is_finite() { "gradients" } else { "loss" }.into() };
            self.history.stopped = Some(e.clone());
            return Err(e);
        }
        let record = SftStepRecord { step, loss, grad_norm };
        self.history.steps.push(record.clone());
        if step.is_multiple_of(self.settings.eval_every) || step == self.settings.steps {
            self.evaluate();
        }
        Ok(record)
    }

    /// The mean loss over windows of each part of the text, the same windows every time: evenly
    /// spread starts, at most [`EVAL_WINDOWS`] of them.
    fn evaluate(&mut self) {
        let train_loss = self.text_loss(false);
        let val_loss = self.text_loss(true);
        self.history.evals.push(SftEvalRecord { step: self.steps_done, train_loss, val_loss });
    }

    fn text_loss(&mut self, held_out: bool) -> f32 {
        let context = self.policy.model.config.context;
        let tokens = if held_out { &self.val } else { &self.train };
        let last_start = tokens.len() - context - 1;
        let windows = EVAL_WINDOWS.min(last_start + 1);
        let starts: Vec<usize> =
            (0..windows).map(|i| if windows == 1 { 0 } else { i * last_start / (windows - 1) }).collect();
        let (mut total, mut count) = (0.0f64, 0usize);
        for chunk in starts.chunks(self.settings.batch) {
            let n = chunk.len() * context;
            let (mut x, mut y) = (vec![0u32; n], vec![0u32; n]);
            for (k, &start) in chunk.iter().enumerate() {
                x[k * context..(k + 1) * context].copy_from_slice(&tokens[start..start + context]);
                y[k * context..(k + 1) * context].copy_from_slice(&tokens[start + 1..start + context + 1]);
            }
            let pass = Pass { batch: chunk.len(), time: context, dropout: 0.0, dropout_seed: 0 };
            self.policy.model.forward(&mut self.policy.backend, &mut self.acts, &x, Some(&y), pass);
            let losses = self.policy.backend.download(&self.acts.losses);
            total += losses[..n].iter().map(|&l| f64::from(l)).sum::<f64>();
            count += n;
        }
        (total / count.max(1) as f64) as f32
    }
}
