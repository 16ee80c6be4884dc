//! The settings table: every run setting a learner can change, declared once.
//!
//! [`SETTINGS`] drives the command line's flags (`--lr 0.003`), the app's URL (`?lr=0.003`), its
//! form and the docs. Values travel as text and are parsed here, so every surface gives the same
//! message for the same mistake.

use crate::config::{CorpusSource, OptimizerKind, Preset, RunConfig};
use crate::error::ConfigError;
use crate::faults::{FaultId, Stage};
use faultline_guide::spelled_ids;
use serde::Serialize;
use std::fmt;

spelled_ids! {
    /// A run setting, in the order forms show them (the order of [`SETTINGS`]).
    pub enum SettingKey {
        Config => "config",
        Heads => "heads",
        Corpus => "corpus",
        Steps => "steps",
        Seed => "seed",
        Lr => "lr",
        Optimizer => "optimizer",
        Warmup => "warmup",
        GradClip => "grad-clip",
        WeightDecay => "weight-decay",
        Dropout => "dropout",
        Batch => "batch",
        GradAccum => "grad-accum",
        MemoryBudget => "memory-budget",
        OneBatch => "one-batch",
        EvalEvery => "eval-every",
        Temperature => "temperature",
        TopK => "top-k",
        TopP => "top-p",
        RepetitionPenalty => "repetition-penalty",
        Greedy => "greedy",
        SampleTokens => "sample-tokens",
        Beta => "beta",
        FineTuneLr => "fine-tune-lr",
        PretrainSteps => "pretrain-steps",
        LoraRank => "lora-rank",
        KlCoef => "kl-coef",
        RewardModels => "reward-models",
        RewardPairs => "reward-pairs",
        EntropyBonus => "entropy-bonus",
    }
}

/// What values a setting takes.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SettingKind {
    Integer { min: u64, max: u64 },
    Number { min: f64, max: f64 },
    Choice(&'static [&'static str]),
    Flag,
}

/// One row of the settings table.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Setting {
    /// The flag and URL parameter.
    pub key: SettingKey,
    pub label: &'static str,
    pub help: &'static str,
    pub kind: SettingKind,
    /// The stage whose computation it sets: the trainer's form shows the pretraining settings, the
    /// alignment page both.
    pub stage: Stage,
}

const fn int(key: SettingKey, label: &'static str, help: &'static str, min: u64, max: u64) -> Setting {
    Setting { key, label, help, kind: SettingKind::Integer { min, max }, stage: Stage::Pretraining }
}

const fn num(key: SettingKey, label: &'static str, help: &'static str, min: f64, max: f64) -> Setting {
    Setting { key, label, help, kind: SettingKind::Number { min, max }, stage: Stage::Pretraining }
}

/// A fine-tuning setting.
const fn fine_tuning(setting: Setting) -> Setting {
    Setting { stage: Stage::FineTuning, ..setting }
}

