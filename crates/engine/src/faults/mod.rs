//! The fault table: every way a learner can break training, declared once.
//!
//! [`FAULTS`] drives the command line (`--fault ID[=VALUE]`, `faultline faults`), the app's toggles and
//! its URL, the docs and the tests. One macro row declares each fault: its [`FaultId`] with its
//! spelling, its switch in [`Faults`] (a flag, or a strength), and its [`FaultSpec`]. [`Faults`] is the
//! switchboard the model and trainer read; each switch is consulted at the one line of the
//! computation it changes (search for `faults.<name>`). [`measured`] holds where the engine's
//! measurements of a fault disagree with the guide's story, [`reproduce`] which faults the symptom
//! matrix found to produce each entry.

pub mod measured;
pub mod reproduce;

use crate::error::ConfigError;
use crate::sampling::SamplingConfig;
use crate::settings::{Change, SettingKey};
use faultline_guide::EntryId;
use serde::{Deserialize, Serialize, Serializer};
use std::fmt;

/// A strength a fault takes, with its range and default.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Strength {
    /// What the number means ("factor", "std").
    pub unit: &'static str,
    pub default: f32,
    pub min: f32,
    pub max: f32,
}

/// The settings (and other faults) under which a fault's symptom shows; empty when the defaults show
/// it. Several of the guide's stories hold only in a particular setting, and that is part of the
/// lesson. Its text form is the command line's and the URL's (`optimizer=sgd lr=0.35
/// fault=init-too-large=3`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Scenario {
    pub settings: &'static [(SettingKey, &'static str)],
    pub faults: &'static [(FaultId, Option<f32>)],
}

impl Scenario {
    pub fn is_empty(&self) -> bool {
        self.settings.is_empty() && self.faults.is_empty()
    }

    /// The scenario as changes to a run's set-up: its settings, then its faults.
    pub fn changes(&self) -> impl Iterator<Item = Change<'static>> + '_ {
        let settings = self.settings.iter().map(|&(key, value)| Change::Setting(key, value));
        settings.chain(self.faults.iter().map(|&(id, strength)| Change::Fault(id, strength)))
    }
}

impl fmt::Display for Scenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.changes().map(|c| c.to_string()).collect();
        f.write_str(&parts.join(" "))
    }
}

impl Serialize for Scenario {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// Where a fault lives: in pretraining (the trainer, `faultline train`) or in fine-tuning from a
/// pretrained model (the alignment page, `faultline align`). Each stage refuses the other's faults.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Stage {
    Pretraining,
    FineTuning,
}

impl Stage {
    /// The faults of this stage, in table order.
    pub fn faults(self) -> impl Iterator<Item = &'static FaultSpec> + Clone {
        FAULTS.iter().filter(move |f| f.stage == self)
    }
}

/// One row of the fault table.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct FaultSpec {
    /// The fault (`--fault no-causal-mask`).
    pub id: FaultId,
    /// The guide entry whose symptom this fault produces.
    pub guide_entry: EntryId,
    /// Which stage's computation the fault changes.
    pub stage: Stage,
    /// One line: what the fault changes in the computation.
    pub summary: &'static str,
    pub strength: Option<Strength>,
    /// The settings under which the symptom shows.
    pub scenario: Scenario,
}

impl FaultId {
    /// The fault's row of the table.
    pub fn spec(self) -> &'static FaultSpec {
        &FAULTS[self.index()]
    }
}

/// How a fault's switch in [`Faults`] holds its state: a flag, or a strength.
trait Switch {
    fn turn_on(&mut self, strength: f32);
    /// `None` when off; `Some(None)` for a flag that is on, `Some(Some(v))` for a strength.
    fn reading(&self) -> Option<Option<f32>>;
}

impl Switch for bool {
    fn turn_on(&mut self, _: f32) {
        *self = true;
    }
    fn reading(&self) -> Option<Option<f32>> {
        self.then_some(None)
    }
}

impl Switch for Option<f32> {
    fn turn_on(&mut self, strength: f32) {
        *self = Some(strength);
    }
    fn reading(&self) -> Option<Option<f32>> {
        self.map(Some)
    }
}

