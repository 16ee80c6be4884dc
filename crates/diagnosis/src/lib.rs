//! The symptom detector: from telemetry alone, which guide entries explain what the run shows.
//!
//! This crate reads [`History`] (losses, gradient norms, update sizes, attention statistics, samples,
//! tokenizer measurements) and the guide. It never sees the fault switches or the run's settings: it
//! depends on `faultline-telemetry` and `faultline-guide` only, so Cargo, not a convention, keeps the
//! engine's fault table and run configuration out of its reach. That is what makes the app's mystery
//! mode honest, and it is why every finding carries its evidence in numbers ([`Evidence`]). A healthy
//! run gets no finding.

use confidence::{explained, EXPLAINED};
use faultline_guide::EntryId;
use faultline_telemetry::error::EngineError;
use faultline_telemetry::{EvalRecord, History, PhaseTimes};
use rules::curves::*;
use rules::evaluations::*;
use serde::{Deserialize, Serialize};

mod align;
mod confidence;
mod evidence;
mod log;
mod rules;
mod settle;

pub use align::{diagnose_dpo, diagnose_rl, DPO_MIN_STEPS, FLAT_BAND, QUALITY_FALL, RL_MIN_STEPS};
pub use confidence::confidence;
pub use evidence::Evidence;
pub use log::{diagnose_log, needs, LogReport, Missing, Needed, Vocab, MIN_RECORDS};
pub use settle::settles;

/// A guide entry the evidence points to.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// The guide entry.
    pub entry: EntryId,
    /// How likely the entry is right, in (0, 1]: each rule's share of right findings on the tuning
    /// runs of `faultline-evaluation` (runs stored before this was calibrated call it `score`).
    #[serde(alias = "score")]
    pub confidence: f32,
    /// The step by which the run showed enough to name the entry: the first evaluation (or the end)
    /// at which the detector, reading the run up to there, reported it. `None` when the run stopped
    /// before its first step.
    #[serde(default)]
    pub first_step: Option<usize>,
    /// What was measured, in numbers: one item per rule that fired (`Display` writes it as a sentence).
    pub evidence: Vec<Evidence>,
}

impl Finding {
    /// Whether any of the evidence satisfies `test` (a `matches!` on a variant).
    pub fn has(&self, test: impl Fn(&Evidence) -> bool) -> bool {
        self.evidence.iter().any(test)
    }
}

/// Findings less confident than this are not reported: the detector abstains ([`Assessment::watching`]).
pub const REPORT_THRESHOLD: f32 = 0.5;

/// Ranks the guide entries the telemetry points to, most likely first, each with the step it first
/// showed; empty for a healthy run, and when the evidence is too weak to name anything.
pub fn diagnose(h: &History) -> Vec<Finding> {
    examine(h).findings
}

/// What the detector makes of a run, from one reading of it.
#[derive(Clone, Debug, PartialEq)]
pub struct Assessment {
    /// What [`diagnose`] returns.
    pub findings: Vec<Finding>,
    /// Entries the detector is watching but cannot name yet: findings below [`REPORT_THRESHOLD`],
    /// most likely first. With no report, these are what "nothing conclusive yet" is waiting on.
    pub watching: Vec<Finding>,
}

/// The findings [`diagnose`] reports and those the detector is still watching.
pub fn examine(h: &History) -> Assessment {
    let run = Run::of(h);
    let ends: Vec<usize> = h.evals.iter().map(|e| e.step).collect();
    judge(&run, &ends)
}

