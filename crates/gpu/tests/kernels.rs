//! Every kernel of the GPU backend against the CPU backend on the same random inputs, healthy and
//! faulty forms alike.
//!
//! Tolerances are `tol · max(1, |cpu|)` per element (see `assert_close`); each is stated
//! where it is used, with the reason. Kernels that add the same numbers in the same order as the CPU
//! (element-wise ops, embedding gradients, bias sums) must agree exactly or to one rounding; kernels
//! with `exp`, `log`, `sqrt` or division differ by the GPU's few-ULP transcendental accuracy
//! (Vulkan allows 3 ULP for `exp`, 2.5 ULP for division) compounded over a row.

mod common;

use common::gpu;
use faultline_engine::backend::{
    Activation, AdamW, AttnShape, Backend, CpuBackend, Gemm, Sgd, SoftmaxForm, StepReadout,
};
use faultline_engine::rng::Rng;
use faultline_engine::EngineError;
use faultline_gpu::{GpuBackend, GpuBuf};

/// Asserts `gpu` matches `cpu` element-wise: finite values within `tol · max(1, |cpu|)`, and every
/// non-finite value of the CPU's matched by the same kind (NaN, +Inf, -Inf) on the GPU.
pub fn assert_close(what: &str, gpu: &[f32], cpu: &[f32], tol: f32) {
    assert_eq!(gpu.len(), cpu.len(), "{what}: lengths differ");
    for (i, (&g, &c)) in gpu.iter().zip(cpu).enumerate() {
        if c.is_nan() {
            assert!(g.is_nan(), "{what}[{i}]: CPU NaN, GPU {g}");
        } else if c.is_infinite() {
            assert_eq!(g, c, "{what}[{i}]: CPU {c}, GPU {g}");
        } else {
            let bound = tol * c.abs().max(1.0);
            assert!(
                (g - c).abs() <= bound,
                "{what}[{i}]: GPU {g} vs CPU {c} (diff {:.3e}, bound {bound:.3e})",
                (g - c).abs()
            );
        }
    }
}

/// The two backends side by side, with one random source.
struct Pair {
    cpu: CpuBackend,
    gpu: GpuBackend,
    rng: Rng,
}

impl Pair {
    fn new(seed: u64) -> Option<Self> {
        Some(Self { cpu: CpuBackend::new(), gpu: gpu()?, rng: Rng::new(seed) })
    }

    fn random(&mut self, n: usize, scale: f32) -> Vec<f32> {
        (0..n).map(|_| self.rng.normal() as f32 * scale).collect()
    }

    fn tokens(&mut self, n: usize, vocab: usize) -> Vec<u32> {
        (0..n).map(|_| self.rng.below(vocab) as u32).collect()
    }

    fn up(&mut self, data: &[f32]) -> GpuBuf {
        let mut b = self.gpu.zeros(data.len());
        self.gpu.upload(&mut b, data);
        b
    }

    fn down(&mut self, b: &GpuBuf) -> Vec<f32> {
        self.gpu.download(b)
    }
}

/// k ≤ 256 with N(0, 1) inputs: both sides round each of k products and partial sums once, in
/// different orders (the GPU with fused multiply-adds along k, ndarray in its own blocking), so
/// the difference is a random walk of about √k rounding errors of terms of size up to √k: under
/// 1e-5 of max(1, |c|) at k = 256.
const MATMUL_TOL: f32 = 1e-5;

#[test]
fn matmul_matches_cpu_for_every_transpose_and_accumulate() {
    let Some(mut p) = Pair::new(1) else { return };
    // Shapes below, at, and across the 64×64 tile and 16-deep slab, ragged ones (scalar loads), and
    // ragged ones whose rows are whole vec4s (the vec4 kernel, partial tiles and slabs).
    for &(m, k, n) in &[(1, 1, 1), (5, 7, 3), (64, 16, 64), (70, 33, 129), (128, 256, 96), (68, 20, 132), (4, 36, 8)] {
        for trans_a in [false, true] {
            for trans_b in [false, true] {
                for accumulate in [false, true] {
                    let (a, b, c0) = (p.random(m * k, 1.0), p.random(k * n, 1.0), p.random(m * n, 1.0));
                    let mut cpu_out = c0.clone();
                    p.cpu.matmul(&mut cpu_out, &a, &b, Gemm { m, k, n, trans_a, trans_b, accumulate });
                    let (ga, gb, mut gout) = (p.up(&a), p.up(&b), p.up(&c0));
                    p.gpu.matmul(&mut gout, &ga, &gb, Gemm { m, k, n, trans_a, trans_b, accumulate });
                    let what = format!("matmul m{m} k{k} n{n} ta{trans_a} tb{trans_b} acc{accumulate}");
                    assert_close(&what, &p.down(&gout), &cpu_out, MATMUL_TOL);
                }
            }
        }
    }
}

