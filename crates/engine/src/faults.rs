//! The fault table: every way a learner can break training, declared once.
//!
//! [`FAULTS`] drives the command line (`--fault ID[=VALUE]`, `faultline faults`), the app's toggles and
//! its URL, the docs and the tests. [`Faults`] is the switchboard the model and trainer read; each switch
//! is consulted at the one line of the computation it changes (search for `faults.<name>`).

use crate::error::ConfigError;
use serde::{Deserialize, Serialize};

/// A strength a fault takes, with its range and default.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Strength {
    /// What the number means ("factor", "std").
    pub unit: &'static str,
    pub default: f32,
    pub min: f32,
    pub max: f32,
}

/// One row of the fault table.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct FaultSpec {
    /// Kebab-case id (`--fault no-causal-mask`).
    pub id: &'static str,
    /// The guide entry whose symptom this fault produces.
    pub guide_entry: &'static str,
    /// The guide section it belongs to (groups the app's toggles).
    pub section: &'static str,
    /// One line: what the fault changes in the computation.
    pub summary: &'static str,
    pub strength: Option<Strength>,
    /// Settings (and other faults) under which the symptom shows, as `key=value` pairs separated by
    /// spaces, in the command line's and the URL's names; empty when the defaults show it. Several of
    /// the guide's stories hold only in a particular setting, and that is part of the lesson.
    pub scenario: &'static str,
}

impl FaultSpec {
    /// The scenario as `(key, value)` pairs.
    pub fn scenario_pairs(&self) -> Vec<(&'static str, &'static str)> {
        self.scenario.split_whitespace().filter_map(|kv| kv.split_once('=')).collect()
    }
}

