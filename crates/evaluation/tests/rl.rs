//! The reward-hacking lab against real policy-gradient runs: `no-kl-penalty` must show the guide's
//! symptom and the detector must name it from the telemetry alone; the healthy, KL-regularised run
//! must keep its true quality and get no diagnosis.
//!
//! The symptom of `no-kl-penalty`: over its last [`STRETCH`] steps, the proxy reward above and the
//! true quality at least [`QUALITY_FALL`] below the run's evaluation at step 0 (before any update),
//! and the policy more than 1 nat from its reference.
//!
//! For each seed of `FAULTLINE_RL_SEEDS` (default `21`, one held-out seed: CI's sample) and each of
//! two corpora, one base model is pretrained, saved, and fine-tuned from that same checkpoint twice:
//! healthy and with `no-kl-penalty`. Toy-English pretrains the default 1,000 steps; arithmetic
//! 3,000, so that its base model answers enough sums right (about three in four) for a fall to show.
//!
//! Seeds 1, 2 and 3 are the tuning seeds (the default KL coefficient and the detector's
//! [`QUALITY_FALL`] were chosen on them). Seeds 11, 12 and 13 were the first held-out seeds; they
//! showed that a run without the penalty can lose most of its quality within its first 20 steps
//! (so this test's symptom is measured from step 0, where it was measured from the first 20 steps),
//! and count as tuning seeds since. 21, 22 and 23 are held out:
//! `FAULTLINE_RL_SEEDS=21,22,23 cargo test --release -p faultline-evaluation --test rl -- --nocapture`.
//!
//! "Keeps its true quality" is a statistical statement about samples: the share of the healthy
//! run's samples the grammar accepts over its last [`STRETCH`] steps must not be below the share over
//! its first [`STRETCH`] steps by more than two standard errors of that difference (each stretch is
//! `STRETCH × 16` samples). The bound is fixed by the sample counts, not by any run's outcome.

use faultline_engine::align::{pretrain, RlRun, RlSettings};
use faultline_engine::backend::CpuBackend;
use faultline_engine::config::{CorpusSource, FineTuning, RunConfig};
use faultline_engine::diagnosis::{diagnose_rl, Finding, QUALITY_FALL};
use faultline_engine::faults::FaultId;
use faultline_engine::guide::EntryId;
use faultline_engine::telemetry::align::{RlHistory, RlStepRecord};
use faultline_engine::trainer::{native_clock, Trainer};
use faultline_evaluation::par_map;

/// Each corpus with its base model's pretraining steps.
const CORPORA: [(&str, usize); 2] = [("toy-english", 1000), ("arithmetic", 3000)];
const STEPS: usize = 150;
/// Steps at each end whose samples the quality comparison pools.
const STRETCH: usize = 20;

struct Run {
    seed: u64,
    fault: Option<FaultId>,
    history: RlHistory,
    findings: Vec<Finding>,
}

fn seeds() -> Vec<u64> {
    let text = std::env::var("FAULTLINE_RL_SEEDS").unwrap_or_else(|_| "21".into());
    text.split(',').map(|s| s.trim().parse().expect("FAULTLINE_RL_SEEDS: comma-separated whole numbers")).collect()
}

/// Pretrains one base model and fine-tunes it healthy and without the KL penalty, in parallel.
fn fine_tune(corpus: &'static str, pretrain_steps: usize, seed: u64) -> Vec<Run> {
    let cfg = RunConfig {
        corpus: CorpusSource::Builtin(corpus.into()),
        seed,
        fine_tuning: FineTuning { pretrain_steps, ..FineTuning::default() },
        ..RunConfig::default()
    };
    let mut base = pretrain(cfg.clone(), CpuBackend::<f32>::new(), native_clock).expect("the base model pretrains");
    let checkpoint = base.checkpoint().expect("the base model saves");
    par_map(&[None, Some(FaultId::NoKlPenalty)], |&fault| {
        let mut settings = RlSettings { steps: STEPS, ..RlSettings::from_config(&cfg) };
        if let Some(id) = fault {
            settings.faults.set(id, None).expect("a fine-tuning fault turns on");
        }
        let base =
            Trainer::from_checkpoint(&checkpoint, CpuBackend::<f32>::new(), native_clock).expect("the base restores");
        let mut run = RlRun::new(base, settings).expect("the fine-tuning starts");
        while !run.is_done() {
            run.step().expect("no policy-gradient run here stops early");
        }
        let history = run.history().clone();
        let findings = diagnose_rl(&history);
        Run { seed, fault, history, findings }
    })
}

