//! The kernel parity checks, shared by `tests/kernel_parity.rs` (native, with proptest choosing the
//! shapes) and the app's `tests/web_kernel_parity.rs` (wasm32 in the browser, where `gemm` runs the
//! SIMD128 kernel). Each check runs one fast kernel and its reference on the same random inputs and
//! panics, naming the kernel, the shape and the worst element, when they differ by more than the
//! stated tolerance.
//!
//! Tolerances: a product of length `k` in f32 carries a rounding error of about `k·ε·Σ|aᵢbᵢ|`; with
//! inputs in [-1, 1] we allow `4e-7·k` of the f64 result's magnitude scale, plus `1e-6`. Row kernels
//! differ from the reference only in summation order and in `exp` (within 2 ulp): `2e-5` relative, plus
//! the rounding of a row sum (`2e-7·cols·scale`) absolute.

use faultline_engine::backend::cpu::matmul::{packed_sgemm, Strides};
use faultline_engine::backend::{Activation, AdamW, AttnShape, Backend, CpuBackend, Gemm, SoftmaxForm};
use faultline_engine::rng::Rng;

/// `len` numbers uniform in [-scale, scale).
pub fn random(seed: u64, len: usize, scale: f32) -> Vec<f32> {
    let mut rng = Rng::new(seed);
    (0..len).map(|_| ((rng.uniform() * 2.0 - 1.0) as f32) * scale).collect()
}

/// Panics if `got` and `want` differ anywhere by more than `abs + rel·|want|`, or disagree on which
/// elements are finite (NaN and Inf must appear exactly where the reference has them).
pub fn assert_close(what: &str, got: &[f32], want: &[f32], abs: f32, rel: f32) {
    assert_close_each(what, got, want, |_| abs, rel);
}

/// [`assert_close`] with an absolute tolerance of its own for each element.
pub fn assert_close_each(what: &str, got: &[f32], want: &[f32], abs: impl Fn(usize) -> f32, rel: f32) {
    assert_eq!(got.len(), want.len(), "{what}: lengths");
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        if !w.is_finite() || !g.is_finite() {
            assert!(g.is_nan() && w.is_nan() || g == w, "{what}: element {i} is {g}, the reference has {w}");
            continue;
        }
        let tol = abs(i) + rel * w.abs();
        assert!((g - w).abs() <= tol, "{what}: element {i} is {g}, the reference has {w} (tolerance {tol:e})");
    }
}

/// The backend's `matmul` and [`packed_sgemm`] against the reference product computed in f64, in one
/// storage layout.
#[allow(clippy::too_many_arguments)]
pub fn matmul(m: usize, k: usize, n: usize, trans_a: bool, trans_b: bool, accumulate: bool, seed: u64) {
    let what = format!("matmul {m}x{k}x{n} trans_a={trans_a} trans_b={trans_b} accumulate={accumulate}");
    let a = random(seed, m * k, 1.0);
    let b = random(seed + 1, k * n, 1.0);
    let c0 = random(seed + 2, m * n, 1.0);
    let mut want64: Vec<f64> = c0.iter().map(|&v| v as f64).collect();
    let (a64, b64): (Vec<f64>, Vec<f64>) =
        (a.iter().map(|&v| v as f64).collect(), b.iter().map(|&v| v as f64).collect());
    CpuBackend::<f64>::reference().matmul(&mut want64, &a64, &b64, Gemm { m, k, n, trans_a, trans_b, accumulate });
    let want: Vec<f32> = want64.iter().map(|&v| v as f32).collect();
    let abs = 1e-6 + 4e-7 * k as f32;

    let mut fast = c0.clone();
    CpuBackend::new().matmul(&mut fast, &a, &b, Gemm { m, k, n, trans_a, trans_b, accumulate });
    assert_close(&format!("{what} (backend)"), &fast, &want, abs, 0.0);

    let mut packed = c0.clone();
    let sa = if trans_a { Strides::row_major(m).t() } else { Strides::row_major(k) };
    let sb = if trans_b { Strides::row_major(k).t() } else { Strides::row_major(n) };
    let beta = if accumulate { 1.0 } else { 0.0 };
    packed_sgemm(m, k, n, 1.0, &a, sa, &b, sb, beta, &mut packed, Strides::row_major(n));
    assert_close(&format!("{what} (packed)"), &packed, &want, abs, 0.0);
}