#[test]
fn a_linear_layer_is_its_product_then_its_bias() {
    let Some(mut p) = Pair::new(15) else { return };
    // Ragged shapes (the scalar kernel) and whole vec4 rows (the vec4 kernel), partial tiles included.
    for &(m, k, n) in &[(5, 7, 3), (70, 33, 129), (68, 20, 132), (64, 64, 192)] {
        let (x, w, bias) = (p.random(m * k, 1.0), p.random(k * n, 1.0), p.random(n, 1.0));
        let mut cpu_out = vec![0.0; m * n];
        p.cpu.linear(&mut cpu_out, &x, &w, &bias, Gemm::new(m, k, n));
        let (gx, gw, gbias) = (p.up(&x), p.up(&w), p.up(&bias));
        let mut fused = p.gpu.zeros(m * n);
        p.gpu.linear(&mut fused, &gx, &gw, &gbias, Gemm::new(m, k, n));
        let mut apart = p.gpu.zeros(m * n);
        p.gpu.matmul(&mut apart, &gx, &gw, Gemm::new(m, k, n));
        p.gpu.add_bias(&mut apart, &gbias, m, n);
        let (fused, apart) = (p.down(&fused), p.down(&apart));
        // The bias is added as each element is stored: the same single rounding as add_bias.
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&fused), bits(&apart), "linear m{m} k{k} n{n}: the GPU's product then its bias");
        assert_close(&format!("linear m{m} k{k} n{n}"), &fused, &cpu_out, MATMUL_TOL);
    }
}

#[test]
fn elementwise_kernels_match_cpu_exactly() {
    let Some(mut p) = Pair::new(2) else { return };
    let (rows, cols) = (37, 23);
    let n = rows * cols;
    let (x, y, bias) = (p.random(n, 1.0), p.random(n, 1.0), p.random(cols, 1.0));
    // One IEEE operation per element on both sides: the results must be identical (tolerance 0).
    let mut c = x.clone();
    let mut g = p.up(&x);
    let gy = p.up(&y);
    let gbias = p.up(&bias);
    p.cpu.add_assign(&mut c, &y);
    p.gpu.add_assign(&mut g, &gy);
    p.cpu.scale(&mut c, -0.37);
    p.gpu.scale(&mut g, -0.37);
    p.cpu.mul_assign(&mut c, &y, n - 5);
    p.gpu.mul_assign(&mut g, &gy, n - 5);
    p.cpu.add_bias(&mut c, &bias, rows, cols);
    p.gpu.add_bias(&mut g, &gbias, rows, cols);
    assert_close("add/scale/mul/add_bias", &p.down(&g), &c, 0.0);

    let mut cd = vec![0.0; n];
    let mut gd = p.gpu.zeros(n);
    p.cpu.copy(&mut cd, &c);
    p.gpu.copy(&mut gd, &g);
    assert_close("copy", &p.down(&gd), &cd, 0.0);
    for v in [2.5, 0.0, -0.0] {
        p.cpu.fill(&mut cd, v);
        p.gpu.fill(&mut gd, v);
        let down = p.down(&gd);
        assert!(down.iter().zip(&cd).all(|(a, b)| a.to_bits() == b.to_bits()), "fill {v}");
    }

    // The bias gradient adds rows in the CPU's order onto the existing value: exact too.
    let dout = p.random(n, 1.0);
    let d0 = p.random(cols, 1.0);
    let mut cb = d0.clone();
    let mut gb = p.up(&d0);
    let gdout = p.up(&dout);
    p.cpu.bias_backward(&mut cb, &dout, rows, cols);
    p.gpu.bias_backward(&mut gb, &gdout, rows, cols);
    assert_close("bias_backward", &p.down(&gb), &cb, 0.0);
}

#[test]
fn sum_of_squares_matches_cpu_and_flags_non_finite_values() {
    let Some(mut p) = Pair::new(3) else { return };
    // f32 partial sums against the CPU's f64 sum: about √(n / 16384) roundings of relative 6e-8
    // per workgroup plus the rescaling; 1e-5 relative is ample.
    let check = |p: &mut Pair, x: &[f32], len: usize, what: &str| {
        let c = p.cpu.sum_squares(&x.to_vec(), len);
        let b = p.up(x);
        let g = p.gpu.sum_squares(&b, len);
        if c.is_nan() {
            assert!(g.is_nan(), "{what}: CPU NaN, GPU {g}");
        } else if c.is_infinite() {
            assert_eq!(g, c, "{what}");
        } else {
            assert!((g - c).abs() <= 1e-5 * c.abs().max(1e-30), "{what}: GPU {g} vs CPU {c}");
        }
    };
    let x = p.random(100_000, 1.0);
    check(&mut p, &x, x.len(), "random");
    check(&mut p, &x, 777, "a prefix");
    check(&mut p, &x[..3], 3, "three elements");
    check(&mut p, &[0.0; 8], 8, "zeros");
    // Squares beyond f32's range: the CPU sums them in f64 and so must the GPU's rescaled sum.
    let huge: Vec<f32> = x.iter().map(|v| v * 1e30).collect();
    check(&mut p, &huge, huge.len(), "huge");
    let mut bad = x.clone();
    bad[5000] = f32::INFINITY;
    check(&mut p, &bad, bad.len(), "an Inf");
    check(&mut p, &bad, 4000, "an Inf past len");
    bad[70_000] = f32::NAN;
    check(&mut p, &bad, bad.len(), "an Inf and a NaN");
}

