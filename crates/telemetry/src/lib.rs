//! What a run reports: a cheap record every step, a richer one at every evaluation, a summary at the end.

pub mod align;
pub mod error;
pub mod log;
pub mod measure;

use error::EngineError;
use faultline_guide::EntryId;
use serde::{Deserialize, Serialize};

/// How the tokenizer copes with text it was not built from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TokenizerStats {
    /// Fraction of validation tokens that are `<UNK>`.
    pub unk_rate: f32,
    /// Whether `decode(encode(x)) == x` for the validation text.
    pub roundtrip_ok: bool,
    /// The first place they differ: `(original, decoded)` snippets.
    pub roundtrip_mismatch: Option<(String, String)>,
}

/// What a parameter tensor is in the network. Telemetry records it with each tensor's statistics
/// ([`TensorStats`]), so readers need not parse names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TensorKind {
    /// `wte [V, C]`: one row per vocabulary entry.
    TokenEmbedding,
    /// `wpe [T, C]`: one row per position.
    PositionEmbedding,
    /// A linear layer's weight matrix: a block's `w_qkv`, `w_proj`, `w_fc`, `w_out`, and `w_head`.
    Matrix,
    /// A linear layer's bias: a block's `b_qkv`, `b_proj`, `b_fc`, `b_out`.
    Bias,
    /// A LayerNorm's gain (`ln1.gain`, `ln2.gain`, `lnf.gain`), starting at 1.
    LayerNormGain,
    /// A LayerNorm's bias (`ln1.bias`, `ln2.bias`, `lnf.bias`), starting at 0.
    LayerNormBias,
}

impl TensorKind {
    /// Whether weight decay applies: to the matrices and embeddings, not to biases or LayerNorm.
    pub fn decays(self) -> bool {
        matches!(self, TensorKind::TokenEmbedding | TensorKind::PositionEmbedding | TensorKind::Matrix)
    }

    /// A LayerNorm's gain or bias.
    pub fn is_layer_norm(self) -> bool {
        matches!(self, TensorKind::LayerNormGain | TensorKind::LayerNormBias)
    }
}

/// The mode a forward pass ran in: training (dropout on, as the run's settings say) or evaluation
/// (dropout off). The engine records the mode of the passes behind each record.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    Train,
    Eval,
}

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
    /// The mode of this step's forward passes; `None` in records written before records carried it.
    #[serde(default)]
    pub mode: Option<Mode>,
}

/// Gradient, weight and update size of one parameter tensor.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TensorStats {
    pub name: String,
    /// What the tensor is (a weight matrix, a bias, a LayerNorm gain, an embedding...); `None` in
    /// records written before telemetry carried it.
    #[serde(default)]
    pub kind: Option<TensorKind>,
    /// The block the tensor belongs to; `None` for the embeddings, the final norm and the head.
    pub block: Option<usize>,
    /// L2 norm of its gradient in the last step, before clipping.
    pub grad_norm: f32,
    /// L2 norm of the weights.
    pub param_norm: f32,
    /// ‖Δw‖ / ‖w‖ of the last update (`None` where ‖w‖ is 0 or the step made no update).
    pub update_ratio: Option<f32>,
}

/// Per-block measurements taken on the evaluation batch (dropout off).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BlockStats {
    pub block: usize,
    /// L2 norm of all of the block's gradients in the last step, before clipping.
    pub grad_norm: f32,
    /// Mean and standard deviation of the block's output (the residual stream after it).
    pub out_mean: f32,
    pub out_std: f32,
    /// Fraction of MLP hidden units whose nonlinearity has (almost) no slope for every token of the
    /// batch, so they pass no gradient back: "dead" units.
    pub dead_fraction: f32,
    /// Mean entropy (nats) of each head's attention rows.
    pub attn_entropy: Vec<f32>,
    /// Mean attention probability each head puts on later positions (above the diagonal).
    pub attn_above_diag: Vec<f32>,
    /// How widely each head's attention logits spread, over how widely `q·k/√d_k` spreads on the
    /// same rows: 1 when the scores fed to the softmax are `q·k/√d_k`, `√d_k` when they are left
    /// undivided. The logits' spread is read off the probabilities (`ln p` differs from the logit by
    /// one constant per row), so this measures what the softmax really received.
    pub attn_logit_scale: Vec<f32>,
}

