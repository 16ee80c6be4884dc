//! The fault catalogue against real runs. Three claims, each a test:
//!
//! 1. Every fault, in its scenario, shows its symptom (the criterion in [`symptom`]), measured against the
//!    healthy run on the same seed (the same scenario with that one fault off), and the detector names
//!    the fault's guide entry first.
//! 2. The confusion matrix: every fault × `FAULTLINE_MATRIX_SEEDS` seeds (default 3) × two corpora,
//!    top-1 ≥ 95 %. It is printed. `FAULTLINE_MATRIX_CORPORA=alternate` runs claims 1 and 2 on one
//!    corpus a fault, taking turns (CI's sample; the default is both).
//! 3. Healthy runs, 5 seeds × every corpus: no diagnosis at all.
//!
//! Runs are shared between the tests through a cache, so each (settings, seed, corpus) trains once.
//! `FAULTLINE_MATRIX_FAULTS` (comma-separated ids) narrows the faults while developing the detector:
//! `FAULTLINE_MATRIX_FAULTS=no-warmup cargo test --release -p faultline-evaluation --test symptoms -- --nocapture`.

use faultline_engine::config::{CorpusSource, RunConfig};
use faultline_engine::diagnosis::diagnose;
use faultline_engine::error::EngineError;
use faultline_engine::faults::reproduce::{self, Reproduction, REPRODUCTIONS};
use faultline_engine::faults::{FaultId, FaultSpec, Stage};
use faultline_engine::guide::EntryId;
use faultline_engine::settings::Change;
use faultline_engine::telemetry::measure::median;
use faultline_engine::telemetry::{EvalRecord, History};
use faultline_engine::trainer::{native_clock, Trainer};
use faultline_evaluation::{par_map, Outcome};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, OnceLock};

/// Steps of a run unless the scenario says otherwise.
const STEPS: &str = "200";
const CORPORA: [&str; 2] = ["toy-english", "arithmetic"];

/// Settings as `key=value` pairs, a seed and a corpus: what identifies a run.
type Key = (Vec<(String, String)>, u64, String);

fn train(key: &Key) -> Outcome {
    let (pairs, seed, corpus) = key;
    let seed = seed.to_string();
    let mut all: Vec<(&str, &str)> = vec![("steps", STEPS), ("eval-every", "50"), ("seed", &seed), ("corpus", corpus)];
    all.extend(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    let cfg = RunConfig::from_pairs(all.iter().copied()).expect("scenario parses");
    let history = faultline_evaluation::train(cfg);
    let findings = diagnose(&history);
    Outcome { history, findings }
}

type Slot = Arc<OnceLock<Arc<Outcome>>>;

fn cache() -> &'static Mutex<HashMap<Key, Slot>> {
    static CACHE: OnceLock<Mutex<HashMap<Key, Slot>>> = OnceLock::new();
    CACHE.get_or_init(Default::default)
}

/// Trains every run of `keys` not trained yet, on every core (a run another test is training is
/// waited for, not repeated), and returns them in order.
fn runs(keys: &[Key]) -> Vec<Arc<Outcome>> {
    let slots: Vec<Slot> = {
        let mut map = cache().lock().unwrap();
        keys.iter().map(|k| map.entry(k.clone()).or_default().clone()).collect()
    };
    let work: Vec<(&Slot, &Key)> = slots.iter().zip(keys).collect();
    par_map(&work, |(slot, key)| {
        slot.get_or_init(|| Arc::new(train(key)));
    });
    slots.iter().map(|s| s.get().expect("every run finished").clone()).collect()
}

/// The fault in its scenario.
fn faulted(f: &FaultSpec) -> Vec<(String, String)> {
    let mut p = vec![Change::Fault(f.id, None).pair()];
    p.extend(baseline(f));
    p
}

/// The same scenario with this one fault off: the healthy run it is compared with.
fn baseline(f: &FaultSpec) -> Vec<(String, String)> {
    f.scenario.changes().map(|c| c.pair()).collect()
}