#[test]
fn embedding_and_its_gradients_match_cpu() {
    let Some(mut p) = Pair::new(4) else { return };
    let (batch, time, d, vocab) = (3, 11, 24, 7); // a small vocabulary: many repeated tokens
    let tokens = p.tokens(batch * time, vocab);
    let (wte, wpe) = (p.random(vocab * d, 1.0), p.random(time * d, 1.0));
    let mut c_out = vec![0.0; batch * time * d];
    p.cpu.embed(&mut c_out, &wte, &wpe, &tokens, time, d);
    let (gwte, gwpe) = (p.up(&wte), p.up(&wpe));
    let mut g_out = p.gpu.zeros(batch * time * d);
    p.gpu.embed(&mut g_out, &gwte, &gwpe, &tokens, time, d);
    // One addition per element: exact.
    assert_close("embed", &p.down(&g_out), &c_out, 0.0);

    // The gradients gather each table row's contributions in the CPU's order onto the existing
    // values: exact.
    let dout = p.random(batch * time * d, 1.0);
    let (dwte0, dwpe0) = (p.random(vocab * d, 1.0), p.random(time * d, 1.0));
    let (mut c_dwte, mut c_dwpe) = (dwte0.clone(), dwpe0.clone());
    p.cpu.embed_backward(&mut c_dwte, &mut c_dwpe, &dout, &tokens, time, d);
    let (mut g_dwte, mut g_dwpe, g_dout) = (p.up(&dwte0), p.up(&dwpe0), p.up(&dout));
    p.gpu.embed_backward(&mut g_dwte, &mut g_dwpe, &g_dout, &tokens, time, d);
    assert_close("embed_backward dwte", &p.down(&g_dwte), &c_dwte, 0.0);
    assert_close("embed_backward dwpe", &p.down(&g_dwpe), &c_dwpe, 0.0);
}

#[test]
fn layernorm_and_its_backward_match_cpu() {
    let Some(mut p) = Pair::new(5) else { return };
    let (rows, cols) = (37, 48);
    let x: Vec<f32> = p.random(rows * cols, 2.0).iter().map(|v| v + 0.5).collect();
    let (gain, bias) = (p.random(cols, 1.0), p.random(cols, 1.0));
    let mut c = (vec![0.0; rows * cols], vec![0.0; rows], vec![0.0; rows]);
    p.cpu.layernorm(&mut c.0, &mut c.1, &mut c.2, &x, &gain, &bias, rows, cols, 1e-5);
    let (gx, ggain, gbias) = (p.up(&x), p.up(&gain), p.up(&bias));
    let mut g = (p.gpu.zeros(rows * cols), p.gpu.zeros(rows), p.gpu.zeros(rows));
    p.gpu.layernorm(&mut g.0, &mut g.1, &mut g.2, &gx, &ggain, &gbias, rows, cols, 1e-5);
    // Same summation order; the GPU's division and sqrt may differ by a few ULP: 1e-5.
    assert_close("layernorm out", &p.down(&g.0), &c.0, 1e-5);
    assert_close("layernorm mean", &p.down(&g.1), &c.1, 1e-5);
    assert_close("layernorm rstd", &p.down(&g.2), &c.2, 1e-5);

    let dout = p.random(rows * cols, 1.0);
    let (dx0, dg0, db0) = (p.random(rows * cols, 1.0), p.random(cols, 1.0), p.random(cols, 1.0));
    let mut cd = (dx0.clone(), dg0.clone(), db0.clone());
    p.cpu.layernorm_backward(&mut cd.0, &mut cd.1, &mut cd.2, &dout, &x, &c.1, &c.2, &gain, rows, cols);
    let gdout = p.up(&dout);
    let mut gd = (p.up(&dx0), p.up(&dg0), p.up(&db0));
    p.gpu.layernorm_backward(&mut gd.0, &mut gd.1, &mut gd.2, &gdout, &gx, &g.1, &g.2, &ggain, rows, cols);
    // Built on the forward's statistics (already within 1e-5) over 48-term sums: 1e-4.
    assert_close("layernorm dx", &p.down(&gd.0), &cd.0, 1e-4);
    assert_close("layernorm dgain", &p.down(&gd.1), &cd.1, 1e-4);
    assert_close("layernorm dbias", &p.down(&gd.2), &cd.2, 0.0);
}

