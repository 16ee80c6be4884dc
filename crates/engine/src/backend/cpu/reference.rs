//! The reference kernels: the plain formulas, matrix products through ndarray (`general_mat_mul`, the
//! `matrixmultiply` crate's blocked kernels), attention as whole per-head matrices. The fast kernels in
//! [`super::fast`] are tested against these (`tests/kernel_parity.rs`), and
//! [`super::CpuBackend::reference`] trains with them, as the baseline of `faultline bench`.
//!
//! The scalar formulas live here too: GELU, the sigmoid, and [`activation_slope`], which the
//! trainer also reads to count an MLP's dead units.

use super::Real;
use crate::backend::{Activation, AdamW, AttnShape, SoftmaxForm};
use ndarray::linalg::general_mat_mul;
use ndarray::{ArrayView2, ArrayViewMut2, ShapeBuilder};

/// `out[m,n] = op(a)·op(b)` (or `+=` when `accumulate`), in the layouts of [`crate::backend::Backend::matmul`].
#[allow(clippy::too_many_arguments)]
pub fn matmul<T: Real>(
    out: &mut [T],
    a: &[T],
    b: &[T],
    m: usize,
    k: usize,
    n: usize,
    trans_a: bool,
    trans_b: bool,
    accumulate: bool,
) {
    let a_view = if trans_a {
        ArrayView2::from_shape((k, m), &a[..m * k]).expect("a shape").reversed_axes()
    } else {
        ArrayView2::from_shape((m, k), &a[..m * k]).expect("a shape")
    };
    let b_view = if trans_b {
        ArrayView2::from_shape((n, k), &b[..k * n]).expect("b shape").reversed_axes()
    } else {
        ArrayView2::from_shape((k, n), &b[..k * n]).expect("b shape")
    };
    let mut c = ArrayViewMut2::from_shape((m, n), &mut out[..m * n]).expect("out shape");
    let beta = if accumulate { T::one() } else { T::zero() };
    general_mat_mul(T::one(), &a_view, &b_view, beta, &mut c);
}

/// The `[T, d_k]` block of head `h` of sequence `b` inside packed `qkv [N, 3C]`: `part` 0 is the
/// queries, 1 the keys, 2 the values. A strided view, no copy.
fn head_view<T: Real>(qkv: &[T], b: usize, h: usize, part: usize, s: AttnShape) -> ArrayView2<'_, T> {
    let (row, hd) = (3 * s.d_model, s.head_dim());
    let off = b * s.time * row + part * s.d_model + h * hd;
    ArrayView2::from_shape((s.time, hd).strides((row, 1)), &qkv[off..off + (s.time - 1) * row + hd]).expect("head view")
}

fn head_view_mut<T: Real>(qkv: &mut [T], b: usize, h: usize, part: usize, s: AttnShape) -> ArrayViewMut2<'_, T> {
    let (row, hd) = (3 * s.d_model, s.head_dim());
    let off = b * s.time * row + part * s.d_model + h * hd;
    ArrayViewMut2::from_shape((s.time, hd).strides((row, 1)), &mut qkv[off..off + (s.time - 1) * row + hd])
        .expect("head view")
}