/// The corpora the `i`-th selected fault runs on: both, or with `FAULTLINE_MATRIX_CORPORA=alternate`
/// (CI's sample) one, taking turns down the table, so both corpora are covered in half the runs.
fn corpora_of(i: usize) -> &'static [&'static str] {
    match std::env::var("FAULTLINE_MATRIX_CORPORA").as_deref() {
        Ok("alternate") => &CORPORA[i % 2..][..1],
        _ => &CORPORA,
    }
}

fn selected() -> Vec<&'static FaultSpec> {
    let only: Option<Vec<String>> =
        std::env::var("FAULTLINE_MATRIX_FAULTS").ok().map(|v| v.split(',').map(str::to_string).collect());
    Stage::Pretraining
        .faults()
        .filter(|f| only.as_ref().is_none_or(|o| o.iter().any(|id| id == f.id.as_str())))
        .collect()
}

// ---- measurements the criteria read ----

fn last_eval(h: &History) -> &EvalRecord {
    h.evals.last().expect("the run evaluated at least once")
}

fn final_loss(h: &History) -> f32 {
    last_eval(h).train_loss
}

fn ln_v(h: &History) -> f32 {
    (h.vocab_size as f32).ln()
}

fn grad_norms(h: &History) -> Vec<f32> {
    h.steps.iter().map(|s| s.grad_norm).collect()
}

fn peak_grad(h: &History) -> f32 {
    grad_norms(h).into_iter().fold(0.0, f32::max)
}

/// Median gradient norm of the last quarter of the run.
fn late_grad(h: &History) -> f32 {
    let n = grad_norms(h);
    median(n[n.len() * 3 / 4..].to_vec()).unwrap_or(0.0)
}

/// Block 0's gradient norm over the last block's at the last evaluation.
fn first_to_last_block_grad(h: &History) -> f32 {
    let e = last_eval(h);
    e.blocks[0].grad_norm / e.blocks[e.blocks.len() - 1].grad_norm.max(1e-30)
}

fn nan_step(h: &History) -> Option<usize> {
    match &h.stopped {
        Some(EngineError::NonFinite { step, .. }) => Some(*step),
        _ => None,
    }
}

/// Largest rise of the step loss over the median of the ten steps before it.
fn largest_jump(h: &History) -> (usize, f32) {
    let losses: Vec<f32> = h.steps.iter().map(|s| s.loss).collect();
    (10..losses.len())
        .map(|i| (h.steps[i].step, losses[i] - median(losses[i - 10..i].to_vec()).unwrap_or(0.0)))
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .unwrap_or((0, 0.0))
}

fn check(ok: bool, what: String) -> Result<String, String> {
    if ok {
        Ok(what)
    } else {
        Err(what)
    }
}