fn attention_case(p: &mut Pair, shape: AttnShape, input_scale: f32, scale: f32, causal: bool, form: SoftmaxForm) {
    let what = format!("attention scale {scale} causal {causal} {form:?}");
    let n = shape.batch * shape.time;
    let qkv = p.random(n * 3 * shape.d_model, input_scale);
    let mut c = (vec![0.0; n * shape.d_model], vec![0.0; shape.probs_len()]);
    p.cpu.attention(&mut c.0, &mut c.1, &qkv, shape, scale, causal, form);
    let gqkv = p.up(&qkv);
    let mut g = (p.gpu.zeros(n * shape.d_model), p.gpu.zeros(shape.probs_len()));
    p.gpu.attention(&mut g.0, &mut g.1, &gqkv, shape, scale, causal, form);
    // Scores are hd-term dot products (a few roundings), then exp (3 ULP) and a T-term sum: 1e-5
    // of max(1, |x|) covers probabilities and outputs alike; non-finite values must match in kind.
    assert_close(&format!("{what}: probs"), &p.down(&g.1), &c.1, 1e-5);
    assert_close(&format!("{what}: out"), &p.down(&g.0), &c.0, 1e-5);
    if c.1.iter().all(|v| v.is_finite()) {
        let dout = p.random(n * shape.d_model, 1.0);
        let mut c_dqkv = vec![f32::NAN; n * 3 * shape.d_model]; // overwritten, not accumulated
        p.cpu.attention_backward(&mut c_dqkv, &dout, &qkv, &c.1, shape, scale, causal);
        let gdout = p.up(&dout);
        let mut g_dqkv = p.up(&c_dqkv);
        p.gpu.attention_backward(&mut g_dqkv, &gdout, &gqkv, &g.1, shape, scale, causal);
        // Two chained T- and hd-term products from probabilities already within 1e-5: 1e-4.
        assert_close(&format!("{what}: dqkv"), &p.down(&g_dqkv), &c_dqkv, 1e-4);
    }
}

#[test]
fn attention_matches_cpu_with_every_switch() {
    let Some(mut p) = Pair::new(6) else { return };
    let shape = AttnShape { batch: 2, time: 9, d_model: 16, heads: 2 };
    let healthy = 1.0 / (shape.head_dim() as f32).sqrt();
    attention_case(&mut p, shape, 1.0, healthy, true, SoftmaxForm::STABLE);
    // The no-causal-mask fault: every position sees the future.
    attention_case(&mut p, shape, 1.0, healthy, false, SoftmaxForm::STABLE);
    // The no-attention-scale fault: scores q·k unscaled, the softmax sharpens.
    attention_case(&mut p, shape, 1.0, 1.0, true, SoftmaxForm::STABLE);
    // The softmax without max subtraction: harmless on small scores...
    let no_max = SoftmaxForm { subtract_max: false, log_softmax: true };
    attention_case(&mut p, shape, 1.0, healthy, true, no_max);
    // ...and Inf/NaN on both backends once scores pass ~88.
    attention_case(&mut p, shape, 12.0, 1.0, true, no_max);
    attention_case(&mut p, shape, 12.0, 1.0, false, no_max);
}

#[test]
fn attention_overflow_without_max_subtraction_gives_nan_on_both() {
    let Some(mut p) = Pair::new(7) else { return };
    let shape = AttnShape { batch: 1, time: 4, d_model: 4, heads: 1 };
    let no_max = SoftmaxForm { subtract_max: false, log_softmax: true };
    let qkv = vec![10.0f32; 4 * 12]; // every score 400: exp overflows to Inf, Inf/Inf is NaN
    let mut c = (vec![0.0; 16], vec![0.0; 16]);
    p.cpu.attention(&mut c.0, &mut c.1, &qkv, shape, 1.0, true, no_max);
    let gqkv = p.up(&qkv);
    let mut g = (p.gpu.zeros(16), p.gpu.zeros(16));
    p.gpu.attention(&mut g.0, &mut g.1, &gqkv, shape, 1.0, true, no_max);
    let (gp, go) = (p.down(&g.1), p.down(&g.0));
    assert!(c.0.iter().all(|v| v.is_nan()), "the CPU's symptom: NaN outputs");
    assert!(go.iter().all(|v| v.is_nan()), "the GPU must show the same symptom, got {go:?}");
    assert_close("overflowed probs", &gp, &c.1, 0.0);
}