/// [`crate::backend::Backend::attention`] as whole matrices: S = Q·Kᵀ·scale, masked softmax, O = P·V.
pub fn attention<T: Real>(
    out: &mut [T],
    probs: &mut [T],
    qkv: &[T],
    shape: AttnShape,
    scale: f32,
    causal: bool,
    form: SoftmaxForm,
) {
    let AttnShape { batch, time, d_model: c, heads } = shape;
    let hd = shape.head_dim();
    for b in 0..batch {
        for h in 0..heads {
            let q = head_view(qkv, b, h, 0, shape);
            let k = head_view(qkv, b, h, 1, shape);
            let v = head_view(qkv, b, h, 2, shape);
            let p_off = (b * heads + h) * time * time;
            let mut p = ArrayViewMut2::from_shape((time, time), &mut probs[p_off..p_off + time * time]).expect("probs");
            // Scores S = Q·Kᵀ·scale for every pair (the masked half is overwritten below).
            general_mat_mul(T::of(scale), &q, &k.t(), T::zero(), &mut p);
            for (i, mut row) in p.rows_mut().into_iter().enumerate() {
                let row = row.as_slice_mut().expect("contiguous row");
                let visible = if causal { i + 1 } else { time };
                let max = row[..visible].iter().fold(T::neg_infinity(), |m, &x| if x > m { x } else { m });
                let shift = if form.subtract_max { max } else { T::zero() };
                let mut sum = T::zero();
                for x in row[..visible].iter_mut() {
                    *x = (*x - shift).exp();
                    sum = sum + *x;
                }
                let inv = T::one() / sum;
                for x in row[..visible].iter_mut() {
                    *x = *x * inv;
                }
                row[visible..].fill(T::zero()); // the causal mask: no weight on later positions
            }
            // O = P·V, written into this head's columns of `out`.
            let o_off = b * time * c + h * hd;
            let o_len = (time - 1) * c + hd;
            let mut o =
                ArrayViewMut2::from_shape((time, hd).strides((c, 1)), &mut out[o_off..o_off + o_len]).expect("out");
            general_mat_mul(T::one(), &p.view(), &v, T::zero(), &mut o);
        }
    }
}

/// [`crate::backend::Backend::attention_backward`] as whole matrices.
pub fn attention_backward<T: Real>(dqkv: &mut [T], dout: &[T], qkv: &[T], probs: &[T], shape: AttnShape, scale: f32) {
    let AttnShape { batch, time, d_model: c, heads } = shape;
    let hd = shape.head_dim();
    let mut ds = vec![T::zero(); time * time];
    for b in 0..batch {
        for h in 0..heads {
            let q = head_view(qkv, b, h, 0, shape);
            let k = head_view(qkv, b, h, 1, shape);
            let v = head_view(qkv, b, h, 2, shape);
            let p_off = (b * heads + h) * time * time;
            let p = ArrayView2::from_shape((time, time), &probs[p_off..p_off + time * time]).expect("probs");
            let o_off = b * time * c + h * hd;
            let d_o = ArrayView2::from_shape((time, hd).strides((c, 1)), &dout[o_off..o_off + (time - 1) * c + hd])
                .expect("dout");
            // dV = Pᵀ·dO
            general_mat_mul(T::one(), &p.t(), &d_o, T::zero(), &mut head_view_mut(dqkv, b, h, 2, shape));
            // dP = dO·Vᵀ, then through the softmax: dS = P ⊙ (dP - rowsum(P ⊙ dP)), times the scale.
            let mut d_s = ArrayViewMut2::from_shape((time, time), &mut ds[..]).expect("ds");
            general_mat_mul(T::one(), &d_o, &v.t(), T::zero(), &mut d_s);
            for (mut ds_row, p_row) in d_s.rows_mut().into_iter().zip(p.rows()) {
                let dot = ds_row.iter().zip(p_row.iter()).fold(T::zero(), |acc, (&d, &pv)| acc + d * pv);
                for (d, &pv) in ds_row.iter_mut().zip(p_row.iter()) {
                    *d = pv * (*d - dot) * T::of(scale);
                }
            }
            // dQ = dS·K and dK = dSᵀ·Q.
            general_mat_mul(T::one(), &d_s.view(), &k, T::zero(), &mut head_view_mut(dqkv, b, h, 0, shape));
            general_mat_mul(T::one(), &d_s.t(), &q, T::zero(), &mut head_view_mut(dqkv, b, h, 1, shape));
        }
    }
}