/// The whole run read once, split at the reporting line; the reported findings are dated by
/// replaying the run up to each step of `ends` in turn: the first at which the detector, reading that
/// much, reported each.
fn judge(run: &Run, ends: &[usize]) -> Assessment {
    let (mut findings, watching): (Vec<Finding>, Vec<Finding>) =
        assess(&run.view(run.steps.len(), run.evals.len())).into_iter().partition(|f| f.confidence >= REPORT_THRESHOLD);
    if findings.is_empty() {
        return Assessment { findings, watching };
    }
    let mut pending: Vec<usize> = (0..findings.len()).collect();
    for &end in ends {
        let steps = run.steps.partition_point(|s| s.step <= end);
        let evals = run.evals.partition_point(|e| e.step <= end);
        let seen = assess(&run.view(steps, evals));
        pending.retain(|&k| {
            let found = seen.iter().any(|f| f.entry == findings[k].entry && f.confidence >= REPORT_THRESHOLD);
            if found {
                findings[k].first_step = Some(end);
            }
            !found
        });
        if pending.is_empty() {
            break;
        }
    }
    let last = run.steps.last().map(|s| s.step);
    let nan = match run.stop {
        Some(Stop::Engine(EngineError::NonFinite { step, .. })) => Some(*step),
        Some(Stop::Logged { step, .. }) => Some(step),
        _ => None,
    };
    for k in pending {
        findings[k].first_step = nan.or(last);
    }
    // A NaN is seen at the step it appeared, not at the last record before it.
    for f in &mut findings {
        if f.has(|e| matches!(e, Evidence::NonFinite { .. } | Evidence::LoggedNonFinite { .. })) {
            f.first_step = nan;
        }
    }
    Assessment { findings, watching }
}

/// One optimiser step as the rules read it.
#[derive(Clone, Copy, Debug)]
struct Step {
    step: usize,
    loss: f32,
    /// The global gradient norm, where the telemetry has it.
    grad_norm: Option<f32>,
    /// Where the step's time went, where the telemetry has it.
    times: Option<PhaseTimes>,
}

/// A validation measurement: the training loss beside it, and the validation loss where there is one.
#[derive(Clone, Copy, Debug)]
struct Check {
    step: usize,
    train: f32,
    val: Option<f32>,
}

/// Why the telemetry ends: the engine stopped the run, or a logged value turned non-finite.
#[derive(Clone, Copy, Debug)]
enum Stop<'a> {
    Engine(&'a EngineError),
    Logged { signal: &'static str, step: usize },
}

/// Gradient norms per layer at one step, first layer and last.
#[derive(Clone, Debug)]
struct Layers {
    first: (String, f32),
    last: (String, f32),
}

/// A run converted once into what the rules read; [`Run::view`] cuts prefixes of it.
struct Run<'a> {
    /// ln V, the loss of guessing uniformly, where the vocabulary size is known.
    ln_v: Option<f32>,
    /// Optimiser steps per record: 1 for the engine's runs, a log's logging interval.
    stride: usize,
    steps: Vec<Step>,
    checks: Vec<Check>,
    /// The engine's evaluations, with everything they measure (none for a log).
    evals: &'a [EvalRecord],
    stop: Option<Stop<'a>>,
    /// Per-layer gradient norms of a log, by the step they were logged at.
    layers: Vec<(usize, Layers)>,
}

impl<'a> Run<'a> {
    fn of(h: &'a History) -> Run<'a> {
        let steps = h
            .steps
            .iter()
            .map(|s| Step { step: s.step, loss: s.loss, grad_norm: Some(s.grad_norm), times: Some(s.times) })
            .collect();
        let checks = h.evals.iter().map(|e| Check { step: e.step, train: e.train_loss, val: e.val_loss }).collect();
        Run {
            ln_v: Some((h.vocab_size as f32).ln()),
            stride: 1,
            steps,
            checks,
            evals: &h.evals,
            stop: h.stopped.as_ref().map(Stop::Engine),
            layers: Vec::new(),
        }
    }

    /// The run as it stood after its first `steps` steps and `evals` evaluations.
    fn view(&self, steps: usize, evals: usize) -> View<'_> {
        let end = if steps == 0 { 0 } else { self.steps[steps - 1].step };
        let whole = steps == self.steps.len();
        // The engine's checks are its evaluations, one for one; a log's are cut by step.
        let checks = if self.evals.is_empty() { self.checks.partition_point(|c| c.step <= end) } else { evals };
        let layers = self.layers.iter().take_while(|(step, _)| *step <= end).last().map(|(_, l)| l);
        View {
            ln_v: self.ln_v,
            stride: self.stride,
            steps: &self.steps[..steps],
            checks: &self.checks[..checks],
            last: evals.checked_sub(1).and_then(|i| self.evals.get(i)),
            stop: if whole { self.stop } else { None },
            layers,
        }
    }
}