#[test]
fn activations_and_their_slopes_match_cpu() {
    let Some(mut p) = Pair::new(8) else { return };
    let mut x = p.random(1000, 3.0);
    x.extend([-100.0, -20.0, -0.0, 0.0, 20.0, 100.0]); // saturation and ReLU's kink
    let n = x.len();
    let dout = p.random(n, 1.0);
    let (gx, gdout) = (p.up(&x), p.up(&dout));
    for f in [Activation::Gelu, Activation::Relu, Activation::Sigmoid] {
        let mut c = vec![0.0; n];
        p.cpu.activation(&mut c, &x, n, f);
        let mut g = p.gpu.zeros(n);
        p.gpu.activation(&mut g, &gx, n, f);
        // exp and a division (a few ULP each) inside tanh/sigmoid: 1e-5.
        assert_close(&format!("{f:?}"), &p.down(&g), &c, 1e-5);
        let mut cd = vec![0.0; n];
        p.cpu.activation_backward(&mut cd, &dout, &x, n, f);
        let mut gd = p.gpu.zeros(n);
        p.gpu.activation_backward(&mut gd, &gdout, &gx, n, f);
        assert_close(&format!("{f:?} backward"), &p.down(&gd), &cd, 1e-5);
    }
}

#[test]
fn dropout_masks_are_identical_to_the_cpus() {
    let Some(mut p) = Pair::new(9) else { return };
    let n = 5000;
    let mut c = vec![0.0; n];
    p.cpu.dropout_mask(&mut c, n - 10, 0.3, 42);
    let mut g = p.gpu.zeros(n);
    p.gpu.dropout_mask(&mut g, n - 10, 0.3, 42);
    assert_close("dropout mask", &p.down(&g), &c, 0.0);
}

fn cross_entropy_case(p: &mut Pair, logits: &[f32], rows: usize, vocab: usize, form: SoftmaxForm) -> Vec<f32> {
    let targets = p.tokens(rows, vocab);
    let mut c = (vec![0.0; rows], vec![0.0; rows * vocab]);
    p.cpu.cross_entropy(&mut c.0, &mut c.1, &logits.to_vec(), &targets, rows, vocab, form);
    let gl = p.up(logits);
    let mut g = (p.gpu.zeros(rows), p.gpu.zeros(rows * vocab));
    p.gpu.cross_entropy(&mut g.0, &mut g.1, &gl, &targets, rows, vocab, form);
    let losses = p.down(&g.0);
    // A vocab-term sum of exps, one log: 1e-5 of max(1, |x|); non-finite losses must match in kind.
    assert_close(&format!("{form:?} losses"), &losses, &c.0, 1e-5);
    assert_close(&format!("{form:?} dlogits"), &p.down(&g.1), &c.1, 1e-5);
    losses
}

#[test]
fn cross_entropy_matches_cpu_in_every_form() {
    let Some(mut p) = Pair::new(10) else { return };
    let (rows, vocab) = (50, 65);
    let logits = p.random(rows * vocab, 2.0);
    cross_entropy_case(&mut p, &logits, rows, vocab, SoftmaxForm::STABLE);
    let no_max = SoftmaxForm { subtract_max: false, log_softmax: true };
    let no_log = SoftmaxForm { subtract_max: true, log_softmax: false };
    cross_entropy_case(&mut p, &logits, rows, vocab, no_max);
    cross_entropy_case(&mut p, &logits, rows, vocab, no_log);
    // Logits past exp's range: without the max subtracted the sum overflows (Inf, NaN gradients).
    let big: Vec<f32> = logits.iter().map(|v| v * 60.0).collect();
    let losses = cross_entropy_case(&mut p, &big, rows, vocab, no_max);
    assert!(losses.iter().any(|v| !v.is_finite()), "the overflow fault must show on the GPU");
    // Spread logits: log(softmax) of an underflowed probability is +Inf; log-softmax stays finite.
    let losses = cross_entropy_case(&mut p, &big, rows, vocab, no_log);
    assert!(losses.contains(&f32::INFINITY), "log(0) must show on the GPU");
    let losses = cross_entropy_case(&mut p, &big, rows, vocab, SoftmaxForm::STABLE);
    assert!(losses.iter().all(|v| v.is_finite()));
}

#[test]
fn optimiser_updates_match_cpu() {
    let Some(mut p) = Pair::new(11) else { return };
    let n = 3000;
    let param = p.random(n, 1.0);
    let (mut cp, mut cm, mut cv, mut cvel) = (param.clone(), vec![0.0; n], vec![0.0; n], vec![0.0; n]);
    let mut gp = p.up(&param);
    let (mut gm, mut gv, mut gvel) = (p.gpu.zeros(n), p.gpu.zeros(n), p.gpu.zeros(n));
    let mut sp = param.clone();
    let mut gsp = p.up(&param);
    for step in 1..=5 {
        let grad = p.random(n, 0.1);
        let ggrad = p.up(&grad);
        let h = AdamW { lr: 1e-2, beta1: 0.9, beta2: 0.95, eps: 1e-8, weight_decay: 0.1, step };
        p.cpu.adamw_update(&mut cp, &grad, &mut cm, &mut cv, h);
        p.gpu.adamw_update(&mut gp, &ggrad, &mut gm, &mut gv, h);
        let s = Sgd { lr: 0.1, momentum: 0.9, weight_decay: 0.01 };
        p.cpu.sgd_update(&mut sp, &grad, &mut cvel, s);
        p.gpu.sgd_update(&mut gsp, &ggrad, &mut gvel, s);
    }
    // A sqrt and two divisions per element and step (a few ULP), five steps: 1e-6.
    assert_close("adamw param", &p.down(&gp), &cp, 1e-6);
    assert_close("adamw m", &p.down(&gm), &cm, 1e-6);
    assert_close("adamw v", &p.down(&gv), &cv, 1e-6);
    assert_close("sgd param", &p.down(&gsp), &sp, 1e-6);
    assert_close("sgd velocity", &p.down(&gvel), &cvel, 1e-6);
}

