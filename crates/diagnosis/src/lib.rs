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
use faultline_telemetry::{measure, EvalRecord, History, TensorKind};
use serde::{Deserialize, Serialize};

mod evidence;

pub use evidence::Evidence;

/// A guide entry the evidence points to.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// The guide entry.
    pub entry: EntryId,
    /// How strongly the evidence points here, in (0, 1].
    pub score: f32,
    /// What was measured, in numbers: one item per rule that fired (`Display` writes it as a sentence).
    pub evidence: Vec<Evidence>,
}

impl Finding {
    /// Whether any of the evidence satisfies `test` (a `matches!` on a variant).
    pub fn has(&self, test: impl Fn(&Evidence) -> bool) -> bool {
        self.evidence.iter().any(test)
    }
}

/// Findings weaker than this are not reported.
pub const REPORT_THRESHOLD: f32 = 0.5;

/// Ranks the guide entries the telemetry points to, most likely first; empty for a healthy run.
pub fn diagnose(h: &History) -> Vec<Finding> {
    let mut findings: Vec<Finding> = Vec::new();
    let mut add = |entry: EntryId, score: f32, evidence: Evidence| match findings.iter_mut().find(|f| f.entry == entry)
    {
        Some(f) => {
            f.score = f.score.max(score);
            f.evidence.push(evidence);
        }
        None => findings.push(Finding { entry, score, evidence: vec![evidence] }),
    };
    stopped(h, &mut add);
    if let Some(last) = h.evals.last() {
        causal_leak(last, &mut add);
        tokenizer(last, &mut add);
        samples(last, (h.vocab_size as f32).ln(), &mut add);
        attention_scale(last, &mut add);
        plateau(h, last, &mut add);
        dead_units(last, &mut add);
        silent_gradients(last, &mut add);
        layer_gradients(h, last, &mut add);
        overfitting(h, &mut add);
        update_sizes(h, last, &mut add);
    }
    if h.steps.len() >= 20 {
        accumulating(h, &mut add);
        exploding(h, &mut add);
        worse_than_guessing(h, &mut add);
        loss_jump(h, &mut add);
        oscillation(h, &mut add);
        early_spike(h, &mut add);
        slow_steps(h, &mut add);
    }
    findings.retain(|f| f.score >= REPORT_THRESHOLD);
    findings.sort_by(|a, b| b.score.total_cmp(&a.score));
    findings
}

type Add<'a> = dyn FnMut(EntryId, f32, Evidence) + 'a;

/// The median of `v`, 0 for none (a rule reads it only where it has steps).
fn median(v: Vec<f32>) -> f32 {
    measure::median(v).unwrap_or(0.0)
}

/// The run stopped: a non-finite value, or memory that could not be had.
fn stopped(h: &History, add: &mut Add) {
    match &h.stopped {
        Some(EngineError::NonFinite { step, tensor }) => {
            let peak = h.steps.iter().map(|s| s.grad_norm).fold(0.0f32, f32::max);
            add(EntryId::LossBecomesNan, 1.0, Evidence::NonFinite { tensor: tensor.clone(), step: *step });
            if peak > 100.0 {
                add(EntryId::ExplodingGradients, 0.95, Evidence::ExplodedBeforeNan { peak });
                add(EntryId::LossBecomesNan, 1.0, Evidence::GradNormBeforeNan { peak });
            }
        }
        Some(EngineError::OutOfMemory { requested_bytes, budget_bytes, what }) => add(
            EntryId::OutOfMemoryOom,
            1.0,
            Evidence::OutOfMemory {
                what: what.clone(),
                requested_bytes: *requested_bytes,
                budget_bytes: *budget_bytes,
            },
        ),
        _ => {}
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
            0.97,
            Evidence::CausalLeak { block: at.0, head: at.1, share: worst },
        );
    }
}