/// The run as the rules read it: a prefix of it while [`diagnose`] replays the run.
struct View<'a> {
    ln_v: Option<f32>,
    stride: usize,
    steps: &'a [Step],
    checks: &'a [Check],
    /// The engine's latest evaluation, with attention, samples and per-tensor statistics.
    last: Option<&'a EvalRecord>,
    stop: Option<Stop<'a>>,
    layers: Option<&'a Layers>,
}

impl View<'_> {
    /// How many records span `steps` optimiser steps (at least one).
    fn records(&self, steps: usize) -> usize {
        steps.div_ceil(self.stride).max(1)
    }

    /// Every step's gradient norm, if every step has one.
    fn grad_norms(&self) -> Option<Vec<f32>> {
        self.steps.iter().map(|s| s.grad_norm).collect()
    }

    fn losses(&self) -> Vec<f32> {
        self.steps.iter().map(|s| s.loss).collect()
    }
}

/// Every entry any rule points to, with its confidence, most likely first.
fn assess(h: &View) -> Vec<Finding> {
    let mut measured: Vec<(EntryId, Evidence)> = Vec::new();
    let mut add = |entry: EntryId, evidence: Evidence| measured.push((entry, evidence));
    stopped(h, &mut add);
    if let Some(last) = h.last {
        causal_leak(last, &mut add);
        tokenizer(last, &mut add);
        if let Some(ln_v) = h.ln_v {
            samples(last, ln_v, &mut add);
        }
        attention_scale(last, &mut add);
        plateau(h, last, &mut add);
        dead_units(last, &mut add);
        silent_gradients(last, &mut add);
        update_sizes(h, last, &mut add);
    }
    layer_gradients(h, &mut add);
    overfitting(h, &mut add);
    if h.steps.len() >= 20 {
        zero_gradients(h, &mut add);
        accumulating(h, &mut add);
        exploding(h, &mut add);
        worse_than_guessing(h, &mut add);
        loss_jump(h, &mut add);
        oscillation(h, &mut add);
        early_spike(h, &mut add);
        slow_steps(h, &mut add);
    }
    let all: Vec<&Evidence> = measured.iter().map(|(_, e)| e).collect();
    let weights: Vec<f32> =
        all.iter().map(|e| if explained(e, &all) { EXPLAINED * confidence(e) } else { confidence(e) }).collect();
    let mut findings: Vec<Finding> = Vec::new();
    for ((entry, evidence), weight) in measured.into_iter().zip(weights) {
        match findings.iter_mut().find(|f| f.entry == entry) {
            Some(f) => {
                f.confidence = f.confidence.max(weight);
                f.evidence.push(evidence);
            }
            None => findings.push(Finding { entry, confidence: weight, first_step: None, evidence: vec![evidence] }),
        }
    }
    findings.sort_by(|a, b| b.confidence.total_cmp(&a.confidence));
    findings
}

#[cfg(test)]
mod tests {
    use super::*;
    use faultline_telemetry::{PhaseTimes, StepRecord};

    /// 100 steps whose loss falls from 3.0 to 1.5 by step 60 and then holds, jumping to 3.0 at step
    /// 80; gradient norms near 1 but for `spikes` (step, norm).
    fn jumping_run(spikes: &[(usize, f32)]) -> History {
        let steps = (1..=100)
            .map(|step| {
                let loss = if step >= 80 { 3.0 } else { 3.0 - 1.5 * (step.min(60) as f32 / 60.0) };
                let wobble = 1.0 + 0.1 * (step as f32).sin();
                let grad_norm = spikes.iter().find(|&&(s, _)| s == step).map_or(wobble, |&(_, n)| n);
                StepRecord { step, loss, grad_norm, lr: 1e-3, tokens: 1024, times: PhaseTimes::default(), mode: None }
            })
            .collect();
        History { vocab_size: 29, steps, ..History::default() }
    }

    /// What `loss_jump` says about `h`: the entry it names.
    fn blamed(h: &History) -> Vec<EntryId> {
        let mut entries = Vec::new();
        let run = Run::of(h);
        loss_jump(&run.view(run.steps.len(), 0), &mut |entry: EntryId, _| entries.push(entry));
        entries
    }