/// The catalogue.
pub const FAULTS: &[FaultSpec] = &[
    FaultSpec {
        id: "lr-too-high",
        guide_entry: "loss-oscillates-wildly",
        section: "Learning Rate Issues",
        summary: "multiplies the learning rate by a factor",
        strength: Some(Strength { unit: "factor", default: 300.0, min: 1.0, max: 10_000.0 }),
        scenario: "",
    },
    FaultSpec {
        id: "lr-too-low",
        guide_entry: "loss-decreases-very-slowly",
        section: "Learning Rate Issues",
        summary: "divides the learning rate by a factor",
        strength: Some(Strength { unit: "factor", default: 100.0, min: 1.0, max: 1_000_000.0 }),
        scenario: "",
    },
    FaultSpec {
        id: "no-warmup",
        guide_entry: "loss-stops-decreasing",
        section: "Loss Plateau",
        summary: "starts at the full learning rate instead of ramping up",
        strength: None,
        scenario: "lr=0.05",
    },
    FaultSpec {
        id: "no-grad-clip",
        guide_entry: "exploding-gradients",
        section: "Gradient Issues",
        summary: "turns off global gradient-norm clipping",
        strength: None,
        scenario: "optimizer=sgd lr=0.35",
    },
    FaultSpec {
        id: "init-too-large",
        guide_entry: "exploding-gradients",
        section: "Gradient Issues",
        summary: "initialises weights with a large standard deviation instead of 0.02",
        strength: Some(Strength { unit: "std", default: 1.0, min: 0.0, max: 10.0 }),
        scenario: "",
    },
    FaultSpec {
        id: "init-zero",
        guide_entry: "gradients-are-all-zero",
        section: "Gradient Issues",
        summary: "initialises every weight to zero, so units stay symmetric",
        strength: None,
        scenario: "",
    },
    FaultSpec {
        id: "no-zero-grad",
        guide_entry: "gradients-are-all-zero",
        section: "Gradient Issues",
        summary: "never clears the gradients, so every step adds onto all earlier ones",
        strength: None,
        scenario: "fault=no-grad-clip",
    },
    FaultSpec {
        id: "detached-block",
        guide_entry: "gradients-are-all-zero",
        section: "Gradient Issues",
        summary: "cuts the graph below the last block: no gradient reaches the layers under it",
        strength: None,
        scenario: "",
    },
    FaultSpec {
        id: "dead-relu",
        guide_entry: "gradients-are-all-zero",
        section: "Gradient Issues",
        summary: "uses ReLU in the MLP with a negative initial bias, so most units never fire",
        strength: Some(Strength { unit: "bias", default: -1.0, min: -10.0, max: 0.0 }),
        scenario: "",
    },
    FaultSpec {
        id: "sigmoid-activation",
        guide_entry: "vanishing-gradients",
        section: "Gradient Issues",
        summary: "uses a sigmoid instead of GELU in the MLP",
        strength: None,
        scenario: "fault=no-residual config=small",
    },
    FaultSpec {
        id: "no-residual",
        guide_entry: "vanishing-gradients",
        section: "Gradient Issues",
        summary: "removes the residual connections around attention and the MLP",
        strength: None,
        scenario: "",
    },
    FaultSpec {
        id: "post-norm",
        guide_entry: "vanishing-gradients",
        section: "Gradient Issues",
        summary: "normalises after each residual addition (post-norm) instead of before each sublayer",
        strength: None,
        scenario: "config=small warmup=0 lr=0.01",
    },
    FaultSpec {
        id: "naive-log-softmax",
        guide_entry: "loss-becomes-nan",
        section: "Numerical Issues",
        summary: "computes the loss as log(softmax(x)) instead of x - logsumexp(x)",
        strength: None,
        scenario: "fault=init-too-large=3",
    },
    FaultSpec {
        id: "softmax-no-max-shift",
        guide_entry: "loss-becomes-nan",
        section: "Numerical Issues",
        summary: "exponentiates raw scores without subtracting the row maximum",
        strength: None,
        scenario: "fault=lr-too-high=300",
    },
    FaultSpec {
        id: "layernorm-no-eps",
        guide_entry: "loss-becomes-nan",
        section: "Numerical Issues",
        summary: "divides by the standard deviation with no epsilon in LayerNorm",
        strength: None,
        scenario: "fault=init-zero",
    },
    FaultSpec {
        id: "no-attn-scale",
        guide_entry: "attention-weights-are-uniform",
        section: "Attention Issues",
        summary: "leaves attention scores undivided by sqrt(d_k)",
        strength: None,
        scenario: "",
    },
    FaultSpec {
        id: "no-causal-mask",
        guide_entry: "attention-looks-at-future-in-causal-model",
        section: "Attention Issues",
        summary: "lets every position attend to later positions",
        strength: None,
        scenario: "",
    },
    FaultSpec {
        id: "tiny-dataset",
        guide_entry: "validation-loss-increasing-while-training-loss-decreases",
        section: "Overfitting",
        summary: "keeps only the first few thousand tokens of the training split",
        strength: Some(Strength { unit: "tokens", default: 2000.0, min: 100.0, max: 100_000.0 }),
        scenario: "steps=800 eval-every=50",
    },
    FaultSpec {
        id: "no-regularization",
        guide_entry: "validation-loss-increasing-while-training-loss-decreases",
        section: "Overfitting",
        summary: "turns off weight decay and dropout",
        strength: None,
        scenario: "fault=tiny-dataset steps=800 eval-every=50",
    },
    FaultSpec {
        id: "greedy-decoding",
        guide_entry: "model-outputs-repetitive-text",
        section: "Output Quality Issues",
        summary: "generates with argmax instead of sampling",
        strength: None,
        scenario: "",
    },
    FaultSpec {
        id: "temperature-too-low",
        guide_entry: "model-outputs-repetitive-text",
        section: "Output Quality Issues",
        summary: "samples at a very low temperature",
        strength: Some(Strength { unit: "temperature", default: 0.1, min: 0.01, max: 1.0 }),
        scenario: "",
    },
    FaultSpec {
        id: "tokenizer-mismatch",
        guide_entry: "model-outputs-nonsense",
        section: "Output Quality Issues",
        summary: "decodes generated ids with a different vocabulary than the one trained on",
        strength: None,
        scenario: "",
    },
    FaultSpec {
        id: "corrupt-embeddings",
        guide_entry: "model-outputs-nonsense",
        section: "Output Quality Issues",
        summary: "overwrites the token embeddings with noise at a given step",
        strength: Some(Strength { unit: "step", default: 200.0, min: 1.0, max: 1_000_000.0 }),
        scenario: "steps=300",
    },
    FaultSpec {
        id: "wrong-checkpoint",
        guide_entry: "model-outputs-nonsense",
        section: "Output Quality Issues",
        summary: "swaps in the weights of a different, untrained run at a given step",
        strength: Some(Strength { unit: "step", default: 200.0, min: 1.0, max: 1_000_000.0 }),
        scenario: "steps=300",
    },
    FaultSpec {
        id: "batch-too-large",
        guide_entry: "out-of-memory-oom",
        section: "Memory Issues",
        summary: "multiplies the batch size far beyond the memory budget",
        strength: Some(Strength { unit: "factor", default: 128.0, min: 2.0, max: 4096.0 }),
        scenario: "",
    },
    FaultSpec {
        id: "sync-every-step",
        guide_entry: "training-is-very-slow",
        section: "Performance Issues",
        summary: "reads every weight and statistic back after every step, as heavy logging does",
        strength: None,
        scenario: "",
    },
    FaultSpec {
        id: "word-level-vocab",
        guide_entry: "many-unk-tokens",
        section: "Tokenization Issues",
        summary: "builds a word vocabulary from a small sample of text",
        strength: Some(Strength { unit: "sample chars", default: 300.0, min: 20.0, max: 100_000.0 }),
        scenario: "",
    },
    FaultSpec {
        id: "lossy-normalization",
        guide_entry: "tokenization-doesnt-roundtrip",
        section: "Tokenization Issues",
        summary: "lower-cases and folds whitespace before tokenizing",
        strength: None,
        scenario: "",
    },
];