/// Every setting, in the order forms show them.
pub const SETTINGS: &[Setting] = &[
    Setting {
        key: SettingKey::Config,
        label: "Model",
        help: "reference configuration: tiny (2 layers, d 64) or small (4 layers, d 128)",
        kind: SettingKind::Choice(&["tiny", "small"]),
        stage: Stage::Pretraining,
    },
    Setting {
        key: SettingKey::Heads,
        label: "Attention heads",
        help: "heads per attention layer; fewer heads means wider ones (d_k = d_model / heads)",
        kind: SettingKind::Choice(&["1", "2", "4", "8"]),
        stage: Stage::Pretraining,
    },
    Setting {
        key: SettingKey::Corpus,
        label: "Corpus",
        help: "built-in training text",
        kind: SettingKind::Choice(&["toy-english", "arithmetic", "sorting"]),
        stage: Stage::Pretraining,
    },
    int(SettingKey::Steps, "Steps", "optimiser steps to train", 1, crate::config::MAX_STEPS as u64),
    int(SettingKey::Seed, "Seed", "seeds the weights, the batches and the split", 0, u64::MAX),
    num(SettingKey::Lr, "Learning rate", "peak learning rate, reached after warmup", 1e-9, 100.0),
    Setting {
        key: SettingKey::Optimizer,
        label: "Optimizer",
        help: "adamw or sgd (with momentum)",
        kind: SettingKind::Choice(&["adamw", "sgd"]),
        stage: Stage::Pretraining,
    },
    int(
        SettingKey::Warmup,
        "Warmup steps",
        "steps of linear warmup from 0 to the peak rate",
        0,
        crate::config::MAX_STEPS as u64,
    ),
    num(SettingKey::GradClip, "Gradient clip", "global gradient-norm ceiling; 0 turns clipping off", 0.0, 1e6),
    num(SettingKey::WeightDecay, "Weight decay", "decoupled weight decay of matrices and embeddings", 0.0, 1.0),
    num(SettingKey::Dropout, "Dropout", "probability of dropping an activation while training", 0.0, 0.95),
    int(SettingKey::Batch, "Batch size", "sequences per micro-batch", 1, crate::config::MAX_BATCH as u64),
    int(SettingKey::GradAccum, "Gradient accumulation", "micro-batches summed before each update", 1, 1024),
    int(SettingKey::MemoryBudget, "Memory budget (MiB)", "the most memory the run may allocate", 1, 65_536),
    Setting {
        key: SettingKey::OneBatch,
        label: "Overfit one batch",
        help: "train on the same batch at every step: a model and loss that can learn drive its loss towards zero",
        kind: SettingKind::Flag,
        stage: Stage::Pretraining,
    },
    int(SettingKey::EvalEvery, "Evaluate every", "steps between evaluations", 1, 1_000_000),
    num(SettingKey::Temperature, "Temperature", "sampling temperature", 1e-3, 100.0),
    int(SettingKey::TopK, "Top-k", "sample among the k most likely tokens; 0 turns it off", 0, 1_000_000),
    num(
        SettingKey::TopP,
        "Top-p",
        "sample from the smallest set with this much probability; 1 turns it off",
        1e-3,
        1.0,
    ),
    num(SettingKey::RepetitionPenalty, "Repetition penalty", "discourages recent tokens; 1 turns it off", 0.01, 100.0),
    Setting {
        key: SettingKey::Greedy,
        label: "Greedy decoding",
        help: "always take the most likely token",
        kind: SettingKind::Flag,
        stage: Stage::Pretraining,
    },
    int(SettingKey::SampleTokens, "Sample length", "tokens generated at each evaluation", 0, 10_000),
    fine_tuning(num(
        SettingKey::Beta,
        "DPO β",
        "how strongly DPO's implicit reward counts the policy's drift from the reference; 0.1 is the usual start",
        1e-4,
        1000.0,
    )),
    fine_tuning(num(
        SettingKey::FineTuneLr,
        "Fine-tuning learning rate",
        "AdamW's constant rate while fine-tuning",
        1e-9,
        1.0,
    )),
    fine_tuning(int(
        SettingKey::PretrainSteps,
        "Pretraining steps",
        "steps the base model trains before fine-tuning starts",
        1,
        crate::config::MAX_STEPS as u64,
    )),
    fine_tuning(int(
        SettingKey::LoraRank,
        "LoRA rank",
        "rank of the adapters on every attention and MLP matrix while fine-tuning; 0 fine-tunes every weight",
        0,
        512,
    )),
    fine_tuning(num(
        SettingKey::KlCoef,
        "KL coefficient",
        "policy-gradient fine-tuning: how much each nat of drift from the reference costs in the reward",
        0.0,
        1000.0,
    )),
    fine_tuning(int(
        SettingKey::RewardModels,
        "Reward models",
        "policy-gradient fine-tuning: reward models, each trained on its own pairs, scoring by their minimum",
        1,
        16,
    )),
    fine_tuning(int(
        SettingKey::RewardPairs,
        "Reward-model pairs",
        "policy-gradient fine-tuning: preference pairs each reward model trains on",
        8,
        100_000,
    )),
    fine_tuning(num(
        SettingKey::EntropyBonus,
        "Entropy bonus",
        "policy-gradient fine-tuning: reward per nat of the policy's entropy, for diverse answers",
        0.0,
        100.0,
    )),
];

/// Looks a setting up by key.
impl SettingKey {
    /// The setting's row of the table.
    pub fn setting(self) -> &'static Setting {
        &SETTINGS[self.index()]
    }
}

/// Looks a setting up by its spelling.
pub fn setting(key: &str) -> Option<&'static Setting> {
    key.parse::<SettingKey>().ok().map(SettingKey::setting)
}