/// Clips `grads` with the loss rows `losses` on both backends and keeps the step for a later
/// [`read_kept`]: the gradients after the clip, GPU first.
fn clip_case(p: &mut Pair, grads: &[Vec<f32>], losses: &[f32], max_norm: f32) -> (Vec<Vec<f32>>, Vec<Vec<f32>>) {
    let mut cg = grads.to_vec();
    let cl = losses.to_vec();
    p.cpu.clip_grad_norm(cg.as_mut_slice(), std::slice::from_ref(&cl), max_norm);
    p.cpu.keep_step(std::slice::from_ref(&cl));
    let mut gg: Vec<GpuBuf> = grads.iter().map(|g| p.up(g)).collect();
    let gl = p.up(losses);
    p.gpu.clip_grad_norm(gg.as_mut_slice(), std::slice::from_ref(&gl), max_norm);
    p.gpu.keep_step(std::slice::from_ref(&gl));
    let g_grads = gg.iter().map(|g| p.down(g)).collect();
    (g_grads, cg)
}

/// The steps both backends kept since their last readback, GPU first.
fn read_kept(p: &mut Pair) -> (Vec<StepReadout>, Vec<StepReadout>) {
    let (mut g, mut c) = (Vec::new(), Vec::new());
    p.gpu.read_steps(&mut g);
    p.cpu.read_steps(&mut c);
    (g, c)
}

#[test]
fn clipping_by_global_norm_matches_cpu() {
    let Some(mut p) = Pair::new(12) else { return };
    // Gradients of three sizes (the last beyond 64 workgroups of 256), at a norm far above the
    // threshold (clipped), below it (factor 1) and with clipping off.
    for (scale, max_norm) in [(1.0, 1.0), (1e-3, 1.0), (1.0, 0.0), (1e25, 5.0)] {
        let grads: Vec<Vec<f32>> = [3000, 17, 70_000].iter().map(|&n| p.random(n, scale)).collect();
        let losses = p.random(64, 1.0);
        let (gg, cg) = clip_case(&mut p, &grads, &losses, max_norm);
        let (mut gr, mut cr) = read_kept(&mut p);
        assert_eq!((gr.len(), cr.len()), (1, 1), "one step kept, one read");
        let (gr, cr) = (gr.remove(0), cr.remove(0));
        let what = format!("scale {scale}, max_norm {max_norm}");
        assert_eq!(gr.losses, cr.losses, "{what}: the loss rows are copies");
        assert_eq!(gr.grad_sq.len(), 3, "{what}");
        // f32 partial sums combined in f32 against the CPU's f64 sum (see the sum-of-squares test).
        for (g, c) in gr.grad_sq.iter().zip(&cr.grad_sq) {
            assert!((g - c).abs() <= 1e-5 * c, "{what}: sum of squares GPU {g} vs CPU {c}");
        }
        // Clipped, each element is x · factor on both sides: the factors come from norms a few
        // roundings apart, so the elements agree to 1e-6 relative. Not clipped, both leave them as
        // they are.
        let norm = cr.grad_sq.iter().sum::<f64>().sqrt();
        let clipped = max_norm > 0.0 && norm > max_norm as f64;
        for (i, (g, c)) in gg.iter().zip(&cg).enumerate() {
            for (j, (a, b)) in g.iter().zip(c).enumerate() {
                let bound = if clipped { 1e-6 * b.abs() } else { 0.0 };
                assert!((a - b).abs() <= bound, "{what}: gradient {i}[{j}] GPU {a} vs CPU {b}");
            }
        }
        assert_eq!(clipped, cg[0] != grads[0], "{what}: clipped exactly when the norm {norm} is above the threshold");
    }
}