/// Looks a fault up by id.
pub fn spec(id: &str) -> Option<&'static FaultSpec> {
    FAULTS.iter().find(|f| f.id == id)
}

/// The switchboard: which faults are on, with their strengths.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "kebab-case")]
pub struct Faults {
    /// Learning rate multiplied by this factor.
    pub lr_too_high: Option<f32>,
    /// Learning rate divided by this factor.
    pub lr_too_low: Option<f32>,
    pub no_warmup: bool,
    pub no_grad_clip: bool,
    /// Weight initialisation standard deviation instead of 0.02.
    pub init_too_large: Option<f32>,
    pub init_zero: bool,
    pub no_zero_grad: bool,
    pub detached_block: bool,
    /// Initial MLP bias under ReLU.
    pub dead_relu: Option<f32>,
    pub sigmoid_activation: bool,
    pub no_residual: bool,
    pub post_norm: bool,
    pub naive_log_softmax: bool,
    pub softmax_no_max_shift: bool,
    pub layernorm_no_eps: bool,
    pub no_attn_scale: bool,
    pub no_causal_mask: bool,
    /// Training tokens kept.
    pub tiny_dataset: Option<f32>,
    pub no_regularization: bool,
    pub greedy_decoding: bool,
    /// Sampling temperature.
    pub temperature_too_low: Option<f32>,
    pub tokenizer_mismatch: bool,
    /// Step at which the token embeddings are overwritten.
    pub corrupt_embeddings: Option<f32>,
    /// Step at which foreign weights are loaded.
    pub wrong_checkpoint: Option<f32>,
    /// Batch size multiplier.
    pub batch_too_large: Option<f32>,
    pub sync_every_step: bool,
    /// Characters of text the word vocabulary is built from.
    pub word_level_vocab: Option<f32>,
    pub lossy_normalization: bool,
}

