//! The fast kernels: one pass per row, no temporary matrices, loops shaped so the compiler vectorises
//! them (SSE/AVX natively, SIMD128 on wasm32 with `+simd128`). Each computes the same formula as its
//! [`super::reference`] twin; only the order of additions (and, in f32, `exp`, see
//! [`exp_f32`]) differs, within the tolerances of `tests/kernel_parity.rs`.
//!
//! Every kernel is generic over [`Real`], so the f64 gradient checks run these exact loops too.

use super::matmul::{gemm, Strides};
use super::Real;
use crate::backend::{Activation, AdamW, AttnShape, SoftmaxForm};

/// Defines `pub fn $name` twice over the same body: as is, and (on x86-64) compiled with AVX2 enabled,
/// picked at run time when the CPU has it, so the vectorised loops run eight lanes wide instead of
/// SSE2's four. `matrixmultiply` makes the same choice for its kernels.
macro_rules! multiversion {
    ($(#[$m:meta])* pub fn $name:ident<T: Real>($($arg:ident: $ty:ty),* $(,)?) $body:block) => {
        $(#[$m])*
        pub fn $name<T: Real>($($arg: $ty),*) {
            #[inline(always)]
            #[allow(clippy::too_many_arguments)]
            fn body<T: Real>($($arg: $ty),*) $body
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx2")]
                #[allow(clippy::too_many_arguments)]
                fn avx2<T: Real>($($arg: $ty),*) {
                    body($($arg),*)
                }
                if std::arch::is_x86_feature_detected!("avx2") {
                    // SAFETY: the CPU has AVX2, checked just above.
                    return unsafe { avx2($($arg),*) };
                }
            }
            body($($arg),*)
        }
    };
}

/// `e^x` in f32 without libm: `x = n·ln2 + r` with `|r| ≤ ln2/2`, a degree-7 Taylor polynomial for
/// `e^r` (relative error below 2e-7, about one ulp), scaled by `2^n` in two halves so results down to
/// the subnormal range come out right. Branch-free, so loops of it vectorise. At the edges it is
/// exactly libm's `expf`: `+inf` above ln(f32::MAX) (so the unshifted softmax overflows just as
/// honestly), `0` below the smallest subnormal, NaN for NaN.
#[inline(always)]
pub fn exp_f32(x: f32) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    const LN2_HI: f32 = 0.693_145_75;
    const LN2_LO: f32 = 1.428_606_8e-6;
    // 1.5·2^23: adding it rounds to the nearest integer, which lands in the low mantissa bits.
    const ROUND: f32 = 12_582_912.0;
    let xc = x.clamp(-104.0, 89.0);
    let t = xc * LOG2E + ROUND;
    let n = t - ROUND;
    let ni = (t.to_bits() as i32).wrapping_sub(ROUND.to_bits() as i32);
    let r = xc - n * LN2_HI - n * LN2_LO;
    let p = 1.0
        + r * (1.0
            + r * (0.5
                + r * (1.0 / 6.0 + r * (1.0 / 24.0 + r * (1.0 / 120.0 + r * (1.0 / 720.0 + r * (1.0 / 5040.0)))))));
    let half = ni >> 1;
    let s1 = f32::from_bits(((half + 127) << 23) as u32);
    let s2 = f32::from_bits(((ni - half + 127) << 23) as u32);
    let y = p * s1 * s2;
    if x > 88.722_83 {
        f32::INFINITY
    } else if x < -103.972_08 {
        0.0
    } else {
        y
    }
}

const SQRT_2_OVER_PI: f64 = 0.797_884_560_802_865_4;
const GELU_CUBIC: f64 = 0.044_715;

/// tanh through one `exp`: 1 - 2 / (e^{2x} + 1), saturating cleanly at ±1.
#[inline(always)]
fn tanh<T: Real>(x: T) -> T {
    T::one() - T::of(2.0) / ((x + x).exp_fast() + T::one())
}

