//! Finite-difference gradient checks: every kernel's backward and every parameter tensor of the model.
//!
//! All checks run the CPU backend in f64. In f32 a central difference with step h carries a rounding
//! error near ε_f32·|L|/h ≈ 1e-7/1e-3 = 1e-4 of the loss scale, as large as many of the gradients being
//! checked; in f64 the same error is ≈ 1e-16/1e-6 = 1e-10, and the truncation error O(h²·L''') is about
//! 1e-12. So we demand agreement to `|analytic - numeric| ≤ 1e-7 + 1e-5·|numeric|`: tight enough that a
//! missing factor, a wrong transpose or a dropped term (all O(1) relative errors) fails loudly.

use faultline_engine::backend::{Activation, AttnShape, Backend, CpuBackend, Gemm, SoftmaxForm};
use faultline_engine::config::ModelConfig;
use faultline_engine::faults::FaultId;
use faultline_engine::model::{Activations, Gpt, Pass};
use faultline_engine::rng::Rng;
use faultline_engine::Faults;

type B = CpuBackend<f64>;

const H: f64 = 1e-6;

fn assert_close(what: &str, analytic: f64, numeric: f64) {
    let tol = 1e-7 + 1e-5 * numeric.abs();
    assert!(
        (analytic - numeric).abs() <= tol,
        "{what}: analytic {analytic:.10e} vs numeric {numeric:.10e} (diff {:.3e}, tol {tol:.3e})",
        (analytic - numeric).abs()
    );
}

fn random(rng: &mut Rng, n: usize, scale: f64) -> Vec<f64> {
    (0..n).map(|_| rng.normal() * scale).collect()
}

/// Checks the gradient of `L(inputs) = Σ w ⊙ f(inputs)` with respect to every element of every input.
/// `f` computes the op's output; `grad` returns the analytic gradients given `dL/dout = w`.
fn check_op(
    name: &str,
    inputs: Vec<Vec<f64>>,
    out_len: usize,
    f: impl Fn(&[Vec<f64>]) -> Vec<f64>,
    grad: impl Fn(&[Vec<f64>], &[f64]) -> Vec<Vec<f64>>,
) {
    let mut rng = Rng::new(99);
    let w = random(&mut rng, out_len, 1.0);
    let loss = |ins: &[Vec<f64>]| f(ins).iter().zip(&w).map(|(o, w)| o * w).sum::<f64>();
    let analytic = grad(&inputs, &w);
    for (i, input) in inputs.iter().enumerate() {
        for j in 0..input.len() {
            let mut plus = inputs.clone();
            plus[i][j] += H;
            let mut minus = inputs.clone();
            minus[i][j] -= H;
            let numeric = (loss(&plus) - loss(&minus)) / (2.0 * H);
            assert_close(&format!("{name}: input {i}[{j}]"), analytic[i][j], numeric);
        }
    }
}

#[test]
fn matmul_every_layout() {
    let (m, k, n) = (3, 4, 5);
    for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
        let mut rng = Rng::new(1);
        let inputs = vec![random(&mut rng, m * k, 1.0), random(&mut rng, k * n, 1.0)];
        check_op(
            &format!("matmul ta={ta} tb={tb}"),
            inputs,
            m * n,
            |x| {
                let mut b = B::new();
                let mut out = b.zeros(m * n);
                b.matmul(&mut out, &x[0], &x[1], Gemm { m, k, n, trans_a: ta, trans_b: tb, accumulate: false });
                out
            },
            |x, w| {
                // out = A·B with dout = w: dA = w·Bᵀ and dB = Aᵀ·w, transposed back into each storage layout.
                let mut b = B::new();
                let w = w.to_vec();
                let mut da = b.zeros(m * k);
                let mut db = b.zeros(k * n);
                if ta {
                    b.matmul(
                        &mut da,
                        &x[1],
                        &w,
                        Gemm { m: k, k: n, n: m, trans_a: tb, trans_b: true, accumulate: false },
                    ); // stored [k,m]: dAᵀ = B·wᵀ
                } else {
                    b.matmul(
                        &mut da,
                        &w,
                        &x[1],
                        Gemm { m, k: n, n: k, trans_a: false, trans_b: !tb, accumulate: false },
                    );
                }
                if tb {
                    b.matmul(
                        &mut db,
                        &w,
                        &x[0],
                        Gemm { m: n, k: m, n: k, trans_a: true, trans_b: ta, accumulate: false },
                    ); // stored [n,k]: dBᵀ = wᵀ·A
                } else {
                    b.matmul(
                        &mut db,
                        &x[0],
                        &w,
                        Gemm { m: k, k: m, n, trans_a: !ta, trans_b: false, accumulate: false },
                    );
                }
                vec![da, db]
            },
        );
    }
}

