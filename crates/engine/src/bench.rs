//! Benchmarks shared by `faultline bench` and the app's bench page (`/?bench=...`).

use crate::backend::{Backend, CpuBackend};
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