impl Setting {
    /// Parses `value` for this setting, checking its range; the message names the setting.
    fn parse(&self, value: &str) -> Result<ParsedValue, ConfigError> {
        let v = value.trim();
        let err = |m: String| ConfigError::new(self.key.as_str(), m);
        match self.kind {
            SettingKind::Integer { min, max } => {
                let n: u64 = v.parse().map_err(|_| err(format!("'{v}' is not a whole number")))?;
                if n < min || n > max {
                    return Err(err(format!("must be between {min} and {max}, got {n}")));
                }
                Ok(ParsedValue::Integer(n))
            }
            SettingKind::Number { min, max } => {
                let x: f64 = v.parse().map_err(|_| err(format!("'{v}' is not a number")))?;
                if !x.is_finite() || x < min || x > max {
                    return Err(err(format!("must be between {min} and {max}, got {v}")));
                }
                Ok(ParsedValue::Number(x))
            }
            SettingKind::Choice(options) => {
                if options.contains(&v) {
                    Ok(ParsedValue::Choice(v.to_string()))
                } else {
                    Err(err(format!("'{v}' is not one of {}", options.join(", "))))
                }
            }
            SettingKind::Flag => match v {
                "" | "1" | "true" | "on" => Ok(ParsedValue::Flag(true)),
                "0" | "false" | "off" => Ok(ParsedValue::Flag(false)),
                _ => Err(err(format!("'{v}' is not on or off"))),
            },
        }
    }
}

enum ParsedValue {
    Integer(u64),
    Number(f64),
    Choice(String),
    Flag(bool),
}

impl ParsedValue {
    fn int(&self) -> u64 {
        match self {
            ParsedValue::Integer(n) => *n,
            _ => unreachable!("the table declares this setting an integer"),
        }
    }
    fn usize(&self) -> usize {
        usize::try_from(self.int()).unwrap_or(usize::MAX)
    }
    fn num(&self) -> f32 {
        match self {
            ParsedValue::Number(x) => *x as f32,
            _ => unreachable!("the table declares this setting a number"),
        }
    }
    fn text(&self) -> &str {
        match self {
            ParsedValue::Choice(s) => s,
            _ => unreachable!("the table declares this setting a choice"),
        }
    }
    fn flag(&self) -> bool {
        matches!(self, ParsedValue::Flag(true))
    }
}

impl RunConfig {
    /// Sets one setting from its text form. `config` also resets the batch size to the preset's.
    pub fn set(&mut self, key: SettingKey, value: &str) -> Result<(), ConfigError> {
        let v = key.setting().parse(value)?;
        match key {
            SettingKey::Config => {
                self.preset = Preset::parse(v.text())?;
                self.batch_size = self.preset.batch_size();
            }
            SettingKey::Heads => self.heads = v.text().parse().expect("the table lists whole numbers"),
            SettingKey::Corpus => self.corpus = CorpusSource::Builtin(v.text().to_string()),
            SettingKey::Steps => self.steps = v.usize(),
            SettingKey::Seed => self.seed = v.int(),
            SettingKey::Lr => self.lr = v.num(),
            SettingKey::Optimizer => self.optimizer = OptimizerKind::parse(v.text())?,
            SettingKey::Warmup => self.warmup_steps = v.usize(),
            SettingKey::GradClip => self.grad_clip = v.num(),
            SettingKey::WeightDecay => self.weight_decay = v.num(),
            SettingKey::Dropout => self.dropout = v.num(),
            SettingKey::Batch => self.batch_size = v.usize(),
            SettingKey::GradAccum => self.grad_accum = v.usize(),
            SettingKey::MemoryBudget => self.memory_budget_mb = v.usize(),
            SettingKey::OneBatch => self.one_batch = v.flag(),
            SettingKey::EvalEvery => self.eval_every = v.usize(),
            SettingKey::Temperature => self.sampling.temperature = v.num(),
            SettingKey::TopK => self.sampling.top_k = v.usize(),
            SettingKey::TopP => self.sampling.top_p = v.num(),
            SettingKey::RepetitionPenalty => self.sampling.repetition_penalty = v.num(),
            SettingKey::Greedy => self.sampling.greedy = v.flag(),
            SettingKey::SampleTokens => self.sample_tokens = v.usize(),
            SettingKey::Beta => self.fine_tuning.beta = v.num(),
            SettingKey::FineTuneLr => self.fine_tuning.lr = v.num(),
            SettingKey::PretrainSteps => self.fine_tuning.pretrain_steps = v.usize(),
            SettingKey::LoraRank => self.fine_tuning.lora_rank = v.usize(),
            SettingKey::KlCoef => self.fine_tuning.kl_coef = v.num(),
            SettingKey::RewardModels => self.fine_tuning.reward_models = v.usize(),
            SettingKey::RewardPairs => self.fine_tuning.reward_pairs = v.usize(),
            SettingKey::EntropyBonus => self.fine_tuning.entropy_bonus = v.num(),
        }
        Ok(())
    }

