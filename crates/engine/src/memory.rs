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

/// The same run's bytes when its weights are fine-tuned through rank-`rank` LoRA adapters
/// ([`crate::align::lora`]): the optimiser's moments shrink to the adapters', the gradients grow by
/// theirs (the backward pass still fills every weight's), a frozen copy of the adapted matrices is
/// kept, and the activations do not change.
pub fn with_lora(cfg: &RunConfig, vocab_size: usize, rank: usize) -> MemoryEstimate {
    let full = estimate(cfg, vocab_size);
    let m: ModelConfig = cfg.model(vocab_size);
    let (c, f) = (m.d_model, m.mlp_dim());
    let adapted: [(usize, usize); 4] = [(c, 3 * c), (c, c), (c, f), (f, c)];
    let adapters: usize = m.n_layers * adapted.iter().map(|&(i, o)| rank * (i + o)).sum::<usize>();
    let frozen: usize = m.n_layers * adapted.iter().map(|&(i, o)| i * o).sum::<usize>();
    let bytes = |numbers: usize| numbers as u64 * 4;
    let parameters = full.parameters + bytes(adapters + frozen);
    let gradients = full.gradients + bytes(adapters);
    let optimizer = bytes(adapters * cfg.optimizer.state_per_param());
    let total = parameters + gradients + optimizer + full.activations;
    MemoryEstimate { parameters, gradients, optimizer, total, ..full }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::faults::{measured::MEASURED, FaultId};
    use crate::guide::EntryId;

    fn mib(bytes: u64) -> String {
        format!("{:.1} MiB", bytes as f64 / 1048576.0)
    }

    /// The numbers of the out-of-memory entry's note on LoRA come from this computation: toy-English's
    /// vocabulary (29), `batch-too-large` at its default ×128.
    #[test]
    fn lora_does_not_shrink_the_activations_that_run_out_of_memory() {
        let mut cfg = RunConfig::default();
        cfg.faults.set(FaultId::BatchTooLarge, None).unwrap();
        let full = estimate(&cfg, 29);
        let lora = with_lora(&cfg, 29, 4);
        let accumulated = estimate(&RunConfig { grad_accum: 128, ..RunConfig::default() }, 29);
        assert_eq!(lora.activations, full.activations);
        assert!(lora.optimizer * 10 < full.optimizer && lora.total > full.total - full.optimizer);
        let note = MEASURED
            .iter()
            .find(|m| m.entry == EntryId::OutOfMemoryOom && m.fault == FaultId::BatchTooLarge)
            .expect("the out-of-memory entry has its LoRA note");
        for figure in [full.activations, full.total, full.optimizer, lora.optimizer, lora.total, accumulated.total] {
            assert!(
                note.measured.contains(&mib(figure)),
                "the note quotes {} ({figure} B): {}",
                mib(figure),
                note.measured
            );
        }
    }
}