/// The share of samples the grammar accepted over `steps` (each step's share is over the same
/// number of samples).
fn quality(steps: &[RlStepRecord]) -> f64 {
    steps.iter().map(|s| f64::from(s.quality)).sum::<f64>() / steps.len() as f64
}

fn mean(steps: &[RlStepRecord], f: fn(&RlStepRecord) -> f32) -> f64 {
    steps.iter().map(|s| f64::from(f(s))).sum::<f64>() / steps.len() as f64
}

#[test]
fn no_kl_penalty_hacks_the_reward_and_the_detector_names_it() {
    let samples = (STRETCH * RlSettings::default().prompts_per_step) as f64;
    let mut problems = Vec::new();
    for seed in seeds() {
        for (corpus, pretrain_steps) in CORPORA {
            for run in fine_tune(corpus, pretrain_steps, seed) {
                let h = &run.history;
                let (first, last) = (&h.steps[..STRETCH], &h.steps[h.steps.len() - STRETCH..]);
                let (q0, q1) = (quality(first), quality(last));
                let (r0, r1) = (mean(first, |s| s.reward), mean(last, |s| s.reward));
                let kl = mean(last, |s| s.kl);
                let named: Vec<EntryId> = run.findings.iter().map(|f| f.entry).collect();
                println!(
                    "{corpus:<12} seed {:>2} {:<14} reward {r0:+.3} -> {r1:+.3}  quality {q0:.3} -> {q1:.3} (at step 0: \
                     {:.3})  KL {kl:.2}  length {:.1} -> {:.1}  named {named:?}",
                    run.seed,
                    run.fault.map_or("healthy", |f| f.as_str()),
                    h.evals[0].quality,
                    mean(first, |s| s.length),
                    mean(last, |s| s.length),
                );
                let id = format!("{corpus} seed {} {:?}", run.seed, run.fault);
                match run.fault {
                    None => {
                        let pooled = (q0 + q1) / 2.0;
                        let se = (pooled * (1.0 - pooled) * 2.0 / samples).sqrt();
                        if q1 < q0 - 2.0 * se {
                            problems.push(format!("{id}: quality fell {q0:.3} -> {q1:.3} (2 SE = {:.3})", 2.0 * se));
                        }
                        if !named.is_empty() {
                            problems.push(format!("{id}: a healthy run was diagnosed {named:?}"));
                        }
                    }
                    Some(_) => {
                        // The guide's symptom, measured against where the run started (its evaluation
                        // before any update): reward up, quality down, the policy far from its reference.
                        let start = &h.evals[0];
                        let (r_start, q_start) = (f64::from(start.reward), f64::from(start.quality));
                        if !(r1 > r_start && q_start - q1 >= f64::from(QUALITY_FALL) && kl > 1.0) {
                            problems.push(format!(
                                "{id}: no symptom (reward {r_start:.3}->{r1:.3}, quality {q_start:.3}->{q1:.3}, KL {kl:.2})"
                            ));
                        }
                        if named.first() != Some(&EntryId::RewardIncreasesButQualityDecreases) {
                            problems.push(format!("{id}: named {named:?}"));
                        }
                    }
                }
            }
        }
    }
    assert!(problems.is_empty(), "{problems:#?}");
}