/// The symptom each fault must show, as a measurable comparison of the faulted run `f` with the
/// healthy run `h` of the same seed. Returns what was measured either way.
fn symptom(id: FaultId, h: &History, f: &History) -> Result<String, String> {
    match id {
        FaultId::DpoLrTooLow | FaultId::DpoBetaTooHigh | FaultId::DpoReferenceNotFrozen | FaultId::DpoLogprobBug => {
            unreachable!("a fine-tuning fault: tests/dpo.rs measures its symptom on DPO runs")
        }
        FaultId::NoKlPenalty => {
            unreachable!("a fine-tuning fault: tests/rl.rs measures its symptom on policy-gradient runs")
        }
        FaultId::LrTooHigh => {
            let peak = f.steps.iter().map(|s| s.loss).fold(0.0, f32::max);
            check(
                f.stopped.is_none() && (peak > ln_v(f) + 1.0) && final_loss(f) > final_loss(h) + 0.5,
                format!(
                    "AdamW + clipping: loss peaked at {peak:.2} (ln V {:.2}), ends {:.2} vs healthy {:.2}, no NaN",
                    ln_v(f),
                    final_loss(f),
                    final_loss(h)
                ),
            )
        }
        FaultId::LrTooLow => {
            let drop = |r: &History| r.steps[0].loss - final_loss(r);
            check(
                drop(f) < 0.25 * drop(h),
                format!("loss fell {:.2} nats vs {:.2} in the healthy run's budget", drop(f), drop(h)),
            )
        }
        FaultId::NoWarmup => check(
            final_loss(f) > final_loss(h)
                && last_eval(f).min_attention_entropy() < 0.1
                && last_eval(h).min_attention_entropy() > 0.1,
            format!(
                "plateau at {:.2} vs healthy {:.2}; a head's attention entropy {:.3} nats (healthy min {:.2})",
                final_loss(f),
                final_loss(h),
                last_eval(f).min_attention_entropy(),
                last_eval(h).min_attention_entropy()
            ),
        ),
        FaultId::NoGradClip => {
            let ratio = |r: &History| peak_grad(r) / median(grad_norms(r)).unwrap_or(0.0);
            check(
                ratio(f) > 10.0 && ratio(f) > 2.0 * ratio(h) && final_loss(f) > final_loss(h),
                format!(
                    "gradient-norm spike {:.0}× the median vs {:.0}× clipped; loss ends {:.2} vs {:.2}",
                    ratio(f),
                    ratio(h),
                    final_loss(f),
                    final_loss(h)
                ),
            )
        }
        FaultId::InitTooLarge => check(
            peak_grad(f) > 2.0 * peak_grad(h) && final_loss(f) > final_loss(h) + 0.5,
            format!(
                "peak gradient norm {:.1} vs healthy {:.2} ({:.0}×); loss ends {:.2} vs {:.2}",
                peak_grad(f),
                peak_grad(h),
                peak_grad(f) / peak_grad(h),
                final_loss(f),
                final_loss(h)
            ),
        ),
        FaultId::InitZero => check(
            final_loss(f) > ln_v(f) - 0.05 && final_loss(h) < final_loss(f) - 0.5,
            format!("loss ends {:.2} (ln V {:.2}) vs healthy {:.2}", final_loss(f), ln_v(f), final_loss(h)),
        ),
        FaultId::NoZeroGrad => check(
            late_grad(f) > 3.0 * late_grad(h) && final_loss(f) > final_loss(h),
            format!(
                "late gradient norm {:.1} vs {:.2} with gradients cleared; loss ends {:.2} vs {:.2}",
                late_grad(f),
                late_grad(h),
                final_loss(f),
                final_loss(h)
            ),
        ),
        FaultId::DetachedBlock => {
            let e = last_eval(f);
            let last = e.blocks.len() - 1;
            let below: Vec<_> = e.tensors.iter().filter(|t| t.block.is_some_and(|b| b < last)).collect();
            let zero = below.iter().filter(|t| t.grad_norm == 0.0).count();
            check(
                !below.is_empty() && zero == below.len(),
                format!("{zero} of the {} tensors below the last block get exactly zero gradient", below.len()),
            )
        }
        FaultId::DeadRelu => {
            let dead = |r: &History| last_eval(r).blocks.iter().map(|b| b.dead_fraction).fold(0.0, f32::max);
            check(
                dead(f) > 0.5 && dead(h) < 0.05,
                format!("dead units {:.0}% vs healthy {:.0}%", dead(f) * 100.0, dead(h) * 100.0),
            )
        }
        FaultId::SigmoidActivation => {
            // Its scenario's healthy run (no residuals, 4 layers, GELU) is already stuck: the sigmoid
            // shows as early-layer gradients orders of magnitude smaller still.
            let ratio = first_to_last_block_grad;
            check(
                ratio(f) < 0.1 * ratio(h) && final_loss(f) >= final_loss(h) - 0.05,
                format!(
                    "block 0 / last block gradient {:.1e} vs {:.1e} with GELU; loss ends {:.2} vs {:.2}",
                    ratio(f),
                    ratio(h),
                    final_loss(f),
                    final_loss(h)
                ),
            )
        }
        FaultId::NoResidual | FaultId::PostNorm => {
            let ratio = first_to_last_block_grad;
            check(
                ratio(f) < 0.1 * ratio(h) && final_loss(f) > final_loss(h) + 0.2,
                format!(
                    "block 0 / last block gradient {:.1e} vs healthy {:.1e}; loss ends {:.2} vs {:.2}",
                    ratio(f),
                    ratio(h),
                    final_loss(f),
                    final_loss(h)
                ),
            )
        }
        FaultId::NaiveLogSoftmax | FaultId::SoftmaxNoMaxShift | FaultId::LayernormNoEps => check(
            nan_step(f).is_some_and(|s| s <= 10) && nan_step(h).is_none(),
            format!("NaN/Inf at step {:?}; the stable form: {:?}", nan_step(f), nan_step(h)),
        ),
        FaultId::NoAttnScale => check(
            last_eval(f).mean_attention_entropy() < last_eval(h).mean_attention_entropy() - 0.3,
            format!(
                "attention entropy {:.2} nats vs healthy {:.2} (sharper, not uniform); loss {:.2} vs {:.2}",
                last_eval(f).mean_attention_entropy(),
                last_eval(h).mean_attention_entropy(),
                final_loss(f),
                final_loss(h)
            ),
        ),
        FaultId::NoCausalMask => {
            let above =
                last_eval(f).blocks.iter().flat_map(|b| b.attn_above_diag.iter().copied()).fold(0.0f32, f32::max);
            let healthy =
                last_eval(h).blocks.iter().flat_map(|b| b.attn_above_diag.iter().copied()).fold(0.0f32, f32::max);
            check(
                above > 0.3 && healthy == 0.0,
                format!(
                    "{:.0}% of a head's attention on later positions (healthy: {healthy}); train loss {:.2} vs healthy {:.2}",
                    above * 100.0,
                    final_loss(f),
                    final_loss(h)
                ),
            )
        }
        FaultId::TinyDataset | FaultId::NoRegularization => {
            let vals: Vec<f32> = f.evals.iter().filter_map(|e| e.val_loss).collect();
            let best = vals.iter().copied().fold(f32::INFINITY, f32::min);
            let e = last_eval(f);
            let val = e.val_loss.unwrap_or(f32::NAN);
            check(
                val > best + 0.1 && val - e.train_loss > 0.3,
                format!("val loss rose from {best:.2} to {val:.2} while train fell to {:.2}", e.train_loss),
            )
        }
        FaultId::GreedyDecoding | FaultId::TemperatureTooLow => {
            let s = |r: &History| last_eval(r).sample.clone().expect("a sample");
            let (sf, sh) = (s(f), s(h));
            check(
                sf.repeated_ngram_rate > sh.repeated_ngram_rate && sf.sampler_entropy < 0.6 * sf.model_entropy,
                format!(
                    "repeated 4-grams {:.0}% vs healthy {:.0}%; sampler entropy {:.2} of the model's {:.2}",
                    sf.repeated_ngram_rate * 100.0,
                    sh.repeated_ngram_rate * 100.0,
                    sf.sampler_entropy,
                    sf.model_entropy
                ),
            )
        }
        FaultId::TokenizerMismatch => {
            let reread = |r: &History| last_eval(r).sample.as_ref().and_then(|s| s.reread_loss).unwrap_or(f32::NAN);
            check(
                final_loss(f) == final_loss(h) && reread(f) > reread(h) + 1.0,
                format!(
                    "same loss {:.3} = {:.3}; the model's loss on the shown sample {:.2} vs {:.2}",
                    final_loss(f),
                    final_loss(h),
                    reread(f),
                    reread(h)
                ),
            )
        }
        FaultId::CorruptEmbeddings | FaultId::WrongCheckpoint => {
            let (step, jump) = largest_jump(f);
            check(
                jump > 0.6 && largest_jump(h).1 < 0.5,
                format!("loss jumped {jump:.2} at step {step}; healthy's largest jump {:.2}", largest_jump(h).1),
            )
        }
        FaultId::BatchTooLarge => check(
            matches!(f.stopped, Some(EngineError::OutOfMemory { .. })) && h.stopped.is_none(),
            format!("{:?}", f.stopped),
        ),
        FaultId::SyncEveryStep => {
            let share = |r: &History| {
                let t: f64 = r.steps.iter().map(|s| s.times.total_ms()).sum();
                r.steps.iter().map(|s| s.times.telemetry_ms).sum::<f64>() / t
            };
            check(
                share(f) > 0.3 && share(h) < 0.1,
                format!("telemetry takes {:.0}% of step time vs {:.0}%", share(f) * 100.0, share(h) * 100.0),
            )
        }
        FaultId::WordLevelVocab => {
            let unk = |r: &History| last_eval(r).tokenizer.unk_rate;
            check(unk(f) > 0.01 && unk(h) == 0.0, format!("UNK rate {:.1}% vs {:.1}%", unk(f) * 100.0, unk(h) * 100.0))
        }
        FaultId::LossyNormalization => {
            let ok = |r: &History| last_eval(r).tokenizer.roundtrip_ok;
            check(!ok(f) && ok(h), format!("roundtrip {} vs healthy {}", ok(f), ok(h)))
        }
    }
}

