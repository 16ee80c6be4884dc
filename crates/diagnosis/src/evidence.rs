//! What a detector rule measured: one variant per rule, with its numbers.
//!
//! The app matches these variants (which cause of the guide the evidence points to, what the
//! mystery reveal shows), so no reader depends on the wording; `Display` writes the sentence a
//! learner reads.

use crate::rules::curves::{AFTER_SPIKE, LASTING};
use faultline_guide::CauseId;
use serde::{Deserialize, Serialize};
use std::fmt;

/// One measurement behind a finding.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "rule", rename_all = "kebab-case")]
pub enum Evidence {
    /// The run stopped on a non-finite value: the first tensor that held one.
    NonFinite { tensor: String, step: usize },
    /// A log's value turned non-finite: which signal, and at which step.
    LoggedNonFinite { signal: String, step: usize },
    /// The gradient norm before a NaN passed the guide's "exploding" line (read as exploding).
    ExplodedBeforeNan { peak: f32 },
    /// The gradient norm before a NaN passed the guide's healthy range (read as the NaN's cause).
    GradNormBeforeNan { peak: f32 },
    /// An allocation the memory budget refused.
    OutOfMemory { what: String, requested_bytes: u64, budget_bytes: u64 },
    /// Attention on later positions, where a causal model puts none.
    CausalLeak { block: usize, head: usize, share: f32 },
    /// The share of validation tokens that are `<UNK>`.
    UnkTokens { rate: f32 },
    /// decode(encode(text)) is not the text; the first differing piece, where known.
    Roundtrip { example: Option<(String, String)> },
    /// The sample's repeated 4-grams against the validation text's.
    RepeatedNgrams { rate: f32, reference: f32 },
    /// The sampler drew from much sharper distributions than the model's own.
    DecodingDiscardsEntropy { sampler: f32, model: f32 },
    /// The model finds its own shown sample unlikely.
    SampleUnlikely { reread: f32, val: f32 },
    /// The sample's adjacent token pairs that never occur in the training text, at a good loss.
    UnseenBigrams { rate: f32, loss: f32 },
    /// Attention logits wider than `q·k/√d_k` on the same rows.
    UnscaledLogits { scale: f32 },
    /// The attention entropy against uniform attention's (the guide's claim, measured).
    SharperAttention { mean: f32, uniform: f32 },
    /// The loss stopped falling while a head attends to one position.
    Plateau { steps: usize, early: f32, late: f32, drop: f32, block: usize, head: usize, entropy: f32 },
    /// MLP units that never fire on a whole batch.
    DeadUnits { block: usize, fraction: f32 },
    /// Weight matrices whose gradient is exactly zero.
    SilentWeights { silent: Vec<String>, weights: usize },
    /// The global gradient norm exactly zero at almost every record: no weight gets a gradient.
    GradNormZero { zero: usize, records: usize },
    /// Block 0's gradient norm against the last block's.
    LayerGradients {
        first: f32,
        last: f32,
        loss: f32,
        /// The first and last layer's names, where a log named them (the engine's are its blocks).
        #[serde(default)]
        layers: Option<(String, String)>,
    },
    /// Validation loss climbing from its minimum while the training loss falls.
    ValidationRising { best_val: f32, best_step: usize, val: f32, step: usize, train: f32 },
    /// Updates tiny relative to the weights, and the loss barely moved.
    SmallUpdates { median: f32, drop: f32, step: usize },
    /// A gradient norm above the guide's line of 100.
    GradNormAboveGuide { peak: f32, step: usize, median: f32 },
    /// A gradient norm far above its recent median, after which the loss rose.
    GradNormSpike {
        peak: f32,
        step: usize,
        /// The median over the window before the spike.
        median: f32,
        /// The median loss of the steps after the spike less that of the steps before (older
        /// stored runs have none).
        #[serde(default)]
        loss_rise: f32,
        /// The same for the steps after those: whether the rise lasted.
        #[serde(default)]
        lasting: f32,
    },
    /// The gradient norm's median, fifth by fifth of the run, and its median change per step over
    /// the second half: growing, and as smooth as a running sum.
    GradientsPileUp {
        medians: Vec<f32>,
        #[serde(default)]
        change: f32,
    },
    /// A record gradient spike just before the loss jumped.
    SpikeThrewLoss { norm: f32, step: usize, ratio: f32, before: f32, after: f32 },
    /// The loss jumped after having come down, with no spike to blame.
    LossJumped { before: f32, after: f32, step: usize },
    /// The first loss far above ln V.
    FirstLossAboveLnV { first: f32, ln_v: f32 },
    /// A later loss above ln V.
    LossAboveLnV { loss: f32, step: usize, ln_v: f32 },
    /// The second half's loss moving a lot per step with no downward trend.
    Oscillation { mean_step: f32, level: f32 },
    /// The loss spiking early, then settling.
    EarlySpike { low: f32, peak: f32, step: usize },
    /// The share of step time spent outside computing.
    SlowSteps { overhead: f64 },
    /// A DPO run's recent mean loss, margin and preference accuracy, with its loss still near ln 2.
    DpoLossFlat { steps: usize, loss: f32, margin: f32, accuracy: f32 },
    /// A policy-gradient run's proxy reward, true quality and KL to the reference, mean over its
    /// first and its last stretch of steps: the reward up while the quality is down.
    RewardHacking { steps: usize, reward: (f32, f32), quality: (f32, f32), kl: f32 },
}

