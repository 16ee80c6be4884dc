//! Benchmarks shared by `faultline bench` and the app's bench page (`/?bench=...`).

use crate::backend::cpu::matmul::{matrixmultiply_f32, packed_sgemm, Strides};
use crate::backend::{Activation, AdamW, AttnShape, Backend, CpuBackend, Gemm, SoftmaxForm};
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
    /// The same run with the reference kernels ([`CpuBackend::reference`]), measured right after: the
    /// baseline for the speed-up, from the same machine in the same minute.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference_steps_per_s: Option<f64>,
    /// Kernel speeds at this preset's shapes, measured in the same run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kernels: Option<KernelReport>,
    /// The same training split across a thread pool, measured right after (`faultline bench --threads`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threaded: Option<ThreadedRun>,
}

/// Training throughput on more than one thread, beside a [`BenchResult`]'s one-thread figure.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ThreadedRun {
    pub threads: usize,
    pub steps_per_s: f64,
    /// Against the one-thread `steps_per_s` of the same result.
    pub speedup: f64,
}

/// Trains `steps` steps of `preset` with default settings from `seed` and times them, then does the
/// same with the reference kernels (after a two-step warm-up of each), then measures the kernels at
/// the preset's shapes ([`kernel_report`]). The first step is timed too: the same seed gives the same first loss as
/// `faultline train`.
pub fn run_training_bench(preset: Preset, steps: usize, seed: u64, clock: Clock) -> BenchResult {
    // Two untimed steps with each kernel set first, so neither timed run pays for a browser compiling
    // the shared code with its optimising compiler.
    for backend in [CpuBackend::new(), CpuBackend::reference()] {
        train_timed(backend, preset, steps.min(2), seed, clock);
    }
    let mut result = train_timed(CpuBackend::new(), preset, steps, seed, clock);
    if result.error.is_none() {
        let reference = train_timed(CpuBackend::reference(), preset, steps, seed, clock);
        result.reference_steps_per_s = reference.error.is_none().then_some(reference.steps_per_s);
        result.kernels = Some(kernel_report(preset, clock, 100.0));
    }
    result
}

impl BenchResult {
    /// The result before anything is measured: one thread, no figures, no error.
    pub fn unmeasured(backend: &str, backend_name: String, preset: Preset, steps: usize) -> Self {
        BenchResult {
            backend: backend.to_string(),
            backend_name,
            threads: 1,
            config: preset.id().to_string(),
            steps,
            steps_per_s: 0.0,
            tokens_per_s: 0.0,
            first_loss: None,
            last_loss: None,
            error: None,
            reference_steps_per_s: None,
            kernels: None,
            threaded: None,
        }
    }
}

/// Times `steps` training steps of `preset` with the fast kernels on the threads the calling code
/// provides (inside a pool, [`crate::backend::cpu::parallel`] splits across it), after two untimed steps.
pub fn threaded_run(preset: Preset, steps: usize, seed: u64, clock: Clock, one_thread: &BenchResult) -> ThreadedRun {
    train_timed(CpuBackend::new(), preset, steps.min(2), seed, clock);
    let run = train_timed(CpuBackend::new(), preset, steps, seed, clock);
    ThreadedRun {
        threads: run.threads,
        steps_per_s: run.steps_per_s,
        speedup: run.steps_per_s / one_thread.steps_per_s,
    }
}