#[test]
fn every_fault_shows_its_symptom_and_is_named_first() {
    let faults = selected();
    let mut jobs = Vec::new();
    for (i, f) in faults.iter().enumerate() {
        for &corpus in corpora_of(i) {
            jobs.push((*f, corpus));
        }
    }
    let mut keys = Vec::new();
    for (f, corpus) in &jobs {
        keys.push((faulted(f), 1, corpus.to_string()));
        keys.push((baseline(f), 1, corpus.to_string()));
    }
    let outcomes = runs(&keys);
    let mut failures = Vec::new();
    for (k, (f, corpus)) in jobs.iter().enumerate() {
        let (bad, good) = (&outcomes[2 * k], &outcomes[2 * k + 1]);
        let measured = symptom(f.id, &good.history, &bad.history);
        let named = bad.first() == f.guide_entry.as_str();
        let line = format!(
            "{:<22} {corpus:<12} {} {} | detector: {}",
            f.id,
            if measured.is_ok() { "symptom" } else { "NO SYMPTOM" },
            measured.as_ref().unwrap_or_else(|e| e),
            bad.first()
        );
        eprintln!("{line}");
        if measured.is_err() || !named {
            failures.push(line);
        }
    }
    assert!(failures.is_empty(), "faults without their symptom or entry:\n{}", failures.join("\n"));
}

