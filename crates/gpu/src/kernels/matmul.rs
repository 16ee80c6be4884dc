//! matmul.wgsl: the tiled matrix product, optionally accumulating or adding a bias.

use super::{entry_points, slots, Source};
use crate::uniforms::uniform_struct;

pub(crate) const SOURCE: Source = Source { file: "matmul.wgsl", text: include_str!("matmul.wgsl") };

slots! {
    Out = 1,
    A = 2,
    B = 3,
    /// `a` viewed as vec4s, for `matmul_vec4`.
    A4 = 4,
    /// `b` viewed as vec4s, for `matmul_vec4`.
    B4 = 5,
    /// A linear layer's bias; a placeholder when `bias` is 0.
    Bias = 6,
}

uniform_struct! {
    /// `out[m, n] = op(a)[m, k] · op(b)[k, n]`; the flags are nonzero when on.
    MatmulUniforms at 0 {
        m: u32,
        k: u32,
        n: u32,
        trans_a: u32,
        trans_b: u32,
        accumulate: u32,
        bias: u32,
    }
}

entry_points! {
    /// Any operands.
    Matmul = "matmul", MatmulUniforms;
    /// Operands whose stored rows are whole vec4s.
    MatmulVec4 = "matmul_vec4", MatmulUniforms;
}
