//! optim.wgsl: the optimiser updates, which also apply a waiting gradient's clip factor.

use super::{entry_points, slots, Source};
use crate::uniforms::uniform_struct;

pub(crate) const SOURCE: Source = Source { file: "optim.wgsl", text: include_str!("optim.wgsl") };

slots! {
    Param = 1,
    Grad = 2,
    /// The first moment (AdamW) or the velocity (SGD).
    M = 3,
    /// The second moment (AdamW).
    V = 4,
    /// (clip factor, healthy), from reduce.wgsl's `global_norm`.
    Status = 5,
}

uniform_struct! {
    /// AdamW's hyperparameters over `len` parameters, its bias corrections (computed on the host
    /// as the CPU does), and `clip`: 1 when the gradient waits for its clip factor.
    AdamWUniforms at 0 {
        len: u32,
        lr: f32,
        beta1: f32,
        beta2: f32,
        eps: f32,
        weight_decay: f32,
        bias1: f32,
        bias2: f32,
        clip: u32,
    }

    /// SGD's hyperparameters over `len` parameters, and `clip`: 1 when the gradient waits for its
    /// clip factor.
    SgdUniforms at 6 {
        len: u32,
        lr: f32,
        momentum: f32,
        weight_decay: f32,
        clip: u32,
    }
}

entry_points! {
    /// AdamW with decoupled weight decay.
    AdamW = "adamw", AdamWUniforms;
    /// SGD with momentum and L2 weight decay.
    Sgd = "sgd", SgdUniforms;
}
