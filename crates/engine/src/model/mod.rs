//! The GPT: parameters, activations, forward and backward passes.
//!
//! Read it like a textbook. Every line a learner can break is a named switch of [`Faults`] at the
//! exact line it changes, with the shapes in comments. `N = B·T` rows, `C = d_model`, `F = 4C`,
//! `H` heads of width `d_k = C / H`, `V` vocabulary entries.
//!
//! - `mod.rs` (here): the [`Gpt`] itself (shape, faults, parameters on a backend), how a
//!   [`Pass`] runs, and the switches the faults turn (nonlinearity, softmax form, LayerNorm's
//!   epsilon, the attention scale).
//! - `params.rs`: the parameter tensors: their names, shapes, kinds and initialisation
//!   ([`ParamSpec`]), and [`ParamSet`], the layout the weights, gradients and optimiser state share.
//! - `activations.rs`: [`Activations`], what a forward pass saves for the backward pass, and the
//!   gradient scratch space.
//! - `forward.rs`: [`Gpt::forward`], embeddings to loss, block by block (pre-norm, or post-norm
//!   under `faults.post_norm`).
//! - `backward.rs`: [`Gpt::backward`], the hand-written backward pass, in the reverse order.

mod activations;
mod backward;
mod forward;
mod params;

pub use activations::{Activations, AttnActs, BlockActs, MlpActs, Scratch};
pub use params::{zeros_like, Block, Init, ParamSet, ParamSpec, TensorKind};

use crate::backend::{Activation, Backend, SoftmaxForm};
use crate::config::ModelConfig;
use crate::error::EngineError;
use crate::faults::Faults;

/// LayerNorm's epsilon.
pub const LN_EPS: f32 = 1e-5;
/// Standard deviation of the initial weights (GPT-2).
pub const INIT_STD: f32 = 0.02;

/// Seed of one dropout site's mask in one pass.
fn dropout_seed(pass: Pass, site: u64) -> u64 {
    pass.dropout_seed.wrapping_mul(0x9E37_79B9).wrapping_add(site)
}

/// How a forward pass runs.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Pass {
    /// Sequences and tokens per sequence in this pass (at most the activations' size).
    pub batch: usize,
    pub time: usize,
    /// Dropout probability (0 in evaluation and sampling).
    pub dropout: f32,
    /// Seed of this pass's dropout masks.
    pub dropout_seed: u64,
}

/// The model: shape, faults and parameters living on a backend.
pub struct Gpt<B: Backend> {
    pub config: ModelConfig,
    pub faults: Faults,
    pub specs: ParamSet<ParamSpec>,
    pub params: ParamSet<B::Buf>,
}

impl<B: Backend> Gpt<B> {
    /// A freshly initialised model, its parameters allocated against the backend's memory budget.
    pub fn new(backend: &mut B, config: ModelConfig, faults: Faults, seed: u64) -> Result<Self, EngineError> {
        let specs = ParamSet::describe(&config, &faults);
        let params = Self::upload(backend, &specs.initial_values(seed, &faults))?;
        Ok(Self { config, faults, specs, params })
    }

    /// Copies host values into freshly allocated backend buffers.
    pub fn upload(backend: &mut B, values: &ParamSet<Vec<f32>>) -> Result<ParamSet<B::Buf>, EngineError> {
        values.try_map(|v| {
            let mut buf = backend.alloc(v.len(), "parameters")?;
            backend.upload(&mut buf, v);
            Ok(buf)
        })
    }

    /// Number of trainable numbers.
    pub fn param_count(&self) -> usize {
        self.specs.tensors().iter().map(|s| s.numel()).sum()
    }

    /// Zero-filled buffers in the parameters' layout (gradients, optimiser moments), counted
    /// against the memory budget as `what`.
    pub fn zeros_like_params(&self, backend: &mut B, what: &str) -> Result<ParamSet<B::Buf>, EngineError> {
        zeros_like(backend, &self.specs, what)
    }

    /// The MLP's nonlinearity after the activation faults.
    pub fn mlp_activation(&self) -> Activation {
        if self.faults.dead_relu.is_some() {
            Activation::Relu // faults.dead_relu: ReLU, and the negative bias keeps its input below zero
        } else if self.faults.sigmoid_activation {
            Activation::Sigmoid // faults.sigmoid_activation: slope at most 1/4, saturating
        } else {
            Activation::Gelu
        }
    }

    fn softmax_form(&self) -> SoftmaxForm {
        SoftmaxForm {
            subtract_max: !self.faults.softmax_no_max_shift, // faults.softmax_no_max_shift: exp(x) overflows above ~88
            log_softmax: !self.faults.naive_log_softmax, // faults.naive_log_softmax: log(softmax(x)) is log(0) once p underflows
        }
    }

    fn ln_eps(&self) -> f32 {
        if self.faults.layernorm_no_eps {
            0.0 // faults.layernorm_no_eps: a constant row divides 0 by 0
        } else {
            LN_EPS
        }
    }

    fn attn_scale(&self) -> f32 {
        if self.faults.no_attn_scale {
            1.0 // faults.no_attn_scale: raw q·k scores, their spread grows with d_k
        } else {
            1.0 / (self.config.head_dim() as f32).sqrt()
        }
    }
}
