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
