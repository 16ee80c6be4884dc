//! Training throughput of the GPU backend on the reference configurations, with the work each step
//! sends to the GPU and reads back.
//!
//! `cargo run -p faultline-gpu --release --bin faultline-gpu-bench -- [--json] [--steps N] [--preset tiny|small]
//! [--sync-every-step]`: the last trains with the `sync-every-step` fault, a readback after every step.

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    native::main();
}

#[cfg(target_arch = "wasm32")]
fn main() {}

#[cfg(not(target_arch = "wasm32"))]
mod native {
    use faultline_engine::config::Preset;
    use faultline_engine::trainer::native_clock;
    use faultline_engine::Faults;
    use faultline_gpu::bench::{run_gpu_bench, GpuBench};

    pub fn main() {
        let args: Vec<String> = std::env::args().skip(1).collect();
        let json = args.iter().any(|a| a == "--json");
        let faults = Faults { sync_every_step: args.iter().any(|a| a == "--sync-every-step"), ..Faults::default() };
        let bench =
            |preset: Preset, steps: usize| -> GpuBench { run_gpu_bench(preset, &faults, steps, 1, native_clock) };
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
                 {:.2} submissions, {:.2} readbacks ({:.0} B), {:.0} B uploaded | {} steps per readback; the {} \
                 steps no evaluation follows: {:.3} submissions, {:.0} B read back each | one dispatch: {:.1} µs to \
                 record, {:.1} µs recorded and run | {}",
                r.config,
                r.steps_per_s,
                r.tokens_per_s,
                b.first_step_ms,
                b.dispatches_per_step,
                b.submissions_per_step,
                b.readbacks_per_step,
                b.bytes_read_back_per_step,
                b.bytes_uploaded_per_step,
                b.steps_per_readback,
                b.plain_steps,
                b.submissions_per_plain_step,
                b.bytes_read_back_per_plain_step,
                b.record_us_per_dispatch,
                b.run_us_per_dispatch,
                r.backend_name
            );
        }
    }
}
