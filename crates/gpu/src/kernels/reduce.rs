//! reduce.wgsl: the sums of squares, the global norm and clip factor, and the bias gradient.

use super::{entry_points, slots, Source};
use crate::uniforms::uniform_struct;

pub(crate) const SOURCE: Source = Source { file: "reduce.wgsl", text: include_str!("reduce.wgsl") };

slots! {
    Out = 1,
    X = 2,
    /// (clip factor, healthy), written by `global_norm`.
    Status = 3,
}

uniform_struct! {
    /// `len` elements of x, their partial sums written from `out[offset]`.
    SumSquaresUniforms at 0 {
        len: u32,
        offset: u32,
    }

    /// `slots` slots of partial sums, `stride` floats apart, the first `gradients` of them the
    /// gradients', to clip to `max_norm` (0: no clipping).
    GlobalNormUniforms at 4 {
        slots: u32,
        gradients: u32,
        stride: u32,
        max_norm: f32,
    }

    /// `rows` rows of width `cols`.
    BiasBackwardUniforms at 5 {
        rows: u32,
        cols: u32,
    }
}

entry_points! {
    /// Partial sums of squares, one per workgroup.
    SumSquares = "sum_squares", SumSquaresUniforms;
    /// The slots' sums, the global norm, the clip factor and the health flag, in one workgroup.
    GlobalNorm = "global_norm", GlobalNormUniforms;
    /// `out[c]` += the column sums of x.
    BiasBackward = "bias_backward", BiasBackwardUniforms;
}