/// `beta = 0` overwrites whatever the output held, NaN included; `alpha` scales the product.
pub fn matmul_ignores_old_output_and_scales(m: usize, k: usize, n: usize) {
    let a = random(7, m * k, 1.0);
    let b = random(8, k * n, 1.0);
    let mut want = vec![0.0f32; m * n];
    CpuBackend::reference().matmul(&mut want, &a, &b, Gemm::new(m, k, n));
    let mut got = vec![f32::NAN; m * n];
    let rm = |cols| Strides::row_major(cols);
    packed_sgemm(m, k, n, 0.5, &a, rm(k), &b, rm(n), 0.0, &mut got, rm(n));
    let half: Vec<f32> = want.iter().map(|v| v * 0.5).collect();
    assert_close(&format!("packed {m}x{k}x{n} alpha=0.5 over NaN"), &got, &half, 1e-6 + 4e-7 * k as f32, 0.0);
}

/// Attention forward and backward, fast against reference, for one shape, mask and softmax form.
#[allow(clippy::too_many_arguments)]
pub fn attention(
    batch: usize,
    time: usize,
    heads: usize,
    head_dim: usize,
    causal: bool,
    form: SoftmaxForm,
    logit_scale: f32,
    seed: u64,
) {
    let shape = AttnShape { batch, time, d_model: heads * head_dim, heads };
    let what = format!("attention {shape:?} causal={causal} {form:?} scale={logit_scale}");
    let n = batch * time;
    let c = shape.d_model;
    let qkv = random(seed, n * 3 * c, logit_scale);
    let dout = random(seed + 1, n * c, 1.0);
    let scale = 1.0 / (head_dim as f32).sqrt();
    let run = |b: &mut CpuBackend| {
        let mut out = vec![f32::NAN; n * c];
        let mut probs = vec![f32::NAN; shape.probs_len()];
        b.attention(&mut out, &mut probs, &qkv, shape, scale, causal, form);
        let mut dqkv = vec![f32::NAN; n * 3 * c];
        b.attention_backward(&mut dqkv, &dout, &qkv, &probs, shape, scale, causal);
        (out, probs, dqkv)
    };
    let (out_f, probs_f, d_f) = run(&mut CpuBackend::new());
    let (out_r, probs_r, d_r) = run(&mut CpuBackend::reference());
    let abs = 1e-6 + 4e-7 * time as f32;
    assert_close(&format!("{what}: probabilities"), &probs_f, &probs_r, abs, 2e-5);
    assert_close(&format!("{what}: output"), &out_f, &out_r, abs, 2e-5);
    assert_close(&format!("{what}: dqkv"), &d_f, &d_r, abs * logit_scale.max(1.0), 2e-4);
}