/// Times `steps` training steps of `preset` on `backend`.
fn train_timed(backend: CpuBackend, preset: Preset, steps: usize, seed: u64, clock: Clock) -> BenchResult {
    let mut result = BenchResult::unmeasured("cpu", backend.name(), preset, steps);
    result.threads = crate::backend::cpu::parallel::threads();
    let cfg = RunConfig { steps: steps.max(1), seed, ..RunConfig::preset(preset) };
    let mut trainer = match Trainer::new(cfg, backend, clock) {
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

/// The matrix products of one training step of `preset` (forward shapes), plus the 256³ reference (last).
pub fn matmul_shapes(preset: Preset) -> Vec<(String, usize, usize, usize)> {
    let m = preset.model(65);
    let rows = preset.batch_size() * m.context;
    let (c, f) = (m.d_model, m.mlp_dim());
    vec![
        (format!("{}: qkv  [N,C]x[C,3C]", preset.id()), rows, c, 3 * c),
        (format!("{}: mlp  [N,C]x[C,F]", preset.id()), rows, c, f),
        (format!("{}: mlp out [N,F]x[F,C]", preset.id()), rows, f, c),
        (format!("{}: dW  [C,N]x[N,F]", preset.id()), c, rows, f),
        ("256x256x256".to_string(), 256, 256, 256),
    ]
}

/// Which matrix kernel [`matmul_gflops`] times.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MatmulKernel {
    /// The CPU backend's `matmul` (what training uses: `matrixmultiply` natively, the packed SIMD128
    /// kernel on wasm32).
    Backend,
    /// [`packed_sgemm`], the engine's own blocked kernel.
    Packed,
    /// The `matrixmultiply` crate (natively AVX2/FMA when the CPU has them; portable Rust on wasm32).
    Matrixmultiply,
}

/// GFLOP/s of `out = a·b` for `[m,k]·[k,n]` with `kernel`, timed over at least `min_ms`.
pub fn matmul_gflops(
    name: &str,
    m: usize,
    k: usize,
    n: usize,
    kernel: MatmulKernel,
    clock: Clock,
    min_ms: f64,
) -> KernelResult {
    let mut b = CpuBackend::<f32>::new();
    let a = inputs(m * k, 1);
    let w = inputs(k * n, 2);
    let mut out = b.zeros(m * n);
    let (sa, sw, so) = (Strides::row_major(k), Strides::row_major(n), Strides::row_major(n));
    let ms = time_per_call(clock, min_ms, || match kernel {
        MatmulKernel::Backend => b.matmul(&mut out, &a, &w, Gemm::new(m, k, n)),
        MatmulKernel::Packed => packed_sgemm(m, k, n, 1.0, &a, sa, &w, sw, 0.0, &mut out, so),
        MatmulKernel::Matrixmultiply => matrixmultiply_f32(m, k, n, 1.0, &a, sa, &w, sw, 0.0, &mut out, so),
    });
    let flops = 2.0 * (m * k * n) as f64;
    KernelResult { name: name.to_string(), m, k, n, gflops: flops / ms / 1e6 }
}

/// Multiply-add rounds per timed call of [`simd_ceiling_gflops`].
const CEILING_ROUNDS: usize = 4096;

/// The single-core ceiling for 4-wide f32 multiply-add without FMA (what SIMD128 offers): GFLOP/s of a
/// loop of nothing but independent `acc = acc·x + y` on four-lane accumulators held in registers, the
/// best of 8, 12 and 16 accumulators, each measured twice (too few accumulators leave the latency
/// exposed, too many spill registers, and which count wins depends on the compiler: V8 and LLVM differ). On wasm32 it is written in SIMD128
/// (`f32x4.mul` + `f32x4.add`); natively the compiler vectorises the same loop for the host's SSE.
pub fn simd_ceiling_gflops(clock: Clock, min_ms: f64) -> f64 {
    fn rate<const N: usize>(clock: Clock, min_ms: f64) -> f64 {
        let ms = time_per_call(clock, min_ms, ceiling_loop::<N>);
        2.0 * (4 * N * CEILING_ROUNDS) as f64 / ms / 1e6
    }
    // Twice over: a browser may still be compiling a loop's optimised code after its first measurement.
    (0..2)
        .flat_map(|_| [rate::<8>(clock, min_ms), rate::<12>(clock, min_ms), rate::<16>(clock, min_ms)])
        .fold(0.0, f64::max)
}

#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
fn ceiling_loop<const N: usize>() {
    use core::arch::wasm32::{f32x4_add, f32x4_mul, f32x4_splat};
    let x = f32x4_splat(std::hint::black_box(0.999_9));
    let y = f32x4_splat(std::hint::black_box(1e-4));
    let mut acc = [f32x4_splat(std::hint::black_box(0.5)); N];
    for _ in 0..CEILING_ROUNDS {
        for a in acc.iter_mut() {
            *a = f32x4_add(f32x4_mul(*a, x), y);
        }
    }
    std::hint::black_box(acc);
}

#[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
fn ceiling_loop<const N: usize>() {
    let (x, y) = (std::hint::black_box(0.999_9_f32), std::hint::black_box(1e-4_f32));
    let mut acc = [[std::hint::black_box(0.5_f32); 4]; N];
    for _ in 0..CEILING_ROUNDS {
        for a in acc.iter_mut() {
            for v in a.iter_mut() {
                *v = *v * x + y;
            }
        }
    }
    std::hint::black_box(acc);
}

/// Kernel speeds at one preset's shapes, all measured in one run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct KernelReport {
    /// [`simd_ceiling_gflops`].
    pub simd_ceiling_gflops: f64,
    /// The backend's matrix products at the step's shapes, then the 256³ reference with each kernel.
    pub matmul: Vec<KernelResult>,
    /// The backend's 256³ product as a share of the multiply-add ceiling.
    pub matmul_256_of_ceiling: f64,
    /// The other kernels of a step, reference against fast.
    pub rows: Vec<KernelTiming>,
}

