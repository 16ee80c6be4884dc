//! What a run needs in memory, known before anything is allocated.

use crate::config::{ModelConfig, RunConfig};
use crate::model::{Activations, ParamSet};
use serde::{Deserialize, Serialize};

/// Bytes a run allocates, by purpose, and the budget it must fit in.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct MemoryEstimate {
    pub parameters: u64,
    pub gradients: u64,
    pub optimizer: u64,
    /// Saved activations of one micro-batch, plus the single-sequence buffers used for sampling.
    pub activations: u64,
    pub total: u64,
    pub budget: u64,
}

impl MemoryEstimate {
    pub fn fits(&self) -> bool {
        self.total <= self.budget
    }
}

/// The exact bytes [`crate::Trainer::new`] allocates for `cfg` with a vocabulary of `vocab_size`
/// (f32 numbers: 4 bytes each).
pub fn estimate(cfg: &RunConfig, vocab_size: usize) -> MemoryEstimate {
    let m: ModelConfig = cfg.model(vocab_size);
    let params: usize = ParamSet::describe(&m, &cfg.faults).tensors().iter().map(|s| s.numel()).sum();
    let bytes = |numbers: usize| numbers as u64 * 4;
    let parameters = bytes(params);
    let gradients = bytes(params);
    let optimizer = bytes(params * cfg.optimizer.state_per_param());
    let activations = bytes(
        Activations::<()>::numel(&m, cfg.effective_batch(), m.context) + Activations::<()>::numel(&m, 1, m.context),
    );
    let total = parameters + gradients + optimizer + activations;
    MemoryEstimate { parameters, gradients, optimizer, activations, total, budget: cfg.memory_budget_bytes() }
}
