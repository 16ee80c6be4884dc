//! The symptom detector: from telemetry alone, which guide entries explain what the run shows.
//!
//! This crate reads [`History`] (losses, gradient norms, update sizes, attention statistics, samples,
//! tokenizer measurements) and the guide. It never sees the fault switches or the run's settings: it
//! depends on `faultline-telemetry` and `faultline-guide` only, so Cargo, not a convention, keeps the
//! engine's fault table and run configuration out of its reach. That is what makes the app's mystery
//! mode honest, and it is why every finding carries its evidence in numbers ([`Evidence`]). A healthy
//! run gets no finding.

use faultline_guide::EntryId;
use faultline_telemetry::error::EngineError;
use faultline_telemetry::{measure, EvalRecord, History, PhaseTimes, TensorKind};
use serde::{Deserialize, Serialize};

mod evidence;
mod log;
mod settle;

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

/// How often a finding resting on this measurement named the right entry on the runs it was tuned on
/// (`faultline-evaluation --split tuning`, `retired-1` and `retired-2`, healthy and single-fault
/// runs, after explained measurements are set aside; for a rule that logs of another framework need,
/// also `cargo xtask peer-logs --tuning`), as (right + 1) / (fired + 2),
/// so that a rule seen a few times is not trusted fully and one never seen there sits at 0.5, the
/// reporting line. A run that stopped on a NaN or on memory is that entry by definition. A finding's
/// confidence is that of its strongest measurement; BENCHMARKS.md has how it held on held-out runs.
pub fn confidence(e: &Evidence) -> f32 {
    let laplace = |right: u16, fired: u16| f32::from(right + 1) / f32::from(fired + 2);
    match e {
        Evidence::NonFinite { .. } | Evidence::LoggedNonFinite { .. } | Evidence::OutOfMemory { .. } => 1.0,
        Evidence::SilentWeights { .. } => laplace(51, 51),
        // Engine: every init-zero run of the three splits (16); PyTorch tuning logs: 4.
        Evidence::GradNormZero { .. } => laplace(20, 20),
        Evidence::LayerGradients { .. } => laplace(46, 47),
        Evidence::ValidationRising { .. } => laplace(30, 30),
        Evidence::LossJumped { .. } => laplace(31, 34),
        Evidence::DeadUnits { .. } => laplace(20, 21),
        Evidence::SmallUpdates { .. } => laplace(20, 20),
        Evidence::FirstLossAboveLnV { .. } | Evidence::UnkTokens { .. } => laplace(19, 19),
        Evidence::CausalLeak { .. }
        | Evidence::Roundtrip { .. }
        | Evidence::SampleUnlikely { .. }
        | Evidence::SharperAttention { .. }
        | Evidence::UnscaledLogits { .. }
        | Evidence::SlowSteps { .. } => laplace(16, 16),
        Evidence::GradientsPileUp { .. } => laplace(15, 15),
        Evidence::DecodingDiscardsEntropy { .. } => laplace(35, 36),
        Evidence::RepeatedNgrams { .. } => laplace(28, 29),
        Evidence::Plateau { .. } => laplace(15, 17),
        Evidence::UnseenBigrams { .. } => laplace(7, 7),
        Evidence::ExplodedBeforeNan { .. } => laplace(2, 2),
        Evidence::GradNormSpike { .. } => laplace(10, 13),
        Evidence::GradNormAboveGuide { .. } => laplace(7, 13),
        Evidence::LossAboveLnV { .. } => laplace(18, 31),
        // Below the reporting line since the first tuning round, so not counted since.
        Evidence::EarlySpike { .. } => laplace(10, 22),
        Evidence::SpikeThrewLoss { .. } => laplace(0, 0),
        Evidence::GradNormBeforeNan { .. } | Evidence::Oscillation { .. } => laplace(0, 2),
    }
}

/// A measurement another one explains weighs this much of its confidence, below
/// [`REPORT_THRESHOLD`]: it is watched, not reported.
const EXPLAINED: f32 = 0.5;

