//! "What Faultline measured" stays true: each note's numbers are measured again here, with the runs
//! its `reproduce` command names, and each must appear in the note's text as the note rounds it. An
//! engine change that moves a quoted figure fails this test until the note says the new figure.
//!
//! The pretraining notes (tiny unless the note says small, seed 1, toy-English, 200 steps), the DPO
//! β note and the reward-hacking note run here (the post-norm note's small-config runs only with
//! `FAULTLINE_MEASURED_SMALL=1`, the reward-hacking fixes' runs only with `FAULTLINE_MEASURED_ALL=1`); the memory and LoRA notes' figures are held by the memory module's
//! own test and `tests/lora.rs`, which each note names.

use faultline_engine::align::{pretrain, DpoRun, DpoSettings, RlRun, RlSettings, RL_DEFAULT_CORPUS};
use faultline_engine::backend::CpuBackend;
use faultline_engine::config::{CorpusSource, RunConfig};
use faultline_engine::faults::measured::{for_entry, Measured};
use faultline_engine::faults::FaultId;
use faultline_engine::guide::EntryId;
use faultline_engine::telemetry::align::{DpoHistory, RlHistory};
use faultline_engine::telemetry::{EvalRecord, History};
use faultline_engine::trainer::native_clock;
use faultline_evaluation::{par_map, train};

/// A 200-step run of `changes` (settings and `fault=ID[=V]`), seed 1, on the default corpus.
fn run(changes: &[&str]) -> History {
    let mut pairs = vec![("steps", "200")];
    pairs.extend(changes.iter().map(|c| c.split_once('=').expect("key=value")));
    train(RunConfig::from_pairs(pairs).expect("the note's settings parse"))
}

fn note(entry: EntryId, fault: FaultId) -> &'static Measured {
    for_entry(entry).find(|m| m.fault == fault).expect("the note exists")
}

fn last(h: &History) -> &EvalRecord {
    h.evals.last().expect("an evaluation at the end")
}

/// Mean attention entropy over every head of every block at the last evaluation, in nats.
fn attention_entropy(h: &History) -> f32 {
    let all: Vec<f32> = last(h).blocks.iter().flat_map(|b| b.attn_entropy.iter().copied()).collect();
    all.iter().sum::<f32>() / all.len() as f32
}

/// The largest share of one head's attention on later positions, at the last evaluation.
fn above_diagonal(h: &History) -> f32 {
    last(h).blocks.iter().flat_map(|b| b.attn_above_diag.iter().copied()).fold(0.0, f32::max)
}

/// Each `figure` must appear in `note`'s measured text; returns what is missing.
fn quoted(note: &Measured, figures: &[String]) -> Vec<String> {
    figures
        .iter()
        .filter(|f| !note.measured.contains(f.as_str()))
        .map(|f| format!("{:?} note: '{f}' is measured, the note does not say it", note.fault))
        .collect()
}