impl Evidence {
    /// The rule that measured it, as its serde tag spells it (`grad-norm-spike`).
    pub fn rule(&self) -> &'static str {
        match self {
            Evidence::NonFinite { .. } => "non-finite",
            Evidence::LoggedNonFinite { .. } => "logged-non-finite",
            Evidence::ExplodedBeforeNan { .. } => "exploded-before-nan",
            Evidence::GradNormBeforeNan { .. } => "grad-norm-before-nan",
            Evidence::OutOfMemory { .. } => "out-of-memory",
            Evidence::CausalLeak { .. } => "causal-leak",
            Evidence::UnkTokens { .. } => "unk-tokens",
            Evidence::Roundtrip { .. } => "roundtrip",
            Evidence::RepeatedNgrams { .. } => "repeated-ngrams",
            Evidence::DecodingDiscardsEntropy { .. } => "decoding-discards-entropy",
            Evidence::SampleUnlikely { .. } => "sample-unlikely",
            Evidence::UnseenBigrams { .. } => "unseen-bigrams",
            Evidence::UnscaledLogits { .. } => "unscaled-logits",
            Evidence::SharperAttention { .. } => "sharper-attention",
            Evidence::Plateau { .. } => "plateau",
            Evidence::DeadUnits { .. } => "dead-units",
            Evidence::SilentWeights { .. } => "silent-weights",
            Evidence::GradNormZero { .. } => "grad-norm-zero",
            Evidence::LayerGradients { .. } => "layer-gradients",
            Evidence::ValidationRising { .. } => "validation-rising",
            Evidence::SmallUpdates { .. } => "small-updates",
            Evidence::GradNormAboveGuide { .. } => "grad-norm-above-guide",
            Evidence::GradNormSpike { .. } => "grad-norm-spike",
            Evidence::GradientsPileUp { .. } => "gradients-pile-up",
            Evidence::SpikeThrewLoss { .. } => "spike-threw-loss",
            Evidence::LossJumped { .. } => "loss-jumped",
            Evidence::FirstLossAboveLnV { .. } => "first-loss-above-ln-v",
            Evidence::LossAboveLnV { .. } => "loss-above-ln-v",
            Evidence::Oscillation { .. } => "oscillation",
            Evidence::EarlySpike { .. } => "early-spike",
            Evidence::SlowSteps { .. } => "slow-steps",
            Evidence::DpoLossFlat { .. } => "dpo-loss-flat",
            Evidence::RewardHacking { .. } => "reward-hacking",
        }
    }

    /// The guide cause this measurement points to by itself, where it singles one out. Causes that
    /// also need the run's settings (is clipping off?) are the symptom panel's to decide.
    pub fn cause(&self) -> Option<CauseId> {
        Some(match self {
            Evidence::NonFinite { tensor, .. } => nan_cause(tensor)?,
            Evidence::GradNormBeforeNan { .. } => CauseId::NanLrTooHigh,
            Evidence::GradientsPileUp { .. } => CauseId::GradsNeverReset,
            Evidence::SilentWeights { .. } | Evidence::GradNormZero { .. } => CauseId::LossDetached,
            Evidence::DeadUnits { .. } => CauseId::DeadRelu,
            Evidence::DecodingDiscardsEntropy { sampler, .. } if *sampler < 0.005 => CauseId::NoSampling,
            Evidence::LossJumped { .. } => CauseId::WrongWeights,
            Evidence::UnseenBigrams { .. } | Evidence::SampleUnlikely { .. } => CauseId::TokenizerMismatch,
            Evidence::SlowSteps { .. } => CauseId::LoggingTooOften,
            Evidence::Roundtrip { example: Some((a, b)) } if a.to_lowercase() != b.to_lowercase() => {
                CauseId::LossyWhitespace
            }
            Evidence::Roundtrip { .. } => CauseId::NormalizationDiffers,
            _ => return None,
        })
    }
}

