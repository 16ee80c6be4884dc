//! Whole-run tests of the trainer: determinism, learning, non-finite detection, sampling, bench parity.

use faultline_engine::bench::run_training_bench;
use faultline_engine::checkpoint::Checkpoint;
use faultline_engine::config::{CorpusSource, OptimizerKind, Preset, RunConfig};
use faultline_engine::faults::FaultId;
use faultline_engine::sampling::SamplingConfig;
use faultline_engine::trainer::{native_clock, Trainer};
use faultline_engine::EngineError;

fn losses(cfg: RunConfig, steps: usize) -> Vec<u32> {
    let mut t = Trainer::cpu(cfg, native_clock).unwrap();
    (0..steps).map(|_| t.step().unwrap().loss.to_bits()).collect()
}

#[test]
fn same_seed_gives_bit_identical_losses() {
    let cfg = RunConfig { steps: 100, ..RunConfig::default() };
    let a = losses(cfg.clone(), 8);
    let b = losses(cfg.clone(), 8);
    assert_eq!(a, b);
    let c = losses(RunConfig { seed: 2, ..cfg }, 8);
    assert_ne!(a, c, "a different seed must give different weights and batches");
}

#[test]
fn dropout_runs_are_deterministic_too() {
    let cfg = RunConfig { steps: 100, dropout: 0.1, ..RunConfig::default() };
    assert_eq!(losses(cfg.clone(), 4), losses(cfg, 4));
}

#[test]
fn first_loss_is_near_ln_vocab() {
    let mut t = Trainer::cpu(RunConfig::default(), native_clock).unwrap();
    let v = t.model_config().vocab_size as f32;
    let first = t.step().unwrap().loss;
    assert!((first - v.ln()).abs() < 0.1, "first loss {first} vs ln V {}", v.ln());
}

/// The learning test: `tiny` with default settings on toy-English must come close to the corpus's
/// entropy rate, the lowest loss any model can reach on it.
#[test]
fn tiny_learns_toy_english_close_to_its_entropy_rate() {
    let steps = 1500;
    let cfg = RunConfig { steps, eval_every: steps, ..RunConfig::default() };
    let mut t = Trainer::cpu(cfg, native_clock).unwrap();
    while !t.is_done() {
        t.step().unwrap();
    }
    let ev = t.evaluate();
    let floor = t.dataset().info.entropy_rate.unwrap() as f32;
    let val = ev.val_loss.unwrap();
    eprintln!("after {steps} steps: val {val:.4}, train {:.4}, entropy rate {floor:.4}", ev.train_loss);
    assert!(val > floor - 0.02, "val loss {val} below the entropy rate {floor}: the split leaks or the rate is wrong");
    assert!(val < floor + 0.12, "val loss {val} not within 0.12 nats of the entropy rate {floor}");
}

#[test]
fn sgd_at_a_huge_learning_rate_stops_cleanly_naming_the_tensor() {
    let mut cfg = RunConfig { steps: 200, optimizer: OptimizerKind::Sgd, lr: 100.0, ..RunConfig::default() };
    cfg.faults.set(FaultId::NoGradClip, None).unwrap();
    let mut t = Trainer::cpu(cfg, native_clock).unwrap();
    let err = loop {
        match t.step() {
            Ok(_) => assert!(!t.is_done(), "SGD at lr 100 without clipping should diverge"),
            Err(e) => break e,
        }
    };
    let EngineError::NonFinite { step, tensor } = &err else { panic!("expected NonFinite, got {err:?}") };
    assert!(*step >= 1 && !tensor.is_empty());
    assert_eq!(t.step().unwrap_err(), err, "a stopped run stays stopped");
    assert!(t.is_done());
    let s = t.summary();
    assert_eq!(s.diverged_at, Some(*step));
    assert_eq!(s.first_bad_tensor.as_deref(), Some(tensor.as_str()));
    assert_eq!(s.steps_run, step - 1, "the failing step made no update");
}

/// A step record as bits where it holds numbers: step, loss, gradient norm, learning rate, tokens.
type StepBits = (usize, u32, u32, u32, usize);

/// Every step record of `t`'s history, and its evaluations' steps and training losses.
fn recorded(t: &Trainer) -> (Vec<StepBits>, Vec<(usize, u32)>) {
    let h = t.history();
    let steps = h.steps.iter().map(|r| (r.step, r.loss.to_bits(), r.grad_norm.to_bits(), r.lr.to_bits(), r.tokens));
    let evals = h.evals.iter().map(|e| (e.step, e.train_loss.to_bits()));
    (steps.collect(), evals.collect())
}

#[test]
fn steps_launched_together_record_the_same_run_as_one_at_a_time() {
    // Dropout and two micro-batches: every seed a step derives must be the one a single step uses.
    let cfg = RunConfig { steps: 23, eval_every: 10, dropout: 0.1, grad_accum: 2, ..RunConfig::default() };
    let mut single = Trainer::cpu(cfg.clone(), native_clock).unwrap();
    let mut launched = Trainer::cpu(cfg, native_clock).unwrap();
    let mut sizes = Vec::new();
    while !single.is_done() {
        single.step().unwrap();
        if single.should_evaluate() {
            single.evaluate();
        }
    }
    while !launched.is_done() {
        sizes.push(launched.steps(7).unwrap());
        if launched.should_evaluate() {
            launched.evaluate();
        }
    }
    // Launches stop short before each evaluation (steps 10, 20) and at the end of the run.
    assert_eq!(sizes, [7, 3, 7, 3, 3]);
    assert_eq!(recorded(&launched), recorded(&single));
    assert_eq!(launched.summary().steps_run, 23);
}