#[test]
fn every_pretraining_note_quotes_what_its_runs_measure() {
    let setups: Vec<Vec<&str>> = vec![
        vec![],
        vec!["fault=no-attn-scale"],
        vec!["heads=1"],
        vec!["heads=1", "fault=no-attn-scale"],
        vec!["steps=500"],
        vec!["steps=500", "fault=no-causal-mask"],
        vec!["fault=no-causal-mask"],
        vec!["corpus=arithmetic", "fault=no-causal-mask"],
        vec!["fault=init-too-large=1"],
        vec!["fault=no-zero-grad"],
        vec!["fault=no-zero-grad", "fault=no-grad-clip"],
    ];
    let runs = par_map(&setups, |s| run(s));
    let [healthy, unscaled, one_head, one_head_unscaled, healthy_500, leak_500, leak, leak_arith, large, piled, piled_unclipped] =
        &runs[..]
    else {
        unreachable!()
    };
    let mut missing = Vec::new();

    let n = note(EntryId::AttentionWeightsAreUniform, FaultId::NoAttnScale);
    missing.extend(quoted(
        n,
        &[
            format!("{:.1} nats against {:.1}", attention_entropy(unscaled), attention_entropy(healthy)),
            format!("{:.1} against {:.1}", attention_entropy(one_head_unscaled), attention_entropy(one_head)),
            format!("({:.2} against {:.2})", last(unscaled).train_loss, last(healthy).train_loss),
        ],
    ));

    let n = note(EntryId::AttentionLooksAtFutureInCausalModel, FaultId::NoCausalMask);
    missing.extend(quoted(
        n,
        &[
            format!("{:.0}% on toy-English", 100.0 * above_diagonal(leak)),
            format!("{:.0}% on arithmetic", 100.0 * above_diagonal(leak_arith)),
            format!("{:.2} against {:.2}", last(leak).train_loss, last(healthy).train_loss),
            format!("{:.3} against {:.2}", last(leak_500).train_loss, last(healthy_500).train_loss),
        ],
    ));

    let n = note(EntryId::ExplodingGradients, FaultId::InitTooLarge);
    let max_norm = |h: &History| h.steps.iter().map(|s| s.grad_norm).fold(0.0, f32::max);
    missing.extend(quoted(
        n,
        &[
            format!("is {:.0} against {:.1}", max_norm(large), max_norm(healthy)),
            format!("near {:.1} against {:.2}", last(large).train_loss, last(healthy).train_loss),
        ],
    ));

    let n = note(EntryId::GradientsAreAllZero, FaultId::NoZeroGrad);
    let norms = |h: &History| -> (f32, f32) {
        let all = h.steps.iter().map(|s| s.grad_norm);
        (all.clone().fold(f32::INFINITY, f32::min), all.fold(0.0, f32::max))
    };
    let (low, high) = norms(piled);
    let first_and_last = |h: &History| (h.steps[0].grad_norm, h.steps.last().expect("steps").grad_norm);
    let (from, to) = first_and_last(piled_unclipped);
    missing.extend(quoted(
        n,
        &[
            format!("between {low:.1} and {high:.1}"),
            format!("({:.2} against {:.2})", last(piled).train_loss, last(healthy).train_loss),
            format!("from {from:.0} to {to:.0}"),
        ],
    ));

    assert!(missing.is_empty(), "{missing:#?}");
    for (label, h) in
        ["healthy", "no-attn-scale", "heads 1", "heads 1 unscaled", "healthy 500", "no mask 500"].iter().zip(&runs)
    {
        eprintln!(
            "{label:<18} loss {:.3}  entropy {:.2}  above diagonal {:.2}  max grad norm {:.1}",
            last(h).train_loss,
            attention_entropy(h),
            above_diagonal(h),
            h.steps.iter().map(|s| s.grad_norm).fold(0.0, f32::max)
        );
    }
}

/// The optimiser notes: warmup, a 300× learning rate and the naive log-softmax.
#[test]
fn the_learning_rate_and_numerics_notes_quote_what_their_runs_measure() {
    let setups: Vec<Vec<&str>> = vec![
        vec!["lr=0.05"],
        vec!["lr=0.05", "fault=no-warmup"],
        vec!["fault=lr-too-high=300"],
        vec!["fault=lr-too-high=300", "fault=naive-log-softmax"],
        vec!["steps=1", "fault=init-too-large=3"],
        vec!["steps=1", "fault=init-too-large=3", "fault=naive-log-softmax"],
    ];
    let runs = par_map(&setups, |s| run(s));
    let [warm, cold, high, high_naive, large, large_naive] = &runs[..] else { unreachable!() };
    let mut missing = Vec::new();

    let n = note(EntryId::LossStopsDecreasing, FaultId::NoWarmup);
    let locked = last(cold).blocks.iter().flat_map(|b| b.attn_entropy.iter().copied()).fold(f32::INFINITY, f32::min);
    missing.extend(quoted(
        n,
        &[
            format!("(entropy {locked:.2} nats)"),
            format!("{:.2} at step 200 against {:.2}", last(cold).train_loss, last(warm).train_loss),
        ],
    ));

    assert!(missing.is_empty(), "{missing:#?}");

    // lr-too-high=300: no NaN with AdamW and clipping, the loss above ln V at its spike.
    let ln_v = (high.vocab_size as f32).ln();
    assert!(high.stopped.is_none(), "a 300x learning rate stopped: {:?}", high.stopped);
    assert!(high.steps.iter().any(|s| s.loss > ln_v), "the loss never spiked above ln V = {ln_v}");
    // naive-log-softmax: finite at 300x (the logits stay below 20), Inf at once from std-3 weights.
    let largest = high_naive.evals.iter().map(|e| e.max_abs_logit).fold(0.0, f32::max);
    assert!(high_naive.stopped.is_none() && largest < 20.0, "largest |logit| {largest}, {:?}", high_naive.stopped);
    assert!(large.stopped.is_none() && large.steps[0].loss.is_finite(), "the stable form is finite");
    assert!(large_naive.stopped.is_some(), "the naive form reaches Inf at the first step");
}