/// The GPU's clip, then an AdamW update of `param` with the first gradient and an SGD update with the
/// second; with `read_between`, the gradients are read back between the clip and the updates. The
/// bits of both parameters and both gradients after the updates, and the dispatches it took.
fn clip_then_update(
    p: &mut Pair,
    grads: &[Vec<f32>],
    losses: &[f32],
    param: &[f32],
    read_between: bool,
) -> (Vec<Vec<u32>>, u64) {
    let h = AdamW { lr: 1e-2, beta1: 0.9, beta2: 0.95, eps: 1e-8, weight_decay: 0.1, step: 1 };
    let s = Sgd { lr: 0.1, momentum: 0.9, weight_decay: 0.01 };
    let n = param.len();
    let gl = p.up(losses);
    let mut gg: Vec<GpuBuf> = grads.iter().map(|g| p.up(g)).collect();
    let (mut p0, mut p1) = (p.up(param), p.up(param));
    let (mut m, mut v, mut vel) = (p.gpu.zeros(n), p.gpu.zeros(n), p.gpu.zeros(n));
    let before = p.gpu.stats().dispatches;
    p.gpu.clip_grad_norm(gg.as_mut_slice(), std::slice::from_ref(&gl), 1.0);
    if read_between {
        for g in &gg {
            p.down(g);
        }
    }
    p.gpu.adamw_update(&mut p0, &gg[0], &mut m, &mut v, h);
    p.gpu.sgd_update(&mut p1, &gg[1], &mut vel, s);
    let dispatches = p.gpu.stats().dispatches - before;
    let bits = |v: Vec<f32>| v.iter().map(|x| x.to_bits()).collect();
    let out = [&p0, &p1, &gg[0], &gg[1]].into_iter().map(|b| bits(p.down(b))).collect();
    (out, dispatches)
}

#[test]
fn an_update_after_a_clip_scales_its_gradient_as_the_clip_would_have() {
    let Some(mut p) = Pair::new(14) else { return };
    // Two gradients of norm about 77 against a threshold of 1: clipped.
    let grads = vec![p.random(3000, 1.0), p.random(3000, 1.0)];
    let (losses, param) = (p.random(64, 1.0), p.random(3000, 1.0));
    // The updates scale the gradients they read (written back, as the clip would have): the same
    // bits as when a readback between made the GPU scale them first, in one dispatch less each.
    let (fused, fused_dispatches) = clip_then_update(&mut p, &grads, &losses, &param, false);
    let (apart, apart_dispatches) = clip_then_update(&mut p, &grads, &losses, &param, true);
    for (i, what) in ["adamw param", "sgd param", "gradient 0", "gradient 1"].iter().enumerate() {
        assert!(fused[i] == apart[i], "{what}: the update's own scaling must give the clip's bits");
    }
    assert_eq!(apart_dispatches - fused_dispatches, 2, "one clip scaling fewer per updated gradient");
    // And the CPU's clip then updates, to the optimiser's tolerance (see optimiser_updates_match_cpu).
    let mut cg = grads.clone();
    p.cpu.clip_grad_norm(cg.as_mut_slice(), std::slice::from_ref(&losses), 1.0);
    let (mut c0, mut c1, mut cm, mut cv, mut cvel) =
        (param.clone(), param.clone(), vec![0.0; 3000], vec![0.0; 3000], vec![0.0; 3000]);
    p.cpu.adamw_update(
        &mut c0,
        &cg[0],
        &mut cm,
        &mut cv,
        AdamW { lr: 1e-2, beta1: 0.9, beta2: 0.95, eps: 1e-8, weight_decay: 0.1, step: 1 },
    );
    p.cpu.sgd_update(&mut c1, &cg[1], &mut cvel, Sgd { lr: 0.1, momentum: 0.9, weight_decay: 0.01 });
    let floats = |b: &[u32]| b.iter().map(|&x| f32::from_bits(x)).collect::<Vec<_>>();
    for (what, gpu, cpu) in [
        ("adamw param", &fused[0], &c0),
        ("sgd param", &fused[1], &c1),
        ("gradient 0", &fused[2], &cg[0]),
        ("gradient 1", &fused[3], &cg[1]),
    ] {
        assert_close(what, &floats(gpu), cpu, 1e-6);
    }
}