/// Measures the matrix products of `preset` and the 256³ reference, the multiply-add ceiling and the
/// row kernels, each for at least `min_ms`.
pub fn kernel_report(preset: Preset, clock: Clock, min_ms: f64) -> KernelReport {
    let simd_ceiling_gflops = simd_ceiling_gflops(clock, min_ms);
    let mut matmul: Vec<KernelResult> = matmul_shapes(preset)
        .into_iter()
        .map(|(name, m, k, n)| matmul_gflops(&name, m, k, n, MatmulKernel::Backend, clock, min_ms))
        .collect();
    let backend_256 = matmul.last().map_or(0.0, |r| r.gflops);
    for (label, kernel) in [("packed", MatmulKernel::Packed), ("matrixmultiply", MatmulKernel::Matrixmultiply)] {
        matmul.push(matmul_gflops(&format!("256x256x256 {label}"), 256, 256, 256, kernel, clock, min_ms));
    }
    KernelReport {
        simd_ceiling_gflops,
        matmul,
        matmul_256_of_ceiling: backend_256 / simd_ceiling_gflops,
        rows: row_kernel_timings(preset, clock, min_ms / 2.0),
    }
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

/// Timed slices per measurement in [`time_per_call`].
const TIMED_SLICES: usize = 5;

/// Milliseconds per call of `f`: the fastest of [`TIMED_SLICES`] slices that together last at least
/// `min_ms`, after warming up for `min_ms / 2`. In a browser a function starts in the baseline compiler
/// and moves to the optimising one only after it has run a while, at a moment the page cannot see
/// (a slice before it is measured 6× slower here); the fastest slice is the optimised code's speed,
/// and on a shared machine it is also the one least disturbed by other work.
fn time_per_call(clock: Clock, min_ms: f64, mut f: impl FnMut()) -> f64 {
    let warm_up = clock();
    f();
    while clock() - warm_up < min_ms / 2.0 {
        f();
    }
    let slice_ms = min_ms / TIMED_SLICES as f64;
    (0..TIMED_SLICES)
        .map(|_| {
            let start = clock();
            let mut reps = 0u64;
            while clock() - start < slice_ms || reps == 0 {
                f();
                reps += 1;
            }
            (clock() - start) / reps as f64
        })
        .fold(f64::INFINITY, f64::min)
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
        b.attention_backward(&mut dqkv, &x_c, &qkv, &probs, shape, scale, true);
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