/// The NaN's cause from the first tensor that held it: a LayerNorm divides, the loss takes a log,
/// softmax exponentiates.
fn nan_cause(tensor: &str) -> Option<CauseId> {
    if tensor.contains(".ln") || tensor.contains("lnf") {
        Some(CauseId::DivideByZero)
    } else if tensor.contains("activation loss") {
        Some(CauseId::LogOfZero)
    } else if tensor.contains("attn.probs") || tensor.contains("logits") {
        Some(CauseId::SoftmaxOverflow)
    } else {
        None
    }
}

const MIB: f64 = 1048576.0;

impl fmt::Display for Evidence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Evidence::NonFinite { tensor, step } => {
                write!(f, "NaN/Inf first appeared in {tensor} at step {step}; the run stopped")
            }
            Evidence::LoggedNonFinite { signal, step } => write!(f, "the logged {signal} is NaN/Inf from step {step} on"),
            Evidence::ExplodedBeforeNan { peak } => {
                write!(f, "the gradient norm reached {peak:.3e} before the NaN (the guide: > 100 is exploding)")
            }
            Evidence::GradNormBeforeNan { peak } => {
                write!(f, "the gradient norm reached {peak:.3e} before that (the guide expects 0.1-10)")
            }
            Evidence::OutOfMemory { what, requested_bytes, budget_bytes } => write!(
                f,
                "allocating {what} failed: {:.0} MiB needed, budget {:.0} MiB",
                *requested_bytes as f64 / MIB,
                *budget_bytes as f64 / MIB
            ),
            Evidence::CausalLeak { block, head, share } => write!(
                f,
                "block {block} head {head} puts {:.0}% of its attention on later positions (a causal model: 0%)",
                share * 100.0
            ),
            Evidence::UnkTokens { rate } => write!(f, "{:.1}% of validation tokens are <UNK>", rate * 100.0),
            Evidence::Roundtrip { example } => {
                write!(f, "decode(encode(text)) differs from the text")?;
                match example {
                    Some((a, b)) => write!(f, ": {a:?} came back as {b:?}"),
                    None => Ok(()),
                }
            }
            Evidence::RepeatedNgrams { rate, reference } => write!(
                f,
                "{:.0}% of the sample's 4-grams repeat earlier ones; the validation text repeats {:.0}%",
                rate * 100.0,
                reference * 100.0
            ),
            Evidence::DecodingDiscardsEntropy { sampler, model } => write!(
                f,
                "the sampler drew from distributions with {sampler:.2} nats of entropy per token while the model's own \
                 predictions carry {model:.2}: decoding throws away {:.0}% of the model's uncertainty (greedy or a very \
                 low temperature)",
                (1.0 - sampler / model) * 100.0
            ),
            Evidence::SampleUnlikely { reread, val } => write!(
                f,
                "the model itself finds the text shown as its sample unlikely: {reread:.2} nats per token, against \
                 {val:.2} on validation text — what is shown is not what it would write"
            ),
            Evidence::UnseenBigrams { rate, loss } => write!(
                f,
                "{:.0}% of the sample's adjacent token pairs never occur in the training text, though the loss is {loss:.2}",
                rate * 100.0
            ),
            Evidence::UnscaledLogits { scale } => write!(
                f,
                "attention logits spread {scale:.2}× wider than q·k/√d_k on the same rows: the scores are not divided \
                 by √d_k (a factor of {scale:.1} is √d_k for d_k = {:.0})",
                scale * scale
            ),
            Evidence::SharperAttention { mean, uniform } => write!(
                f,
                "measured: mean attention entropy {mean:.2} nats against {uniform:.2} for uniform attention — sharper, \
                 not uniform as the guide says"
            ),
            Evidence::Plateau { steps, early, late, drop, block, head, entropy } => write!(
                f,
                "over the last {steps} steps the loss only went from {early:.2} to {late:.2} ({:.0}%), and block {block} \
                 head {head} attends to a single position (entropy {entropy:.2} nats): a plateau",
                drop * 100.0
            ),
            Evidence::DeadUnits { block, fraction } => {
                write!(f, "{:.0}% of block {block}'s MLP units never fire on a whole batch (dead)", fraction * 100.0)
            }
            Evidence::SilentWeights { silent, weights } => write!(
                f,
                "{} of {weights} weight matrices get exactly zero gradient ({})",
                silent.len(),
                silent.join(", ")
            ),
            Evidence::GradNormZero { zero, records } => {
                write!(f, "the gradient norm is exactly 0 at {zero} of {records} records: no weight gets a gradient")
            }
            Evidence::LayerGradients { first, last, loss, layers } => {
                let (a, b) = match layers {
                    Some((a, b)) => (format!("layer {a}'s"), format!("layer {b}'s")),
                    None => ("block 0's".to_string(), "the last block's".to_string()),
                };
                write!(
                    f,
                    "{a} gradient norm is {first:.1e}, {:.0}× smaller than {b} ({last:.1e}); the loss is {loss:.2}",
                    last / first
                )
            }
            Evidence::ValidationRising { best_val, best_step, val, step, train } => write!(
                f,
                "validation loss rose from {best_val:.2} (step {best_step}) to {val:.2} (step {step}) while training loss \
                 fell to {train:.2}"
            ),
            Evidence::SmallUpdates { median, drop, step } => write!(
                f,
                "updates change the weights by {median:.1e} of their size per step (healthy ≈ 1e-3); the loss fell only \
                 {drop:.2} nats in {step} steps"
            ),
            Evidence::GradNormAboveGuide { peak, step, median } => write!(
                f,
                "gradient norm {peak:.3e} at step {step}, {:.0}× the run's median {median:.2e} (the guide: > 100 is exploding)",
                peak / median.max(1e-12)
            ),
            Evidence::GradNormSpike { peak, step, median, loss_rise, lasting } => write!(
                f,
                "gradient norm spiked to {peak:.2e} at step {step}, {:.0}× its median over the steps before ({median:.2e}); \
                 the loss rose {loss_rise:.2} nats over the next {AFTER_SPIKE} steps and was still {lasting:.2} up over the \
                 {LASTING} after (a healthy run's keeps falling)",
                peak / median
            ),
            Evidence::GradientsPileUp { medians, change } => {
                let shown: Vec<String> = medians.iter().map(|m| format!("{m:.2}")).collect();
                write!(
                    f,
                    "the gradient norm grows fifth by fifth of the run ({}) and changes by only {:.1}% a step, as smoothly \
                     as a running sum (a fresh batch's gradient moves it 15–45%): gradients pile up instead of being cleared",
                    shown.join(" → "),
                    change * 100.0
                )
            }
            Evidence::SpikeThrewLoss { norm, step, ratio, before, after } => write!(
                f,
                "the gradient norm spiked to {norm:.2e} at step {step}, {ratio:.0}× the run's median, and the next update \
                 threw the loss from {before:.2} to {after:.2}"
            ),
            Evidence::LossJumped { before, after, step } => {
                write!(f, "the loss jumped from {before:.2} to {after:.2} at step {step} after having come down")
            }
            Evidence::FirstLossAboveLnV { first, ln_v } => write!(
                f,
                "the first loss is {first:.2}, far above ln V = {ln_v:.2} (uniform guessing): the initial weights are far \
                 too large"
            ),
            Evidence::LossAboveLnV { loss, step, ln_v } => write!(
                f,
                "the loss climbed to {loss:.2} at step {step}, above ln V = {ln_v:.2} (uniform guessing): the steps are \
                 too big to settle"
            ),
            Evidence::Oscillation { mean_step, level } => write!(
                f,
                "in the second half the loss moves {mean_step:.2} nats per step on average around {level:.2}, with no \
                 downward trend"
            ),
            Evidence::EarlySpike { low, peak, step } => {
                write!(f, "the loss spiked from {low:.2} to {peak:.2} at step {step} early in training")
            }
            Evidence::SlowSteps { overhead } => write!(
                f,
                "{:.0}% of each step goes to reading back statistics and data, not to computing",
                overhead * 100.0
            ),
            Evidence::DpoLossFlat { steps, loss, margin, accuracy } => write!(
                f,
                "after {steps} DPO steps the recent loss is {loss:.3} against ln 2 = 0.693, with a mean margin of \
                 {margin:+.3} and {:.0}% of pairs preferred",
                accuracy * 100.0
            ),
            Evidence::RewardHacking { steps, reward, quality, kl } => write!(
                f,
                "over {steps} policy-gradient steps the proxy reward rose from {:+.2} to {:+.2} while the true \
                 quality fell from {:.0}% to {:.0}%, {kl:.2} nats from the reference",
                reward.0,
                reward.1,
                quality.0 * 100.0,
                quality.1 * 100.0
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evidence_reads_as_a_sentence_and_travels_tagged_by_rule() {
        let e = Evidence::NonFinite { tensor: "block0.ln1 output".into(), step: 12 };
        assert_eq!(e.to_string(), "NaN/Inf first appeared in block0.ln1 output at step 12; the run stopped");
        assert_eq!(e.cause(), Some(CauseId::DivideByZero));
        let json = serde_json::to_value(&e).unwrap();
        assert_eq!(json["rule"], "non-finite");
        assert_eq!(json["rule"], e.rule());
        let spike = Evidence::GradNormSpike { peak: 3.0, step: 9, median: 0.2, loss_rise: 0.7, lasting: 0.3 };
        assert_eq!(serde_json::to_value(&spike).unwrap()["rule"], spike.rule());
        assert_eq!(serde_json::from_value::<Evidence>(json).unwrap(), e);
    }

    #[test]
    fn a_roundtrip_that_only_changes_case_points_at_normalisation() {
        let case = Evidence::Roundtrip { example: Some(("The".into(), "the".into())) };
        let space = Evidence::Roundtrip { example: Some(("a  b".into(), "a b".into())) };
        assert_eq!(case.cause(), Some(CauseId::NormalizationDiffers));
        assert_eq!(space.cause(), Some(CauseId::LossyWhitespace));
        assert_eq!(case.to_string(), "decode(encode(text)) differs from the text: \"The\" came back as \"the\"");
    }
}