/// Whether `e` is a consequence of something else the run shows (`all`), rather than a cause of its
/// own: samples from a model trained to read the future, or from a vocabulary that maps words to
/// `<UNK>`, say nothing about decoding; an `<UNK>` never round-trips; layers that get no gradient make
/// small updates; a loss thrown about by unstable steps stalls and jumps.
fn explained(e: &Evidence, all: &[&Evidence]) -> bool {
    let any = |test: fn(&Evidence) -> bool| all.iter().any(|o| test(o));
    let leak = any(|o| matches!(o, Evidence::CausalLeak { .. }));
    let unk = any(|o| matches!(o, Evidence::UnkTokens { .. }));
    let unstable = any(|o| {
        matches!(
            o,
            Evidence::GradNormAboveGuide { .. }
                | Evidence::GradNormSpike { .. }
                | Evidence::SpikeThrewLoss { .. }
                | Evidence::GradientsPileUp { .. }
                | Evidence::FirstLossAboveLnV { .. }
                | Evidence::LossAboveLnV { .. }
        )
    });
    let unlikely = any(|o| matches!(o, Evidence::SampleUnlikely { .. }));
    let cold = any(|o| matches!(o, Evidence::DecodingDiscardsEntropy { .. }));
    match e {
        // A shown sample the model itself finds unlikely is not what it writes: its repeats are not its own.
        Evidence::UnseenBigrams { .. } => leak || unk || unlikely,
        // Repeats drawn with the model's own entropy are the model's: a small model on repetitive
        // text (code) repeats 4-grams 30–60 points more than the text does (retired runs), as much
        // as greedy decoding. Only decoding that discards entropy makes them a finding.
        Evidence::RepeatedNgrams { .. } => leak || unk || unlikely || !cold,
        Evidence::SampleUnlikely { .. } => leak || unk,
        // Greedy decoding draws with no entropy at all, whatever the model learned.
        Evidence::DecodingDiscardsEntropy { sampler, .. } => leak && *sampler >= 0.005,
        Evidence::Roundtrip { .. } => unk,
        Evidence::SmallUpdates { .. } => {
            any(|o| matches!(o, Evidence::LayerGradients { .. } | Evidence::GradientsPileUp { .. }))
        }
        Evidence::EarlySpike { .. } | Evidence::Plateau { .. } | Evidence::Oscillation { .. } => unstable,
        // Steps too big to settle spike the gradient too: the rate, not clipping, is what to fix; and
        // weights replaced under the model spike it on the step the loss jumps.
        Evidence::GradNormSpike { step, .. } => all.iter().any(|o| match o {
            Evidence::LossAboveLnV { .. } => true,
            Evidence::LossJumped { step: jump, .. } => step.abs_diff(*jump) <= 1,
            _ => false,
        }),
        Evidence::LossJumped { .. } => any(|o| {
            matches!(
                o,
                Evidence::GradientsPileUp { .. } | Evidence::FirstLossAboveLnV { .. } | Evidence::LossAboveLnV { .. }
            )
        }),
        _ => false,
    }
}

type Add<'a> = dyn FnMut(EntryId, Evidence) + 'a;

/// The median of `v`, 0 for none (a rule reads it only where it has steps).
fn median(v: Vec<f32>) -> f32 {
    measure::median(v).unwrap_or(0.0)
}

/// The run stopped: a non-finite value, or memory that could not be had.
fn stopped(h: &View, add: &mut Add) {
    let peak = h.steps.iter().filter_map(|s| s.grad_norm).fold(0.0f32, f32::max);
    let non_finite = match h.stop {
        Some(Stop::Engine(EngineError::NonFinite { step, tensor })) => {
            Some(Evidence::NonFinite { tensor: tensor.clone(), step: *step })
        }
        Some(Stop::Logged { signal, step }) => Some(Evidence::LoggedNonFinite { signal: signal.into(), step }),
        _ => None,
    };
    if let Some(evidence) = non_finite {
        add(EntryId::LossBecomesNan, evidence);
        if peak > 100.0 {
            add(EntryId::ExplodingGradients, Evidence::ExplodedBeforeNan { peak });
            add(EntryId::LossBecomesNan, Evidence::GradNormBeforeNan { peak });
        }
    }
    if let Some(Stop::Engine(EngineError::OutOfMemory { requested_bytes, budget_bytes, what })) = h.stop {
        let evidence = Evidence::OutOfMemory {
            what: what.clone(),
            requested_bytes: *requested_bytes,
            budget_bytes: *budget_bytes,
        };
        add(EntryId::OutOfMemoryOom, evidence);
    }
}