#[test]
fn matmul_accumulates() {
    let mut b = B::new();
    let a = vec![1.0, 2.0, 3.0, 4.0];
    let i = vec![1.0, 0.0, 0.0, 1.0];
    let mut out = vec![10.0; 4];
    b.matmul(&mut out, &a, &i, Gemm::new(2, 2, 2).accumulate());
    assert_eq!(out, vec![11.0, 12.0, 13.0, 14.0]);
}

#[test]
fn layernorm_backward() {
    let (rows, cols) = (3, 6);
    let mut rng = Rng::new(2);
    let inputs = vec![random(&mut rng, rows * cols, 2.0), random(&mut rng, cols, 1.0), random(&mut rng, cols, 1.0)];
    let fwd = |x: &[Vec<f64>]| {
        let mut b = B::new();
        let (mut out, mut mean, mut rstd) = (b.zeros(rows * cols), b.zeros(rows), b.zeros(rows));
        b.layernorm(&mut out, &mut mean, &mut rstd, &x[0], &x[1], &x[2], rows, cols, 1e-5);
        (out, mean, rstd)
    };
    check_op(
        "layernorm",
        inputs,
        rows * cols,
        |x| fwd(x).0,
        |x, w| {
            let mut b = B::new();
            let (_, mean, rstd) = fwd(x);
            let (mut dx, mut dg, mut db) = (b.zeros(rows * cols), b.zeros(cols), b.zeros(cols));
            b.layernorm_backward(&mut dx, &mut dg, &mut db, &w.to_vec(), &x[0], &mean, &rstd, &x[1], rows, cols);
            vec![dx, dg, db]
        },
    );
}

fn check_attention(causal: bool, scale: f64, time: usize) {
    let shape = AttnShape { batch: 2, time, d_model: 6, heads: 2 };
    let n = shape.batch * shape.time;
    let mut rng = Rng::new(3);
    let inputs = vec![random(&mut rng, n * 3 * shape.d_model, 1.0)];
    let fwd = |x: &[Vec<f64>]| {
        let mut b = B::new();
        let (mut out, mut probs) = (b.zeros(n * shape.d_model), b.zeros(shape.probs_len()));
        b.attention(&mut out, &mut probs, &x[0], shape, scale as f32, causal, SoftmaxForm::STABLE);
        (out, probs)
    };
    check_op(
        &format!("attention causal={causal} scale={scale}"),
        inputs,
        n * shape.d_model,
        |x| fwd(x).0,
        |x, w| {
            let mut b = B::new();
            let (_, probs) = fwd(x);
            let mut dqkv = b.zeros(n * 3 * shape.d_model);
            b.attention_backward(&mut dqkv, &w.to_vec(), &x[0], &probs, shape, scale as f32, causal);
            vec![dqkv]
        },
    );
}

#[test]
fn attention_backward_causal_scaled() {
    check_attention(true, 1.0 / 3f64.sqrt(), 4);
}

#[test]
fn attention_backward_without_mask() {
    check_attention(false, 1.0 / 3f64.sqrt(), 4);
}

#[test]
fn attention_backward_without_scale() {
    check_attention(true, 1.0, 4);
}

/// Longer than the fast kernel's block of rows (16), and not a multiple of it: the causal products
/// that skip the masked triangle block by block, and the unmasked ones that do not.
#[test]
fn attention_backward_across_row_blocks() {
    check_attention(true, 1.0 / 3f64.sqrt(), 37);
    check_attention(false, 1.0 / 3f64.sqrt(), 37);
}