    /// The text form of one setting (what `set` accepts back).
    pub fn get(&self, key: SettingKey) -> String {
        match key {
            SettingKey::Config => self.preset.id().to_string(),
            SettingKey::Heads => self.heads.to_string(),
            SettingKey::Corpus => self.corpus.name().to_string(),
            SettingKey::Steps => self.steps.to_string(),
            SettingKey::Seed => self.seed.to_string(),
            SettingKey::Lr => self.lr.to_string(),
            SettingKey::Optimizer => self.optimizer.id().to_string(),
            SettingKey::Warmup => self.warmup_steps.to_string(),
            SettingKey::GradClip => self.grad_clip.to_string(),
            SettingKey::WeightDecay => self.weight_decay.to_string(),
            SettingKey::Dropout => self.dropout.to_string(),
            SettingKey::Batch => self.batch_size.to_string(),
            SettingKey::GradAccum => self.grad_accum.to_string(),
            SettingKey::MemoryBudget => self.memory_budget_mb.to_string(),
            SettingKey::OneBatch => if self.one_batch { "on" } else { "off" }.to_string(),
            SettingKey::EvalEvery => self.eval_every.to_string(),
            SettingKey::Temperature => self.sampling.temperature.to_string(),
            SettingKey::TopK => self.sampling.top_k.to_string(),
            SettingKey::TopP => self.sampling.top_p.to_string(),
            SettingKey::RepetitionPenalty => self.sampling.repetition_penalty.to_string(),
            SettingKey::Greedy => if self.sampling.greedy { "on" } else { "off" }.to_string(),
            SettingKey::SampleTokens => self.sample_tokens.to_string(),
            SettingKey::Beta => self.fine_tuning.beta.to_string(),
            SettingKey::FineTuneLr => self.fine_tuning.lr.to_string(),
            SettingKey::PretrainSteps => self.fine_tuning.pretrain_steps.to_string(),
            SettingKey::LoraRank => self.fine_tuning.lora_rank.to_string(),
            SettingKey::KlCoef => self.fine_tuning.kl_coef.to_string(),
            SettingKey::RewardModels => self.fine_tuning.reward_models.to_string(),
            SettingKey::RewardPairs => self.fine_tuning.reward_pairs.to_string(),
            SettingKey::EntropyBonus => self.fine_tuning.entropy_bonus.to_string(),
        }
    }

    /// Applies one change: a setting's value, or a fault switched on.
    pub fn apply(&mut self, change: Change<'_>) -> Result<(), ConfigError> {
        match change {
            Change::Setting(key, value) => self.set(key, value),
            Change::Fault(id, strength) => self.faults.set(id, strength),
        }
    }

    /// A configuration from changes on top of the tiny preset: `config` applies first wherever it
    /// appears (it resets the batch size), the rest in order.
    pub fn from_changes<'a>(changes: impl IntoIterator<Item = Change<'a>>) -> Result<RunConfig, ConfigError> {
        let changes: Vec<Change<'a>> = changes.into_iter().collect();
        let mut cfg = RunConfig::default();
        let (presets, rest): (Vec<_>, Vec<_>) =
            changes.into_iter().partition(|c| matches!(c, Change::Setting(SettingKey::Config, _)));
        for change in presets.into_iter().chain(rest) {
            cfg.apply(change)?;
        }
        Ok(cfg)
    }

    /// A configuration from `key=value` pairs (a URL's query, the command line's flags): see
    /// [`Change::parse`] and [`RunConfig::from_changes`].
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Result<RunConfig, ConfigError> {
        let changes = pairs.into_iter().map(|(k, v)| Change::parse(k, v)).collect::<Result<Vec<_>, _>>()?;
        RunConfig::from_changes(changes)
    }

    /// The changes from the defaults as `key=value` pairs (the preset always, then every setting that
    /// differs from the preset's, then every fault): what a shareable link carries.
    pub fn to_pairs(&self) -> Vec<(String, String)> {
        let base = RunConfig::preset(self.preset);
        let mut pairs: Vec<(String, String)> = SettingKey::ALL
            .iter()
            .filter(|&&key| key == SettingKey::Config || self.get(key) != base.get(key))
            .map(|&key| Change::Setting(key, &self.get(key)).pair())
            .collect();
        pairs.extend(self.faults.active().into_iter().map(|(id, v)| Change::Fault(id, v).pair()));
        pairs
    }
}

