//! The settings table: every run setting a learner can change, declared once.
//!
//! [`SETTINGS`] drives the command line's flags (`--lr 0.003`), the app's URL (`?lr=0.003`), its
//! form and the docs. Values travel as text and are parsed here, so every surface gives the same
//! message for the same mistake.

use crate::config::{CorpusSource, OptimizerKind, Preset, RunConfig};
use crate::error::ConfigError;
use serde::Serialize;

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
    /// The flag and URL parameter name.
    pub key: &'static str,
    pub label: &'static str,
    pub help: &'static str,
    pub kind: SettingKind,
}

const fn int(key: &'static str, label: &'static str, help: &'static str, min: u64, max: u64) -> Setting {
    Setting { key, label, help, kind: SettingKind::Integer { min, max } }
}

const fn num(key: &'static str, label: &'static str, help: &'static str, min: f64, max: f64) -> Setting {
    Setting { key, label, help, kind: SettingKind::Number { min, max } }
}

/// Every setting, in the order forms show them.
pub const SETTINGS: &[Setting] = &[
    Setting {
        key: "config",
        label: "Model",
        help: "reference configuration: tiny (2 layers, d 64) or small (4 layers, d 128)",
        kind: SettingKind::Choice(&["tiny", "small"]),
    },
    Setting {
        key: "heads",
        label: "Attention heads",
        help: "heads per attention layer; fewer heads means wider ones (d_k = d_model / heads)",
        kind: SettingKind::Choice(&["1", "2", "4", "8"]),
    },
    Setting {
        key: "corpus",
        label: "Corpus",
        help: "built-in training text",
        kind: SettingKind::Choice(&["toy-english", "arithmetic", "sorting"]),
    },
    int("steps", "Steps", "optimiser steps to train", 1, crate::config::MAX_STEPS as u64),
    int("seed", "Seed", "seeds the weights, the batches and the split", 0, u64::MAX),
    num("lr", "Learning rate", "peak learning rate, reached after warmup", 1e-9, 100.0),
    Setting {
        key: "optimizer",
        label: "Optimizer",
        help: "adamw or sgd (with momentum)",
        kind: SettingKind::Choice(&["adamw", "sgd"]),
    },
    int("warmup", "Warmup steps", "steps of linear warmup from 0 to the peak rate", 0, crate::config::MAX_STEPS as u64),
    num("grad-clip", "Gradient clip", "global gradient-norm ceiling; 0 turns clipping off", 0.0, 1e6),
    num("weight-decay", "Weight decay", "decoupled weight decay of matrices and embeddings", 0.0, 1.0),
    num("dropout", "Dropout", "probability of dropping an activation while training", 0.0, 0.95),
    int("batch", "Batch size", "sequences per micro-batch", 1, crate::config::MAX_BATCH as u64),
    int("grad-accum", "Gradient accumulation", "micro-batches summed before each update", 1, 1024),
    int("memory-budget", "Memory budget (MiB)", "the most memory the run may allocate", 1, 65_536),
    int("eval-every", "Evaluate every", "steps between evaluations", 1, 1_000_000),
    num("temperature", "Temperature", "sampling temperature", 1e-3, 100.0),
    int("top-k", "Top-k", "sample among the k most likely tokens; 0 turns it off", 0, 1_000_000),
    num("top-p", "Top-p", "sample from the smallest set with this much probability; 1 turns it off", 1e-3, 1.0),
    num("repetition-penalty", "Repetition penalty", "discourages recent tokens; 1 turns it off", 0.01, 100.0),
    Setting {
        key: "greedy",
        label: "Greedy decoding",
        help: "always take the most likely token",
        kind: SettingKind::Flag,
    },
    int("sample-tokens", "Sample length", "tokens generated at each evaluation", 0, 10_000),
];

/// Looks a setting up by key.
pub fn setting(key: &str) -> Option<&'static Setting> {
    SETTINGS.iter().find(|s| s.key == key)
}

impl Setting {
    /// Parses `value` for this setting, checking its range; the message names the setting.
    fn parse(&self, value: &str) -> Result<ParsedValue, ConfigError> {
        let v = value.trim();
        let err = |m: String| ConfigError::new(self.key, m);
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
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), ConfigError> {
        let s = setting(key).ok_or_else(|| ConfigError::new(key, format!("unknown setting '{key}'")))?;
        let v = s.parse(value)?;
        match key {
            "config" => {
                self.preset = Preset::parse(v.text())?;
                self.batch_size = self.preset.batch_size();
            }
            "heads" => self.heads = v.text().parse().expect("the table lists whole numbers"),
            "corpus" => self.corpus = CorpusSource::Builtin(v.text().to_string()),
            "steps" => self.steps = v.usize(),
            "seed" => self.seed = v.int(),
            "lr" => self.lr = v.num(),
            "optimizer" => self.optimizer = OptimizerKind::parse(v.text())?,
            "warmup" => self.warmup_steps = v.usize(),
            "grad-clip" => self.grad_clip = v.num(),
            "weight-decay" => self.weight_decay = v.num(),
            "dropout" => self.dropout = v.num(),
            "batch" => self.batch_size = v.usize(),
            "grad-accum" => self.grad_accum = v.usize(),
            "memory-budget" => self.memory_budget_mb = v.usize(),
            "eval-every" => self.eval_every = v.usize(),
            "temperature" => self.sampling.temperature = v.num(),
            "top-k" => self.sampling.top_k = v.usize(),
            "top-p" => self.sampling.top_p = v.num(),
            "repetition-penalty" => self.sampling.repetition_penalty = v.num(),
            "greedy" => self.sampling.greedy = v.flag(),
            "sample-tokens" => self.sample_tokens = v.usize(),
            _ => unreachable!("every key in SETTINGS has a field"),
        }
        Ok(())
    }

