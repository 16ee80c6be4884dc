//! Benchmarks shared by `faultline bench` and the app's bench page (`/?bench=...`).

use crate::backend::{Activation, AdamW, AttnShape, Backend, CpuBackend, SoftmaxForm};
use crate::config::{Preset, RunConfig};
use crate::trainer::{Clock, Trainer};
use serde::{Deserialize, Serialize};

/// Training throughput of one reference configuration; the bench page prints this as JSON.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BenchResult {
    /// The backend's id, as the bench page's `backend` parameter spells it (`cpu`, `webgpu`).
    pub backend: String,
    /// Its human-readable name.
    pub backend_name: String,
    pub threads: usize,
    pub config: String,
    pub steps: usize,
    pub steps_per_s: f64,
    pub tokens_per_s: f64,
    pub first_loss: Option<f32>,
    pub last_loss: Option<f32>,
    /// Set when the benchmark could not run; the numbers above are then zero or absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Trains `steps` steps of `preset` with default settings from `seed` and times them. The first step
/// is timed too: the same seed gives the same first loss as `faultline train`.
pub fn run_training_bench(preset: Preset, steps: usize, seed: u64, clock: Clock) -> BenchResult {
    let mut result = BenchResult {
        backend: "cpu".to_string(),
        backend_name: CpuBackend::<f32>::new().name(),
        threads: 1,
        config: preset.id().to_string(),
        steps,
        steps_per_s: 0.0,
        tokens_per_s: 0.0,
        first_loss: None,
        last_loss: None,
        error: None,
    };
    let cfg = RunConfig { steps: steps.max(1), seed, ..RunConfig::preset(preset) };
    let mut trainer = match Trainer::cpu(cfg, clock) {
        Ok(t) => t,
        Err(e) => {
            result.error = Some(e.to_string());
            return result;
        }
    };
    let start = clock();
    let mut tokens = 0usize;
    for _ in 0..steps {
        match trainer.step() {
            Ok(r) => {
                result.first_loss.get_or_insert(r.loss);
                result.last_loss = Some(r.loss);
                tokens += r.tokens;
            }
            Err(e) => {
                result.error = Some(e.to_string());
                break;
            }
        }
    }
    let seconds = ((clock() - start) / 1e3).max(1e-9);
    result.steps_per_s = trainer.steps_done() as f64 / seconds;
    result.tokens_per_s = tokens as f64 / seconds;
    result
}

/// Speed of one matrix product shape.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct KernelResult {
    pub name: String,
    pub m: usize,
    pub k: usize,
    pub n: usize,
    pub gflops: f64,
}

/// The matrix products of one training step of `preset` (forward shapes), plus the 256³ reference.
pub fn matmul_shapes(preset: Preset) -> Vec<(String, usize, usize, usize)> {
    let m = preset.model(65);
    let rows = preset.batch_size() * m.context;
    let (c, f) = (m.d_model, m.mlp_dim());
    vec![
        (format!("{}: qkv  [N,C]x[C,3C]", preset.id()), rows, c, 3 * c),
        (format!("{}: mlp  [N,C]x[C,F]", preset.id()), rows, c, f),
        (format!("{}: mlp out [N,F]x[F,C]", preset.id()), rows, f, c),
        (format!("{}: dW  [C,N]x[N,F]", preset.id()), c, rows, f),
        ("reference 256x256x256".to_string(), 256, 256, 256),
    ]
}

/// GFLOP/s of `out = a·b` for `[m,k]·[k,n]` on the CPU backend, timed over at least `min_ms`.
pub fn matmul_gflops(name: &str, m: usize, k: usize, n: usize, clock: Clock, min_ms: f64) -> KernelResult {
    let mut b = CpuBackend::<f32>::new();
    let a: Vec<f32> = (0..m * k).map(|i| ((i * 7919) % 1000) as f32 * 1e-3).collect();
    let w: Vec<f32> = (0..k * n).map(|i| ((i * 104_729) % 1000) as f32 * 1e-3).collect();
    let mut out = b.zeros(m * n);
    b.matmul(&mut out, &a, &w, m, k, n, false, false, false);
    let start = clock();
    let mut reps = 0u64;
    while clock() - start < min_ms {
        b.matmul(&mut out, &a, &w, m, k, n, false, false, false);
        reps += 1;
    }
    let seconds = (clock() - start) / 1e3;
    let flops = 2.0 * (m * k * n) as f64 * reps as f64;
    KernelResult { name: name.to_string(), m, k, n, gflops: flops / seconds / 1e9 }
}

/// Time per call of one non-matmul kernel at a preset's shapes, reference kernels against fast ones.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct KernelTiming {
    pub name: String,
    pub reference_ms: f64,
    pub fast_ms: f64,
    /// `reference_ms / fast_ms`, both measured in the same run.
    pub speedup: f64,
}

