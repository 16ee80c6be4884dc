//! LoRA: low-rank adapters on every attention and MLP matrix, for fine-tuning with a fraction of the
//! trainable numbers (the guide's "use PEFT methods" fix).
//!
//! Each adapted matrix `W [in, out]` becomes `W₀ + A·B`, with the pretrained `W₀` frozen, `A [in, r]`
//! drawn from N(0, 1/in) and `B [r, out]` starting at zero, so the fine-tuned model starts exactly at
//! the pretrained one. The adapters reuse the model's own passes: the merged `W₀ + A·B` is written
//! into the model's weight before each forward pass, the backward pass computes `∂L/∂W` as it always
//! does, and because `W` is linear in each factor,
//!
//! ```text
//! ∂L/∂A = ∂L/∂W · Bᵀ        [in, r]
//! ∂L/∂B = Aᵀ · ∂L/∂W        [r, out]
//! ```
//!
//! Only `A` and `B` are updated (AdamW, no decay); every other tensor stays as pretrained. So the
//! trainable numbers and the optimiser's moments shrink to the adapters', while the full-size
//! `∂L/∂W` buffers and the activations remain: LoRA does not shrink what a forward and backward
//! pass hold.

use crate::backend::{AdamW, Backend, Gemm};
use crate::config::ModelConfig;
use crate::error::{ConfigError, EngineError};
use crate::model::{Block, ParamSet};
use crate::rng::Rng;

/// The adapters of one model, with their gradients and AdamW moments. Tensors are listed per
/// block in the order `w_qkv`, `w_proj`, `w_fc`, `w_out`.
pub struct Lora<B: Backend> {
    rank: usize,
    /// `(in, out)` of each adapted matrix.
    shapes: Vec<(usize, usize)>,
    /// The pretrained weights, frozen.
    base: Vec<B::Buf>,
    /// `[A₀, A₁, …, B₀, B₁, …]`, and their gradients and moments in the same order.
    params: Vec<B::Buf>,
    grads: Vec<B::Buf>,
    first: Vec<B::Buf>,
    second: Vec<B::Buf>,
    steps: u32,
}

/// The adapted matrices of one block.
fn adapted<P>(block: &Block<P>) -> [&P; 4] {
    [&block.w_qkv, &block.w_proj, &block.w_fc, &block.w_out]
}

fn adapted_mut<P>(block: &mut Block<P>) -> [&mut P; 4] {
    [&mut block.w_qkv, &mut block.w_proj, &mut block.w_fc, &mut block.w_out]
}

/// `(in, out)` of a block's adapted matrices.
fn block_shapes(m: &ModelConfig) -> [(usize, usize); 4] {
    let (c, f) = (m.d_model, m.mlp_dim());
    [(c, 3 * c), (c, c), (c, f), (f, c)]
}

impl<B: Backend> Lora<B> {
    /// Rank-`rank` adapters on `params`, whose current values become the frozen base.
    pub fn new(
        backend: &mut B,
        config: &ModelConfig,
        params: &ParamSet<B::Buf>,
        rank: usize,
        seed: u64,
    ) -> Result<Self, EngineError> {
        if rank == 0 || rank > config.d_model {
            return Err(ConfigError::new(
                "lora-rank",
                format!("must be between 1 and d_model ({}) for adapters, got {rank}", config.d_model),
            )
            .into());
        }
        let shapes: Vec<(usize, usize)> = (0..config.n_layers).flat_map(|_| block_shapes(config)).collect();
        let mut base = Vec::with_capacity(shapes.len());
        for block in &params.blocks {
            for w in adapted(block) {
                let mut copy = backend.alloc(backend.len(w), "LoRA base weights")?;
                backend.copy(&mut copy, w);
                base.push(copy);
            }
        }
        let mut rng = Rng::derive(seed, "lora");
        let sizes: Vec<usize> =
            shapes.iter().map(|&(i, _)| i * rank).chain(shapes.iter().map(|&(_, o)| rank * o)).collect();
        let mut adapter_params = Vec::with_capacity(sizes.len());
        for (k, &len) in sizes.iter().enumerate() {
            let mut buf = backend.alloc(len, "LoRA adapters")?;
            if k < shapes.len() {
                let std = 1.0 / (shapes[k].0 as f64).sqrt();
                let values: Vec<f32> = (0..len).map(|_| (rng.normal() * std) as f32).collect();
                backend.upload(&mut buf, &values); // A ~ N(0, 1/in); B stays 0, so A·B = 0
            }
            adapter_params.push(buf);
        }
        let zeros = |backend: &mut B, what: &str| -> Result<Vec<B::Buf>, EngineError> {
            sizes.iter().map(|&len| backend.alloc(len, what)).collect()
        };
        let grads = zeros(backend, "LoRA gradients")?;
        let first = zeros(backend, "LoRA optimizer state")?;
        let second = zeros(backend, "LoRA optimizer state")?;
        Ok(Lora { rank, shapes, base, params: adapter_params, grads, first, second, steps: 0 })
    }