/// A causal model must put exactly zero attention on later positions.
fn causal_leak(e: &EvalRecord, add: &mut Add) {
    let (mut worst, mut at) = (0.0f32, (0, 0));
    for b in &e.blocks {
        for (head, &m) in b.attn_above_diag.iter().enumerate() {
            if m > worst {
                worst = m;
                at = (b.block, head);
            }
        }
    }
    if worst > 0.01 {
        add(
            EntryId::AttentionLooksAtFutureInCausalModel,
            Evidence::CausalLeak { block: at.0, head: at.1, share: worst },
        );
    }
}

fn tokenizer(e: &EvalRecord, add: &mut Add) {
    if e.tokenizer.unk_rate > 0.01 {
        add(EntryId::ManyUnkTokens, Evidence::UnkTokens { rate: e.tokenizer.unk_rate });
    }
    if !e.tokenizer.roundtrip_ok {
        let example = e.tokenizer.roundtrip_mismatch.clone();
        add(EntryId::TokenizationDoesntRoundtrip, Evidence::Roundtrip { example });
    }
}

/// Samples that loop, or that do not look like the training text although the loss is good.
fn samples(e: &EvalRecord, ln_v: f32, add: &mut Add) {
    let Some(s) = &e.sample else { return };
    let val = e.val_loss.unwrap_or(e.train_loss);
    if val.is_nan() || val >= ln_v {
        return; // a model no better than guessing writes noise: the samples say nothing about decoding
    }
    let excess = s.repeated_ngram_rate - s.reference_ngram_rate;
    // Healthy samples repeat up to 11 points more 4-grams than the validation text (tuning runs);
    // greedy and too-cold decoding 10–53 points more. A small model on code repeats as much, so the
    // repeats count only beside decoding that discards entropy (`explained`).
    if s.repeated_ngram_rate > 0.3 && excess > 0.15 {
        add(
            EntryId::ModelOutputsRepetitiveText,
            Evidence::RepeatedNgrams { rate: s.repeated_ngram_rate, reference: s.reference_ngram_rate },
        );
    }
    // The default decoding keeps 56–85 % of the model's entropy (code, where the model is least sure,
    // is the low end); greedy keeps none and a temperature of 0.1 at most 47 % (retired runs).
    if s.model_entropy > 0.3 && s.sampler_entropy < 0.5 * s.model_entropy {
        add(
            EntryId::ModelOutputsRepetitiveText,
            Evidence::DecodingDiscardsEntropy { sampler: s.sampler_entropy, model: s.model_entropy },
        );
    }
    if let Some(reread) = s.reread_loss {
        if reread > val + 1.0 && reread > 1.6 * val {
            add(EntryId::ModelOutputsNonsense, Evidence::SampleUnlikely { reread, val });
        }
    }
    let learned = val < 1.5;
    if s.unseen_bigram_rate > 0.2 && learned {
        add(EntryId::ModelOutputsNonsense, Evidence::UnseenBigrams { rate: s.unseen_bigram_rate, loss: val });
    }
}

/// Mean entropy of causal attention rows if attention were uniform: mean over i of ln(i + 1).
fn uniform_entropy(time: usize) -> f32 {
    ((1..=time).map(|n| (n as f64).ln()).sum::<f64>() / time.max(1) as f64) as f32
}

