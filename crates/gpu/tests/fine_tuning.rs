//! Fine-tuning on both backends: from the same base model, the same pairs and seed, the GPU and the
//! CPU reference must give the same DPO losses, margins and KL, healthy, with LoRA, and under every
//! DPO fault of the catalogue; and the same policy-gradient steps (the same sampled responses, so
//! the same proxy rewards, and the same KL and entropy), healthy and under every policy-gradient
//! fault.

mod common;

use common::gpu;
use faultline_engine::align::Method;
use faultline_engine::align::{pretrain, DpoRun, DpoSettings, RlRun, RlSettings};
use faultline_engine::backend::{Backend, CpuBackend};
use faultline_engine::config::{CorpusSource, FineTuning, RunConfig};
use faultline_engine::faults::FaultId;
use faultline_engine::telemetry::align::{DpoHistory, RlHistory};
use faultline_engine::trainer::{native_clock, Trainer};

/// As the pretraining parity test's bound (tests/parity.rs): kernel differences of 1e-7..1e-5 fed
/// back through a few AdamW steps stay far below 1e-4 nats, thousands of times below the effects
/// the faults produce (a DPO loss pinned at ln 2 against one falling by tenths).
const TOL: f32 = 1e-4;

/// A base model pretrained briefly, saved, then fine-tuned on `backend` for four steps.
fn fine_tune<B: Backend>(checkpoint: &[u8], backend: B, settings: DpoSettings) -> DpoHistory {
    let base = Trainer::from_checkpoint(checkpoint, backend, native_clock).expect("the base restores");
    let mut run = DpoRun::new(base, settings).expect("the fine-tuning starts");
    while !run.is_done() {
        run.step().expect("no run here stops early");
    }
    run.history().clone()
}

fn close(what: &str, a: f32, b: f32) {
    assert!((a - b).abs() <= TOL, "{what}: GPU {a} vs CPU {b}");
}

#[test]
fn dpo_steps_agree_on_gpu_and_cpu_healthy_with_lora_and_under_every_fine_tuning_fault() {
    let Some(first) = gpu() else { return };
    drop(first);
    let cfg = RunConfig {
        corpus: CorpusSource::Builtin("sorting".into()),
        batch_size: 4,
        sample_tokens: 0,
        fine_tuning: FineTuning { pretrain_steps: 40, ..FineTuning::default() },
        ..RunConfig::default()
    };
    let mut base = pretrain(cfg.clone(), CpuBackend::<f32>::reference(), native_clock).expect("pretrains");
    let checkpoint = base.checkpoint().expect("saves");
    // Few pairs and prompts: lavapipe rasterises every kernel on the CPU.
    let healthy = DpoSettings {
        steps: 4,
        eval_every: 4,
        train_pairs: 16,
        held_out_pairs: 4,
        quality_prompts: 4,
        pairs_per_step: 4,
        ..DpoSettings::from_config(&cfg)
    };
    let variants: Vec<(String, DpoSettings)> = [
        ("healthy".to_string(), healthy.clone()),
        ("lora-rank=4".into(), DpoSettings { lora_rank: 4, ..healthy.clone() }),
    ]
    .into_iter()
    .chain(Method::Dpo.faults().map(|f| {
        let mut s = healthy.clone();
        s.faults.set(f.id, None).expect("a fine-tuning fault turns on");
        (f.id.to_string(), s)
    }))
    .collect();
    for (name, settings) in variants {
        let Some(g) = gpu() else { return };
        let on_gpu = fine_tune(&checkpoint, g, settings.clone());
        let on_cpu = fine_tune(&checkpoint, CpuBackend::<f32>::reference(), settings.clone());
        assert_eq!(on_gpu.steps.len(), on_cpu.steps.len(), "{name}: steps");
        for (g, c) in on_gpu.steps.iter().zip(&on_cpu.steps) {
            close(&format!("{name}, step {} DPO loss", c.step), g.loss, c.loss);
            close(&format!("{name}, step {} margin", c.step), g.margin, c.margin);
            close(&format!("{name}, step {} KL", c.step), g.kl, c.kl);
        }
        for (g, c) in on_gpu.evals.iter().zip(&on_cpu.evals) {
            close(&format!("{name}, held-out loss at step {}", c.step), g.loss, c.loss);
        }
        let flat =
            settings.faults.is_on(FaultId::DpoReferenceNotFrozen) || settings.faults.is_on(FaultId::DpoLogprobBug);
        let last = on_cpu.steps.last().expect("four steps");
        assert_eq!(flat, last.margin == 0.0, "{name}: the margin is exactly 0 only where the fault pins it");
        eprintln!("{name}: last DPO loss GPU {} / CPU {}", on_gpu.steps[3].loss, last.loss);
    }
}

#[test]
fn policy_gradient_steps_agree_on_gpu_and_cpu_healthy_and_under_every_policy_gradient_fault() {
    let Some(first) = gpu() else { return };
    drop(first);
    let cfg = RunConfig {
        corpus: CorpusSource::Builtin("toy-english".into()),
        batch_size: 4,
        sample_tokens: 0,
        fine_tuning: FineTuning { pretrain_steps: 40, reward_pairs: 16, ..FineTuning::default() },
        ..RunConfig::default()
    };
    let mut base = pretrain(cfg.clone(), CpuBackend::<f32>::reference(), native_clock).expect("pretrains");
    let checkpoint = base.checkpoint().expect("saves");
    let healthy = RlSettings {
        steps: 3,
        eval_every: 3,
        prompts_per_step: 4,
        quality_prompts: 4,
        ..RlSettings::from_config(&cfg)
    };
    let variants: Vec<(String, RlSettings)> = std::iter::once(("healthy".to_string(), healthy.clone()))
        .chain(Method::Rl.faults().map(|f| {
            let mut s = healthy.clone();
            s.faults.set(f.id, None).expect("a fine-tuning fault turns on");
            (f.id.to_string(), s)
        }))
        .collect();
    for (name, settings) in variants {
        let Some(g) = gpu() else { return };
        let on_gpu = rl_history(&checkpoint, g, settings.clone());
        let on_cpu = rl_history(&checkpoint, CpuBackend::<f32>::reference(), settings);
        assert_eq!(on_gpu.steps.len(), on_cpu.steps.len(), "{name}: steps");
        for (g, c) in on_gpu.steps.iter().zip(&on_cpu.steps) {
            assert_eq!(g.length, c.length, "{name}, step {}: the same responses", c.step);
            close(&format!("{name}, step {} reward", c.step), g.reward, c.reward);
            close(&format!("{name}, step {} KL", c.step), g.kl, c.kl);
            close(&format!("{name}, step {} entropy", c.step), g.entropy, c.entropy);
        }
        eprintln!("{name}: last KL GPU {} / CPU {}", on_gpu.steps[2].kl, on_cpu.steps[2].kl);
    }
}

/// A policy-gradient run from the base model in `checkpoint`, on `backend`, to its end.
fn rl_history<B: Backend>(checkpoint: &[u8], backend: B, settings: RlSettings) -> RlHistory {
    let base = Trainer::from_checkpoint(checkpoint, backend, native_clock).expect("the base restores");
    let mut run = RlRun::new(base, settings).expect("the fine-tuning starts");
    while !run.is_done() {
        run.step().expect("no run here stops early");
    }
    run.history().clone()
}
