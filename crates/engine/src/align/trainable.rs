//! What a fine-tuning run's optimiser updates: every weight (AdamW, no decay), or LoRA adapters on
//! the frozen pretrained model. DPO and supervised fine-tuning share it.

use super::lora::Lora;
use crate::backend::{Backend, Tensors};
use crate::config::{OptimizerKind, RunConfig};
use crate::error::EngineError;
use crate::model::{Gpt, ParamSet};
use crate::optim::{Optimizer, UpdateSettings};
use serde::{Deserialize, Serialize};

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
    pub(super) fn new(backend: &mut B, model: &Gpt<B>, rank: usize, seed: u64) -> Result<Self, EngineError> {
        Ok(match rank {
            0 => Trainable::Full(Optimizer::new(backend, &model.specs, OptimizerKind::Adamw)?),
            rank => Trainable::Lora(Lora::new(backend, &model.config, &model.params, rank, seed)?),
        })
    }

    /// Numbers the optimiser trains.
    pub(super) fn count(&self, model: &Gpt<B>) -> usize {
        match self {
            Trainable::Full(_) => model.param_count(),
            Trainable::Lora(lora) => lora.trainable(),
        }
    }

    pub(super) fn memory(&self, model: &Gpt<B>, backend: &B) -> FineTuneMemory {
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
    pub(super) fn project(&mut self, backend: &mut B, grads: &ParamSet<B::Buf>) {
        if let Trainable::Lora(lora) = self {
            lora.project(backend, grads); // ∂L/∂A, ∂L/∂B from ∂L/∂W
        }
    }

    /// Clips what is trained by its global norm and takes one AdamW step at `lr` (no weight decay);
    /// under LoRA, then writes `W₀ + A·B` back into the weights for the next pass.
    pub(super) fn update(
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