impl Faults {
    /// Turns on fault `id`; `value` is its strength (the default when `None`). Unknown ids, values for
    /// faults without a strength and out-of-range strengths are errors naming the fault.
    pub fn set(&mut self, id: &str, value: Option<f32>) -> Result<(), ConfigError> {
        let spec = spec(id)
            .ok_or_else(|| ConfigError::new("fault", format!("unknown fault '{id}' (see `faultline faults`)")))?;
        let strength = match (spec.strength, value) {
            (None, Some(_)) => {
                return Err(ConfigError::new("fault", format!("fault '{id}' takes no value")));
            }
            (None, None) => 0.0,
            (Some(s), None) => s.default,
            (Some(s), Some(v)) => {
                if !v.is_finite() || v < s.min || v > s.max {
                    return Err(ConfigError::new(
                        "fault",
                        format!("fault '{id}': {} must be between {} and {}, got {v}", s.unit, s.min, s.max),
                    ));
                }
                v
            }
        };
        match id {
            "lr-too-high" => self.lr_too_high = Some(strength),
            "lr-too-low" => self.lr_too_low = Some(strength),
            "no-warmup" => self.no_warmup = true,
            "no-grad-clip" => self.no_grad_clip = true,
            "init-too-large" => self.init_too_large = Some(strength),
            "init-zero" => self.init_zero = true,
            "no-zero-grad" => self.no_zero_grad = true,
            "detached-block" => self.detached_block = true,
            "dead-relu" => self.dead_relu = Some(strength),
            "sigmoid-activation" => self.sigmoid_activation = true,
            "no-residual" => self.no_residual = true,
            "post-norm" => self.post_norm = true,
            "naive-log-softmax" => self.naive_log_softmax = true,
            "softmax-no-max-shift" => self.softmax_no_max_shift = true,
            "layernorm-no-eps" => self.layernorm_no_eps = true,
            "no-attn-scale" => self.no_attn_scale = true,
            "no-causal-mask" => self.no_causal_mask = true,
            "tiny-dataset" => self.tiny_dataset = Some(strength),
            "no-regularization" => self.no_regularization = true,
            "greedy-decoding" => self.greedy_decoding = true,
            "temperature-too-low" => self.temperature_too_low = Some(strength),
            "tokenizer-mismatch" => self.tokenizer_mismatch = true,
            "corrupt-embeddings" => self.corrupt_embeddings = Some(strength),
            "wrong-checkpoint" => self.wrong_checkpoint = Some(strength),
            "batch-too-large" => self.batch_too_large = Some(strength),
            "sync-every-step" => self.sync_every_step = true,
            "word-level-vocab" => self.word_level_vocab = Some(strength),
            "lossy-normalization" => self.lossy_normalization = true,
            _ => unreachable!("every id in FAULTS has a switch"),
        }
        Ok(())
    }

    /// Parses `ID` or `ID=VALUE` (the command line's and the URL's form).
    pub fn set_from_arg(&mut self, arg: &str) -> Result<(), ConfigError> {
        match arg.split_once('=') {
            None => self.set(arg, None),
            Some((id, v)) => {
                let value: f32 =
                    v.parse().map_err(|_| ConfigError::new("fault", format!("fault '{id}': '{v}' is not a number")))?;
                self.set(id, Some(value))
            }
        }
    }