#[test]
fn confusion_matrix_top1_at_least_95_percent() {
    let seeds: u64 = std::env::var("FAULTLINE_MATRIX_SEEDS").ok().and_then(|v| v.parse().ok()).unwrap_or(3);
    let faults = selected();
    let mut jobs = Vec::new();
    for (i, f) in faults.iter().enumerate() {
        for &corpus in corpora_of(i) {
            for seed in 1..=seeds {
                jobs.push((*f, corpus, seed));
            }
        }
    }
    let keys: Vec<Key> = jobs.iter().map(|(f, c, s)| (faulted(f), *s, c.to_string())).collect();
    let outcomes = runs(&keys);
    let mut table: BTreeMap<&str, BTreeMap<&str, usize>> = BTreeMap::new();
    let mut correct = 0;
    for ((f, corpus, seed), o) in jobs.iter().zip(&outcomes) {
        if o.first() == f.guide_entry.as_str() {
            correct += 1;
        } else {
            eprintln!("MISS {} on {corpus} seed {seed}: expected {}, got {:?}", f.id, f.guide_entry, o.findings);
        }
        *table.entry(f.id.as_str()).or_default().entry(o.first()).or_default() += 1;
    }
    eprintln!("\nconfusion matrix, {seeds} seeds × {CORPORA:?} (fault -> detector's first entry: runs)");
    for (fault, row) in &table {
        let cells: Vec<String> = row.iter().map(|(e, n)| format!("{e}: {n}")).collect();
        eprintln!("  {fault:<22} {}", cells.join(", "));
    }
    let accuracy = correct as f64 / jobs.len() as f64;
    eprintln!("top-1 accuracy {correct}/{} = {:.1}%", jobs.len(), accuracy * 100.0);
    check_reproductions(&jobs.iter().map(|(f, _, _)| f.id).collect::<Vec<_>>(), &outcomes, seeds);
    assert!(accuracy >= 0.95, "top-1 accuracy {:.1}% is below 95%", accuracy * 100.0);
}