/// Attention probabilities of every layer and head on a fixed probe text.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AttentionMaps {
    pub layers: usize,
    pub heads: usize,
    /// Probe length T (rows and columns of each map).
    pub time: usize,
    /// Printable label of each probe token.
    pub tokens: Vec<String>,
    /// `[layers, heads, T, T]`, row-major: row i is where query position i looks.
    pub probs: Vec<f32>,
}

impl AttentionMaps {
    /// The `T × T` map of one layer and head.
    pub fn map(&self, layer: usize, head: usize) -> &[f32] {
        let t2 = self.time * self.time;
        &self.probs[(layer * self.heads + head) * t2..][..t2]
    }
}

/// A generated sample, measured against the training data.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SampleStats {
    /// The text as a reader sees it (prompt + generated).
    pub text: String,
    /// Fraction of 4-grams of the generated text that already appeared earlier in it.
    pub repeated_ngram_rate: f32,
    /// The same rate for a stretch of validation text of the same length: what "normal" repetition
    /// looks like on this corpus.
    pub reference_ngram_rate: f32,
    /// Fraction of adjacent token pairs of the text (re-encoded) that never occur in the training data.
    pub unseen_bigram_rate: f32,
    /// The model's own mean loss (nats per token) on the text as a reader sees it, re-encoded: close
    /// to the validation loss when the text is what the model sampled, far above it when it is not
    /// (decoded with another vocabulary, for one).
    pub reread_loss: Option<f32>,
    /// Mean entropy (nats per generated token) of the model's own next-token distributions.
    pub model_entropy: f32,
    /// Mean entropy of the distributions the sampler drew from, after temperature, top-k, top-p and
    /// the repetition penalty: equal to `model_entropy` for plain sampling, 0 for greedy decoding.
    pub sampler_entropy: f32,
}

/// Recorded at every evaluation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EvalRecord {
    pub step: usize,
    /// Mean loss over a fixed set of training batches, dropout off.
    pub train_loss: f32,
    /// Mean loss over a fixed set of validation batches, dropout off; `None` when there is no validation split.
    pub val_loss: Option<f32>,
    /// Global gradient norm of the last step, before clipping.
    pub grad_norm: f32,
    pub tensors: Vec<TensorStats>,
    pub blocks: Vec<BlockStats>,
    /// Largest |logit| on the evaluation batch.
    pub max_abs_logit: f32,
    pub attention: AttentionMaps,
    pub sample: Option<SampleStats>,
    pub tokenizer: TokenizerStats,
    /// The mode of the passes behind the split losses; `None` in records written before records
    /// carried it.
    #[serde(default)]
    pub mode: Option<Mode>,
}

/// Everything the detector reads: the run's telemetry, nothing about how it was configured.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct History {
    pub vocab_size: usize,
    pub steps: Vec<StepRecord>,
    /// Evaluations, with their attention maps dropped to keep the history small.
    pub evals: Vec<EvalRecord>,
    /// Why the run stopped early, if it did (a NaN, or memory that could not be had).
    pub stopped: Option<EngineError>,
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
    pub diagnosis: Vec<EntryId>,
    pub backend: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tensor_stats_from_before_the_kind_still_read_and_new_ones_carry_it() {
        let old = r#"{"name":"block0.attn.w_qkv","block":0,"grad_norm":0.5,"param_norm":2.0,"update_ratio":null}"#;
        let stats: TensorStats = serde_json::from_str(old).expect("an old record reads");
        assert_eq!(stats.kind, None);
        let new = TensorStats { kind: Some(TensorKind::Matrix), ..stats };
        let json = serde_json::to_string(&new).expect("serialises");
        assert!(json.contains(r#""kind":"matrix""#), "{json}");
        assert_eq!(serde_json::from_str::<TensorStats>(&json).expect("reads back"), new);
    }

    #[test]
    fn step_records_from_before_the_mode_still_read_and_new_ones_carry_it() {
        let times = r#"{"data_ms":0.0,"forward_ms":0.0,"backward_ms":0.0,"optimizer_ms":0.0,"telemetry_ms":0.0}"#;
        let old = format!(r#"{{"step":1,"loss":3.5,"grad_norm":1.0,"lr":0.001,"tokens":64,"times":{times}}}"#);
        let record: StepRecord = serde_json::from_str(&old).expect("an old record reads");
        assert_eq!(record.mode, None);
        let new = StepRecord { mode: Some(Mode::Train), ..record };
        let json = serde_json::to_string(&new).expect("serialises");
        assert!(json.contains(r#""mode":"train""#), "{json}");
        assert_eq!(serde_json::from_str::<StepRecord>(&json).expect("reads back"), new);
    }
}
