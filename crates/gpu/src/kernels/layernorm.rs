//! layernorm.wgsl: LayerNorm over rows, and its backward pass.

use super::{entry_points, slots, Source};
use crate::uniforms::uniform_struct;

pub(crate) const SOURCE: Source = Source { file: "layernorm.wgsl", text: include_str!("layernorm.wgsl") };

slots! {
    Out = 1,
    Mean = 2,
    Rstd = 3,
    X = 4,
    Gain = 5,
    Bias = 6,
    Dx = 7,
    Dgain = 8,
    Dbias = 9,
    Dout = 10,
    SavedMean = 11,
    SavedRstd = 12,
}

uniform_struct! {
    /// `rows` rows of width `cols`, and the epsilon under the square root.
    LayernormUniforms at 0 {
        rows: u32,
        cols: u32,
        eps: f32,
    }

    /// `rows` rows of width `cols` (the saved rstd already holds the epsilon).
    LayernormBackwardUniforms at 13 {
        rows: u32,
        cols: u32,
    }
}

entry_points! {
    /// The normalised rows, saving each row's mean and rstd.
    Layernorm = "layernorm", LayernormUniforms;
    /// dx, one thread per row.
    LayernormBackwardInput = "layernorm_backward_input", LayernormBackwardUniforms;
    /// dgain and dbias, one thread per column.
    LayernormBackwardParams = "layernorm_backward_params", LayernormBackwardUniforms;
}
