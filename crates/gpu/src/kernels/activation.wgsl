// The MLP's nonlinearities and their derivatives, element-wise over `len` elements, in the CPU's
// formulas: GELU's tanh approximation with tanh(x) = 1 - 2 / (e^{2x} + 1).

struct ActivationUniforms {
    len: u32,
    kind: u32, // 0 GELU, 1 ReLU, 2 Sigmoid
}

@group(0) @binding(0) var<uniform> u: ActivationUniforms;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<storage, read> x: array<f32>;
@group(0) @binding(3) var<storage, read> dout: array<f32>;

const SQRT_2_OVER_PI: f32 = 0.7978845608028654;
const GELU_CUBIC: f32 = 0.044715;

fn tanh_exp(v: f32) -> f32 {
    return 1.0 - 2.0 / (exp(v + v) + 1.0);
}

fn sigmoid(v: f32) -> f32 {
    return 1.0 / (1.0 + exp(-v));
}

fn gelu(v: f32) -> f32 {
    let inner = SQRT_2_OVER_PI * (v + GELU_CUBIC * v * v * v);
    return 0.5 * v * (1.0 + tanh_exp(inner));
}

fn gelu_grad(v: f32) -> f32 {
    let inner = SQRT_2_OVER_PI * (v + GELU_CUBIC * v * v * v);
    let th = tanh_exp(inner);
    let d_inner = SQRT_2_OVER_PI * (1.0 + 3.0 * GELU_CUBIC * v * v);
    return 0.5 * (1.0 + th) + 0.5 * v * (1.0 - th * th) * d_inner;
}

fn apply(v: f32) -> f32 {
    if (u.kind == 0u) {
        return gelu(v);
    }
    if (u.kind == 1u) {
        return max(v, 0.0);
    }
    return sigmoid(v);
}

// f'(v): ReLU's slope is 1 only for v > 0, so a unit whose input stays negative passes nothing.
fn slope(v: f32) -> f32 {
    if (u.kind == 0u) {
        return gelu_grad(v);
    }
    if (u.kind == 1u) {
        return select(0.0, 1.0, v > 0.0);
    }
    let s = sigmoid(v);
    return s * (1.0 - s);
}

// out = f(x)
@compute @workgroup_size(256)
fn activation(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    for (var i = gid.x; i < u.len; i += nwg.x * 256u) {
        out[i] = apply(x[i]);
    }
}

// out (dx) = f'(x) · dout
@compute @workgroup_size(256)
fn activation_backward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    for (var i = gid.x; i < u.len; i += nwg.x * 256u) {
        out[i] = dout[i] * slope(x[i]);
    }
}