#[test]
fn an_unhealthy_step_scales_nothing_and_updates_nothing_on_both() {
    let Some(mut p) = Pair::new(13) else { return };
    let param = p.random(500, 1.0);
    let (mut cp, mut cm, mut cv) = (param.clone(), vec![0.0; 500], vec![0.0; 500]);
    let (mut gp, mut gm, mut gv) = (p.up(&param), p.gpu.zeros(500), p.gpu.zeros(500));
    let h = AdamW { lr: 1e-2, beta1: 0.9, beta2: 0.95, eps: 1e-8, weight_decay: 0.1, step: 1 };
    let s = Sgd { lr: 0.1, momentum: 0.9, weight_decay: 0.01 };
    let grads = vec![p.random(500, 10.0)];
    // An Inf loss with finite gradients (what log(0) in the loss gives), a NaN in a gradient, an Inf in one.
    let mut inf_loss = p.random(64, 1.0);
    inf_loss[7] = f32::INFINITY;
    let mut nan_grad = grads.clone();
    nan_grad[0][3] = f32::NAN;
    let mut inf_grad = grads.clone();
    inf_grad[0][499] = f32::NEG_INFINITY;
    let fine_loss = p.random(64, 1.0);
    for (what, g, l, sq) in [
        ("an Inf loss", &grads, &inf_loss, None),
        ("a NaN gradient", &nan_grad, &fine_loss, Some(f64::NAN)),
        ("an Inf gradient", &inf_grad, &fine_loss, Some(f64::INFINITY)),
    ] {
        let (gg, cg) = clip_case(&mut p, g, l, 1.0);
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&cg[0]), bits(&g[0]), "{what}: the CPU must leave the gradients unscaled");
        assert_eq!(bits(&gg[0]), bits(&g[0]), "{what}: the GPU must leave the gradients unscaled");
        // A healthy step recorded after it, before the host has read either, updates nothing
        // either: the host will stop the run at the unhealthy one, with the parameters it left.
        let _ = clip_case(&mut p, &grads, &fine_loss, 1.0);
        let gg0 = p.up(&g[0]);
        p.cpu.adamw_update(&mut cp, &g[0], &mut cm, &mut cv, h);
        p.gpu.adamw_update(&mut gp, &gg0, &mut gm, &mut gv, h);
        p.cpu.sgd_update(&mut cp, &g[0], &mut cm, s);
        p.gpu.sgd_update(&mut gp, &gg0, &mut gm, s);
        assert_eq!(cp, param, "{what}: CPU parameter");
        assert_eq!(p.down(&gp), param, "{what}: GPU parameter");
        assert!(cm.iter().chain(&cv).all(|&x| x == 0.0), "{what}: CPU optimiser state");
        assert!(p.down(&gm).iter().chain(&p.down(&gv)).all(|&x| x == 0.0), "{what}: GPU optimiser state");
        let (gr, cr) = read_kept(&mut p);
        assert_eq!((gr.len(), cr.len()), (2, 2), "{what}: both steps kept");
        assert!(gr[1].grad_sq[0].is_finite() && cr[1].grad_sq[0].is_finite(), "{what}: the healthy step's sums");
        let (gr, cr) = (&gr[0], &cr[0]);
        match sq {
            None => assert!(cr.grad_sq[0].is_finite() && gr.grad_sq[0].is_finite(), "{what}: {cr:?} {gr:?}"),
            Some(v) if v.is_nan() => assert!(cr.grad_sq[0].is_nan() && gr.grad_sq[0].is_nan(), "{what}"),
            Some(v) => assert!(cr.grad_sq[0] == v && gr.grad_sq[0] == v, "{what}: {:?} {:?}", cr.grad_sq, gr.grad_sq),
        }
    }
    // After the readback a healthy clip lets the next update through again.
    let _ = clip_case(&mut p, &grads, &fine_loss, 1.0);
    let gg0 = p.up(&grads[0]);
    p.cpu.adamw_update(&mut cp, &grads[0], &mut cm, &mut cv, h);
    p.gpu.adamw_update(&mut gp, &gg0, &mut gm, &mut gv, h);
    assert_ne!(cp, param, "the CPU must update after a healthy step");
    assert_close("adamw after a healthy step", &p.down(&gp), &cp, 1e-6);
}

#[test]
fn allocations_beyond_the_budget_or_the_adapter_limits_are_out_of_memory() {
    let Some(mut g) = gpu() else { return };
    g.set_memory_budget(4000);
    let ok = g.alloc(1000, "fits").unwrap();
    assert_eq!(g.len(&ok), 1000);
    assert_eq!(g.memory_used(), 4000);
    let e = g.alloc(1, "one more").unwrap_err();
    assert!(matches!(e, EngineError::OutOfMemory { ref what, .. } if what == "one more"), "{e}");
    g.set_memory_budget(u64::MAX);
    let too_big = (g.max_buffer_bytes() / 4 + 1) as usize;
    let e = g.alloc(too_big, "a huge tensor").unwrap_err();
    assert!(matches!(e, EngineError::OutOfMemory { .. }), "{e}");
    assert_eq!(g.memory_used(), 4000, "a failed allocation must not count");
}

#[test]
fn work_is_submitted_only_when_a_readback_needs_it() {
    let Some(mut g) = gpu() else { return };
    let mut a = g.zeros(1024);
    let b = g.zeros(1024);
    for _ in 0..10 {
        g.add_assign(&mut a, &b);
        g.scale(&mut a, 2.0);
    }
    let s = g.stats();
    assert_eq!((s.dispatches, s.submissions, s.readbacks), (20, 0, 0), "{s:?}");
    let _ = g.download(&a);
    let s = g.stats();
    assert_eq!((s.submissions, s.readbacks, s.bytes_read_back), (1, 1, 4096), "{s:?}");
    assert_eq!(g.pipelines_compiled(), 2, "each pipeline compiled once");
}