    #[test]
    fn a_jump_is_blamed_on_a_spike_only_when_it_is_recent_and_the_largest_yet() {
        assert_eq!(blamed(&jumping_run(&[])), [EntryId::ModelOutputsNonsense], "no spike: the weights changed");
        assert_eq!(
            blamed(&jumping_run(&[(78, 15.0)])),
            [EntryId::ExplodingGradients],
            "a record spike two steps before"
        );
        assert_eq!(
            blamed(&jumping_run(&[(40, 20.0), (78, 15.0)])),
            [EntryId::ModelOutputsNonsense],
            "a larger spike earlier did no harm, so this one explains nothing"
        );
        assert_eq!(
            blamed(&jumping_run(&[(75, 15.0)])),
            [EntryId::ModelOutputsNonsense],
            "a spike five steps before: its update would have shown in the loss already"
        );
    }

    /// `n` steps with the loss `loss(step)` and the gradient norm `norm(step)`.
    fn run(n: usize, loss: impl Fn(usize) -> f32, norm: impl Fn(usize) -> f32) -> History {
        let steps = (1..=n)
            .map(|step| StepRecord {
                step,
                loss: loss(step),
                grad_norm: norm(step),
                lr: 1e-3,
                tokens: 1024,
                times: PhaseTimes::default(),
                mode: None,
            })
            .collect();
        History { vocab_size: 29, steps, ..History::default() }
    }

    /// A noisy gradient norm around 1 (±20 % from step to step, as a fresh batch gives).
    fn noisy(step: usize) -> f32 {
        1.0 + 0.2 * ((step * 7919 % 13) as f32 / 6.0 - 1.0)
    }

    /// A loss falling from 3.0 towards 1.0, with `bump` nats added from step 60 to 90.
    fn falling(bump: f32) -> impl Fn(usize) -> f32 {
        move |step| 1.0 + 2.0 * (-(step as f32) / 40.0).exp() + if (60..90).contains(&step) { bump } else { 0.0 }
    }

