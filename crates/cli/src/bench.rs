//! `faultline bench`: training speed on the CPU (and the GPU with `--webgpu`), as text or JSON.

use crate::args::{pool, threads_arg, ArgError, Args, Failure};
use crate::out;
use faultline_engine::align::bench::{run_dpo_bench, run_rl_bench, DpoBench, RlBench};
use faultline_engine::align::RL_DEFAULT_CORPUS;
use faultline_engine::backend::CpuBackend;
use faultline_engine::bench::{run_training_bench, threaded_run};
use faultline_engine::config::Preset;
use faultline_engine::data::corpus::CorpusId;
use faultline_engine::trainer::native_clock;
use faultline_engine::EngineError;
use faultline_engine::Faults;
use faultline_gpu::bench::{run_gpu_bench, GpuBench};
use faultline_gpu::GpuBackend;
use serde_json::json;
use std::io::Write;

pub(crate) fn bench(rest: &[String]) -> Result<(), Failure> {
    let (threads, rest) = threads_arg(rest)?;
    let mut args = Args::new(&rest);
    let mut json = false;
    let mut steps = 20usize;
    let mut presets = Preset::ALL.to_vec();
    let mut webgpu = false;
    let mut dpo_rows = false;
    let mut rl_rows = false;
    let mut gpu_faults = Faults::default();
    while let Some(flag) = args.next_flag() {
        match flag {
            "--json" => json = true,
            "--steps" => {
                steps = args.parse(flag, "a whole number")?;
                if steps == 0 {
                    return Err(ArgError("--steps: must be at least 1".into()).into());
                }
            }
            "--config" => presets = vec![Preset::parse(args.value(flag)?)?],
            "--webgpu" => webgpu = true,
            "--dpo" => dpo_rows = true,
            "--rl" => rl_rows = true,
            "--sync-every-step" => gpu_faults.sync_every_step = true,
            other => return Err(ArgError(format!("{other}: unknown argument for 'bench'")).into()),
        }
    }
    if gpu_faults.sync_every_step && !webgpu {
        return Err(ArgError("--sync-every-step: only with --webgpu (the CPU's readback is a copy)".into()).into());
    }
    let mut training: Vec<_> = presets.iter().map(|&p| run_training_bench(p, steps, 1, native_clock)).collect();
    if threads > 1 {
        let pool = pool(threads)?;
        for (result, &preset) in training.iter_mut().zip(&presets) {
            if result.error.is_none() {
                result.threaded = Some(pool.install(|| threaded_run(preset, steps, 1, native_clock, result)));
            }
        }
    }
    let gpu: Vec<GpuBench> = if webgpu {
        presets.iter().map(|&p| run_gpu_bench(p, &gpu_faults, steps, 1, native_clock)).collect()
    } else {
        Vec::new()
    };
    let mut dpo = Vec::new();
    for corpus in [CorpusId::Sorting, CorpusId::ToyEnglish].into_iter().filter(|_| dpo_rows) {
        dpo.push(run_dpo_bench(|| Ok(CpuBackend::<f32>::new()), corpus, steps, native_clock));
        if webgpu {
            dpo.push(run_dpo_bench(
                || GpuBackend::new().map_err(|e| EngineError::Data(e.to_string())),
                corpus,
                steps,
                native_clock,
            ));
        }
    }
    let dpo: Vec<DpoBench> =
        dpo.into_iter().collect::<Result<_, _>>().map_err(|e| Failure::Run(format!("dpo bench: {e}")))?;
    let mut rl = Vec::new();
    if rl_rows {
        let corpus = RL_DEFAULT_CORPUS;
        rl.push(run_rl_bench(|| Ok(CpuBackend::<f32>::new()), corpus, steps, native_clock));
        if webgpu {
            let gpu = || GpuBackend::new().map_err(|e| EngineError::Data(e.to_string()));
            rl.push(run_rl_bench(gpu, corpus, steps, native_clock));
        }
    }
    let rl: Vec<RlBench> =
        rl.into_iter().collect::<Result<_, _>>().map_err(|e| Failure::Run(format!("rl bench: {e}")))?;
    if json {
        let mut out = json!({ "training": training });
        if dpo_rows {
            out["dpo"] = json!(dpo);
        }
        if rl_rows {
            out["rl"] = json!(rl);
        }
        if webgpu {
            out["webgpu"] = json!(gpu);
        }
        out!("{out}")?;
        return Ok(());
    }
    for t in &training {
        out!(
            "train {:<6} {:>8.2} steps/s ({:.2}x the reference kernels' {:.2}) {:>10.0} tokens/s  first loss {:.4}  backend {}",
            t.config,
            t.steps_per_s,
            t.steps_per_s / t.reference_steps_per_s.unwrap_or(f64::NAN),
            t.reference_steps_per_s.unwrap_or(f64::NAN),
            t.tokens_per_s,
            t.first_loss.unwrap_or(f32::NAN),
            t.backend_name
        )?;
        if let Some(r) = &t.threaded {
            out!("  on {} threads {:>8.2} steps/s ({:.2}x one thread)", r.threads, r.steps_per_s, r.speedup)?;
        }
        let Some(k) = &t.kernels else { continue };
        out!("  multiply-add ceiling (f32x4, 1 thread) {:>8.2} GFLOP/s", k.simd_ceiling_gflops)?;
        for m in &k.matmul {
            out!("  matmul {:<38} {:>8.2} GFLOP/s", m.name, m.gflops)?;
        }
        out!("  256x256x256 backend at {:.0} % of the ceiling", 100.0 * k.matmul_256_of_ceiling)?;
        for r in &k.rows {
            out!(
                "  {:<38} {:>8.3} ms fast, {:>8.3} ms reference ({:.2}x)",
                r.name,
                r.fast_ms,
                r.reference_ms,
                r.speedup
            )?;
        }
    }
    for (b, cpu) in gpu.iter().zip(&training) {
        print_gpu_bench(b, cpu.steps_per_s)?;
    }
    for d in &dpo {
        out!(
            "dpo   tiny {:<11} pretraining {:>7.2} ms/step ({} tokens), DPO {:>7.2} ms ({:.2}x, {:.0} tokens), LoRA rank 4 {:>7.2} ms ({:.2}x)  backend {}",
            d.corpus,
            d.pretrain_ms,
            d.pretrain_tokens,
            d.dpo_ms,
            d.dpo_ratio,
            d.dpo_tokens,
            d.lora_ms,
            d.lora_ratio,
            d.backend_name
        )?;
    }
    for r in &rl {
        out!(
            "rl    tiny {:<11} pretraining {:>7.2} ms/step ({} tokens), rollout {:>7.2} ms ({:.2}x), update {:>7.2} ms ({:.2}x, {:.0} tokens)  backend {}",
            r.corpus,
            r.pretrain_ms,
            r.pretrain_tokens,
            r.rollout_ms,
            r.rollout_ratio,
            r.update_ms,
            r.update_ratio,
            r.update_tokens,
            r.backend_name
        )?;
    }
    Ok(())
}

