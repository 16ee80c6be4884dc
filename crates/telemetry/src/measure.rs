//! The measurements read off a run's records, written once: the detector, the app's exercises and
//! charts, the kept runs and the symptom tests all use these, so a number means the same everywhere.

use crate::{EvalRecord, StepRecord, TensorKind};

/// The median (the upper one of an even count) of `values`; `None` when there are none.
pub fn median(values: impl IntoIterator<Item = f32>) -> Option<f32> {
    let mut v: Vec<f32> = values.into_iter().collect();
    v.sort_by(f32::total_cmp);
    v.get(v.len() / 2).copied()
}

/// The median gradient norm of `steps`.
pub fn median_grad_norm(steps: &[StepRecord]) -> Option<f32> {
    median(steps.iter().map(|s| s.grad_norm))
}

impl EvalRecord {
    /// Every head's attention entropy, block by block.
    fn head_entropies(&self) -> impl Iterator<Item = f32> + '_ {
        self.blocks.iter().flat_map(|b| b.attn_entropy.iter().copied())
    }

    /// The mean attention entropy over every head, in nats (0 with no heads measured).
    pub fn mean_attention_entropy(&self) -> f32 {
        let (sum, count) = self.head_entropies().fold((0.0, 0usize), |(s, n), e| (s + e, n + 1));
        sum / count.max(1) as f32
    }

    /// The lowest attention entropy of any head, in nats (infinite with no heads measured).
    pub fn min_attention_entropy(&self) -> f32 {
        self.head_entropies().fold(f32::INFINITY, f32::min)
    }

    /// The largest share of one head's attention on later positions.
    pub fn max_attention_above_diagonal(&self) -> f32 {
        self.blocks.iter().flat_map(|b| b.attn_above_diag.iter().copied()).fold(0.0, f32::max)
    }

    /// The largest fraction of MLP units that never fire, over the blocks.
    pub fn max_dead_fraction(&self) -> f32 {
        self.blocks.iter().map(|b| b.dead_fraction).fold(0.0, f32::max)
    }

    /// The mean fraction of MLP units that never fire, over the blocks.
    pub fn mean_dead_fraction(&self) -> Option<f32> {
        let blocks = self.blocks.len();
        (blocks > 0).then(|| self.blocks.iter().map(|b| b.dead_fraction).sum::<f32>() / blocks as f32)
    }

    /// Block 0's gradient norm over the last block's; `None` without blocks or when the last block's is 0.
    pub fn first_to_last_grad(&self) -> Option<f32> {
        let (first, last) = (self.blocks.first()?, self.blocks.last()?);
        (last.grad_norm > 0.0).then(|| first.grad_norm / last.grad_norm)
    }

    /// The median of ‖Δw‖/‖w‖ over the tensors other than LayerNorms of the blocks `block` accepts
    /// (`None`: the embeddings and head).
    pub fn median_update_ratio(&self, block: impl Fn(Option<usize>) -> bool) -> Option<f32> {
        let tensors = self.tensors.iter().filter(|t| block(t.block) && !t.kind.is_some_and(TensorKind::is_layer_norm));
        median(tensors.filter_map(|t| t.update_ratio))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_median_is_the_upper_middle_value() {
        assert_eq!(median([3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median([4.0, 1.0, 3.0, 2.0]), Some(3.0));
        assert_eq!(median([]), None);
    }
}