/// [`crate::backend::Backend::layernorm`].
#[allow(clippy::too_many_arguments)]
pub fn layernorm<T: Real>(
    out: &mut [T],
    mean: &mut [T],
    rstd: &mut [T],
    x: &[T],
    gain: &[T],
    bias: &[T],
    rows: usize,
    cols: usize,
    eps: f32,
) {
    let n = T::of64(cols as f64);
    for r in 0..rows {
        let xr = &x[r * cols..(r + 1) * cols];
        let mu = xr.iter().fold(T::zero(), |s, &v| s + v) / n;
        let var = xr.iter().fold(T::zero(), |s, &v| s + (v - mu) * (v - mu)) / n;
        let rs = T::one() / (var + T::of(eps)).sqrt();
        mean[r] = mu;
        rstd[r] = rs;
        for (c, o) in out[r * cols..(r + 1) * cols].iter_mut().enumerate() {
            *o = (xr[c] - mu) * rs * gain[c] + bias[c];
        }
    }
}

/// [`crate::backend::Backend::layernorm_backward`].
#[allow(clippy::too_many_arguments)]
pub fn layernorm_backward<T: Real>(
    dx: &mut [T],
    dgain: &mut [T],
    dbias: &mut [T],
    dout: &[T],
    x: &[T],
    mean: &[T],
    rstd: &[T],
    gain: &[T],
    rows: usize,
    cols: usize,
) {
    let n = T::of64(cols as f64);
    for r in 0..rows {
        let (mu, rs) = (mean[r], rstd[r]);
        let xr = &x[r * cols..(r + 1) * cols];
        let dr = &dout[r * cols..(r + 1) * cols];
        // With x̂ = (x - μ)·rstd and dx̂ = dout·gain:
        // dx = rstd · (dx̂ - mean(dx̂) - x̂ · mean(dx̂ · x̂)).
        let mut sum_dxhat = T::zero();
        let mut sum_dxhat_xhat = T::zero();
        for c in 0..cols {
            let xhat = (xr[c] - mu) * rs;
            let dxhat = dr[c] * gain[c];
            sum_dxhat = sum_dxhat + dxhat;
            sum_dxhat_xhat = sum_dxhat_xhat + dxhat * xhat;
            dgain[c] = dgain[c] + dr[c] * xhat;
            dbias[c] = dbias[c] + dr[c];
        }
        let mean_dxhat = sum_dxhat / n;
        let mean_dxhat_xhat = sum_dxhat_xhat / n;
        for (c, d) in dx[r * cols..(r + 1) * cols].iter_mut().enumerate() {
            let xhat = (xr[c] - mu) * rs;
            let dxhat = dr[c] * gain[c];
            *d = *d + rs * (dxhat - mean_dxhat - xhat * mean_dxhat_xhat);
        }
    }
}

/// [`crate::backend::Backend::activation`].
pub fn activation<T: Real>(out: &mut [T], x: &[T], len: usize, f: Activation) {
    match f {
        Activation::Gelu => {
            for (o, &v) in out[..len].iter_mut().zip(&x[..len]) {
                *o = gelu(v);
            }
        }
        Activation::Relu => {
            for (o, &v) in out[..len].iter_mut().zip(&x[..len]) {
                *o = v.max(T::zero());
            }
        }
        Activation::Sigmoid => {
            for (o, &v) in out[..len].iter_mut().zip(&x[..len]) {
                *o = sigmoid(v);
            }
        }
    }
}

/// [`crate::backend::Backend::activation_backward`].
pub fn activation_backward<T: Real>(dx: &mut [T], dout: &[T], x: &[T], len: usize, f: Activation) {
    for ((d, &g), &v) in dx[..len].iter_mut().zip(&dout[..len]).zip(&x[..len]) {
        *d = g * activation_slope(f, v);
    }
}

