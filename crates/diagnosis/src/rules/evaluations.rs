//! Rules that read the engine's latest evaluation: attention, samples, the tokenizer, each tensor.

use super::{median, Add};
use crate::{Evidence, View};
use faultline_guide::EntryId;
use faultline_telemetry::{EvalRecord, TensorKind};

/// A causal model must put exactly zero attention on later positions.
pub(crate) fn causal_leak(e: &EvalRecord, add: &mut Add) {
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

pub(crate) fn tokenizer(e: &EvalRecord, add: &mut Add) {
    if e.tokenizer.unk_rate > 0.01 {
        add(EntryId::ManyUnkTokens, Evidence::UnkTokens { rate: e.tokenizer.unk_rate });
    }
    if !e.tokenizer.roundtrip_ok {
        let example = e.tokenizer.roundtrip_mismatch.clone();
        add(EntryId::TokenizationDoesntRoundtrip, Evidence::Roundtrip { example });
    }
}

/// Samples that loop, or that do not look like the training text although the loss is good.
pub(crate) fn samples(e: &EvalRecord, ln_v: f32, add: &mut Add) {
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
pub(crate) fn attention_scale(e: &EvalRecord, add: &mut Add) {
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
pub(crate) fn plateau(h: &View, e: &EvalRecord, add: &mut Add) {
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

pub(crate) fn dead_units(e: &EvalRecord, add: &mut Add) {
    if let Some(b) = e.blocks.iter().max_by(|a, b| a.dead_fraction.total_cmp(&b.dead_fraction)) {
        if b.dead_fraction > 0.5 {
            add(EntryId::GradientsAreAllZero, Evidence::DeadUnits { block: b.block, fraction: b.dead_fraction });
        }
    }
}

/// Weight tensors whose gradient is exactly zero.
pub(crate) fn silent_gradients(e: &EvalRecord, add: &mut Add) {
    let weight = |kind: Option<TensorKind>| matches!(kind, Some(TensorKind::Matrix | TensorKind::TokenEmbedding));
    let weights: Vec<_> = e.tensors.iter().filter(|t| weight(t.kind)).collect();
    let silent: Vec<String> = weights.iter().filter(|t| t.grad_norm == 0.0).map(|t| t.name.clone()).collect();
    if !silent.is_empty() && !weights.is_empty() {
        add(EntryId::GradientsAreAllZero, Evidence::SilentWeights { silent, weights: weights.len() });
    }
}

/// How big the updates are relative to the weights (healthy Adam-style training: around 1e-3 per step).
pub(crate) fn update_sizes(h: &View, e: &EvalRecord, add: &mut Add) {
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
