//! What a fine-tuning run reports: the DPO objective step by step, and evaluations that score the
//! policy's own samples against the corpus's grammar. The detector reads these records and nothing
//! about how the run was configured.

use crate::error::EngineError;
use serde::{Deserialize, Serialize};

/// One DPO step.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DpoStepRecord {
    pub step: usize,
    /// Mean `−log σ(h)` over the step's pairs: ln 2 ≈ 0.693 while the policy equals its reference.
    pub loss: f32,
    /// Mean implicit reward margin `h = β·[(log π(c) − log π_ref(c)) − (log π(r) − log π_ref(r))]`.
    pub margin: f32,
    /// Share of the step's pairs with `h > 0`.
    pub accuracy: f32,
    /// Mean drift of the chosen and rejected answers' log-probabilities from the reference's.
    pub chosen_drift: f32,
    pub rejected_drift: f32,
    /// KL(policy ‖ reference) summed over each chosen answer's tokens, mean over the pairs, in nats.
    pub kl: f32,
    pub grad_norm: f32,
    pub lr: f32,
}

/// An evaluation of a fine-tuning run: held-out pairs and the true quality of samples.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DpoEvalRecord {
    pub step: usize,
    /// The DPO loss and preference accuracy on pairs the run never trains on.
    pub loss: f32,
    pub accuracy: f32,
    /// Share of the policy's completions of held-out prompts that the corpus's grammar accepts (exact,
    /// because the generator knows the truth).
    pub quality: f32,
    /// A few (prompt, completion) samples, as written.
    pub samples: Vec<(String, String)>,
}

/// Everything a fine-tuning run measured.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct DpoHistory {
    pub steps: Vec<DpoStepRecord>,
    pub evals: Vec<DpoEvalRecord>,
    pub stopped: Option<EngineError>,
}

/// One step of supervised fine-tuning on a small text.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SftStepRecord {
    pub step: usize,
    /// Mean cross-entropy of the step's batch, in nats per token.
    pub loss: f32,
    pub grad_norm: f32,
}

/// An evaluation of supervised fine-tuning: the loss on the text it trains on and on the part of
/// the text held out from it. Their difference is the validation gap that overfitting opens.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SftEvalRecord {
    pub step: usize,
    pub train_loss: f32,
    pub val_loss: f32,
}

/// Everything a supervised fine-tuning run measured.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SftHistory {
    pub steps: Vec<SftStepRecord>,
    pub evals: Vec<SftEvalRecord>,
    pub stopped: Option<EngineError>,
}

/// One epoch of a reward model's training on preference pairs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RewardEpochRecord {
    pub epoch: usize,
    /// Bradley–Terry loss `−log σ(r(c) − r(r))`, mean over the pairs it trains on.
    pub loss: f32,
    /// Share of pairs it never trained on whose chosen answer it scores higher.
    pub held_out_accuracy: f32,
}

/// One reward model's training, and what it reached.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RewardModelRecord {
    pub epochs: Vec<RewardEpochRecord>,
    /// Pairs it trained on.
    pub pairs: usize,
}

/// One policy-gradient step: the policy's own samples of the step, scored.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RlStepRecord {
    pub step: usize,
    /// Mean score of the step's samples by the reward model (the proxy the policy climbs).
    pub reward: f32,
    /// Share of the step's samples the corpus's grammar accepts (the truth the proxy stands for).
    pub quality: f32,
    /// `log π(y) − log π_ref(y)` of each sample, summed over its tokens, mean over the samples: an
    /// unbiased estimate of KL(policy ‖ reference) per response, in nats.
    pub kl: f32,
    /// Mean response length, in tokens.
    pub length: f32,
    /// Mean entropy of the policy's next-token distribution over the responses' tokens, in nats.
    pub entropy: f32,
    pub grad_norm: f32,
}

/// An evaluation of a policy-gradient run: completions of fixed prompts, scored by the proxy and
/// by the truth.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RlEvalRecord {
    pub step: usize,
    pub reward: f32,
    pub quality: f32,
    pub length: f32,
    /// A few (prompt, completion) samples, as written.
    pub samples: Vec<(String, String)>,
}

/// Everything a policy-gradient run measured: its reward models' training first.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RlHistory {
    pub reward_models: Vec<RewardModelRecord>,
    pub steps: Vec<RlStepRecord>,
    pub evals: Vec<RlEvalRecord>,
    pub stopped: Option<EngineError>,
}