/// The post-norm note, on the small config: four runs of about a minute each on 2 vCPUs, so CI skips
/// them unless `FAULTLINE_MEASURED_SMALL=1` (`FAULTLINE_MEASURED_SMALL=1 cargo test --release -p
/// faultline-evaluation --test measured`, in BENCHMARKS.md).
#[test]
fn the_post_norm_note_quotes_what_its_small_runs_measure() {
    if std::env::var("FAULTLINE_MEASURED_SMALL").as_deref() != Ok("1") {
        eprintln!("the small-config runs need FAULTLINE_MEASURED_SMALL=1");
        return;
    }
    let setups: Vec<Vec<&str>> = vec![
        vec!["config=small"],
        vec!["config=small", "fault=post-norm"],
        vec!["config=small", "warmup=0", "lr=0.01"],
        vec!["config=small", "warmup=0", "lr=0.01", "fault=post-norm"],
    ];
    let runs = par_map(&setups, |s| run(s));
    let [pre, post, pre_cold, post_cold] = &runs[..] else { unreachable!() };
    let mut missing = Vec::new();
    let n = note(EntryId::VanishingGradients, FaultId::PostNorm);
    let blocks = &last(post_cold).blocks;
    let ratio = blocks.last().expect("blocks").grad_norm / blocks[0].grad_norm;
    let superscript: String = format!("{:.0}", ratio.log10())
        .chars()
        .map(|c| "⁰¹²³⁴⁵⁶⁷⁸⁹".chars().nth(c as usize - '0' as usize).unwrap_or(c))
        .collect();
    missing.extend(quoted(
        n,
        &[
            format!("(small: {:.2} against {:.2})", last(post).train_loss, last(pre).train_loss),
            format!("10{superscript} times smaller"),
            format!(
                "stays at {:.2}, where pre-norm reaches {:.2}",
                last(post_cold).train_loss,
                last(pre_cold).train_loss
            ),
        ],
    ));
    assert!(missing.is_empty(), "{missing:#?}");
}

/// A fine-tuning run of `cfg`'s base model (pretrained here) with `fault` on, to its end.
fn dpo(corpus: &str, fault: Option<FaultId>) -> DpoHistory {
    let cfg = RunConfig { corpus: CorpusSource::Builtin(corpus.into()), ..RunConfig::default() };
    let base = pretrain(cfg.clone(), CpuBackend::<f32>::new(), native_clock).expect("the base model pretrains");
    let mut settings = DpoSettings::from_config(&cfg);
    if let Some(id) = fault {
        settings.faults.set(id, None).expect("a fine-tuning fault turns on");
    }
    let mut run = DpoRun::new(base, settings).expect("the fine-tuning starts");
    while !run.is_done() {
        run.step().expect("no DPO run here stops early");
    }
    run.history().clone()
}

/// The β note: `faultline align dpo` with and without `dpo-beta-too-high`, on sorting and toy-English.
#[test]
fn the_dpo_beta_note_quotes_what_its_runs_measure() {
    let setups = [
        ("sorting", None),
        ("sorting", Some(FaultId::DpoBetaTooHigh)),
        ("toy-english", None),
        ("toy-english", Some(FaultId::DpoBetaTooHigh)),
    ];
    let runs = par_map(&setups, |&(corpus, fault)| dpo(corpus, fault));
    let [sorting, sorting_high, english, english_high] = &runs[..] else { unreachable!() };
    let kl = |h: &DpoHistory| h.steps.last().expect("steps").kl;
    let quality = |h: &DpoHistory, k: usize| 100.0 * h.evals[k].quality;
    let last = |h: &DpoHistory| h.evals.len() - 1;
    let n = note(EntryId::DpoLossNotDecreasing, FaultId::DpoBetaTooHigh);
    let missing = quoted(
        n,
        &[
            format!("the KL is {:.1} nats against {:.1} at β = 0.1 on sorting", kl(sorting_high), kl(sorting)),
            format!("({:.1} against {:.1} on toy-English)", kl(english_high), kl(english)),
            format!(
                "sorting {:.0}% → {:.0}% instead of {:.0}% → {:.0}%",
                quality(sorting_high, 0),
                quality(sorting_high, last(sorting_high)),
                quality(sorting, 0),
                quality(sorting, last(sorting))
            ),
            format!(
                "toy-English stays at {:.0}% (from {:.0}%)",
                quality(english_high, last(english_high)),
                quality(english_high, 0)
            ),
            format!("to drop it to {:.0}%", quality(english, last(english))),
        ],
    );
    assert!(missing.is_empty(), "{missing:#?}");
}