/// [`crate::backend::Backend::cross_entropy`].
#[allow(clippy::too_many_arguments)]
pub fn cross_entropy<T: Real>(
    losses: &mut [T],
    dlogits: &mut [T],
    logits: &[T],
    targets: &[u32],
    rows: usize,
    vocab: usize,
    form: SoftmaxForm,
) {
    let inv_rows = T::one() / T::of64(rows as f64);
    for r in 0..rows {
        let z = &logits[r * vocab..(r + 1) * vocab];
        let max = z.iter().fold(T::neg_infinity(), |m, &v| if v > m { v } else { m });
        let shift = if form.subtract_max { max } else { T::zero() };
        let sum_exp = z.iter().fold(T::zero(), |s, &v| s + (v - shift).exp());
        let lse = shift + sum_exp.ln();
        let target = targets[r] as usize;
        losses[r] = if form.log_softmax {
            lse - z[target] // -log p_t = logsumexp(z) - z_t: finite for any finite logits
        } else {
            -((z[target] - shift).exp() / sum_exp).ln() // -log(softmax(z)_t): log(0) = -inf once p_t underflows
        };
        for (j, d) in dlogits[r * vocab..(r + 1) * vocab].iter_mut().enumerate() {
            let p = (z[j] - lse).exp();
            let onehot = if j == target { T::one() } else { T::zero() };
            *d = (p - onehot) * inv_rows;
        }
    }
}

/// [`crate::backend::Backend::adamw_update`].
pub fn adamw_update<T: Real>(param: &mut [T], grad: &[T], m: &mut [T], v: &mut [T], h: AdamW) {
    let (b1, b2) = (T::of(h.beta1), T::of(h.beta2));
    let bias1 = T::one() - T::of(h.beta1).powi(h.step as i32);
    let bias2 = T::one() - T::of(h.beta2).powi(h.step as i32);
    let (lr, eps, wd) = (T::of(h.lr), T::of(h.eps), T::of(h.weight_decay));
    for i in 0..param.len() {
        let g = grad[i];
        m[i] = b1 * m[i] + (T::one() - b1) * g;
        v[i] = b2 * v[i] + (T::one() - b2) * g * g;
        let m_hat = m[i] / bias1;
        let v_hat = v[i] / bias2;
        // Decoupled weight decay: shrink the weight directly, outside the adaptive step.
        param[i] = param[i] - lr * (m_hat / (v_hat.sqrt() + eps) + wd * param[i]);
    }
}

const SQRT_2_OVER_PI: f64 = 0.797_884_560_802_865_4;
const GELU_CUBIC: f64 = 0.044_715;

/// The derivative of the nonlinearity `f` at `x`.
pub fn activation_slope<T: Real>(f: Activation, x: T) -> T {
    match f {
        Activation::Gelu => gelu_grad(x),
        Activation::Relu => {
            if x > T::zero() {
                T::one()
            } else {
                T::zero()
            }
        }
        Activation::Sigmoid => {
            let s = sigmoid(x);
            s * (T::one() - s)
        }
    }
}

/// tanh through one `exp`: 1 - 2 / (e^{2x} + 1). The same function as `tanh` (saturating cleanly
/// at ±1), several times cheaper than libm's `tanhf`, which dominated the step's profile.
fn tanh<T: Real>(x: T) -> T {
    T::one() - T::of(2.0) / ((x + x).exp() + T::one())
}

/// GELU (tanh approximation) and its derivative.
fn gelu<T: Real>(x: T) -> T {
    let half = T::of(0.5);
    let inner = T::of64(SQRT_2_OVER_PI) * (x + T::of64(GELU_CUBIC) * x * x * x);
    half * x * (T::one() + tanh(inner))
}

fn sigmoid<T: Real>(x: T) -> T {
    T::one() / (T::one() + (-x).exp())
}

fn gelu_grad<T: Real>(x: T) -> T {
    let half = T::of(0.5);
    let inner = T::of64(SQRT_2_OVER_PI) * (x + T::of64(GELU_CUBIC) * x * x * x);
    let th = tanh(inner);
    let d_inner = T::of64(SQRT_2_OVER_PI) * (T::one() + T::of64(3.0 * GELU_CUBIC) * x * x);
    half * (T::one() + th) + half * x * (T::one() - th * th) * d_inner
}