/// Attention logits spread wider than `q·k/√d_k`: the scores reach the softmax unscaled. The guide
/// says attention then turns uniform; what the measurement shows is the opposite, and the evidence
/// says so.
fn attention_scale(e: &EvalRecord, add: &mut Add) {
    let scales: Vec<f32> = e.blocks.iter().flat_map(|b| b.attn_logit_scale.iter().copied()).collect();
    let heads_measured = e.blocks.iter().any(|b| !b.attn_entropy.is_empty());
    if scales.is_empty() || !heads_measured || e.attention.time == 0 {
        return;
    }
    let scale = median(scales);
    let mean = e.mean_attention_entropy();
    let uniform = uniform_entropy(e.attention.time);
    // Attention that is still uniform has logits near zero, whose spread says nothing about scaling.
    if scale > 1.5 && mean < 0.95 * uniform {
        add(EntryId::AttentionWeightsAreUniform, Evidence::UnscaledLogits { scale });
        add(EntryId::AttentionWeightsAreUniform, Evidence::SharperAttention { mean, uniform });
    }
}

/// A loss that has stopped falling, still high, while some head attends to a single position: early
/// steps at full learning rate locked the attention in and the model sits on a plateau.
fn plateau(h: &View, e: &EvalRecord, add: &mut Add) {
    let n = h.steps.len();
    let Some(ln_v) = h.ln_v else { return };
    if n < h.records(100) {
        return;
    }
    let tail = &h.steps[n / 2..];
    let third = tail.len() / 3;
    let early = median(tail[..third].iter().map(|s| s.loss).collect());
    let late = median(tail[tail.len() - third..].iter().map(|s| s.loss).collect());
    let drop = (early - late) / early.max(1e-6);
    let collapsed = e
        .blocks
        .iter()
        .flat_map(|b| b.attn_entropy.iter().enumerate().map(move |(head, &ent)| (b.block, head, ent)))
        .min_by(|a, b| a.2.total_cmp(&b.2));
    if let Some((block, head, ent)) = collapsed {
        // A run that has learned the corpus also flattens out late, far below ln V, sometimes with a
        // head on one position (arithmetic); a plateau is a loss stuck high.
        let high = late > PLATEAU_OF_LN_V * ln_v;
        if drop < 0.1 && ent < 0.1 && high {
            let steps = tail.len();
            let evidence = Evidence::Plateau { steps, early, late, drop, block, head, entropy: ent };
            add(EntryId::LossStopsDecreasing, evidence);
        }
    }
}

/// A plateau's loss is above this share of ln V (tuning runs: plateaus at 0.60–0.89, healthy runs
/// that have flattened at 0.13–0.49).
const PLATEAU_OF_LN_V: f32 = 0.55;

fn dead_units(e: &EvalRecord, add: &mut Add) {
    if let Some(b) = e.blocks.iter().max_by(|a, b| a.dead_fraction.total_cmp(&b.dead_fraction)) {
        if b.dead_fraction > 0.5 {
            add(EntryId::GradientsAreAllZero, Evidence::DeadUnits { block: b.block, fraction: b.dead_fraction });
        }
    }
}

/// Weight tensors whose gradient is exactly zero.
fn silent_gradients(e: &EvalRecord, add: &mut Add) {
    let weight = |kind: Option<TensorKind>| matches!(kind, Some(TensorKind::Matrix | TensorKind::TokenEmbedding));
    let weights: Vec<_> = e.tensors.iter().filter(|t| weight(t.kind)).collect();
    let silent: Vec<String> = weights.iter().filter(|t| t.grad_norm == 0.0).map(|t| t.name.clone()).collect();
    if !silent.is_empty() && !weights.is_empty() {
        add(EntryId::GradientsAreAllZero, Evidence::SilentWeights { silent, weights: weights.len() });
    }
}

