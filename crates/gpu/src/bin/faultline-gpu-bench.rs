//! Training throughput of the GPU backend on the reference configurations, with the work each step
//! sends to the GPU and reads back.
//!
//! `cargo run -p faultline-gpu --release --bin faultline-gpu-bench -- [--json] [--steps N] [--preset tiny|small]`

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    native::main();
}

#[cfg(target_arch = "wasm32")]
fn main() {}

#[cfg(not(target_arch = "wasm32"))]
mod native {
    use faultline_engine::bench::BenchResult;
    use faultline_engine::config::{Preset, RunConfig};
    use faultline_engine::trainer::{native_clock, Trainer};
    use faultline_gpu::{GpuBackend, GpuStats};
    use serde::Serialize;

    /// The engine's bench result for the `webgpu` backend, plus the GPU's work per step.
    #[derive(Serialize)]
    struct GpuBench {
        #[serde(flatten)]
        result: BenchResult,
        /// The first step alone: it compiles every pipeline. Not in `steps_per_s`.
        first_step_ms: f64,
        dispatches_per_step: f64,
        submissions_per_step: f64,
        readbacks_per_step: f64,
        bytes_read_back_per_step: f64,
        bytes_uploaded_per_step: f64,
        /// The steps no evaluation follows (the others also read the parameters back, for the
        /// update ratios an evaluation reports): the most submissions and bytes read back of any.
        plain_steps: usize,
        submissions_per_plain_step: u64,
        bytes_read_back_per_plain_step: u64,
    }

    fn bench(preset: Preset, steps: usize) -> GpuBench {
        let mut result = BenchResult {
            backend: "webgpu".to_string(),
            backend_name: String::new(),
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
        };
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
        let cfg = RunConfig { steps: steps + 1, seed: 1, sample_tokens: 0, ..RunConfig::preset(preset) };
        let mut trainer = match Trainer::new(cfg, gpu, native_clock) {
            Ok(t) => t,
            Err(e) => {
                out.result.error = Some(e.to_string());
                return out;
            }
        };
        result.backend_name = trainer.backend_name();
        let t0 = native_clock();
        let first = trainer.step();
        let t1 = native_clock();
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
        let secs = (native_clock() - t1) / 1000.0;
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

    pub fn main() {
        let args: Vec<String> = std::env::args().skip(1).collect();
        let json = args.iter().any(|a| a == "--json");
        let value = |flag: &str| args.iter().position(|a| a == flag).and_then(|i| args.get(i + 1));
        let steps = match value("--steps").map(|s| s.parse::<usize>()) {
            None => 20,
            Some(Ok(n)) => n,
            Some(Err(_)) => {
                eprintln!("--steps takes a number");
                std::process::exit(2);
            }
        };
        let presets: Vec<Preset> = match value("--preset") {
            None => Preset::ALL.to_vec(),
            Some(id) => match Preset::ALL.into_iter().find(|p| p.id() == id) {
                Some(p) => vec![p],
                None => {
                    eprintln!("unknown preset '{id}' (tiny, small)");
                    std::process::exit(2);
                }
            },
        };
        if json {
            let results: Vec<GpuBench> = presets.into_iter().map(|p| bench(p, steps)).collect();
            println!("{}", serde_json::to_string_pretty(&results).expect("bench results serialise"));
            return;
        }
        for preset in presets {
            let b = bench(preset, steps);
            let r = &b.result;
            if let Some(e) = &r.error {
                println!("{}: {e}", r.config);
                continue;
            }
            println!(
                "{:<6} {:>7.2} steps/s {:>9.0} tokens/s | first step {:>7.0} ms | per step: {:.0} dispatches, \
                 {:.1} submissions, {:.1} readbacks ({:.0} B), {:.0} B uploaded | steps no evaluation follows \
                 ({}): at most {} submissions, {} B read back | {}",
                r.config,
                r.steps_per_s,
                r.tokens_per_s,
                b.first_step_ms,
                b.dispatches_per_step,
                b.submissions_per_step,
                b.readbacks_per_step,
                b.bytes_read_back_per_step,
                b.bytes_uploaded_per_step,
                b.plain_steps,
                b.submissions_per_plain_step,
                b.bytes_read_back_per_plain_step,
                r.backend_name
            );
        }
    }
}