    /// Noise in [-1, 1) with no pattern from step to step (SplitMix64's mixing).
    fn jitter(step: usize) -> f32 {
        let x = (step as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        let x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        ((x ^ (x >> 27)) % 1000) as f32 / 500.0 - 1.0
    }

    fn entries(h: &History) -> Vec<EntryId> {
        diagnose(h).iter().map(|f| f.entry).collect()
    }

    #[test]
    fn a_spike_is_blamed_only_when_the_loss_climbs_after_it_and_stays_up() {
        let spike = |step| if step == 60 { 15.0 } else { noisy(step) };
        let healthy = run(200, falling(0.0), spike);
        assert!(entries(&healthy).is_empty(), "a clipped run spikes 15× and keeps falling: {:?}", diagnose(&healthy));
        let damaged = run(200, falling(0.5), spike);
        let findings = diagnose(&damaged);
        assert_eq!(findings.first().map(|f| f.entry), Some(EntryId::ExplodingGradients), "{findings:?}");
        assert!(findings[0].has(|e| matches!(e, Evidence::GradNormSpike { step: 60, .. })));
        let brief = run(200, |step| falling(0.0)(step) + if (61..66).contains(&step) { 0.5 } else { 0.0 }, spike);
        assert!(entries(&brief).is_empty(), "a bump gone within ten steps: {:?}", diagnose(&brief));
        // The same rise on a loss whose batches vary by ±0.5 nats is within its noise.
        let varied = run(200, |step| falling(0.5)(step) + 0.5 * jitter(step), spike);
        assert!(entries(&varied).is_empty(), "a rise within the loss's own noise: {:?}", diagnose(&varied));
    }

    #[test]
    fn a_jump_must_stand_out_of_the_losses_own_noise() {
        // A loss falling to 1.5 by step 60, then wobbling by ±0.3 (a varied text's batches), with a
        // jump of 0.7 above the median at step 90: within this run's noise, so nothing is blamed.
        let wobbly = |step: usize| 3.0 - 1.5 * (step.min(60) as f32 / 60.0) + 0.3 * jitter(step);
        let noisy_jump = |step: usize| if step == 90 { 2.2 } else { wobbly(step) };
        assert!(blamed(&run(120, noisy_jump, noisy)).is_empty());
        // The same jump on a smooth loss is damage.
        let smooth_jump = |step: usize| if step >= 90 { 2.2 } else { 3.0 - 1.5 * (step.min(60) as f32 / 60.0) };
        assert_eq!(blamed(&run(120, smooth_jump, noisy)), [EntryId::ModelOutputsNonsense]);
    }

    #[test]
    fn a_gradient_norm_of_exactly_zero_means_no_gradient_reaches_the_weights() {
        let zero = run(200, |_| 3.37, |_| 0.0);
        let findings = diagnose(&zero);
        assert_eq!(findings.first().map(|f| f.entry), Some(EntryId::GradientsAreAllZero), "{findings:?}");
        assert!(findings[0].has(|e| matches!(e, Evidence::GradNormZero { zero: 200, records: 200 })));
        // One zero in ten is not the rule: a healthy norm that now and then reads 0.
        let sometimes = run(200, falling(0.0), |step| if step % 10 == 0 { 0.0 } else { noisy(step) });
        assert!(entries(&sometimes).is_empty(), "{:?}", diagnose(&sometimes));
    }

    #[test]
    fn a_gradient_norm_is_summed_when_it_grows_as_smoothly_as_a_running_sum() {
        let summed = run(200, falling(0.0), |step| 0.5 * step as f32);
        assert!(entries(&summed).contains(&EntryId::GradientsAreAllZero), "{:?}", diagnose(&summed));
        let growing = run(200, falling(0.0), |step| (0.5 + step as f32 / 50.0) * noisy(step));
        assert!(entries(&growing).is_empty(), "a norm that grows with batch noise: {:?}", diagnose(&growing));
    }

    #[test]
    fn a_finding_says_when_it_first_showed_and_a_weak_one_is_only_watched() {
        let mut h = run(200, falling(0.0), |step| 0.5 * step as f32);
        h.evals = [20, 50, 100, 200]
            .into_iter()
            .map(|step| {
                let blank = serde_json::json!({
                    "step": step, "train_loss": 1.0, "val_loss": null, "grad_norm": 1.0, "tensors": [], "blocks": [],
                    "max_abs_logit": 1.0, "sample": null,
                    "attention": { "layers": 0, "heads": 0, "time": 0, "tokens": [], "probs": [] },
                    "tokenizer": { "unk_rate": 0.0, "roundtrip_ok": true, "roundtrip_mismatch": null },
                });
                serde_json::from_value(blank).expect("an evaluation with nothing measured")
            })
            .collect();
        let findings = diagnose(&h);
        let summed = findings.iter().find(|f| f.entry == EntryId::GradientsAreAllZero).expect("named");
        // The rule needs four steps in each fifth of the run after its first tenth: 20 steps are too
        // few to say, 50 enough.
        assert_eq!(summed.first_step, Some(50));
        assert!(examine(&h).watching.iter().all(|f| f.confidence < REPORT_THRESHOLD));
    }

    #[test]
    fn samples_of_a_model_that_reads_the_future_are_explained_by_the_leak_and_repeats_need_cold_decoding() {
        let leak = Evidence::CausalLeak { block: 0, head: 0, share: 0.5 };
        let repeats = Evidence::RepeatedNgrams { rate: 0.8, reference: 0.2 };
        let cold = Evidence::DecodingDiscardsEntropy { sampler: 0.4, model: 0.9 };
        let greedy = Evidence::DecodingDiscardsEntropy { sampler: 0.0, model: 0.9 };
        assert!(explained(&repeats, &[&leak, &repeats, &cold]));
        assert!(!explained(&repeats, &[&repeats, &cold]), "repeats drawn with entropy thrown away");
        assert!(explained(&repeats, &[&repeats]), "repeats drawn with the model's own entropy are the model's");
        assert!(explained(&cold, &[&leak, &cold]));
        assert!(!explained(&greedy, &[&leak, &greedy]), "greedy decoding has no entropy whatever the model learned");
    }
}