/// Early layers whose gradients are orders of magnitude below the last layer's: the engine's blocks
/// at its latest evaluation, or a log's first and last layer at its latest record of them.
fn layer_gradients(h: &View, add: &mut Add) {
    let (first, last, loss, layers) = match (h.last, h.layers) {
        (Some(e), _) => {
            let (Some(first), Some(last)) = (e.blocks.first(), e.blocks.last()) else { return };
            if e.blocks.len() < 2 {
                return;
            }
            (first.grad_norm, last.grad_norm, e.train_loss, None)
        }
        (None, Some(l)) => {
            let Some(step) = h.steps.last() else { return };
            (l.first.1, l.last.1, step.loss, Some((l.first.0.clone(), l.last.0.clone())))
        }
        (None, None) => return,
    };
    if first == 0.0 || last == 0.0 || !first.is_finite() || !last.is_finite() {
        return;
    }
    let ratio = first / last;
    let stuck = h.ln_v.is_some_and(|ln_v| loss > 0.5 * ln_v);
    if ratio < 0.1 || (ratio < 0.3 && stuck) {
        add(EntryId::VanishingGradients, Evidence::LayerGradients { first, last, loss, layers });
    }
}

/// Validation loss climbing from its minimum while the training loss keeps falling.
fn overfitting(h: &View, add: &mut Add) {
    let vals: Vec<(usize, f32, f32)> = h.checks.iter().filter_map(|c| c.val.map(|v| (c.step, v, c.train))).collect();
    if vals.len() < 3 {
        return;
    }
    let (best_step, best_val, _) = vals.iter().copied().min_by(|a, b| a.1.total_cmp(&b.1)).expect("non-empty");
    let &(step, val, train) = vals.last().expect("non-empty");
    let gap = val - train;
    if val - best_val > 0.1 && gap > 0.3 {
        add(
            EntryId::ValidationLossIncreasingWhileTrainingLossDecreases,
            Evidence::ValidationRising { best_val, best_step, val, step, train },
        );
    }
}

/// How big the updates are relative to the weights (healthy Adam-style training: around 1e-3 per step).
fn update_sizes(h: &View, e: &EvalRecord, add: &mut Add) {
    let matrices = e.tensors.iter().filter(|t| t.kind == Some(TensorKind::Matrix));
    let ratios: Vec<f32> = matrices.filter_map(|t| t.update_ratio).collect();
    if ratios.is_empty() {
        return;
    }
    let med = median(ratios);
    let first_loss = h.steps.first().map_or(0.0, |s| s.loss);
    let drop = first_loss - e.train_loss;
    if med < 5e-4 && drop < 1.0 && e.step >= 100 {
        add(EntryId::LossDecreasesVerySlowly, Evidence::SmallUpdates { median: med, drop, step: e.step });
    }
}

/// Gradient norms far above the guide's healthy range, or a spike the loss follows upward and stays up.
///
/// A spike alone proves nothing: with clipping, healthy runs spike up to ~18× the median of the 50
/// steps before them and the loss keeps falling. What clipping prevents is the damage: without it the
/// loss climbs after the spike and stays up. On the tuning runs, the median loss of the 10 steps after
/// the worst spike rose 0.17–1.8 nats over that of the 10 before in every `no-grad-clip` run and at most
/// 0.17 in a healthy one; 20 steps later it was still 0.13–0.55 up in the first and at most 0.06 in
/// the second.
fn exploding(h: &View, add: &mut Add) {
    let Some(norms) = h.grad_norms() else { return };
    if let Some((i, peak)) = norms.iter().copied().enumerate().max_by(|a, b| a.1.total_cmp(&b.1)) {
        if peak > 100.0 {
            let median = median(norms.clone());
            add(EntryId::ExplodingGradients, Evidence::GradNormAboveGuide { peak, step: h.steps[i].step, median });
            return;
        }
    }
    let losses = h.losses();
    let (ten, window, after, lasting_for) =
        (h.records(10), h.records(SPIKE_WINDOW), h.records(AFTER_SPIKE), h.records(LASTING));
    let mut worst: Option<Evidence> = None;
    for i in ten..norms.len().saturating_sub(after + lasting_for) {
        let recent = median(norms[i.saturating_sub(window)..i].to_vec());
        if norms[i] < SPIKE_RATIO * recent {
            continue;
        }
        let before = median(losses[i - ten..i].to_vec());
        let loss_rise = median(losses[i + 1..=i + after].to_vec()) - before;
        let lasting = median(losses[i + after + 1..=i + after + lasting_for].to_vec()) - before;
        let larger = |w: &Option<Evidence>| match w {
            Some(Evidence::GradNormSpike { loss_rise: r, .. }) => loss_rise > *r,
            _ => true,
        };
        let spread = noise(&losses[i.saturating_sub(window)..i]);
        let rose = loss_rise > SPIKE_LOSS_RISE.max(RISE_SPREADS * spread);
        let stayed = lasting > SPIKE_LASTING_RISE.max(LASTING_SPREADS * spread);
        if rose && stayed && larger(&worst) {
            let step = h.steps[i].step;
            worst = Some(Evidence::GradNormSpike { peak: norms[i], step, median: recent, loss_rise, lasting });
        }
    }
    if let Some(evidence) = worst {
        add(EntryId::ExplodingGradients, evidence);
    }
}