/// One thing two runs' set-ups can differ in: a setting, or a fault (on, off or at another strength).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Knob {
    Setting(SettingKey),
    Fault(FaultId),
}

impl fmt::Display for Knob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Knob::Setting(key) => write!(f, "{key}"),
            Knob::Fault(id) => write!(f, "the fault {id}"),
        }
    }
}

impl RunConfig {
    /// What `other` changes from this set-up, in table order: each setting whose value differs (the
    /// corpus also when two own texts share a name), then each fault switched on or off or set to
    /// another strength.
    pub fn differences(&self, other: &RunConfig) -> Vec<Knob> {
        let settings = SettingKey::ALL.iter().copied().filter(|&key| {
            self.get(key) != other.get(key) || (key == SettingKey::Corpus && self.corpus != other.corpus)
        });
        let faults = FaultId::ALL.iter().copied().filter(|&id| self.faults.state(id) != other.faults.state(id));
        settings.map(Knob::Setting).chain(faults.map(Knob::Fault)).collect()
    }

    /// A knob's value in this set-up, in words: a setting's text; a fault's "on", "on at 30" or "off".
    pub fn knob_value(&self, knob: Knob) -> String {
        match knob {
            Knob::Setting(key) => self.get(key),
            Knob::Fault(id) => match self.faults.state(id) {
                None => "off".to_string(),
                Some(None) => "on".to_string(),
                Some(Some(v)) => format!("on at {v}"),
            },
        }
    }
}

/// One change to a run's set-up, as links, the command line and exercises write it: `key=value` for
/// a setting, `fault=ID` or `fault=ID=STRENGTH` for a fault. The one parser of that form is
/// [`Change::parse`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Change<'a> {
    /// A setting and its value as text (checked when applied).
    Setting(SettingKey, &'a str),
    /// A fault switched on, at a strength or its default.
    Fault(FaultId, Option<f32>),
}

/// The key that switches a fault on (`fault=ID[=STRENGTH]`).
pub const FAULT_KEY: &str = "fault";

impl<'a> Change<'a> {
    /// Reads `key=value`: `key` a setting, or `fault` with `ID` or `ID=STRENGTH`. Unknown settings and
    /// faults, and strengths that are not numbers, are errors naming what was wrong.
    pub fn parse(key: &str, value: &'a str) -> Result<Change<'a>, ConfigError> {
        if key == FAULT_KEY {
            let (id, strength) = match value.split_once('=') {
                None => (value, None),
                Some((id, v)) => {
                    let number: f32 = v
                        .trim()
                        .parse()
                        .map_err(|_| ConfigError::new(FAULT_KEY, format!("fault '{id}': '{v}' is not a number")))?;
                    (id, Some(number))
                }
            };
            let id: FaultId = id
                .trim()
                .parse()
                .map_err(|_| ConfigError::new(FAULT_KEY, format!("unknown fault '{id}' (see `faultline faults`)")))?;
            return Ok(Change::Fault(id, strength));
        }
        let setting: SettingKey = key.parse().map_err(|_| ConfigError::new(key, format!("unknown setting '{key}'")))?;
        Ok(Change::Setting(setting, value))
    }
}

impl Change<'_> {
    /// The `(key, value)` pair a link or the command line writes.
    pub fn pair(&self) -> (String, String) {
        match self {
            Change::Setting(key, value) => (key.to_string(), value.to_string()),
            Change::Fault(id, None) => (FAULT_KEY.to_string(), id.to_string()),
            Change::Fault(id, Some(v)) => (FAULT_KEY.to_string(), format!("{id}={v}")),
        }
    }
}