    /// The faults that are on, as `(id, strength)` in table order.
    pub fn active(&self) -> Vec<(&'static str, Option<f32>)> {
        FAULTS
            .iter()
            .filter_map(|f| {
                let v = match f.id {
                    "lr-too-high" => self.lr_too_high.map(Some),
                    "lr-too-low" => self.lr_too_low.map(Some),
                    "no-warmup" => self.no_warmup.then_some(None),
                    "no-grad-clip" => self.no_grad_clip.then_some(None),
                    "init-too-large" => self.init_too_large.map(Some),
                    "init-zero" => self.init_zero.then_some(None),
                    "no-zero-grad" => self.no_zero_grad.then_some(None),
                    "detached-block" => self.detached_block.then_some(None),
                    "dead-relu" => self.dead_relu.map(Some),
                    "sigmoid-activation" => self.sigmoid_activation.then_some(None),
                    "no-residual" => self.no_residual.then_some(None),
                    "post-norm" => self.post_norm.then_some(None),
                    "naive-log-softmax" => self.naive_log_softmax.then_some(None),
                    "softmax-no-max-shift" => self.softmax_no_max_shift.then_some(None),
                    "layernorm-no-eps" => self.layernorm_no_eps.then_some(None),
                    "no-attn-scale" => self.no_attn_scale.then_some(None),
                    "no-causal-mask" => self.no_causal_mask.then_some(None),
                    "tiny-dataset" => self.tiny_dataset.map(Some),
                    "no-regularization" => self.no_regularization.then_some(None),
                    "greedy-decoding" => self.greedy_decoding.then_some(None),
                    "temperature-too-low" => self.temperature_too_low.map(Some),
                    "tokenizer-mismatch" => self.tokenizer_mismatch.then_some(None),
                    "corrupt-embeddings" => self.corrupt_embeddings.map(Some),
                    "wrong-checkpoint" => self.wrong_checkpoint.map(Some),
                    "batch-too-large" => self.batch_too_large.map(Some),
                    "sync-every-step" => self.sync_every_step.then_some(None),
                    "word-level-vocab" => self.word_level_vocab.map(Some),
                    "lossy-normalization" => self.lossy_normalization.then_some(None),
                    _ => unreachable!("every id in FAULTS has a switch"),
                };
                v.map(|v| (f.id, v))
            })
            .collect()
    }

    /// Re-checks every strength (a deserialised struct may carry anything).
    pub fn validate(&self) -> Result<(), ConfigError> {
        let mut check = Faults::default();
        for (id, v) in self.active() {
            check.set(id, v)?;
        }
        Ok(())
    }

    /// The learning rate after the learning-rate faults.
    pub fn apply_lr(&self, lr: f32) -> f32 {
        let mut lr = lr;
        if let Some(factor) = self.lr_too_high {
            lr *= factor; // faults.lr_too_high: the step size is multiplied
        }
        if let Some(factor) = self.lr_too_low {
            lr /= factor; // faults.lr_too_low: the step size is divided
        }
        lr
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_fault_sets_and_lists_itself() {
        for f in FAULTS {
            let mut faults = Faults::default();
            faults.set(f.id, None).unwrap();
            let active = faults.active();
            assert_eq!(active.len(), 1, "{}", f.id);
            assert_eq!(active[0].0, f.id);
            assert_eq!(active[0].1, f.strength.map(|s| s.default));
            faults.validate().unwrap();
        }
    }

    #[test]
    fn bad_fault_arguments_are_named() {
        let mut f = Faults::default();
        assert!(f.set_from_arg("no-such-fault").unwrap_err().message.contains("no-such-fault"));
        assert!(f.set_from_arg("no-causal-mask=3").unwrap_err().message.contains("takes no value"));
        assert!(f.set_from_arg("lr-too-high=abc").unwrap_err().message.contains("not a number"));
        assert!(f.set_from_arg("lr-too-high=0.5").unwrap_err().message.contains("between"));
        f.set_from_arg("lr-too-high=300").unwrap();
        assert_eq!(f.apply_lr(1e-3), 0.3);
    }

    #[test]
    fn ids_are_unique_kebab_case() {
        let mut ids: Vec<&str> = FAULTS.iter().map(|f| f.id).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), FAULTS.len());
        assert!(ids.iter().all(|id| id.chars().all(|c| c.is_ascii_lowercase() || c == '-')));
    }
}