/// Steps before a gradient norm whose median it is compared with.
const SPIKE_WINDOW: usize = 50;
/// A norm this many times its recent median is a spike.
const SPIKE_RATIO: f32 = 3.0;
/// Steps after a spike whose median loss is compared with the 10 before it.
pub(crate) const AFTER_SPIKE: usize = 10;
/// The steps after those, whose median loss shows whether the rise lasted.
pub(crate) const LASTING: usize = 20;
/// How far (nats) the loss must rise after a spike for the spike to be blamed.
const SPIKE_LOSS_RISE: f32 = 0.12;
/// How far above the loss before the spike it must still be [`LASTING`] steps later.
const SPIKE_LASTING_RISE: f32 = 0.09;
/// On a noisy loss the rises must also stand out of the noise: three standard errors of the
/// difference of two medians, of 10 steps and 10 (1.2533 σ √(1/10 + 1/10) ≈ 0.56 σ), and of 20
/// steps and 10 (≈ 0.49 σ), σ being the loss's spread ([`noise`]) over the window before the spike.
/// On the tuning and retired runs a missing clip's spikes rose at least 5.2 σ and stayed 3.9 σ up;
/// the healthy runs read as exploding had risen 1.1–3.6 σ and stayed 0.8–4.0 σ.
const RISE_SPREADS: f32 = 1.68;
const LASTING_SPREADS: f32 = 1.46;

/// A global gradient norm of exactly zero at nine records in ten or more: nothing reaches any weight
/// (every weight initialised to zero, or the gradients cleared between the backward pass and the
/// step). A healthy norm is never exactly zero.
fn zero_gradients(h: &View, add: &mut Add) {
    let Some(norms) = h.grad_norms() else { return };
    let zero = norms.iter().filter(|&&n| n == 0.0).count();
    if zero * 10 >= norms.len() * 9 {
        add(EntryId::GradientsAreAllZero, Evidence::GradNormZero { zero, records: norms.len() });
    }
}

/// Gradient norms that grow smoothly, step after step: gradients summed instead of replaced. A sum
/// over t steps changes by about 1/t of itself per step, so its norm moves by a few per cent a step;
/// healthy norms, one fresh batch each, move by 15–45 % (median over the second half, tuning runs).
fn accumulating(h: &View, add: &mut Add) {
    let Some(norms) = h.grad_norms() else { return };
    let n = norms.len();
    let span = &norms[n / 10..];
    let size = span.len() / 5;
    if size < 3 {
        return;
    }
    let medians: Vec<f32> = span.chunks(size).take(5).map(|c| median(c.to_vec())).collect();
    let (first, last) = (medians[0], medians[medians.len() - 1]);
    let half = &norms[n / 2..];
    let change = median(half.windows(2).map(|w| (w[1] - w[0]).abs() / w[0].max(1e-12)).collect());
    // Summed gradients also end far above the first steps' norms; a run whose steps are too small to
    // move the weights has smooth norms too, but near where they started.
    let start = median(norms[..h.records(10)].to_vec());
    // A log's records are `stride` steps apart, over which a sum moves `stride` times as far; the
    // cap stays below a fresh batch's 15 %.
    let smooth = (SMOOTH_CHANGE * h.stride as f32).min(SMOOTH_CHANGE_CAP);
    if first > 0.0 && last > 1.5 * first && last > SUMMED_GROWTH * start && change < smooth {
        add(EntryId::GradientsAreAllZero, Evidence::GradientsPileUp { medians, change });
    }
}

