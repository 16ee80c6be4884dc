//! attention.wgsl: multi-head self-attention on packed qkv, and its backward pass.

use super::{entry_points, slots, Source};
use crate::uniforms::uniform_struct;

pub(crate) const SOURCE: Source = Source { file: "attention.wgsl", text: include_str!("attention.wgsl") };

slots! {
    Out = 1,
    Probs = 2,
    Qkv = 3,
    Dqkv = 4,
    Ds = 5,
    Dout = 6,
    SavedProbs = 7,
}

uniform_struct! {
    /// The forward pass: the shape, the score scale, and the causal mask and max subtraction
    /// (nonzero: on).
    AttentionUniforms at 0 {
        batch: u32,
        time: u32,
        d_model: u32,
        heads: u32,
        scale: f32,
        causal: u32,
        subtract_max: u32,
    }

    /// The backward passes: the shape and the score scale (`attention_backward_qkv` reads no
    /// scale). They need no mask: dS is zero wherever the saved probabilities are.
    AttentionBackwardUniforms at 8 {
        batch: u32,
        time: u32,
        d_model: u32,
        heads: u32,
        scale: f32,
    }
}

entry_points! {
    /// The softmax of the scores and the weighted sum of values, one thread per query row.
    Attention = "attention", AttentionUniforms;
    /// dS from dO through the softmax, one thread per query row.
    AttentionBackwardScores = "attention_backward_scores", AttentionBackwardUniforms;
    /// dQ, dK and dV, one thread per element of dqkv.
    AttentionBackwardQkv = "attention_backward_qkv", AttentionBackwardUniforms;
}