impl fmt::Display for Change<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (key, value) = self.pair();
        write!(f, "{key}={value}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_setting_round_trips_through_its_text() {
        let cfg = RunConfig::preset(Preset::Small);
        for s in SETTINGS {
            let text = cfg.get(s.key);
            let mut copy = RunConfig::default();
            copy.set(SettingKey::Config, "small").unwrap();
            copy.set(s.key, &text).unwrap_or_else(|e| panic!("{}: {e}", s.key));
            assert_eq!(copy.get(s.key), text, "{}", s.key);
        }
    }

    #[test]
    fn the_table_is_in_the_order_of_its_keys() {
        let keys: Vec<SettingKey> = SETTINGS.iter().map(|s| s.key).collect();
        assert_eq!(keys, SettingKey::ALL);
    }

    #[test]
    fn pairs_round_trip_with_faults() {
        let pairs = [("lr", "0.01"), ("fault", "lr-too-high=300"), ("config", "small"), ("fault", "no-causal-mask")];
        let cfg = RunConfig::from_pairs(pairs).unwrap();
        assert_eq!(cfg.preset, Preset::Small);
        assert_eq!(cfg.lr, 0.01);
        assert_eq!(cfg.faults.lr_too_high, Some(300.0));
        let back = cfg.to_pairs();
        let again = RunConfig::from_pairs(back.iter().map(|(k, v)| (k.as_str(), v.as_str()))).unwrap();
        assert_eq!(again, cfg);
    }

    #[test]
    fn one_parser_reads_settings_and_faults() {
        assert_eq!(Change::parse("lr", "0.01"), Ok(Change::Setting(SettingKey::Lr, "0.01")));
        assert_eq!(Change::parse("fault", "no-causal-mask"), Ok(Change::Fault(FaultId::NoCausalMask, None)));
        assert_eq!(Change::parse("fault", "lr-too-high=30"), Ok(Change::Fault(FaultId::LrTooHigh, Some(30.0))));
        for change in [Change::Setting(SettingKey::TopK, "5"), Change::Fault(FaultId::DeadRelu, Some(-2.0))] {
            let (key, value) = change.pair();
            assert_eq!(Change::parse(&key, &value), Ok(change));
        }
        assert!(Change::parse("fault", "no-such-fault").unwrap_err().message.contains("no-such-fault"));
        assert!(Change::parse("fault", "lr-too-high=abc").unwrap_err().message.contains("not a number"));
        assert_eq!(Change::parse("nope", "1").unwrap_err().field, "nope");
    }

    #[test]
    fn differences_name_each_setting_and_fault_that_changed() {
        let base = RunConfig::from_pairs([("steps", "60"), ("fault", "lr-too-high")]).unwrap();
        assert_eq!(base.differences(&base), []);
        let other = RunConfig::from_pairs([
            ("steps", "60"),
            ("seed", "7"),
            ("fault", "lr-too-high=30"),
            ("fault", "no-causal-mask"),
        ])
        .unwrap();
        let knobs =
            [Knob::Setting(SettingKey::Seed), Knob::Fault(FaultId::LrTooHigh), Knob::Fault(FaultId::NoCausalMask)];
        assert_eq!(base.differences(&other), knobs);
        assert_eq!(other.differences(&base), knobs, "the same knobs either way round");
        let values: Vec<String> = knobs.iter().map(|&k| base.knob_value(k)).collect();
        assert_eq!(values, ["1", "on at 300", "off"]);
        assert_eq!(RunConfig::default().knob_value(Knob::Fault(FaultId::NoCausalMask)), "off");
        assert_eq!(other.knob_value(Knob::Fault(FaultId::NoCausalMask)), "on");
        assert_eq!(Knob::Fault(FaultId::NoCausalMask).to_string(), "the fault no-causal-mask");
    }

    #[test]
    fn bad_values_name_the_setting() {
        let mut cfg = RunConfig::default();
        let e = cfg.set(SettingKey::Lr, "abc").unwrap_err();
        assert_eq!((e.field.as_str(), e.message.contains("not a number")), ("lr", true));
        assert_eq!(cfg.set(SettingKey::Steps, "-5").unwrap_err().field, "steps");
        assert_eq!(cfg.set(SettingKey::Lr, "NaN").unwrap_err().field, "lr");
        assert_eq!(cfg.set(SettingKey::Optimizer, "adam").unwrap_err().field, "optimizer");
        assert_eq!(RunConfig::from_pairs([("nope", "1")]).unwrap_err().field, "nope");
        assert_eq!(cfg, RunConfig::default(), "a refused value changes nothing");
    }
}