/// LayerNorm, the three activations, cross-entropy (both softmax switches) and AdamW, fast against
/// reference, on `rows × cols` inputs of magnitude `scale`.
pub fn row_kernels(rows: usize, cols: usize, scale: f32, seed: u64) {
    let what = format!("{rows}x{cols} scale={scale}");
    let x = random(seed, rows * cols, scale);
    let g = random(seed + 1, rows * cols, 1.0);
    let gain = random(seed + 2, cols, 1.0);
    let bias = random(seed + 3, cols, 1.0);
    let (mut fast, mut reference) = (CpuBackend::new(), CpuBackend::reference());
    let backends: [&mut CpuBackend; 2] = [&mut fast, &mut reference];
    let mut results: Vec<Vec<Vec<f32>>> = Vec::new();
    for b in backends {
        let mut r = Vec::new();
        let (mut out, mut mean, mut rstd) = (vec![0.0; rows * cols], vec![0.0; rows], vec![0.0; rows]);
        b.layernorm(&mut out, &mut mean, &mut rstd, &x, &gain, &bias, rows, cols, 1e-5);
        let (mut dx, mut dgain, mut dbias) = (g.clone(), vec![0.5; cols], vec![0.5; cols]);
        b.layernorm_backward(&mut dx, &mut dgain, &mut dbias, &g, &x, &mean, &rstd, &gain, rows, cols);
        r.extend([out, mean, rstd, dx, dgain, dbias]);
        for f in [Activation::Gelu, Activation::Relu, Activation::Sigmoid] {
            let mut act = vec![0.0; rows * cols];
            b.activation(&mut act, &x, rows * cols, f);
            let mut dact = vec![0.0; rows * cols];
            b.activation_backward(&mut dact, &g, &x, rows * cols, f);
            r.extend([act, dact]);
        }
        let targets: Vec<u32> = (0..rows).map(|i| ((i * 7 + seed as usize) % cols) as u32).collect();
        for subtract_max in [true, false] {
            for log_softmax in [true, false] {
                let form = SoftmaxForm { subtract_max, log_softmax };
                let (mut losses, mut dlogits) = (vec![0.0; rows], vec![0.0; rows * cols]);
                b.cross_entropy(&mut losses, &mut dlogits, &x, &targets, rows, cols, form);
                r.extend([losses, dlogits]);
            }
        }
        let (mut p, mut m1, mut m2) =
            (x.clone(), g.iter().map(|v| v * 0.1).collect::<Vec<_>>(), vec![0.01; rows * cols]);
        b.adamw_update(
            &mut p,
            &g,
            &mut m1,
            &mut m2,
            AdamW { lr: 1e-2, beta1: 0.9, beta2: 0.95, eps: 1e-8, weight_decay: 0.1, step: 3 },
        );
        r.extend([p, m1, m2]);
        results.push(r);
    }
    let names = [
        "layernorm out",
        "layernorm mean",
        "layernorm rstd",
        "layernorm dx",
        "layernorm dgain",
        "layernorm dbias",
        "gelu",
        "gelu backward",
        "relu",
        "relu backward",
        "sigmoid",
        "sigmoid backward",
        "cross-entropy loss",
        "cross-entropy dlogits",
        "cross-entropy naive log loss",
        "cross-entropy naive log dlogits",
        "cross-entropy unshifted loss",
        "cross-entropy unshifted dlogits",
        "cross-entropy unshifted naive loss",
        "cross-entropy unshifted naive dlogits",
        "adamw param",
        "adamw m",
        "adamw v",
    ];
    // A row sum of `cols` inputs of magnitude `scale` carries `cols·ε·scale` of rounding either way;
    // the gain and bias gradients add `rows` of those.
    let row_abs = 1e-6 + 2e-7 * scale.max(1.0) * cols as f32;
    // The two LayerNorms round the mean differently (its own check allows `row_abs`). That moves each
    // x̂ = (x - μ)·rstd of a row by `rstd·|δμ|`, which is large when the row's values nearly agree (a
    // short row at a small scale: [1.069, 1.062, 1.041] has rstd 82). The move reaches `out` times
    // |gain| ≤ 1, `dgain` summed over the rows times |dout| ≤ 1, and `dx` times
    // rstd·(|mean(dx̂·x̂)| + |x̂|·|mean(dx̂)|) ≤ rstd·(1 + √cols). Measured, not assumed: δμ is the two
    // kernels' own means' difference.
    let (fast, reference) = (&results[0], &results[1]);
    let rstd = &reference[2];
    let moved: Vec<f32> = (0..rows).map(|r| rstd[r] * (fast[1][r] - reference[1][r]).abs()).collect();
    let dx_moved = |i: usize| rstd[i / cols] * moved[i / cols] * (1.0 + (cols as f32).sqrt());
    let summed = row_abs * rows as f32;
    for ((&name, f), r) in names.iter().zip(fast).zip(reference) {
        let what = format!("{name} {what}");
        match name {
            "layernorm out" => assert_close_each(&what, f, r, |i| row_abs + moved[i / cols], 2e-5),
            "layernorm dx" => assert_close_each(&what, f, r, |i| summed + dx_moved(i), 2e-5),
            "layernorm dgain" => assert_close(&what, f, r, summed + moved.iter().sum::<f32>(), 2e-5),
            "layernorm dbias" => assert_close(&what, f, r, summed, 2e-5),
            _ => assert_close(&what, f, r, row_abs, 2e-5),
        }
    }
}