#[inline(always)]
fn gelu<T: Real>(x: T) -> T {
    let inner = T::of64(SQRT_2_OVER_PI) * (x + T::of64(GELU_CUBIC) * x * x * x);
    T::of(0.5) * x * (T::one() + tanh(inner))
}

#[inline(always)]
fn gelu_grad<T: Real>(x: T) -> T {
    let half = T::of(0.5);
    let inner = T::of64(SQRT_2_OVER_PI) * (x + T::of64(GELU_CUBIC) * x * x * x);
    let th = tanh(inner);
    let d_inner = T::of64(SQRT_2_OVER_PI) * (T::one() + T::of64(3.0 * GELU_CUBIC) * x * x);
    half * (T::one() + th) + half * x * (T::one() - th * th) * d_inner
}

#[inline(always)]
fn sigmoid<T: Real>(x: T) -> T {
    T::one() / (T::one() + (-x).exp_fast())
}

/// `Σ a·b` with eight independent partial sums, so the reduction vectorises.
#[inline(always)]
fn dot<T: Real>(a: &[T], b: &[T]) -> T {
    let mut acc = [T::zero(); 8];
    let (a8, b8) = (a.chunks_exact(8), b.chunks_exact(8));
    let (ra, rb) = (a8.remainder(), b8.remainder());
    for (x, y) in a8.zip(b8) {
        for l in 0..8 {
            acc[l] = acc[l] + x[l] * y[l];
        }
    }
    let mut s = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
    for (&x, &y) in ra.iter().zip(rb) {
        s = s + x * y;
    }
    s
}

/// `Σ a` with eight independent partial sums.
#[inline(always)]
fn sum<T: Real>(a: &[T]) -> T {
    let mut acc = [T::zero(); 8];
    let a8 = a.chunks_exact(8);
    let ra = a8.remainder();
    for x in a8 {
        for l in 0..8 {
            acc[l] = acc[l] + x[l];
        }
    }
    let mut s = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
    for &x in ra {
        s = s + x;
    }
    s
}

/// The largest element (NaN is skipped, as in the reference's fold); `-inf` for an empty row.
#[inline(always)]
fn max<T: Real>(a: &[T]) -> T {
    a.iter().fold(T::neg_infinity(), |m, &x| if x > m { x } else { m })
}

/// Offset of head `h`'s block of `part` (0 queries, 1 keys, 2 values) of sequence `b` in `qkv [N, 3C]`.
fn head_offset(s: AttnShape, b: usize, h: usize, part: usize) -> usize {
    b * s.time * 3 * s.d_model + part * s.d_model + h * s.head_dim()
}

/// Rows of a head's score matrix computed together. Under the causal mask a block of rows sees only
/// the keys up to its last row, so the products skip the masked upper triangle block by block: at
/// context 64 they do 62.5 % of the full products' work.
const ROW_BLOCK: usize = 16;

/// Rows `start..end` of a `time`-row head's score matrix, and what the causal mask lets them see.
#[derive(Clone, Copy)]
struct RowBlock {
    start: usize,
    end: usize,
    time: usize,
    causal: bool,
}

impl RowBlock {
    fn rows(self) -> usize {
        self.end - self.start
    }

    /// The keys its rows see, `0..keys`: up to its last row under the mask, else all.
    fn keys(self) -> usize {
        if self.causal {
            self.end
        } else {
            self.time
        }
    }

    /// The keys its `i`-th row sees, `0..visible`.
    fn visible(self, i: usize) -> usize {
        if self.causal {
            self.start + i + 1
        } else {
            self.time
        }
    }

    /// Read as keys `start..end`: the queries that see them are `first_query..time`.
    fn first_query(self) -> usize {
        if self.causal {
            self.start
        } else {
            0
        }
    }
}

/// The row blocks of a `time`-row head: blocks of [`ROW_BLOCK`] under the causal mask, else one
/// block (every row sees every key, so nothing is skipped).
fn row_blocks(time: usize, causal: bool) -> impl Iterator<Item = RowBlock> {
    let step = if causal { ROW_BLOCK } else { time.max(1) };
    (0..time).step_by(step).map(move |start| RowBlock { start, end: (start + step).min(time), time, causal })
}

