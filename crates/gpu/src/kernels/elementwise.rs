//! elementwise.wgsl: fill, scale, clip scaling, add, multiply and bias over the first `len`
//! elements. Each group of entry points has its own uniforms, holding only what it reads.

use super::{entry_points, slots, Source};
use crate::uniforms::uniform_struct;

pub(crate) const SOURCE: Source = Source { file: "elementwise.wgsl", text: include_str!("elementwise.wgsl") };

slots! {
    X = 1,
    Y = 2,
    /// (clip factor, healthy), from reduce.wgsl's `global_norm`.
    Status = 3,
}

uniform_struct! {
    /// `len` elements, for the kernels that read nothing else.
    LenUniforms at 0 {
        len: u32,
    }

    /// `len` elements and the value `fill` writes or `scale` multiplies by.
    ValueUniforms at 4 {
        len: u32,
        value: f32,
    }

    /// `len` = rows · cols elements, in rows of width `cols`.
    AddBiasUniforms at 5 {
        len: u32,
        cols: u32,
    }
}

entry_points! {
    /// x = value
    Fill = "fill", ValueUniforms;
    /// x *= value
    Scale = "scale", ValueUniforms;
    /// x *= the clip factor, when the step is healthy
    ClipScale = "clip_scale", LenUniforms;
    /// x += y
    AddAssign = "add_assign", LenUniforms;
    /// x *= y (the dropout mask)
    MulAssign = "mul_assign", LenUniforms;
    /// `x[r, c] += y[c]`
    AddBias = "add_bias", AddBiasUniforms;
}
