//! The GPU backend's training benchmark: throughput on a reference configuration, with the work each
//! step sends to the GPU and reads back. `faultline-gpu-bench` prints it natively; the bench page
//! (`?bench=tiny&backend=webgpu`) runs it in the browser's worker.

use faultline_engine::bench::BenchResult;
use faultline_engine::config::{Preset, RunConfig};
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
    /// The steps no evaluation follows (the others also read the parameters back, for the
    /// update ratios an evaluation reports): the most submissions and bytes read back of any.
    pub plain_steps: usize,
    pub submissions_per_plain_step: u64,
    pub bytes_read_back_per_plain_step: u64,
}

/// Trains `preset` for one untimed step (it compiles every pipeline) and then `steps` timed ones,
/// from `seed`, counting the GPU's work.
pub fn run_gpu_bench(preset: Preset, steps: usize, seed: u64, clock: Clock) -> GpuBench {
    let mut result = BenchResult::unmeasured("webgpu", String::new(), preset, steps);
    let mut out = GpuBench {
        result: result.clone(),
        first_step_ms: 0.0,
        dispatches_per_step: 0.0,
        submissions_per_step: 0.0,
        readbacks_per_step: 0.0,
        bytes_read_back_per_step: 0.0,
        bytes_uploaded_per_step: 0.0,
        plain_steps: 0,
        submissions_per_plain_step: 0,
        bytes_read_back_per_plain_step: 0,
    };
    let gpu = match GpuBackend::new() {
        Ok(g) => g,
        Err(e) => {
            out.result.error = Some(e.to_string());
            return out;
        }
    };
    let stats = gpu.stats_handle();
    let cfg = RunConfig { steps: steps + 1, seed, sample_tokens: 0, ..RunConfig::preset(preset) };
    let mut trainer = match Trainer::new(cfg, gpu, clock) {
        Ok(t) => t,
        Err(e) => {
            out.result.error = Some(e.to_string());
            return out;
        }
    };
    result.backend_name = trainer.backend_name();
    let t0 = clock();
    let first = trainer.step();
    let t1 = clock();
    out.first_step_ms = t1 - t0;
    let before = stats.get();
    let mut tokens = 0;
    let mut plain: Vec<GpuStats> = Vec::new();
    let outcome = first.and_then(|r| {
        result.first_loss = Some(r.loss);
        for _ in 0..steps {
            let at = stats.get();
            let r = trainer.step()?;
            if !trainer.should_evaluate() {
                let now = stats.get();
                plain.push(GpuStats {
                    submissions: now.submissions - at.submissions,
                    bytes_read_back: now.bytes_read_back - at.bytes_read_back,
                    ..GpuStats::default()
                });
            }
            result.last_loss = Some(r.loss);
            tokens += r.tokens;
        }
        Ok(())
    });
    let secs = (clock() - t1) / 1000.0;
    let after = stats.get();
    if let Err(e) = outcome {
        result.error = Some(e.to_string());
    } else if steps > 0 {
        result.steps_per_s = steps as f64 / secs;
        result.tokens_per_s = tokens as f64 / secs;
        let per = |a: u64, b: u64| (a - b) as f64 / steps as f64;
        out.dispatches_per_step = per(after.dispatches, before.dispatches);
        out.submissions_per_step = per(after.submissions, before.submissions);
        out.readbacks_per_step = per(after.readbacks, before.readbacks);
        out.bytes_read_back_per_step = per(after.bytes_read_back, before.bytes_read_back);
        out.bytes_uploaded_per_step = per(after.bytes_uploaded, before.bytes_uploaded);
        out.plain_steps = plain.len();
        out.submissions_per_plain_step = plain.iter().map(|s| s.submissions).max().unwrap_or(0);
        out.bytes_read_back_per_plain_step = plain.iter().map(|s| s.bytes_read_back).max().unwrap_or(0);
    }
    out.result = result;
    out
}