multiversion! {
/// Attention forward per head: `S = Q·Kᵀ·scale` as strided products (no copies of the head's
/// blocks), then each row's masked softmax in place, then `O = P·V` into the head's columns of `out`.
/// Under the causal mask each block of rows multiplies only by the keys and values it can see.
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
    let packed = Strides::row_major(3 * c);
    let square = Strides::row_major(time);
    for b in 0..batch {
        for h in 0..heads {
            let (q, k, v) = (head_offset(shape, b, h, 0), head_offset(shape, b, h, 1), head_offset(shape, b, h, 2));
            let p_off = (b * heads + h) * time * time;
            let p = &mut probs[p_off..p_off + time * time];
            for block in row_blocks(time, causal) {
                let (start, end, rows, keys) = (block.start, block.end, block.rows(), block.keys());
                let p_rows = &mut p[start * time..end * time];
                let (q_rows, keys_t) = (&qkv[q + start * 3 * c..], &qkv[k..]);
                gemm(rows, hd, keys, T::of(scale), q_rows, packed, keys_t, packed.t(), T::zero(), p_rows, square);
                for (i, row) in p_rows.chunks_exact_mut(time).enumerate() {
                    let (row, masked) = row.split_at_mut(block.visible(i));
                    let shift = if form.subtract_max { max(row) } else { T::zero() };
                    for x in row.iter_mut() {
                        *x = (*x - shift).exp_fast();
                    }
                    let inv = T::one() / sum(row);
                    for x in row.iter_mut() {
                        *x = *x * inv;
                    }
                    masked.fill(T::zero()); // the causal mask: no weight on later positions
                }
                let o = &mut out[(b * time + start) * c + h * hd..];
                gemm(rows, keys, hd, T::one(), p_rows, square, &qkv[v..], packed, T::zero(), o, Strides::row_major(c));
            }
        }
    }
}
}

multiversion! {
/// Attention backward per head, as strided products: `dV = Pᵀ·dO`, `dP = dO·Vᵀ`, through the softmax
/// row by row (`dS = P ⊙ (dP - rowsum(P ⊙ dP))·scale`), `dQ = dS·K`, `dK = dSᵀ·Q`. `scratch` (at
/// least `time²` values) holds `dS`. Under the causal mask (`causal`: `P` is zero above the diagonal) the products skip that triangle:
/// a block of rows of `dQ` needs the keys up to its end, a block of rows of `dV`/`dK` the queries
/// from its start.
#[allow(clippy::too_many_arguments)]
pub fn attention_backward<T: Real>(
    dqkv: &mut [T],
    dout: &[T],
    qkv: &[T],
    probs: &[T],
    shape: AttnShape,
    scale: f32,
    causal: bool,
    scratch: &mut [T],
) {
    let AttnShape { batch, time, d_model: c, heads } = shape;
    let hd = shape.head_dim();
    let (packed, narrow, square) = (Strides::row_major(3 * c), Strides::row_major(c), Strides::row_major(time));
    let scale = T::of(scale);
    let ds = &mut scratch[..time * time];
    for b in 0..batch {
        for h in 0..heads {
            let (q, k, v) = (head_offset(shape, b, h, 0), head_offset(shape, b, h, 1), head_offset(shape, b, h, 2));
            let p_off = (b * heads + h) * time * time;
            let p = &probs[p_off..p_off + time * time];
            let d_o = b * time * c + h * hd;
            for block in row_blocks(time, causal) {
                let (start, end, rows, keys) = (block.start, block.end, block.rows(), block.keys());
                let ds_rows = &mut ds[start * time..end * time];
                let d_o_rows = &dout[d_o + start * c..];
                let v_t = &qkv[v..];
                gemm(rows, hd, keys, T::one(), d_o_rows, narrow, v_t, packed.t(), T::zero(), ds_rows, square);
                let p_rows = p[start * time..].chunks_exact(time);
                for (i, (ds_row, p_row)) in ds_rows.chunks_exact_mut(time).zip(p_rows).enumerate() {
                    let visible = block.visible(i);
                    // P is zero past `visible`, so dS is too. The dot runs over the whole row (its zeros
                    // add nothing), so it sums in the same order, and rounds the same, as the unblocked kernel.
                    ds_row[visible..].fill(T::zero());
                    let pd = dot(ds_row, p_row);
                    for (d, &pv) in ds_row[..visible].iter_mut().zip(p_row) {
                        *d = pv * (*d - pd) * scale;
                    }
                }
                let dq = &mut dqkv[q + start * 3 * c..];
                gemm(rows, keys, hd, T::one(), ds_rows, square, &qkv[k..], packed, T::zero(), dq, packed);
            }
            for block in row_blocks(time, causal) {
                let (start, rows, first) = (block.start, block.rows(), block.first_query());
                let queries = time - first; // keys start..end are seen by queries first..time
                let (p_t, ds_t) = (&p[first * time + start..], &ds[first * time + start..]);
                let (d_o_seen, q_seen) = (&dout[d_o + first * c..], &qkv[q + first * 3 * c..]);
                let dv = &mut dqkv[v + start * 3 * c..];
                gemm(rows, queries, hd, T::one(), p_t, square.t(), d_o_seen, narrow, T::zero(), dv, packed);
                let dk = &mut dqkv[k + start * 3 * c..];
                gemm(rows, queries, hd, T::one(), ds_t, square.t(), q_seen, packed, T::zero(), dk, packed);
            }
        }
    }
}
}

