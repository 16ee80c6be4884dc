//! Whole-run tests of the trainer: determinism, learning, non-finite detection, sampling, bench parity.

use faultline_engine::bench::run_training_bench;
use faultline_engine::config::{CorpusSource, OptimizerKind, Preset, RunConfig};
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
    cfg.faults.set("no-grad-clip", None).unwrap();
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

#[test]
fn adamw_with_clipping_does_not_reach_nan_at_the_same_learning_rate_factor() {
    let mut cfg = RunConfig { steps: 60, ..RunConfig::default() };
    cfg.faults.set("lr-too-high", Some(30.0)).unwrap();
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