/// One GPU bench as text, with its speed against the CPU's (`cpu_steps_per_s`) in the same run.
pub(crate) fn print_gpu_bench(b: &GpuBench, cpu_steps_per_s: f64) -> Result<(), Failure> {
    let r = &b.result;
    if let Some(e) = &r.error {
        return out!("webgpu {:<6} {e}", r.config);
    }
    out!(
        "webgpu {:<6} {:>7.2} steps/s ({:.2}x the CPU's) {:>9.0} tokens/s  first step {:.0} ms  backend {}",
        r.config,
        r.steps_per_s,
        r.steps_per_s / cpu_steps_per_s,
        r.tokens_per_s,
        b.first_step_ms,
        r.backend_name
    )?;
    out!(
        "  per step: {:.0} dispatches, {:.2} submissions, {:.2} readbacks ({:.0} B), {:.0} B uploaded",
        b.dispatches_per_step,
        b.submissions_per_step,
        b.readbacks_per_step,
        b.bytes_read_back_per_step,
        b.bytes_uploaded_per_step
    )?;
    out!(
        "  {} steps per readback; the {} steps no evaluation follows: {:.3} submissions, {:.0} B read back each",
        b.steps_per_readback,
        b.plain_steps,
        b.submissions_per_plain_step,
        b.bytes_read_back_per_plain_step
    )?;
    out!(
        "  one dispatch: {:.1} µs to record, {:.1} µs recorded and run",
        b.record_us_per_dispatch,
        b.run_us_per_dispatch
    )
}