/// The matrix against [`REPRODUCTIONS`]. The full matrix (every fault, both corpora, 3 seeds) must
/// equal it; a sample, a subset of the same deterministic runs, must not contradict it: no pair the
/// table lacks, no pair named more often than the table counts, and a pair the table has in every run
/// named in every sampled run.
fn check_reproductions(faults: &[FaultId], outcomes: &[Arc<Outcome>], seeds: u64) {
    let mut counted: BTreeMap<(FaultId, EntryId), u32> = BTreeMap::new();
    let mut runs: BTreeMap<FaultId, u32> = BTreeMap::new();
    for (&fault, o) in faults.iter().zip(outcomes) {
        *runs.entry(fault).or_default() += 1;
        if let Some(first) = o.findings.first() {
            *counted.entry((fault, first.entry)).or_default() += 1;
        }
    }
    let table: BTreeMap<(FaultId, EntryId), &Reproduction> =
        REPRODUCTIONS.iter().map(|r| ((r.fault, r.entry), r)).collect();
    let full =
        seeds == 3 && runs.len() == Stage::Pretraining.faults().count() && runs.values().all(|&n| n == reproduce::RUNS);
    let mut wrong = Vec::new();
    if full {
        let differs =
            counted.len() != table.len() || counted.iter().any(|(k, &n)| table.get(k).map(|r| r.named) != Some(n));
        if differs {
            let rows: Vec<String> =
                counted.iter().map(|((f, e), n)| format!("    row(EntryId::{e:?}, FaultId::{f:?}, {n}),")).collect();
            wrong.push(format!("the matrix moved; REPRODUCTIONS should read:\n{}", rows.join("\n")));
        }
    } else {
        for (&(fault, entry), &n) in &counted {
            match table.get(&(fault, entry)) {
                None => wrong.push(format!("{fault} named {entry} first in {n} run(s); the table has no such row")),
                Some(r) if n > r.named => {
                    wrong.push(format!("{fault} named {entry} in {n} sampled runs; the table counts {}", r.named))
                }
                Some(_) => {}
            }
        }
        for r in REPRODUCTIONS.iter().filter(|r| r.named == r.runs) {
            let sampled = runs.get(&r.fault).copied().unwrap_or(0);
            let named = counted.get(&(r.fault, r.entry)).copied().unwrap_or(0);
            if named != sampled {
                wrong.push(format!(
                    "{} named {} in {named} of {sampled} sampled runs; the table says every run",
                    r.fault, r.entry
                ));
            }
        }
    }
    assert!(wrong.is_empty(), "faults::reproduce disagrees with the symptom matrix:\n{}", wrong.join("\n"));
}

#[test]
fn healthy_runs_get_no_diagnosis() {
    let mut keys = Vec::new();
    for corpus in ["toy-english", "arithmetic", "sorting"] {
        for seed in 1..=5u64 {
            keys.push((Vec::new(), seed, corpus.to_string()));
        }
    }
    let outcomes = runs(&keys);
    let noisy: Vec<String> = keys
        .iter()
        .zip(&outcomes)
        .filter(|(_, o)| !o.findings.is_empty())
        .map(|((_, s, c), o)| format!("{c} seed {s}: {:?}", o.findings))
        .collect();
    assert!(noisy.is_empty(), "healthy runs were diagnosed:\n{}", noisy.join("\n"));
}

#[test]
fn user_text_is_diagnosed_too() {
    let text: String = (0..600).map(|i| format!("line {} of the learner's own text.\n", i % 37)).collect();
    let mut cfg = RunConfig::from_pairs([("steps", "60"), ("eval-every", "30")]).unwrap();
    cfg.corpus = CorpusSource::Text { name: "pasted".into(), text };
    cfg.faults.set(FaultId::NoCausalMask, None).unwrap();
    let mut t = Trainer::cpu(cfg, native_clock).unwrap();
    while !t.is_done() {
        t.step().unwrap();
        if t.should_evaluate() {
            t.evaluate();
        }
    }
    let findings = diagnose(t.history());
    assert_eq!(findings.first().map(|f| f.entry), Some(EntryId::AttentionLooksAtFutureInCausalModel), "{findings:?}");
}