/// A gradient norm whose median change per step is below this moves like a running sum.
const SMOOTH_CHANGE: f32 = 0.05;
/// The most a log's records (many steps apart) may change and still read as a running sum.
const SMOOTH_CHANGE_CAP: f32 = 0.12;
/// How far above the first 10 steps' median a summed norm ends (tuning runs: 5.8–14.7× with the
/// gradients summed, at most 1× for runs at a tiny rate, whose norms are smooth too).
const SUMMED_GROWTH: f32 = 3.0;

/// How many steps before a loss jump a gradient spike may be blamed for it: its own update, and the
/// momentum that carries it into the next two.
const SPIKE_LEAD: usize = 3;

/// How far (nats) the loss must jump above the median of the 10 steps before it.
const JUMP: f32 = 0.6;

/// How many times the loss's own step-to-step spread ([`noise`]) a jump must also exceed. Batches of
/// a varied text make the step loss noisy: a healthy PyTorch run on the standard library's docstrings
/// (`cargo xtask peer-logs --tuning`) rose 3.4 spreads once; the engine's damaged weights jump 31 to
/// 126 spreads (tuning runs).
const JUMP_NOISE: f32 = 6.0;

/// The robust spread of the step-to-step noise in `losses`, trend left out: 1.4826 × the median
/// absolute deviation of successive differences, over √2 (a difference holds two steps' noise). For
/// normal noise it is the standard deviation; a falling loss's trend barely moves it.
fn noise(losses: &[f32]) -> f32 {
    let steps: Vec<f32> = losses.windows(2).map(|w| w[1] - w[0]).collect();
    let m = median(steps.clone());
    1.4826 * median(steps.iter().map(|d| (d - m).abs()).collect()) / std::f32::consts::SQRT_2
}

/// A sudden jump of the loss after it had come down: damaged or replaced weights.
fn loss_jump(h: &View, add: &mut Add) {
    let losses = h.losses();
    // Without gradient norms a jump cannot be told from a spike's damage: the rule abstains.
    let Some(norms) = h.grad_norms() else { return };
    let ten = h.records(10);
    // A jump in the first steps is the early instability `early_spike` reads, not changed weights.
    let window = h.records(SPIKE_WINDOW);
    for i in h.records(EARLY_STEPS)..losses.len() {
        let before = median(losses[i.saturating_sub(ten)..i].to_vec());
        let first = losses[0];
        if losses[i] > before + JUMP
            && before < first - 0.5
            && losses[i] - before > JUMP_NOISE * noise(&losses[i.saturating_sub(window)..i])
        {
            // A gradient spike in the last few steps before the jump caused it (its update threw
            // the loss); a jump with no such spike means the weights themselves changed. Healthy
            // runs spike too (on arithmetic up to ~10× their median after step 10, with no jump
            // after), so the culprit must also be the largest gradient since the first 10 steps: a
            // spike no bigger than earlier harmless ones cannot explain the jump.
            let med = median(norms.clone());
            let spike = (i.saturating_sub(h.records(SPIKE_LEAD))..i).max_by(|&a, &b| norms[a].total_cmp(&norms[b]));
            let record = |j: usize| norms[ten.min(j)..j].iter().all(|&n| n < norms[j]);
            if let Some(j) = spike.filter(|&j| norms[j] > 10.0 * med && record(j)) {
                let evidence = Evidence::SpikeThrewLoss {
                    norm: norms[j],
                    step: h.steps[j].step,
                    ratio: norms[j] / med.max(1e-12),
                    before,
                    after: losses[i],
                };
                add(EntryId::ExplodingGradients, evidence);
                return;
            }
            let evidence = Evidence::LossJumped { before, after: losses[i], step: h.steps[i].step };
            add(EntryId::ModelOutputsNonsense, evidence);
            return;
        }
    }
}