multiversion! {
/// LayerNorm forward, one pass per statistic per row.
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
    let inv_n = T::one() / T::of64(cols as f64);
    let rows_iter = x[..rows * cols].chunks_exact(cols).zip(out[..rows * cols].chunks_exact_mut(cols));
    for (((xr, or), mu_out), rs_out) in rows_iter.zip(mean.iter_mut()).zip(rstd.iter_mut()) {
        let mu = sum(xr) * inv_n;
        let mut acc = [T::zero(); 8];
        let x8 = xr.chunks_exact(8);
        let rem = x8.remainder();
        for v in x8 {
            for l in 0..8 {
                let d = v[l] - mu;
                acc[l] = acc[l] + d * d;
            }
        }
        let mut var = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
        for &v in rem {
            var = var + (v - mu) * (v - mu);
        }
        let rs = T::one() / (var * inv_n + T::of(eps)).sqrt();
        *mu_out = mu;
        *rs_out = rs;
        for (((o, &v), &g), &b) in or.iter_mut().zip(xr).zip(gain).zip(bias) {
            *o = (v - mu) * rs * g + b;
        }
    }
}
}

multiversion! {
/// LayerNorm backward: `dx = rstd · (dx̂ - mean(dx̂) - x̂ · mean(dx̂ · x̂))` with `x̂ = (x - μ)·rstd`
/// and `dx̂ = dout·gain`; accumulates `dx`, `dgain` and `dbias`.
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
    let inv_n = T::one() / T::of64(cols as f64);
    let dgain = &mut dgain[..cols];
    let dbias = &mut dbias[..cols];
    let gain = &gain[..cols];
    for r in 0..rows {
        let (mu, rs) = (mean[r], rstd[r]);
        let xr = &x[r * cols..(r + 1) * cols];
        let dr = &dout[r * cols..(r + 1) * cols];
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
        let mean_dxhat = sum_dxhat * inv_n;
        let mean_dxhat_xhat = sum_dxhat_xhat * inv_n;
        let dxr = &mut dx[r * cols..(r + 1) * cols];
        for (((d, &v), &g), &gn) in dxr.iter_mut().zip(xr).zip(dr).zip(gain) {
            let xhat = (v - mu) * rs;
            *d = *d + rs * (g * gn - mean_dxhat - xhat * mean_dxhat_xhat);
        }
    }
}
}

