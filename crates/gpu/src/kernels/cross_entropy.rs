//! cross_entropy.wgsl: the loss of each row of logits against its target, with the gradient.

use super::{entry_points, slots, Source};
use crate::uniforms::uniform_struct;

pub(crate) const SOURCE: Source = Source { file: "cross_entropy.wgsl", text: include_str!("cross_entropy.wgsl") };

slots! {
    Losses = 1,
    Dlogits = 2,
    Logits = 3,
    Targets = 4,
}

uniform_struct! {
    /// `rows` rows of `vocab` logits, and the softmax's two switches (nonzero: the healthy form).
    CrossEntropyUniforms at 0 {
        rows: u32,
        vocab: u32,
        subtract_max: u32,
        log_softmax: u32,
    }
}

entry_points! {
    /// One thread per row: its loss, and the gradient of the mean loss.
    CrossEntropy = "cross_entropy", CrossEntropyUniforms;
}