fn tokenizer(e: &EvalRecord, add: &mut Add) {
    if e.tokenizer.unk_rate > 0.01 {
        add(EntryId::ManyUnkTokens, 0.97, Evidence::UnkTokens { rate: e.tokenizer.unk_rate });
    }
    if !e.tokenizer.roundtrip_ok {
        let example = e.tokenizer.roundtrip_mismatch.clone();
        add(EntryId::TokenizationDoesntRoundtrip, 0.95, Evidence::Roundtrip { example });
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
    if s.repeated_ngram_rate > 0.25 && excess > 0.1 {
        add(
            EntryId::ModelOutputsRepetitiveText,
            0.7 + excess.min(0.25),
            Evidence::RepeatedNgrams { rate: s.repeated_ngram_rate, reference: s.reference_ngram_rate },
        );
    }
    if s.model_entropy > 0.3 && s.sampler_entropy < 0.6 * s.model_entropy {
        add(
            EntryId::ModelOutputsRepetitiveText,
            0.8 + excess.clamp(0.0, 0.15),
            Evidence::DecodingDiscardsEntropy { sampler: s.sampler_entropy, model: s.model_entropy },
        );
    }
    if let Some(reread) = s.reread_loss {
        if reread > val + 1.0 && reread > 1.6 * val {
            add(EntryId::ModelOutputsNonsense, 0.85, Evidence::SampleUnlikely { reread, val });
        }
    }
    let learned = val < 1.5;
    if s.unseen_bigram_rate > 0.2 && learned {
        add(
            EntryId::ModelOutputsNonsense,
            0.6 + (s.unseen_bigram_rate - 0.2).min(0.35),
            Evidence::UnseenBigrams { rate: s.unseen_bigram_rate, loss: val },
        );
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
    if scale > 1.5 {
        let mean = e.mean_attention_entropy();
        add(EntryId::AttentionWeightsAreUniform, 0.9, Evidence::UnscaledLogits { scale });
        let uniform = uniform_entropy(e.attention.time);
        add(EntryId::AttentionWeightsAreUniform, 0.9, Evidence::SharperAttention { mean, uniform });
    }
}

/// A loss that has stopped falling while some head attends to a single position: early steps at
/// full learning rate locked the attention in and the model sits on a plateau.
fn plateau(h: &History, e: &EvalRecord, add: &mut Add) {
    let n = h.steps.len();
    if n < 100 {
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
        if drop < 0.1 && ent < 0.1 {
            let steps = tail.len();
            let evidence = Evidence::Plateau { steps, early, late, drop, block, head, entropy: ent };
            add(EntryId::LossStopsDecreasing, 0.8, evidence);
        }
    }
}

fn dead_units(e: &EvalRecord, add: &mut Add) {
    if let Some(b) = e.blocks.iter().max_by(|a, b| a.dead_fraction.total_cmp(&b.dead_fraction)) {
        if b.dead_fraction > 0.5 {
            add(EntryId::GradientsAreAllZero, 0.9, Evidence::DeadUnits { block: b.block, fraction: b.dead_fraction });
        }
    }
}

/// Weight tensors whose gradient is exactly zero.
fn silent_gradients(e: &EvalRecord, add: &mut Add) {
    let weight = |kind: Option<TensorKind>| matches!(kind, Some(TensorKind::Matrix | TensorKind::TokenEmbedding));
    let weights: Vec<_> = e.tensors.iter().filter(|t| weight(t.kind)).collect();
    let silent: Vec<String> = weights.iter().filter(|t| t.grad_norm == 0.0).map(|t| t.name.clone()).collect();
    if !silent.is_empty() && !weights.is_empty() {
        add(EntryId::GradientsAreAllZero, 0.9, Evidence::SilentWeights { silent, weights: weights.len() });
    }
}

/// Early layers whose gradients are orders of magnitude below the last layer's.
fn layer_gradients(h: &History, e: &EvalRecord, add: &mut Add) {
    let (Some(first), Some(last)) = (e.blocks.first(), e.blocks.last()) else { return };
    if e.blocks.len() < 2 || first.grad_norm == 0.0 || last.grad_norm == 0.0 {
        return;
    }
    let ratio = first.grad_norm / last.grad_norm;
    let ln_v = (h.vocab_size as f32).ln();
    let stuck = e.train_loss > 0.5 * ln_v;
    if ratio < 0.1 || (ratio < 0.3 && stuck) {
        add(
            EntryId::VanishingGradients,
            if ratio < 0.1 { 0.85 } else { 0.7 },
            Evidence::LayerGradients { first: first.grad_norm, last: last.grad_norm, loss: e.train_loss },
        );
    }
}

/// Validation loss climbing from its minimum while the training loss keeps falling.
fn overfitting(h: &History, add: &mut Add) {
    let vals: Vec<(usize, f32, f32)> =
        h.evals.iter().filter_map(|e| e.val_loss.map(|v| (e.step, v, e.train_loss))).collect();
    if vals.len() < 3 {
        return;
    }
    let (best_step, best_val, _) = vals.iter().copied().min_by(|a, b| a.1.total_cmp(&b.1)).expect("non-empty");
    let &(step, val, train) = vals.last().expect("non-empty");
    let gap = val - train;
    if val - best_val > 0.1 && gap > 0.3 {
        add(
            EntryId::ValidationLossIncreasingWhileTrainingLossDecreases,
            0.6 + ((val - best_val) / 2.0).min(0.35),
            Evidence::ValidationRising { best_val, best_step, val, step, train },
        );
    }
}

/// How big the updates are relative to the weights (healthy Adam-style training: around 1e-3 per step).
fn update_sizes(h: &History, e: &EvalRecord, add: &mut Add) {
    let matrices = e.tensors.iter().filter(|t| t.kind == Some(TensorKind::Matrix));
    let ratios: Vec<f32> = matrices.filter_map(|t| t.update_ratio).collect();
    if ratios.is_empty() {
        return;
    }
    let med = median(ratios);
    let first_loss = h.steps.first().map_or(0.0, |s| s.loss);
    let drop = first_loss - e.train_loss;
    if med < 5e-4 && drop < 1.0 && e.step >= 100 {
        add(EntryId::LossDecreasesVerySlowly, 0.85, Evidence::SmallUpdates { median: med, drop, step: e.step });
    }
}

/// Gradient norms far above the guide's healthy range, or spiking far above the run's own median.
fn exploding(h: &History, add: &mut Add) {
    let norms: Vec<f32> = h.steps.iter().map(|s| s.grad_norm).collect();
    let med = median(norms.clone());
    let Some((i, peak)) = norms.iter().copied().enumerate().max_by(|a, b| a.1.total_cmp(&b.1)) else { return };
    let step = h.steps[i].step;
    if peak > 100.0 {
        add(EntryId::ExplodingGradients, 0.9, Evidence::GradNormAboveGuide { peak, step, median: med });
        return;
    }
    // The first steps' gradients are the largest of a healthy run too; and a spike on the very step
    // the loss jumped is the consequence of changed weights, not its cause.
    let losses: Vec<f32> = h.steps.iter().map(|s| s.loss).collect();
    let Some((i, peak)) = norms.iter().copied().enumerate().skip(10).max_by(|a, b| a.1.total_cmp(&b.1)) else {
        return;
    };
    let step = h.steps[i].step;
    let jumped = losses[i] > median(losses[i - 10..i].to_vec()) + 0.6;
    if peak > 10.0 * med && peak > 2.5 && !jumped {
        add(EntryId::ExplodingGradients, 0.85, Evidence::GradNormSpike { peak, step, median: med });
    }
}

/// Gradient norms that keep growing step after step: gradients summed instead of replaced.
fn accumulating(h: &History, add: &mut Add) {
    let n = h.steps.len();
    let span = &h.steps[n / 10..];
    let size = span.len() / 5;
    if size < 4 {
        return;
    }
    let medians: Vec<f32> =
        span.chunks(size).take(5).map(|c| median(c.iter().map(|s| s.grad_norm).collect())).collect();
    let (first, last) = (medians[0], medians[medians.len() - 1]);
    let steady = medians.windows(2).all(|w| w[1] > w[0]);
    if steady && first > 0.0 && (last > 2.5 * first || (last > 1.5 * first && last > 10.0)) {
        add(EntryId::GradientsAreAllZero, 0.9, Evidence::GradientsPileUp { medians });
    }
}

/// How many steps before a loss jump a gradient spike may be blamed for it: its own update, and the
/// momentum that carries it into the next two.
const SPIKE_LEAD: usize = 3;

/// A sudden jump of the loss after it had come down: damaged or replaced weights.
fn loss_jump(h: &History, add: &mut Add) {
    let losses: Vec<f32> = h.steps.iter().map(|s| s.loss).collect();
    for i in 10..losses.len() {
        let before = median(losses[i.saturating_sub(10)..i].to_vec());
        let first = losses[0];
        if losses[i] > before + 0.6 && before < first - 0.5 {
            // A gradient spike in the last few steps before the jump caused it (its update threw
            // the loss); a jump with no such spike means the weights themselves changed. Healthy
            // runs spike too (on arithmetic up to ~10× their median after step 10, with no jump
            // after), so the culprit must also be the largest gradient since the first 10 steps: a
            // spike no bigger than earlier harmless ones cannot explain the jump.
            let norms: Vec<f32> = h.steps.iter().map(|s| s.grad_norm).collect();
            let med = median(norms.clone());
            let spike = (i.saturating_sub(SPIKE_LEAD)..i).max_by(|&a, &b| norms[a].total_cmp(&norms[b]));
            let record = |j: usize| norms[10.min(j)..j].iter().all(|&n| n < norms[j]);
            if let Some(j) = spike.filter(|&j| norms[j] > 10.0 * med && record(j)) {
                let evidence = Evidence::SpikeThrewLoss {
                    norm: norms[j],
                    step: h.steps[j].step,
                    ratio: norms[j] / med.max(1e-12),
                    before,
                    after: losses[i],
                };
                add(EntryId::ExplodingGradients, 0.9, evidence);
                return;
            }
            let evidence = Evidence::LossJumped { before, after: losses[i], step: h.steps[i].step };
            add(EntryId::ModelOutputsNonsense, 0.85, evidence);
            return;
        }
    }
}

/// A loss far above ln V, the loss of guessing uniformly: at the start (weights initialised far too
/// large) or later (steps so large they throw the model out of its basin).
fn worse_than_guessing(h: &History, add: &mut Add) {
    let ln_v = (h.vocab_size as f32).ln();
    let first = h.steps[0].loss;
    if first > ln_v + 2.0 {
        add(EntryId::ExplodingGradients, 0.85, Evidence::FirstLossAboveLnV { first, ln_v });
        return;
    }
    if let Some(s) = h.steps.iter().skip(5).find(|s| s.loss > ln_v + 1.0) {
        add(EntryId::LossOscillatesWildly, 0.9, Evidence::LossAboveLnV { loss: s.loss, step: s.step, ln_v });
    }
}

/// Loss that jumps up and down without a downward trend.
fn oscillation(h: &History, add: &mut Add) {
    let n = h.steps.len();
    let tail: Vec<f32> = h.steps[n / 2..].iter().map(|s| s.loss).collect();
    let mean_step: f32 = tail.windows(2).map(|w| (w[1] - w[0]).abs()).sum::<f32>() / (tail.len() - 1).max(1) as f32;
    let third = tail.len() / 3;
    let trend = median(tail[..third].to_vec()) - median(tail[tail.len() - third..].to_vec());
    let level = median(tail.clone());
    if mean_step > 0.25 && trend < mean_step {
        add(EntryId::LossOscillatesWildly, 0.8, Evidence::Oscillation { mean_step, level });
    }
}

/// A loss that shoots up in the first steps, then settles on a plateau.
fn early_spike(h: &History, add: &mut Add) {
    let first = h.steps[0].loss;
    let early = &h.steps[..h.steps.len().min(60)];
    let Some(peak) = early.iter().max_by(|a, b| a.loss.total_cmp(&b.loss)) else { return };
    let low_before = early.iter().take_while(|s| s.step < peak.step).map(|s| s.loss).fold(first, f32::min);
    if peak.loss > low_before + 0.5 && peak.step > 1 {
        let evidence = Evidence::EarlySpike { low: low_before, peak: peak.loss, step: peak.step };
        add(EntryId::LossStopsDecreasing, 0.7, evidence);
    }
}

/// Steps that spend much of their time outside the forward and backward passes.
fn slow_steps(h: &History, add: &mut Add) {
    let recent = &h.steps[h.steps.len() / 2..];
    let total: f64 = recent.iter().map(|s| s.times.total_ms()).sum();
    let overhead: f64 = recent.iter().map(|s| s.times.telemetry_ms + s.times.data_ms).sum();
    if total > 0.0 && overhead / total > 0.3 {
        add(EntryId::TrainingIsVerySlow, 0.85, Evidence::SlowSteps { overhead: overhead / total });
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
        loss_jump(h, &mut |entry: EntryId, _, _| entries.push(entry));
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
}