#[test]
fn attention_probabilities_are_causal_rows_summing_to_one() {
    let shape = AttnShape { batch: 1, time: 5, d_model: 4, heads: 2 };
    let mut rng = Rng::new(4);
    let qkv = random(&mut rng, 5 * 12, 1.0);
    let mut b = B::new();
    let (mut out, mut probs) = (b.zeros(20), b.zeros(shape.probs_len()));
    b.attention(&mut out, &mut probs, &qkv, shape, 0.7, true, SoftmaxForm::STABLE);
    for row in probs.chunks(5).enumerate() {
        let (i, p) = (row.0 % 5, row.1);
        assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        assert!(p[i + 1..].iter().all(|&v| v == 0.0), "row {i} sees the future: {p:?}");
    }
}

#[test]
fn activations_backward() {
    for f in [Activation::Gelu, Activation::Relu, Activation::Sigmoid] {
        let mut rng = Rng::new(5);
        // Inputs kept away from ReLU's kink at 0, where the derivative is undefined.
        let x: Vec<f64> = random(&mut rng, 12, 2.0).into_iter().map(|v| if v.abs() < 0.01 { 0.5 } else { v }).collect();
        check_op(
            &format!("{f:?}"),
            vec![x],
            12,
            |x| {
                let mut b = B::new();
                let mut out = b.zeros(12);
                b.activation(&mut out, &x[0], 12, f);
                out
            },
            |x, w| {
                let mut b = B::new();
                let mut dx = b.zeros(12);
                b.activation_backward(&mut dx, &w.to_vec(), &x[0], 12, f);
                vec![dx]
            },
        );
    }
}

#[test]
fn cross_entropy_backward() {
    let (rows, vocab) = (4, 7);
    let targets = [0u32, 3, 6, 2];
    let mut rng = Rng::new(6);
    let logits = random(&mut rng, rows * vocab, 3.0);
    let mean_loss = |z: &[f64]| {
        let mut b = B::new();
        let (mut losses, mut d) = (b.zeros(rows), b.zeros(rows * vocab));
        b.cross_entropy(&mut losses, &mut d, &z.to_vec(), &targets, rows, vocab, SoftmaxForm::STABLE);
        (losses.iter().sum::<f64>() / rows as f64, d)
    };
    let (_, analytic) = mean_loss(&logits);
    for j in 0..logits.len() {
        let mut p = logits.clone();
        p[j] += H;
        let mut m = logits.clone();
        m[j] -= H;
        let numeric = (mean_loss(&p).0 - mean_loss(&m).0) / (2.0 * H);
        assert_close(&format!("cross-entropy logit {j}"), analytic[j], numeric);
    }
}

#[test]
fn cross_entropy_is_stable_for_huge_logits() {
    let mut b = B::new();
    let (mut losses, mut d) = (b.zeros(1), b.zeros(3));
    b.cross_entropy(&mut losses, &mut d, &vec![1000.0, 0.0, -1000.0], &[0], 1, 3, SoftmaxForm::STABLE);
    assert!(losses[0].abs() < 1e-12 && d.iter().all(|v| v.is_finite()));
}

#[test]
fn embedding_and_bias_backward() {
    let (time, d, vocab) = (3, 4, 5);
    let tokens = [1u32, 4, 1, 0, 2, 4];
    let mut rng = Rng::new(7);
    let inputs = vec![random(&mut rng, vocab * d, 1.0), random(&mut rng, time * d, 1.0), random(&mut rng, d, 1.0)];
    let n = tokens.len();
    check_op(
        "embedding + bias",
        inputs,
        n * d,
        |x| {
            let mut b = B::new();
            let mut out = b.zeros(n * d);
            b.embed(&mut out, &x[0], &x[1], &tokens, time, d);
            b.add_bias(&mut out, &x[2], n, d);
            out
        },
        |_, w| {
            let mut b = B::new();
            let (mut dwte, mut dwpe, mut dbias) = (b.zeros(vocab * d), b.zeros(time * d), b.zeros(d));
            b.embed_backward(&mut dwte, &mut dwpe, &w.to_vec(), &tokens, time, d);
            b.bias_backward(&mut dbias, &w.to_vec(), n, d);
            vec![dwte, dwpe, dbias]
        },
    );
}