#[test]
fn a_non_finite_step_inside_a_launch_stops_the_run_where_single_steps_do() {
    let mut cfg =
        RunConfig { steps: 200, eval_every: 200, optimizer: OptimizerKind::Sgd, lr: 100.0, ..RunConfig::default() };
    cfg.faults.set(FaultId::NoGradClip, None).unwrap();
    let mut single = Trainer::cpu(cfg.clone(), native_clock).unwrap();
    let err = loop {
        if let Err(e) = single.step() {
            break e;
        }
    };
    let EngineError::NonFinite { step, .. } = err.clone() else { panic!("expected NonFinite, got {err:?}") };
    // One launch runs past the failing step: the backend skips its update and every later one, and
    // the trainer undoes the steps after it.
    let mut launched = Trainer::cpu(cfg, native_clock).unwrap();
    assert_eq!(launched.steps(step + 5).unwrap_err(), err);
    assert_eq!(launched.steps_done(), step - 1);
    assert_eq!(recorded(&launched), recorded(&single));
    // The same parameters, optimiser state and sampler position, after the same number of applied
    // updates: the same checkpoint (or the same refusal, when the last good update left a NaN).
    let (a, b) = (launched.checkpoint(), single.checkpoint());
    let read = |c: &Result<Vec<u8>, EngineError>| c.clone().map(|bytes| Checkpoint::from_bytes(&bytes).unwrap());
    let (a, b) = (read(&a), read(&b));
    if let Ok(c) = &b {
        assert_eq!((c.steps_done, c.optimizer_steps), (step - 1, step as u32 - 1), "the failed update is not counted");
    }
    eprintln!("stopped at step {step}; checkpoint saved: {}", b.is_ok());
    assert!(
        a == b,
        "the checkpoints differ: {:?} vs {:?}",
        a.as_ref().map(|c| c.optimizer_steps),
        b.map(|c| c.optimizer_steps)
    );
}

#[test]
fn adamw_with_clipping_does_not_reach_nan_at_the_same_learning_rate_factor() {
    let mut cfg = RunConfig { steps: 60, ..RunConfig::default() };
    cfg.faults.set(FaultId::LrTooHigh, Some(30.0)).unwrap();
    let mut t = Trainer::cpu(cfg, native_clock).unwrap();
    while !t.is_done() {
        let r = t.step().expect("AdamW with clipping stays finite");
        assert!(r.loss.is_finite());
    }
}

#[test]
fn samples_decode_in_the_vocabulary_and_repeat_with_the_seed() {
    let mut t = Trainer::cpu(RunConfig { steps: 20, ..RunConfig::default() }, native_clock).unwrap();
    for _ in 0..20 {
        t.step().unwrap();
    }
    let opts = SamplingConfig::default();
    let a = t.sample("the ", 40, &opts, 3).unwrap();
    let b = t.sample("the ", 40, &opts, 3).unwrap();
    assert_eq!(a, b);
    assert!(a.starts_with("the "));
    assert_eq!(a.chars().count(), 44);
    let vocab = t.dataset().tokenizer.decode(&(0..t.model_config().vocab_size as u32).collect::<Vec<_>>());
    assert!(a.chars().all(|c| vocab.contains(c)));
    assert!(t.sample("\u{1F600}", 5, &opts, 1).is_err(), "a character outside the vocabulary is an error");
}

#[test]
fn bench_first_loss_matches_the_training_run() {
    let bench = run_training_bench(Preset::Tiny, 2, 7, native_clock);
    assert!(bench.error.is_none(), "{:?}", bench.error);
    let mut t = Trainer::cpu(RunConfig { seed: 7, ..RunConfig::default() }, native_clock).unwrap();
    assert_eq!(bench.first_loss, Some(t.step().unwrap().loss));
    assert!(bench.steps_per_s > 0.0);
}

#[test]
fn user_text_trains_and_bad_text_is_refused() {
    let text = "abc abd abe. ".repeat(200);
    let cfg =
        RunConfig { steps: 3, corpus: CorpusSource::Text { name: "pasted".into(), text }, ..RunConfig::default() };
    let mut t = Trainer::cpu(cfg, native_clock).unwrap();
    assert!(t.step().unwrap().loss.is_finite());
    let empty =
        RunConfig { corpus: CorpusSource::Text { name: "empty".into(), text: String::new() }, ..RunConfig::default() };
    assert!(matches!(Trainer::cpu(empty, native_clock), Err(EngineError::Data(_))));
}

#[test]
fn every_builtin_corpus_and_both_configs_train() {
    for corpus in ["toy-english", "arithmetic", "sorting"] {
        let cfg = RunConfig { steps: 2, corpus: CorpusSource::Builtin(corpus.into()), ..RunConfig::default() };
        let mut t = Trainer::cpu(cfg, native_clock).unwrap();
        assert!(t.step().unwrap().loss.is_finite(), "{corpus}");
    }
    let mut t = Trainer::cpu(RunConfig { steps: 1, ..RunConfig::preset(Preset::Small) }, native_clock).unwrap();
    assert!(t.step().unwrap().loss.is_finite());
}