    /// The text form of one setting (what `set` accepts back).
    pub fn get(&self, key: &str) -> Option<String> {
        Some(match key {
            "config" => self.preset.id().to_string(),
            "heads" => self.heads.to_string(),
            "corpus" => self.corpus.name().to_string(),
            "steps" => self.steps.to_string(),
            "seed" => self.seed.to_string(),
            "lr" => self.lr.to_string(),
            "optimizer" => self.optimizer.id().to_string(),
            "warmup" => self.warmup_steps.to_string(),
            "grad-clip" => self.grad_clip.to_string(),
            "weight-decay" => self.weight_decay.to_string(),
            "dropout" => self.dropout.to_string(),
            "batch" => self.batch_size.to_string(),
            "grad-accum" => self.grad_accum.to_string(),
            "memory-budget" => self.memory_budget_mb.to_string(),
            "eval-every" => self.eval_every.to_string(),
            "temperature" => self.sampling.temperature.to_string(),
            "top-k" => self.sampling.top_k.to_string(),
            "top-p" => self.sampling.top_p.to_string(),
            "repetition-penalty" => self.sampling.repetition_penalty.to_string(),
            "greedy" => if self.sampling.greedy { "on" } else { "off" }.to_string(),
            "sample-tokens" => self.sample_tokens.to_string(),
            _ => return None,
        })
    }

    /// A configuration from `key=value` pairs (a URL's query, the command line's flags) on top of
    /// the tiny preset: `config` applies first wherever it appears, `fault` (repeatable, `ID` or
    /// `ID=VALUE`) turns faults on, everything else is a [`SETTINGS`] key.
    pub fn from_pairs<'a>(
        pairs: impl IntoIterator<Item = (&'a str, &'a str)> + Clone,
    ) -> Result<RunConfig, ConfigError> {
        let mut cfg = RunConfig::default();
        for (k, v) in pairs.clone() {
            if k == "config" {
                cfg.set(k, v)?;
            }
        }
        for (k, v) in pairs {
            match k {
                "config" => {}
                "fault" => cfg.faults.set_from_arg(v)?,
                _ => cfg.set(k, v)?,
            }
        }
        Ok(cfg)
    }

    /// The pairs that differ from the defaults (plus every fault): what a shareable link carries.
    pub fn to_pairs(&self) -> Vec<(String, String)> {
        let base = RunConfig::preset(self.preset);
        let mut pairs: Vec<(String, String)> = SETTINGS
            .iter()
            .filter(|s| s.key == "config" || self.get(s.key) != base.get(s.key))
            .filter_map(|s| self.get(s.key).map(|v| (s.key.to_string(), v)))
            .collect();
        for (id, v) in self.faults.active() {
            pairs.push(("fault".into(), v.map_or(id.to_string(), |v| format!("{id}={v}"))));
        }
        pairs
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_setting_round_trips_through_its_text() {
        let cfg = RunConfig::preset(Preset::Small);
        for s in SETTINGS {
            let text = cfg.get(s.key).unwrap_or_else(|| panic!("{} has no getter", s.key));
            let mut copy = RunConfig::default();
            copy.set("config", "small").unwrap();
            copy.set(s.key, &text).unwrap_or_else(|e| panic!("{}: {e}", s.key));
            assert_eq!(copy.get(s.key), Some(text), "{}", s.key);
        }
    }

    #[test]
    fn pairs_round_trip_with_faults() {
        let pairs = [("lr", "0.01"), ("fault", "lr-too-high=300"), ("config", "small"), ("fault", "no-causal-mask")];
        let cfg = RunConfig::from_pairs(pairs).unwrap();
        assert_eq!(cfg.preset, Preset::Small);
        assert_eq!(cfg.lr, 0.01);
        let back = cfg.to_pairs();
        let again = RunConfig::from_pairs(back.iter().map(|(k, v)| (k.as_str(), v.as_str()))).unwrap();
        assert_eq!(again, cfg);
    }

    #[test]
    fn bad_values_name_the_setting() {
        let mut cfg = RunConfig::default();
        let e = cfg.set("lr", "abc").unwrap_err();
        assert_eq!((e.field.as_str(), e.message.contains("not a number")), ("lr", true));
        assert_eq!(cfg.set("steps", "-5").unwrap_err().field, "steps");
        assert_eq!(cfg.set("lr", "NaN").unwrap_err().field, "lr");
        assert_eq!(cfg.set("optimizer", "adam").unwrap_err().field, "optimizer");
        assert_eq!(cfg.set("nope", "1").unwrap_err().field, "nope");
        assert_eq!(cfg, RunConfig::default(), "a refused value changes nothing");
    }
}
