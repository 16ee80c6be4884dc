//! What a run reports: a cheap record every step, a richer one at every evaluation, a summary at the end.

use serde::{Deserialize, Serialize};

/// Milliseconds spent in each phase of one training step.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PhaseTimes {
    pub data_ms: f64,
    pub forward_ms: f64,
    pub backward_ms: f64,
    pub optimizer_ms: f64,
    pub telemetry_ms: f64,
}

impl PhaseTimes {
    pub fn total_ms(&self) -> f64 {
        self.data_ms + self.forward_ms + self.backward_ms + self.optimizer_ms + self.telemetry_ms
    }
}

/// Recorded after every optimiser step.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StepRecord {
    /// 1-based: the number of optimiser steps taken so far.
    pub step: usize,
    /// Training loss of this step's batch (nats per token), before the update.
    pub loss: f32,
    /// Global L2 norm of the gradient before clipping.
    pub grad_norm: f32,
    /// Learning rate used for this step.
    pub lr: f32,
    /// Tokens in this step's batch.
    pub tokens: usize,
    pub times: PhaseTimes,
}

/// Recorded at every evaluation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EvalRecord {
    pub step: usize,
    /// Mean loss over a fixed set of training batches, dropout off.
    pub train_loss: f32,
    /// Mean loss over a fixed set of validation batches, dropout off; `None` when there is no validation split.
    pub val_loss: Option<f32>,
}

/// The last line of `faultline train --json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunSummary {
    pub steps_run: usize,
    pub vocab_size: usize,
    pub corpus: String,
    pub train_loss: Option<f32>,
    pub val_loss: Option<f32>,
    /// The step at which a non-finite value appeared, if any.
    pub diverged_at: Option<usize>,
    /// Which tensor held the first non-finite value.
    pub first_bad_tensor: Option<String>,
    pub tokens_per_s: f64,
    /// The corpus's entropy rate in nats per token, where it is known: the floor for the loss.
    pub entropy_rate: Option<f64>,
    /// Guide entry ids the detector names, most likely first; empty for a healthy run.
    pub diagnosis: Vec<String>,
    pub backend: String,
}