/// Milliseconds per call of `f`, repeated for at least `min_ms` after one warm-up call.
fn time_per_call(clock: Clock, min_ms: f64, mut f: impl FnMut()) -> f64 {
    f();
    let start = clock();
    let mut reps = 0u64;
    while clock() - start < min_ms || reps == 0 {
        f();
        reps += 1;
    }
    (clock() - start) / reps as f64
}

/// Deterministic inputs in [-1, 1).
fn inputs(len: usize, salt: usize) -> Vec<f32> {
    (0..len).map(|i| (((i * 7919 + salt * 104_729) % 2000) as f32 - 1000.0) * 1e-3).collect()
}

/// The row kernels of one training step of `preset` (attention, GELU, LayerNorm, cross-entropy,
/// AdamW), each timed with the reference and the fast kernels, alternating, for `min_ms` each.
pub fn row_kernel_timings(preset: Preset, clock: Clock, min_ms: f64) -> Vec<KernelTiming> {
    let m = preset.model(65);
    let (batch, time, c, f, v) = (preset.batch_size(), m.context, m.d_model, m.mlp_dim(), m.vocab_size);
    let rows = batch * time;
    let shape = AttnShape { batch, time, d_model: c, heads: m.n_heads };
    let scale = 1.0 / (m.head_dim() as f32).sqrt();
    let qkv = inputs(rows * 3 * c, 1);
    let x_c = inputs(rows * c, 2);
    let x_f = inputs(rows * f, 3);
    let logits = inputs(rows * v, 4);
    let targets: Vec<u32> = (0..rows).map(|i| (i % v) as u32).collect();
    let (gain, bias) = (vec![1.0f32; c], vec![0.0f32; c]);
    let mut timings = Vec::new();
    let mut compare = |name: String, run: &mut dyn FnMut(&mut CpuBackend)| {
        let mut reference = CpuBackend::reference();
        let mut fast = CpuBackend::new();
        let reference_ms = time_per_call(clock, min_ms, || run(&mut reference));
        let fast_ms = time_per_call(clock, min_ms, || run(&mut fast));
        timings.push(KernelTiming { name, reference_ms, fast_ms, speedup: reference_ms / fast_ms });
    };
    let id = preset.id();
    let (mut out_c, mut probs) = (vec![0.0f32; rows * c], vec![0.0f32; shape.probs_len()]);
    compare(format!("{id}: attention forward"), &mut |b| {
        b.attention(&mut out_c, &mut probs, &qkv, shape, scale, true, SoftmaxForm::STABLE);
    });
    let mut dqkv = vec![0.0f32; rows * 3 * c];
    compare(format!("{id}: attention backward"), &mut |b| {
        b.attention_backward(&mut dqkv, &x_c, &qkv, &probs, shape, scale);
    });
    let mut out_f = vec![0.0f32; rows * f];
    compare(format!("{id}: GELU forward [N,F]"), &mut |b| b.activation(&mut out_f, &x_f, rows * f, Activation::Gelu));
    compare(format!("{id}: GELU backward [N,F]"), &mut |b| {
        b.activation_backward(&mut out_f, &x_f, &x_f, rows * f, Activation::Gelu);
    });
    let (mut mean, mut rstd) = (vec![0.0f32; rows], vec![0.0f32; rows]);
    compare(format!("{id}: LayerNorm forward [N,C]"), &mut |b| {
        b.layernorm(&mut out_c, &mut mean, &mut rstd, &x_c, &gain, &bias, rows, c, 1e-5);
    });
    let (mut dgain, mut dbias, mut dx) = (vec![0.0f32; c], vec![0.0f32; c], vec![0.0f32; rows * c]);
    compare(format!("{id}: LayerNorm backward [N,C]"), &mut |b| {
        b.layernorm_backward(&mut dx, &mut dgain, &mut dbias, &x_c, &x_c, &mean, &rstd, &gain, rows, c);
    });
    let (mut losses, mut dlogits) = (vec![0.0f32; rows], vec![0.0f32; rows * v]);
    compare(format!("{id}: cross-entropy [N,V]"), &mut |b| {
        b.cross_entropy(&mut losses, &mut dlogits, &logits, &targets, rows, v, SoftmaxForm::STABLE);
    });
    let (mut param, grad) = (inputs(c * f, 5), inputs(c * f, 6));
    let (mut m1, mut m2) = (vec![0.0f32; c * f], vec![0.0f32; c * f]);
    let h = AdamW { lr: 1e-3, beta1: 0.9, beta2: 0.95, eps: 1e-8, weight_decay: 0.1, step: 10 };
    compare(format!("{id}: AdamW [C,F]"), &mut |b| b.adamw_update(&mut param, &grad, &mut m1, &mut m2, h));
    timings
}