/// A model small enough to check element by element: V 11, T 6, C 8, 2 heads, 2 layers, batch 2.
fn small_model(faults: Faults) -> (B, Gpt<B>) {
    let cfg = ModelConfig { vocab_size: 11, context: 6, d_model: 8, n_heads: 2, n_layers: 2, mlp_mult: 4 };
    let mut b = B::new();
    let mut gpt = Gpt::new(&mut b, cfg, faults, 5).unwrap();
    // Larger weights than the 0.02 init so every path carries a gradient well above the tolerance.
    let mut rng = Rng::new(8);
    for p in gpt.params.tensors_mut() {
        for v in p.iter_mut() {
            *v += rng.normal() * 0.3;
        }
    }
    (b, gpt)
}

fn check_model(faults: Faults, dropout: f32) {
    let (mut b, mut gpt) = small_model(faults);
    let pass = Pass { batch: 2, time: 6, dropout, dropout_seed: 17 };
    let mut rng = Rng::new(9);
    let tokens: Vec<u32> = (0..12).map(|_| rng.below(11) as u32).collect();
    let targets: Vec<u32> = (0..12).map(|_| rng.below(11) as u32).collect();
    let mut acts = Activations::new(&mut b, &gpt.config, 2, 6).unwrap();
    let loss = |b: &mut B, gpt: &Gpt<B>, acts: &mut Activations<Vec<f64>>| {
        gpt.forward(b, acts, &tokens, Some(&targets), pass);
        acts.losses.iter().sum::<f64>() / acts.losses.len() as f64
    };
    loss(&mut b, &gpt, &mut acts);
    let mut grads = gpt.zeros_like_params(&mut b, "gradients").unwrap();
    gpt.backward(&mut b, &mut acts, &mut grads, &tokens, pass);

    let names: Vec<String> = gpt.specs.tensors().iter().map(|s| s.name.clone()).collect();
    let analytic: Vec<Vec<f64>> = grads.tensors().into_iter().cloned().collect();
    for (t, name) in names.iter().enumerate() {
        let len = analytic[t].len();
        // Up to 8 elements per tensor, spread over it, so every tensor is checked in a few seconds.
        let picks: Vec<usize> = (0..len.min(8)).map(|i| i * len / len.min(8)).collect();
        for j in picks {
            let orig = gpt.params.tensors()[t][j];
            gpt.params.tensors_mut()[t][j] = orig + H;
            let lp = loss(&mut b, &gpt, &mut acts);
            gpt.params.tensors_mut()[t][j] = orig - H;
            let lm = loss(&mut b, &gpt, &mut acts);
            gpt.params.tensors_mut()[t][j] = orig;
            assert_close(&format!("{name}[{j}]"), analytic[t][j], (lp - lm) / (2.0 * H));
        }
    }
}

#[test]
fn every_parameter_tensor_of_the_healthy_model() {
    check_model(Faults::default(), 0.0);
}

#[test]
fn every_parameter_tensor_with_dropout() {
    check_model(Faults::default(), 0.2);
}

#[test]
fn every_parameter_tensor_post_norm_without_residual() {
    let mut faults = Faults::default();
    faults.set(FaultId::PostNorm, None).unwrap();
    faults.set(FaultId::NoResidual, None).unwrap();
    check_model(faults, 0.1);
}

#[test]
fn every_parameter_tensor_with_architecture_faults() {
    for f in [
        FaultId::NoResidual,
        FaultId::NoAttnScale,
        FaultId::NoCausalMask,
        FaultId::PostNorm,
        FaultId::SigmoidActivation,
        FaultId::LayernormNoEps,
    ] {
        let mut faults = Faults::default();
        faults.set(f, None).unwrap();
        check_model(faults, 0.0);
    }
}