/// Declares every fault at once: its id and spelling, its switch (a `bool`, or an `Option<f32>`
/// strength) in [`Faults`], and its row of [`FAULTS`]. The switch's field name is the spelling with
/// underscores, so the switchboard serialises (kebab-case) under the same names as the ids.
macro_rules! fault_table {
    ($( $(#[$doc:meta])* $variant:ident => $spelling:literal, $field:ident: $ty:ty { $($spec:tt)* }, )+) => {
        faultline_guide::spelled_ids! {
            /// A fault of the catalogue, in table order.
            pub enum FaultId {
                $($variant => $spelling),+
            }
        }

        /// The catalogue, in the order of [`FaultId`].
        pub const FAULTS: &[FaultSpec] = &[$(FaultSpec { id: FaultId::$variant, $($spec)* }),+];

        /// The switchboard: which faults are on, with their strengths.
        #[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
        #[serde(default, rename_all = "kebab-case")]
        pub struct Faults {
            $($(#[$doc])* pub $field: $ty,)+
        }

        impl Faults {
            fn switch(&self, id: FaultId) -> &dyn Switch {
                match id {
                    $(FaultId::$variant => &self.$field),+
                }
            }

            fn switch_mut(&mut self, id: FaultId) -> &mut dyn Switch {
                match id {
                    $(FaultId::$variant => &mut self.$field),+
                }
            }
        }
    };
}

fault_table! {
    /// Learning rate multiplied by this factor.
    LrTooHigh => "lr-too-high", lr_too_high: Option<f32> {
        guide_entry: EntryId::LossOscillatesWildly,
        stage: Stage::Pretraining,
        summary: "multiplies the learning rate by a factor",
        strength: Some(Strength { unit: "factor", default: 300.0, min: 1.0, max: 10_000.0 }),
        scenario: Scenario { settings: &[], faults: &[] },
    },
    /// Learning rate divided by this factor.
    LrTooLow => "lr-too-low", lr_too_low: Option<f32> {
        guide_entry: EntryId::LossDecreasesVerySlowly,
        stage: Stage::Pretraining,
        summary: "divides the learning rate by a factor",
        strength: Some(Strength { unit: "factor", default: 100.0, min: 1.0, max: 1_000_000.0 }),
        scenario: Scenario { settings: &[], faults: &[] },
    },
    NoWarmup => "no-warmup", no_warmup: bool {
        guide_entry: EntryId::LossStopsDecreasing,
        stage: Stage::Pretraining,
        summary: "starts at the full learning rate instead of ramping up",
        strength: None,
        scenario: Scenario { settings: &[(SettingKey::Lr, "0.05")], faults: &[] },
    },
    NoGradClip => "no-grad-clip", no_grad_clip: bool {
        guide_entry: EntryId::ExplodingGradients,
        stage: Stage::Pretraining,
        summary: "turns off global gradient-norm clipping",
        strength: None,
        scenario: Scenario { settings: &[(SettingKey::Optimizer, "sgd"), (SettingKey::Lr, "0.35")], faults: &[] },
    },
    /// Weight initialisation standard deviation instead of 0.02.
    InitTooLarge => "init-too-large", init_too_large: Option<f32> {
        guide_entry: EntryId::ExplodingGradients,
        stage: Stage::Pretraining,
        summary: "initialises weights with a large standard deviation instead of 0.02",
        strength: Some(Strength { unit: "std", default: 1.0, min: 0.0, max: 10.0 }),
        scenario: Scenario { settings: &[], faults: &[] },
    },
    InitZero => "init-zero", init_zero: bool {
        guide_entry: EntryId::GradientsAreAllZero,
        stage: Stage::Pretraining,
        summary: "initialises every weight to zero, so units stay symmetric",
        strength: None,
        scenario: Scenario { settings: &[], faults: &[] },
    },
    NoZeroGrad => "no-zero-grad", no_zero_grad: bool {
        guide_entry: EntryId::GradientsAreAllZero,
        stage: Stage::Pretraining,
        summary: "never clears the gradients, so every step adds onto all earlier ones",
        strength: None,
        scenario: Scenario { settings: &[], faults: &[(FaultId::NoGradClip, None)] },
    },
    DetachedBlock => "detached-block", detached_block: bool {
        guide_entry: EntryId::GradientsAreAllZero,
        stage: Stage::Pretraining,
        summary: "cuts the graph below the last block: no gradient reaches the layers under it",
        strength: None,
        scenario: Scenario { settings: &[], faults: &[] },
    },
    /// Initial MLP bias under ReLU.
    DeadRelu => "dead-relu", dead_relu: Option<f32> {
        guide_entry: EntryId::GradientsAreAllZero,
        stage: Stage::Pretraining,
        summary: "uses ReLU in the MLP with a negative initial bias, so most units never fire",
        strength: Some(Strength { unit: "bias", default: -1.0, min: -10.0, max: 0.0 }),
        scenario: Scenario { settings: &[], faults: &[] },
    },
    SigmoidActivation => "sigmoid-activation", sigmoid_activation: bool {
        guide_entry: EntryId::VanishingGradients,
        stage: Stage::Pretraining,
        summary: "uses a sigmoid instead of GELU in the MLP",
        strength: None,
        scenario: Scenario { settings: &[(SettingKey::Config, "small")], faults: &[(FaultId::NoResidual, None)] },
    },
    NoResidual => "no-residual", no_residual: bool {
        guide_entry: EntryId::VanishingGradients,
        stage: Stage::Pretraining,
        summary: "removes the residual connections around attention and the MLP",
        strength: None,
        scenario: Scenario { settings: &[], faults: &[] },
    },
    PostNorm => "post-norm", post_norm: bool {
        guide_entry: EntryId::VanishingGradients,
        stage: Stage::Pretraining,
        summary: "normalises after each residual addition (post-norm) instead of before each sublayer",
        strength: None,
        scenario: Scenario { settings: &[(SettingKey::Config, "small"), (SettingKey::Warmup, "0"), (SettingKey::Lr, "0.01")], faults: &[] },
    },
    NaiveLogSoftmax => "naive-log-softmax", naive_log_softmax: bool {
        guide_entry: EntryId::LossBecomesNan,
        stage: Stage::Pretraining,
        summary: "computes the loss as log(softmax(x)) instead of x - logsumexp(x)",
        strength: None,
        scenario: Scenario { settings: &[], faults: &[(FaultId::InitTooLarge, Some(3.0))] },
    },
    SoftmaxNoMaxShift => "softmax-no-max-shift", softmax_no_max_shift: bool {
        guide_entry: EntryId::LossBecomesNan,
        stage: Stage::Pretraining,
        summary: "exponentiates raw scores without subtracting the row maximum",
        strength: None,
        scenario: Scenario { settings: &[], faults: &[(FaultId::LrTooHigh, Some(300.0))] },
    },
    LayernormNoEps => "layernorm-no-eps", layernorm_no_eps: bool {
        guide_entry: EntryId::LossBecomesNan,
        stage: Stage::Pretraining,
        summary: "divides by the standard deviation with no epsilon in LayerNorm",
        strength: None,
        scenario: Scenario { settings: &[], faults: &[(FaultId::InitZero, None)] },
    },
    NoAttnScale => "no-attn-scale", no_attn_scale: bool {
        guide_entry: EntryId::AttentionWeightsAreUniform,
        stage: Stage::Pretraining,
        summary: "leaves attention scores undivided by sqrt(d_k)",
        strength: None,
        scenario: Scenario { settings: &[], faults: &[] },
    },
    NoCausalMask => "no-causal-mask", no_causal_mask: bool {
        guide_entry: EntryId::AttentionLooksAtFutureInCausalModel,
        stage: Stage::Pretraining,
        summary: "lets every position attend to later positions",
        strength: None,
        scenario: Scenario { settings: &[], faults: &[] },
    },
    /// Training tokens kept.
    TinyDataset => "tiny-dataset", tiny_dataset: Option<f32> {
        guide_entry: EntryId::ValidationLossIncreasingWhileTrainingLossDecreases,
        stage: Stage::Pretraining,
        summary: "keeps only the first few thousand tokens of the training split",
        strength: Some(Strength { unit: "tokens", default: 2000.0, min: 100.0, max: 100_000.0 }),
        scenario: Scenario { settings: &[(SettingKey::Steps, "800"), (SettingKey::EvalEvery, "50")], faults: &[] },
    },
    NoRegularization => "no-regularization", no_regularization: bool {
        guide_entry: EntryId::ValidationLossIncreasingWhileTrainingLossDecreases,
        stage: Stage::Pretraining,
        summary: "turns off weight decay and dropout",
        strength: None,
        scenario: Scenario { settings: &[(SettingKey::Steps, "800"), (SettingKey::EvalEvery, "50")], faults: &[(FaultId::TinyDataset, None)] },
    },
    GreedyDecoding => "greedy-decoding", greedy_decoding: bool {
        guide_entry: EntryId::ModelOutputsRepetitiveText,
        stage: Stage::Pretraining,
        summary: "generates with argmax instead of sampling",
        strength: None,
        scenario: Scenario { settings: &[], faults: &[] },
    },
    /// Sampling temperature.
    TemperatureTooLow => "temperature-too-low", temperature_too_low: Option<f32> {
        guide_entry: EntryId::ModelOutputsRepetitiveText,
        stage: Stage::Pretraining,
        summary: "samples at a very low temperature",
        strength: Some(Strength { unit: "temperature", default: 0.1, min: 0.01, max: 1.0 }),
        scenario: Scenario { settings: &[], faults: &[] },
    },
    TokenizerMismatch => "tokenizer-mismatch", tokenizer_mismatch: bool {
        guide_entry: EntryId::ModelOutputsNonsense,
        stage: Stage::Pretraining,
        summary: "decodes generated ids with a different vocabulary than the one trained on",
        strength: None,
        scenario: Scenario { settings: &[], faults: &[] },
    },
    /// Step at which the token embeddings are overwritten.
    CorruptEmbeddings => "corrupt-embeddings", corrupt_embeddings: Option<f32> {
        guide_entry: EntryId::ModelOutputsNonsense,
        stage: Stage::Pretraining,
        summary: "overwrites the token embeddings with noise at a given step",
        strength: Some(Strength { unit: "step", default: 200.0, min: 1.0, max: 1_000_000.0 }),
        scenario: Scenario { settings: &[(SettingKey::Steps, "300")], faults: &[] },
    },
    /// Step at which foreign weights are loaded.
    WrongCheckpoint => "wrong-checkpoint", wrong_checkpoint: Option<f32> {
        guide_entry: EntryId::ModelOutputsNonsense,
        stage: Stage::Pretraining,
        summary: "swaps in the weights of a different, untrained run at a given step",
        strength: Some(Strength { unit: "step", default: 200.0, min: 1.0, max: 1_000_000.0 }),
        scenario: Scenario { settings: &[(SettingKey::Steps, "300")], faults: &[] },
    },
    /// Batch size multiplier.
    BatchTooLarge => "batch-too-large", batch_too_large: Option<f32> {
        guide_entry: EntryId::OutOfMemoryOom,
        stage: Stage::Pretraining,
        summary: "multiplies the batch size far beyond the memory budget",
        strength: Some(Strength { unit: "factor", default: 128.0, min: 2.0, max: 4096.0 }),
        scenario: Scenario { settings: &[], faults: &[] },
    },
    SyncEveryStep => "sync-every-step", sync_every_step: bool {
        guide_entry: EntryId::TrainingIsVerySlow,
        stage: Stage::Pretraining,
        summary: "reads every weight and statistic back after every step, as heavy logging does",
        strength: None,
        scenario: Scenario { settings: &[], faults: &[] },
    },
    /// Characters of text the word vocabulary is built from.
    WordLevelVocab => "word-level-vocab", word_level_vocab: Option<f32> {
        guide_entry: EntryId::ManyUnkTokens,
        stage: Stage::Pretraining,
        summary: "builds a word vocabulary from a small sample of text",
        strength: Some(Strength { unit: "sample chars", default: 300.0, min: 20.0, max: 100_000.0 }),
        scenario: Scenario { settings: &[], faults: &[] },
    },
    LossyNormalization => "lossy-normalization", lossy_normalization: bool {
        guide_entry: EntryId::TokenizationDoesntRoundtrip,
        stage: Stage::Pretraining,
        summary: "lower-cases and folds whitespace before tokenizing",
        strength: None,
        scenario: Scenario { settings: &[], faults: &[] },
    },
    /// Fine-tuning learning rate divided by this factor.
    DpoLrTooLow => "dpo-lr-too-low", dpo_lr_too_low: Option<f32> {
        guide_entry: EntryId::DpoLossNotDecreasing,
        stage: Stage::FineTuning,
        summary: "divides the DPO fine-tuning learning rate by a factor",
        strength: Some(Strength { unit: "factor", default: 1000.0, min: 1.0, max: 1_000_000.0 }),
        scenario: Scenario { settings: &[], faults: &[] },
    },
    /// The β used in place of the run's.
    DpoBetaTooHigh => "dpo-beta-too-high", dpo_beta_too_high: Option<f32> {
        guide_entry: EntryId::DpoLossNotDecreasing,
        stage: Stage::FineTuning,
        summary: "uses a large DPO beta instead of the run's",
        strength: Some(Strength { unit: "beta", default: 10.0, min: 0.01, max: 1000.0 }),
        scenario: Scenario { settings: &[], faults: &[] },
    },
    DpoReferenceNotFrozen => "dpo-reference-not-frozen", dpo_reference_not_frozen: bool {
        guide_entry: EntryId::DpoLossNotDecreasing,
        stage: Stage::FineTuning,
        summary: "uses the live policy as the DPO reference instead of a frozen copy of the starting weights",
        strength: None,
        scenario: Scenario { settings: &[], faults: &[] },
    },
    DpoLogprobBug => "dpo-logprob-bug", dpo_logprob_bug: bool {
        guide_entry: EntryId::DpoLossNotDecreasing,
        stage: Stage::FineTuning,
        summary: "sums DPO log-probabilities over the prompt instead of the response (the mask inverted)",
        strength: None,
        scenario: Scenario { settings: &[], faults: &[] },
    },
    NoKlPenalty => "no-kl-penalty", no_kl_penalty: bool {
        guide_entry: EntryId::RewardIncreasesButQualityDecreases,
        stage: Stage::FineTuning,
        summary: "drops the KL penalty to the frozen reference from the policy-gradient reward",
        strength: None,
        scenario: Scenario { settings: &[], faults: &[] },
    },
}

impl Faults {
    /// Turns on fault `id`; `value` is its strength (the default when `None`). A value for a fault
    /// without a strength and an out-of-range strength are errors naming the fault.
    pub fn set(&mut self, id: FaultId, value: Option<f32>) -> Result<(), ConfigError> {
        let strength = match (id.spec().strength, value) {
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
        self.switch_mut(id).turn_on(strength);
        Ok(())
    }

    /// Whether fault `id` is on.
    pub fn is_on(&self, id: FaultId) -> bool {
        self.state(id).is_some()
    }

    /// Fault `id` as set: `None` when off, else `Some` of its strength (`None` for a fault without one).
    pub fn state(&self, id: FaultId) -> Option<Option<f32>> {
        self.switch(id).reading()
    }

    /// The faults that are on, as `(id, strength)` in table order.
    pub fn active(&self) -> Vec<(FaultId, Option<f32>)> {
        FaultId::ALL.iter().filter_map(|&id| self.switch(id).reading().map(|v| (id, v))).collect()
    }

    /// Re-checks every strength (a deserialised struct may carry anything).
    pub fn validate(&self) -> Result<(), ConfigError> {
        let mut check = Faults::default();
        for (id, v) in self.active() {
            check.set(id, v)?;
        }
        Ok(())
    }

    /// Refuses any fault that is on and belongs to another stage than `stage`, naming where it
    /// applies.
    pub fn only_for(&self, stage: Stage) -> Result<(), ConfigError> {
        match self.active().into_iter().find(|&(id, _)| id.spec().stage != stage) {
            None => Ok(()),
            Some((id, _)) => Err(ConfigError::new(
                "fault",
                match stage {
                    Stage::Pretraining => format!(
                        "'{id}' is a fine-tuning fault: it breaks DPO fine-tuning, so turn it on with \
                     `faultline align dpo --fault {id}` or on the alignment page, not in pretraining"
                    ),
                    Stage::FineTuning => format!(
                        "'{id}' is a pretraining fault: turn it on for the base model's training \
                     (`faultline train --fault {id}` or the trainer), not for fine-tuning"
                    ),
                },
            )),
        }
    }

    /// The faults of one stage only (the pretraining of a fine-tuning run's base model gets none of
    /// the fine-tuning faults).
    pub fn of_stage(&self, stage: Stage) -> Faults {
        let mut kept = Faults::default();
        for (id, v) in self.active().into_iter().filter(|&(id, _)| id.spec().stage == stage) {
            kept.switch_mut(id).turn_on(v.unwrap_or(0.0));
        }
        kept
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

    /// The decoding `opts` after the sampling faults.
    pub fn apply_sampling(&self, opts: &SamplingConfig) -> SamplingConfig {
        let mut opts = opts.clone();
        if self.greedy_decoding {
            opts.greedy = true; // faults.greedy_decoding: always the argmax
        }
        if let Some(t) = self.temperature_too_low {
            opts.temperature = t; // faults.temperature_too_low: a nearly one-hot distribution
        }
        opts
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
            assert!(faults.is_on(f.id));
            let active = faults.active();
            assert_eq!(active.len(), 1, "{}", f.id);
            assert_eq!(active[0].0, f.id);
            assert_eq!(active[0].1, f.strength.map(|s| s.default));
            faults.validate().unwrap();
        }
    }

    #[test]
    fn the_table_is_in_the_order_of_its_ids() {
        let ids: Vec<FaultId> = FAULTS.iter().map(|f| f.id).collect();
        assert_eq!(ids, FaultId::ALL);
    }

    #[test]
    fn each_switch_serialises_under_its_faults_spelling() {
        for f in FAULTS {
            let mut faults = Faults::default();
            faults.set(f.id, None).unwrap();
            let json = serde_json::to_value(&faults).unwrap();
            let on: Vec<&String> = json
                .as_object()
                .unwrap()
                .iter()
                .filter(|(_, v)| !v.is_null() && v.as_bool() != Some(false))
                .map(|(k, _)| k)
                .collect();
            assert_eq!(on, [f.id.as_str()]);
        }
    }

    #[test]
    fn bad_strengths_are_named() {
        let mut f = Faults::default();
        assert!(f.set(FaultId::NoCausalMask, Some(3.0)).unwrap_err().message.contains("takes no value"));
        let e = f.set(FaultId::LrTooHigh, Some(0.5)).unwrap_err();
        assert!(e.message.contains("between") && e.message.contains("lr-too-high"));
        f.set(FaultId::LrTooHigh, Some(300.0)).unwrap();
        assert_eq!(f.apply_lr(1e-3), 0.3);
    }

    #[test]
    fn spellings_are_unique_kebab_case() {
        let mut ids: Vec<&str> = FaultId::ALL.iter().map(|f| f.as_str()).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), FAULTS.len());
        assert!(ids.iter().all(|id| id.chars().all(|c| c.is_ascii_lowercase() || c == '-')));
    }

    #[test]
    fn each_stage_refuses_the_other_stages_faults_by_name() {
        let mut f = Faults::default();
        f.set(FaultId::DpoReferenceNotFrozen, None).unwrap();
        f.set(FaultId::NoCausalMask, None).unwrap();
        let e = f.only_for(Stage::Pretraining).unwrap_err();
        assert!(
            e.message.contains("'dpo-reference-not-frozen' is a fine-tuning fault") && e.message.contains("align dpo")
        );
        let e = f.only_for(Stage::FineTuning).unwrap_err();
        assert!(e.message.contains("'no-causal-mask' is a pretraining fault"), "{}", e.message);
        assert_eq!(f.of_stage(Stage::Pretraining).active(), [(FaultId::NoCausalMask, None)]);
        assert_eq!(f.of_stage(Stage::FineTuning).active(), [(FaultId::DpoReferenceNotFrozen, None)]);
        assert!(Faults::default().only_for(Stage::FineTuning).is_ok());
        let fine: Vec<FaultId> = FAULTS.iter().filter(|s| s.stage == Stage::FineTuning).map(|s| s.id).collect();
        assert!(fine.iter().all(|id| id.spec().guide_entry.section() == faultline_guide::SectionId::AlignmentIssues));
    }

    #[test]
    fn scenarios_read_as_the_command_line_writes_them() {
        assert_eq!(FaultId::NoGradClip.spec().scenario.to_string(), "optimizer=sgd lr=0.35");
        assert_eq!(FaultId::NaiveLogSoftmax.spec().scenario.to_string(), "fault=init-too-large=3");
        assert!(FaultId::NoCausalMask.spec().scenario.is_empty());
    }
}
