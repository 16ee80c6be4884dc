//! The model a fine-tuning run trains, on its backend: its gradients, and what its optimiser updates:
//! every weight (AdamW, no decay), or LoRA adapters on the frozen pretrained model. DPO and supervised
//! fine-tuning share it, from zeroing the gradients to reading the step back.

use super::lora::Lora;
use crate::backend::{Backend, StepReadout, Tensors};
use crate::config::{OptimizerKind, RunConfig};
use crate::data::Tokenizer;
use crate::error::{ConfigError, EngineError};
use crate::model::{Activations, Gpt, ParamSet, Pass};
use crate::optim::{Optimizer, UpdateSettings};
use crate::rng::Rng;
use crate::sampling::{sample_next, SamplingConfig};
use serde::{Deserialize, Serialize};

/// A fine-tuned model on its backend, with its gradients and what is trained.
pub(super) struct Policy<B: Backend> {
    pub(super) backend: B,
    pub(super) model: Gpt<B>,
    pub(super) grads: ParamSet<B::Buf>,
    pub(super) trainable: Trainable<B>,
    readouts: Vec<StepReadout>,
}

impl<B: Backend> Policy<B> {
    /// `model` to be fine-tuned: every weight for rank 0, else rank-`rank` adapters on its weights.
    pub(super) fn new(mut backend: B, model: Gpt<B>, rank: usize, seed: u64) -> Result<Self, EngineError> {
        let grads = model.zeros_like_params(&mut backend, "gradients")?;
        let trainable = Trainable::new(&mut backend, &model, rank, seed)?;
        Ok(Policy { backend, model, grads, trainable, readouts: Vec::new() })
    }

    pub(super) fn zero_grads(&mut self) {
        for g in self.grads.iter_mut() {
            self.backend.fill(g, 0.0);
        }
    }

    /// After a backward pass: the adapters' gradients from the weights' (nothing to do for full
    /// fine-tuning).
    pub(super) fn project(&mut self) {
        self.trainable.project(&mut self.backend, &self.grads);
    }

    /// After [`Policy::project`], for the step whose per-row losses are `losses`: clipping, one
    /// update at `lr`, and the step read back (its losses and gradient sums of squares).
    pub(super) fn finish_step(&mut self, losses: &B::Buf, grad_clip: f32, lr: f32) -> StepReadout {
        let Policy { backend, model, grads, trainable, readouts } = self;
        trainable.update(backend, model, grads, std::slice::from_ref(losses), grad_clip, lr);
        backend.keep_step(std::slice::from_ref(losses));
        backend.read_steps(readouts);
        readouts.last().cloned().unwrap_or_default()
    }

    /// After a forward pass with targets over `x` (`[batch, time]`), whose cross-entropy gradient
    /// the activations hold: adds to the gradients that of `−Σ_s coefs[s] · log π(sequence s)`,
    /// where a sequence's log-probability sums its rows whose `mask` is 1, and projects them onto
    /// the adapters. DPO and the policy gradient are both this, with their own coefficients.
    pub(super) fn backward_weighted(
        &mut self,
        acts: &mut Activations<B::Buf>,
        weights: &mut B::Buf,
        x: &[u32],
        mask: &[f32],
        coefs: &[f64],
    ) {
        let (v, batch) = (self.model.config.vocab_size, coefs.len());
        let n = x.len();
        let time = n / batch.max(1);
        // Each counted row's cross-entropy gradient, (softmax − onehot) / n, is −∂ log π / ∂logits / n.
        let mut w = vec![0.0f32; n * v];
        for (s, &coef) in coefs.iter().enumerate() {
            for r in s * time..(s + 1) * time {
                w[r * v..(r + 1) * v].fill((coef * f64::from(mask[r]) * n as f64) as f32);
            }
        }
        self.backend.upload(weights, &w);
        self.backend.mul_assign(&mut acts.dlogits, weights, n * v);
        let pass = Pass { batch, time, dropout: 0.0, dropout_seed: 0 };
        self.model.backward(&mut self.backend, acts, &mut self.grads, x, pass);
        self.project();
    }

    /// Continues every sequence of `seqs` at temperature 1, all in one batch, token by token, until
    /// each has ended its unit (a newline, or a sentence's ". "), grown by `max_new` tokens or
    /// filled the context.
    pub(super) fn sample(
        &mut self,
        acts: &mut Activations<B::Buf>,
        tokenizer: &Tokenizer,
        seqs: &mut [Vec<u32>],
        max_new: usize,
        rng: &mut Rng,
    ) {
        let (v, context) = (self.model.config.vocab_size, self.model.config.context);
        let starts: Vec<usize> = seqs.iter().map(Vec::len).collect();
        let mut open: Vec<bool> = seqs.iter().map(|s| !s.is_empty() && s.len() < context && max_new > 0).collect();
        while open.iter().any(|&o| o) {
            let time = seqs.iter().map(Vec::len).max().unwrap_or(1);
            let mut x = vec![0u32; seqs.len() * time];
            for (s, ids) in seqs.iter().enumerate() {
                x[s * time..s * time + ids.len()].copy_from_slice(ids);
            }
            let pass = Pass { batch: seqs.len(), time, dropout: 0.0, dropout_seed: 0 };
            self.model.forward(&mut self.backend, acts, &x, None, pass);
            let logits = self.backend.download(&acts.logits);
            for (s, ids) in seqs.iter_mut().enumerate() {
                if !open[s] {
                    continue;
                }
                let r = s * time + ids.len() - 1;
                ids.push(sample_next(&logits[r * v..(r + 1) * v], ids, &SamplingConfig::PLAIN, rng));
                let text = tokenizer.decode(&ids[starts[s]..]);
                let room = ids.len() < context && ids.len() - starts[s] < max_new;
                open[s] = room && !(text.ends_with('\n') || text.ends_with(". "));
            }
        }
    }