/// A loss far above ln V, the loss of guessing uniformly: at the start (weights initialised far too
/// large) or later (steps so large they throw the model out of its basin).
fn worse_than_guessing(h: &View, add: &mut Add) {
    let Some(ln_v) = h.ln_v else { return };
    let first = h.steps[0].loss;
    // Only a loss logged in the first steps is the initial weights' loss.
    if first > ln_v + 2.0 && h.steps[0].step <= FIRST_STEPS {
        add(EntryId::ExplodingGradients, Evidence::FirstLossAboveLnV { first, ln_v });
        return;
    }
    // A step or two above ln V early on is warmup settling (tuning runs: one step at most in healthy
    // runs); a rate that is too high keeps the loss there (42 steps or more of 200).
    let above: Vec<&Step> = h.steps.iter().skip(h.records(5)).filter(|s| s.loss > ln_v + 1.0).collect();
    if above.len() >= h.records(ABOVE_LN_V_STEPS) {
        let s = above[0];
        add(EntryId::LossOscillatesWildly, Evidence::LossAboveLnV { loss: s.loss, step: s.step, ln_v });
    }
}

/// A first loss logged after this many steps is not the initial weights' loss.
const FIRST_STEPS: usize = 10;

/// Steps above ln V + 1 that make a run's steps too big to settle.
const ABOVE_LN_V_STEPS: usize = 5;

/// Loss that jumps up and down without a downward trend.
fn oscillation(h: &View, add: &mut Add) {
    let n = h.steps.len();
    let tail: Vec<f32> = h.steps[n / 2..].iter().map(|s| s.loss).collect();
    let mean_step: f32 = tail.windows(2).map(|w| (w[1] - w[0]).abs()).sum::<f32>() / (tail.len() - 1).max(1) as f32;
    let third = tail.len() / 3;
    let trend = median(tail[..third].to_vec()) - median(tail[tail.len() - third..].to_vec());
    let level = median(tail.clone());
    if mean_step > 0.25 && trend < mean_step {
        add(EntryId::LossOscillatesWildly, Evidence::Oscillation { mean_step, level });
    }
}

/// The first steps of a run, where warmup and the first large updates still shake the loss.
const EARLY_STEPS: usize = 60;

/// A loss that shoots up in the first steps, then settles on a plateau.
fn early_spike(h: &View, add: &mut Add) {
    let first = h.steps[0].loss;
    let early = &h.steps[..h.steps.len().min(h.records(EARLY_STEPS))];
    let Some(peak) = early.iter().max_by(|a, b| a.loss.total_cmp(&b.loss)) else { return };
    let low_before = early.iter().take_while(|s| s.step < peak.step).map(|s| s.loss).fold(first, f32::min);
    if peak.loss > low_before + 0.5 && peak.step > 1 {
        let evidence = Evidence::EarlySpike { low: low_before, peak: peak.loss, step: peak.step };
        add(EntryId::LossStopsDecreasing, evidence);
    }
}

/// Steps that spend much of their time outside the forward and backward passes.
fn slow_steps(h: &View, add: &mut Add) {
    let recent: Vec<PhaseTimes> = h.steps[h.steps.len() / 2..].iter().filter_map(|s| s.times).collect();
    let total: f64 = recent.iter().map(|t| t.total_ms()).sum();
    let overhead: f64 = recent.iter().map(|t| t.telemetry_ms + t.data_ms).sum();
    if total > 0.0 && overhead / total > 0.3 {
        add(EntryId::TrainingIsVerySlow, Evidence::SlowSteps { overhead: overhead / total });
    }
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
                StepRecord { step, loss, grad_norm, lr: 1e-3, tokens: 1024, times: PhaseTimes::default() }
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
