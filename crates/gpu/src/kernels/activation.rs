//! activation.wgsl: the MLP's nonlinearities and their derivatives.

use super::{entry_points, slots, Source};
use crate::uniforms::uniform_struct;

pub(crate) const SOURCE: Source = Source { file: "activation.wgsl", text: include_str!("activation.wgsl") };

slots! {
    Out = 1,
    X = 2,
    Dout = 3,
}

uniform_struct! {
    /// `len` elements through the nonlinearity `kind` (0 GELU, 1 ReLU, 2 sigmoid).
    ActivationUniforms at 0 {
        len: u32,
        kind: u32,
    }
}

entry_points! {
    /// out = f(x)
    Activation = "activation", ActivationUniforms;
    /// out (dx) = f'(x) · dout
    ActivationBackward = "activation_backward", ActivationUniforms;
}