    /// Numbers the optimiser trains.
    pub(super) fn trainable_params(&self) -> usize {
        self.trainable.count(&self.model)
    }

    pub(super) fn memory(&self) -> FineTuneMemory {
        self.trainable.memory(&self.model, &self.backend)
    }
}

/// Refuses another step of a fine-tuning run: after the error that stopped it, or once `done` with
/// its `steps`.
pub(super) fn may_step(stopped: &Option<EngineError>, done: bool, steps: usize) -> Result<(), EngineError> {
    if let Some(e) = stopped {
        return Err(e.clone());
    }
    if done {
        return Err(ConfigError::new("steps", format!("the run has finished its {steps} steps")).into());
    }
    Ok(())
}

/// Every weight, or rank-r adapters.
pub(super) enum Trainable<B: Backend> {
    Full(Optimizer<B>),
    Lora(Lora<B>),
}

/// Where a fine-tuning run's memory goes, counted in numbers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FineTuneMemory {
    /// The model's weights.
    pub weights: usize,
    /// Numbers the optimiser updates: every weight, or the adapters'.
    pub trainable: usize,
    /// Gradient numbers held during a step: every weight's (the backward pass computes them all),
    /// plus the adapters' under LoRA.
    pub gradients: usize,
    /// AdamW's two moments per trainable number.
    pub optimizer_state: usize,
    /// LoRA's frozen copy of the adapted matrices (0 without LoRA).
    pub frozen_copy: usize,
    /// Everything the run allocated on its backend (weights, gradients, optimiser state,
    /// activations, buffers), in bytes.
    pub total_bytes: u64,
}

impl<B: Backend> Trainable<B> {
    /// Full fine-tuning for rank 0, else rank-`rank` adapters on `model`'s current weights.
    fn new(backend: &mut B, model: &Gpt<B>, rank: usize, seed: u64) -> Result<Self, EngineError> {
        Ok(match rank {
            0 => Trainable::Full(Optimizer::new(backend, &model.specs, OptimizerKind::Adamw)?),
            rank => Trainable::Lora(Lora::new(backend, &model.config, &model.params, rank, seed)?),
        })
    }

    /// Numbers the optimiser trains.
    fn count(&self, model: &Gpt<B>) -> usize {
        match self {
            Trainable::Full(_) => model.param_count(),
            Trainable::Lora(lora) => lora.trainable(),
        }
    }

    fn memory(&self, model: &Gpt<B>, backend: &B) -> FineTuneMemory {
        let weights = model.param_count();
        let (trainable, adapter_grads, frozen_copy) = match self {
            Trainable::Full(_) => (weights, 0, 0),
            Trainable::Lora(lora) => (lora.trainable(), lora.trainable(), lora.frozen_numbers()),
        };
        FineTuneMemory {
            weights,
            trainable,
            // The backward pass always fills every weight's gradient; LoRA projects it onto the adapters.
            gradients: weights + adapter_grads,
            optimizer_state: 2 * trainable,
            frozen_copy,
            total_bytes: backend.memory_used(),
        }
    }

    /// After a backward pass: the adapters' gradients from the weights' (nothing for full fine-tuning).
    fn project(&mut self, backend: &mut B, grads: &ParamSet<B::Buf>) {
        if let Trainable::Lora(lora) = self {
            lora.project(backend, grads); // ∂L/∂A, ∂L/∂B from ∂L/∂W
        }
    }

    /// Clips what is trained by its global norm and takes one AdamW step at `lr` (no weight decay);
    /// under LoRA, then writes `W₀ + A·B` back into the weights for the next pass.
    fn update(
        &mut self,
        backend: &mut B,
        model: &mut Gpt<B>,
        grads: &mut ParamSet<B::Buf>,
        losses: &(impl Tensors<B::Buf> + ?Sized),
        grad_clip: f32,
        lr: f32,
    ) {
        let hyper = UpdateSettings { lr, weight_decay: 0.0, ..UpdateSettings::from(&RunConfig::default()) };
        match self {
            Trainable::Full(optimizer) => {
                backend.clip_grad_norm(grads, losses, grad_clip);
                optimizer.update(backend, &mut model.params, grads, &model.specs, hyper);
            }
            Trainable::Lora(lora) => {
                backend.clip_grad_norm(lora.grads_mut(), losses, grad_clip);
                lora.update(backend, lr, hyper.beta1, hyper.beta2, hyper.eps);
                lora.merge(backend, &mut model.params); // W = W₀ + A·B for the next pass
            }
        }
    }
}