/// `faultline align rl --steps 150` with `changes`: its history and its reward ensemble's held-out
/// pair accuracy.
fn rl(changes: &[&str]) -> (RlHistory, f64) {
    let pairs = changes.iter().map(|c| c.split_once('=').expect("key=value"));
    let cfg = RunConfig {
        corpus: CorpusSource::Builtin(RL_DEFAULT_CORPUS.id().into()),
        ..RunConfig::from_pairs(pairs).expect("the note's settings parse")
    };
    let base = pretrain(cfg.clone(), CpuBackend::<f32>::new(), native_clock).expect("the base model pretrains");
    let mut run = RlRun::new(base, RlSettings { steps: 150, ..RlSettings::from_config(&cfg) }).expect("it starts");
    while !run.is_done() {
        run.step().expect("no policy-gradient run here stops early");
    }
    (run.history().clone(), run.reward_accuracy())
}

/// The reward-hacking note: `no-kl-penalty` and the default KL penalty; each other fix alone (four more
/// policy-gradient runs, about two minutes on 2 vCPUs) only with `FAULTLINE_MEASURED_ALL=1`
/// (`FAULTLINE_MEASURED_ALL=1 cargo test --release -p faultline-evaluation --test measured`, in
/// BENCHMARKS.md), so CI checks the note's headline and leaves the fixes' figures to that command.
#[test]
fn the_reward_hacking_note_quotes_what_its_runs_measure() {
    let all = std::env::var("FAULTLINE_MEASURED_ALL").as_deref() == Ok("1");
    let mut setups: Vec<Vec<&str>> = vec![vec!["fault=no-kl-penalty"], vec![]];
    if all {
        setups.extend([
            vec!["fault=no-kl-penalty", "reward-models=8"],
            vec!["fault=no-kl-penalty", "reward-pairs=1024"],
            vec!["fault=no-kl-penalty", "entropy-bonus=0.01"],
            vec!["fault=no-kl-penalty", "entropy-bonus=0.03"],
        ]);
    }
    let runs = par_map(&setups, |s| rl(s));
    let first = |h: &RlHistory| h.evals.first().expect("step 0").clone();
    let end = |h: &RlHistory| h.evals.last().expect("the last evaluation").clone();
    let kl = |h: &RlHistory| h.steps.last().expect("steps").kl;
    let pct = |q: f32| format!("{:.0}%", 100.0 * q);
    let n = note(EntryId::RewardIncreasesButQualityDecreases, FaultId::NoKlPenalty);
    let [(hacked, accuracy), (healthy, _), fixes @ ..] = &runs[..] else { unreachable!() };
    let mut figures = vec![
        format!("{} held-out pair accuracy", pct(*accuracy as f32)),
        format!("climbs from {:.2} to {:.2}", first(hacked).reward, end(hacked).reward),
        format!("falls from {} to {}", pct(first(hacked).quality), pct(end(hacked).quality)),
        format!("drifts {:.0} nats", kl(hacked)),
        format!("stays at {} and the drift at {:.2}", pct(end(healthy).quality), kl(healthy)),
    ];
    if let [(eight, _), (more, more_accuracy), (bonus, _), (big_bonus, _)] = fixes {
        figures.extend([
            format!("minimum still fall to {}", pct(end(eight).quality)),
            format!("1,024 pairs ({} accuracy) fall to {}", pct(*more_accuracy as f32), pct(end(more).quality)),
            format!("0.01 falls to {}", pct(end(bonus).quality)),
            format!(
                "({}, {:.0} nats, answers of {:.0} tokens)",
                pct(end(big_bonus).quality),
                kl(big_bonus),
                end(big_bonus).length
            ),
        ]);
    } else {
        eprintln!("the four fixes' runs need FAULTLINE_MEASURED_ALL=1");
    }
    let missing = quoted(n, &figures);
    assert!(missing.is_empty(), "{missing:#?}");
    let gamed = end(hacked).samples.iter().any(|(_, completion)| completion.contains("runrun"));
    assert!(gamed, "the note quotes 'runrunrunrs.': {:?}", end(hacked).samples);
}