multiversion! {
/// `out = f(x)`.
pub fn activation<T: Real>(out: &mut [T], x: &[T], len: usize, f: Activation) {
    // Plain loops here and in `activation_backward`, not `for_each`: a loop in this body inherits the
    // AVX2 version's target features, a separately compiled `for_each` does not.
    let pairs = out[..len].iter_mut().zip(&x[..len]);
    match f {
        Activation::Gelu => {
            for (o, &v) in pairs {
                *o = gelu(v);
            }
        }
        Activation::Relu => {
            for (o, &v) in pairs {
                *o = v.max(T::zero());
            }
        }
        Activation::Sigmoid => {
            for (o, &v) in pairs {
                *o = sigmoid(v);
            }
        }
    }
}
}

multiversion! {
/// `dx = f'(x)·dout`.
pub fn activation_backward<T: Real>(dx: &mut [T], dout: &[T], x: &[T], len: usize, f: Activation) {
    let triples = dx[..len].iter_mut().zip(&dout[..len]).zip(&x[..len]);
    match f {
        Activation::Gelu => {
            for ((d, &g), &v) in triples {
                *d = g * gelu_grad(v);
            }
        }
        Activation::Relu => {
            for ((d, &g), &v) in triples {
                *d = if v > T::zero() { g } else { g * T::zero() };
            }
        }
        Activation::Sigmoid => {
            for ((d, &g), &v) in triples {
                let s = sigmoid(v);
                *d = g * (s * (T::one() - s));
            }
        }
    }
}
}

multiversion! {
/// Cross-entropy through log-softmax, one pass per row for the sum and one for the gradient.
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
    let rows_iter = logits[..rows * vocab].chunks_exact(vocab).zip(dlogits[..rows * vocab].chunks_exact_mut(vocab));
    for (((z, dz), loss), &target) in rows_iter.zip(losses.iter_mut()).zip(targets) {
        let shift = if form.subtract_max { max(z) } else { T::zero() };
        for (d, &v) in dz.iter_mut().zip(z) {
            *d = (v - shift).exp_fast();
        }
        let sum_exp = sum(dz);
        let lse = shift + sum_exp.ln();
        let target = target as usize;
        *loss = if form.log_softmax {
            lse - z[target] // -log p_t = logsumexp(z) - z_t: finite for any finite logits
        } else {
            -((z[target] - shift).exp() / sum_exp).ln() // -log(softmax(z)_t): log(0) = -inf once p_t underflows
        };
        for (d, &v) in dz.iter_mut().zip(z) {
            *d = (v - lse).exp_fast() * inv_rows;
        }
        dz[target] = dz[target] - inv_rows;
    }
}
}

multiversion! {
/// AdamW in one pass over the four arrays.
pub fn adamw_update<T: Real>(param: &mut [T], grad: &[T], m: &mut [T], v: &mut [T], h: AdamW) {
    let (b1, b2) = (T::of(h.beta1), T::of(h.beta2));
    let (c1, c2) = (T::one() - b1, T::one() - b2);
    let bias1 = T::one() - b1.powi(h.step as i32);
    let bias2 = T::one() - b2.powi(h.step as i32);
    let (lr, eps, wd) = (T::of(h.lr), T::of(h.eps), T::of(h.weight_decay));
    let n = param.len();
    let quads = param.iter_mut().zip(&grad[..n]).zip(&mut m[..n]).zip(&mut v[..n]);
    for (((p, &g), m), v) in quads {
        *m = b1 * *m + c1 * g;
        *v = b2 * *v + c2 * g * g;
        let m_hat = *m / bias1;
        let v_hat = *v / bias2;
        // Decoupled weight decay: shrink the weight directly, outside the adaptive step.
        *p = *p - lr * (m_hat / (v_hat.sqrt() + eps) + wd * *p);
    }
}
}
