//! The GPU backend's training benchmark: throughput on a reference configuration, with the work each
//! step sends to the GPU and reads back. `faultline bench --webgpu` prints it natively; the bench page
//! (`?bench=tiny&backend=webgpu`) runs it in the browser's worker.

use faultline_engine::backend::Backend;
use faultline_engine::bench::BenchResult;
use faultline_engine::config::{Preset, RunConfig};
use faultline_engine::faults::Faults;
use faultline_engine::trainer::{Clock, Trainer};
use serde::{Deserialize, Serialize};

use crate::{GpuBackend, GpuStats};

/// The engine's bench result for the `webgpu` backend, plus the GPU's work per step.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GpuBench {
    #[serde(flatten)]
    pub result: BenchResult,
    /// The first step alone: it compiles every pipeline. Not in `steps_per_s`.
    pub first_step_ms: f64,
    pub dispatches_per_step: f64,
    pub submissions_per_step: f64,
    pub readbacks_per_step: f64,
    pub bytes_read_back_per_step: f64,
    pub bytes_uploaded_per_step: f64,
    /// Steps recorded between readbacks (the trainer's `steps_per_readback`).
    pub steps_per_readback: usize,
    /// The steps of launches no evaluation follows (the others also read the parameters back, for
    /// the update ratios an evaluation reports), and their submissions and bytes read back per step.
    pub plain_steps: usize,
    pub submissions_per_plain_step: f64,
    pub bytes_read_back_per_plain_step: f64,
    /// What one dispatch costs the backend and the API beneath it, apart from the GPU's own work:
    /// microseconds per dispatch to record [`DISPATCH_PROBE`] trivial ones (an add of 256 floats),
    /// and to record, run and read them back once.
    pub record_us_per_dispatch: f64,
    pub run_us_per_dispatch: f64,
}

/// The trivial dispatches the dispatch-cost probe records.
pub const DISPATCH_PROBE: usize = 2000;

impl GpuBench {
    /// A bench of `steps` steps on `preset` not (yet) measured: every count zero.
    pub fn unmeasured(preset: Preset, steps: usize) -> Self {
        GpuBench {
            result: BenchResult::unmeasured("webgpu", String::new(), preset, steps),
            first_step_ms: 0.0,
            dispatches_per_step: 0.0,
            submissions_per_step: 0.0,
            readbacks_per_step: 0.0,
            bytes_read_back_per_step: 0.0,
            bytes_uploaded_per_step: 0.0,
            steps_per_readback: 0,
            plain_steps: 0,
            submissions_per_plain_step: 0.0,
            bytes_read_back_per_plain_step: 0.0,
            record_us_per_dispatch: 0.0,
            run_us_per_dispatch: 0.0,
        }
    }
}

/// The dispatch-cost probe on `gpu`: (µs to record one of [`DISPATCH_PROBE`] adds of 256 floats, µs
/// per add to record, run and read them all back), after one untimed round that compiles the kernel.
fn dispatch_cost(gpu: &mut GpuBackend, clock: Clock) -> (f64, f64) {
    let mut a = gpu.zeros(256);
    let b = gpu.zeros(256);
    gpu.add_assign(&mut a, &b);
    let _ = gpu.download(&a);
    let t0 = clock();
    for _ in 0..DISPATCH_PROBE {
        gpu.add_assign(&mut a, &b);
    }
    let t1 = clock();
    let _ = gpu.download(&a);
    let t2 = clock();
    let per = |ms: f64| ms * 1e3 / DISPATCH_PROBE as f64;
    (per(t1 - t0), per(t2 - t0))
}

/// Trains `preset` with `faults` (the bench's own: none, or `sync-every-step` to compare a readback every
/// step) for one untimed step (it compiles every pipeline) and then `steps` timed ones, from `seed`, as a
/// run does (launches of `steps_per_readback` steps), counting the GPU's work.
pub fn run_gpu_bench(preset: Preset, faults: &Faults, steps: usize, seed: u64, clock: Clock) -> GpuBench {
    let mut out = GpuBench::unmeasured(preset, steps);
    let gpu = match GpuBackend::new() {
        Ok(g) => g,
        Err(e) => {
            out.result.error = Some(e.to_string());
            return out;
        }
    };
    (out.record_us_per_dispatch, out.run_us_per_dispatch) = dispatch_cost(&mut gpu.sibling(), clock);
    let stats = gpu.stats_handle();
    let cfg =
        RunConfig { steps: steps + 1, seed, sample_tokens: 0, faults: faults.clone(), ..RunConfig::preset(preset) };
    let mut trainer = match Trainer::new(cfg, gpu, clock) {
        Ok(t) => t,
        Err(e) => {
            out.result.error = Some(e.to_string());
            return out;
        }
    };
    out.result.backend_name = trainer.backend_name();
    let t0 = clock();
    let first = trainer.step();
    let t1 = clock();
    out.first_step_ms = t1 - t0;
    let before = stats.get();
    let launch = trainer.steps_per_readback();
    out.steps_per_readback = launch;
    // Submissions and bytes read back over the launches no evaluation follows, and their steps.
    let mut plain = GpuStats::default();
    let mut plain_steps = 0;
    let outcome = first.and_then(|r| {
        out.result.first_loss = Some(r.loss);
        let mut done = 0;
        while done < steps {
            let at = stats.get();
            let n = trainer.steps(launch.min(steps - done))?;
            if !trainer.should_evaluate() {
                let now = stats.get();
                plain.submissions += now.submissions - at.submissions;
                plain.bytes_read_back += now.bytes_read_back - at.bytes_read_back;
                plain_steps += n;
            }
            done += n;
        }
        Ok(())
    });
    let timed = &trainer.history().steps[1..];
    let tokens: usize = timed.iter().map(|r| r.tokens).sum();
    out.result.last_loss = timed.last().map(|r| r.loss);
    let secs = (clock() - t1) / 1000.0;
    let after = stats.get();
    if let Err(e) = outcome {
        out.result.error = Some(e.to_string());
    } else if steps > 0 {
        out.result.steps_per_s = steps as f64 / secs;
        out.result.tokens_per_s = tokens as f64 / secs;
        let per = |a: u64, b: u64| (a - b) as f64 / steps as f64;
        out.dispatches_per_step = per(after.dispatches, before.dispatches);
        out.submissions_per_step = per(after.submissions, before.submissions);
        out.readbacks_per_step = per(after.readbacks, before.readbacks);
        out.bytes_read_back_per_step = per(after.bytes_read_back, before.bytes_read_back);
        out.bytes_uploaded_per_step = per(after.bytes_uploaded, before.bytes_uploaded);
        out.plain_steps = plain_steps;
        let per_plain = |v: u64| if plain_steps > 0 { v as f64 / plain_steps as f64 } else { 0.0 };
        out.submissions_per_plain_step = per_plain(plain.submissions);
        out.bytes_read_back_per_plain_step = per_plain(plain.bytes_read_back);
    }
    out
}