    /// Numbers the optimiser trains: the adapters'.
    pub fn trainable(&self) -> usize {
        self.shapes.iter().map(|&(i, o)| self.rank * (i + o)).sum()
    }

    /// Numbers in the frozen copy of the adapted matrices.
    pub fn frozen_numbers(&self) -> usize {
        self.shapes.iter().map(|&(i, o)| i * o).sum()
    }

    /// Writes `W₀ + A·B` into each adapted weight of `params`.
    pub fn merge(&self, backend: &mut B, params: &mut ParamSet<B::Buf>) {
        let n = self.shapes.len();
        let weights = params.blocks.iter_mut().flat_map(adapted_mut);
        for (k, w) in weights.enumerate() {
            let (i, o) = self.shapes[k];
            backend.copy(w, &self.base[k]); // W = W₀
            backend.matmul(w, &self.params[k], &self.params[n + k], Gemm::new(i, self.rank, o).accumulate());
            // W += A·B  [in, out]
        }
    }

    /// The adapters' gradients from the full weights' gradients `grads` (chain rule through `W₀ + A·B`).
    pub fn project(&mut self, backend: &mut B, grads: &ParamSet<B::Buf>) {
        let n = self.shapes.len();
        let weight_grads = grads.blocks.iter().flat_map(adapted);
        for (k, dw) in weight_grads.enumerate() {
            let (i, o) = self.shapes[k];
            let (da, db) = self.grads.split_at_mut(n);
            backend.matmul(&mut da[k], dw, &self.params[n + k], Gemm::new(i, o, self.rank).transpose_b()); // dA = dW·Bᵀ  [in, r]
            backend.matmul(&mut db[k], &self.params[k], dw, Gemm::new(self.rank, i, o).transpose_a());
            // dB = Aᵀ·dW  [r, out]
        }
    }

    /// The adapters' gradients, for clipping.
    pub fn grads_mut(&mut self) -> &mut [B::Buf] {
        &mut self.grads
    }

    /// One AdamW step of every adapter (no weight decay).
    pub fn update(&mut self, backend: &mut B, lr: f32, beta1: f32, beta2: f32, eps: f32) {
        self.steps += 1;
        let h = AdamW { lr, beta1, beta2, eps, weight_decay: 0.0, step: self.steps };
        let tensors = self.params.iter_mut().zip(&self.grads).zip(self.first.iter_mut().zip(self.second.iter_mut()));
        for ((p, g), (m, v)) in tensors {
            backend.adamw_update(p, g, m, v, h);
        }
    }

    /// The adapters' gradients, `[∂A₀, …, ∂B₀, …]` (for the gradient checks).
    #[cfg(test)]
    pub(super) fn grads(&self) -> &[B::Buf] {
        &self.grads
    }

    /// The adapters themselves, writable (for the gradient checks).
    #[cfg(test)]
    pub(super) fn params_mut(&mut self) -> &mut [B::Buf] {
        &mut self.params
    }
}
