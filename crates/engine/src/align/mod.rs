//! Fine-tuning a pretrained model against preferences: the alignment section of the guide made real.
//!
//! - `preference.rs`: (prompt, chosen, rejected) pairs written by the corpus generators, which know
//!   the truth, and the exact true quality of a model's completions.
//! - `pairs.rs`: [`pairs::PairSource`], a built-in corpus's grammar or the learner's text with a
//!   rule (prefer continuations that contain a word): the pairs, the prompts and the judge.
//! - `dpo.rs`: the DPO objective on the host, in f64, with its gradient with respect to each
//!   sequence's log-probability.
//! - `bench.rs`: a DPO step's cost beside a pretraining step's (`faultline bench`).
//! - `sft.rs`: [`sft::SftRun`], supervised fine-tuning on a small text (every weight or LoRA), with
//!   the validation gap overfitting opens.
//! - `run.rs`: [`DpoRun`], a DPO run on any backend: the reference frozen as cached
//!   log-probabilities, the step, evaluations, and the faults of the guide's "DPO loss not
//!   decreasing" entry at the lines they change (`faults.dpo_*`).

pub mod bench;
pub mod dpo;
pub mod lora;
pub mod pairs;
pub mod preference;
pub mod reward;
mod rl;
mod run;
pub mod sft;
mod trainable;

pub use rl::{RlRun, RlSettings, RL_DEFAULT_CORPUS};
pub use run::{
    pretrain, pretraining_config, DpoRun, DpoSettings, DEFAULT_CORPUS, HELD_OUT_PAIRS, QUALITY_PROMPTS, TRAIN_PAIRS,
};
pub use trainable::FineTuneMemory;

use crate::error::ConfigError;
use crate::faults::{FaultSpec, Faults, Stage};
use crate::settings::SettingKey;
use faultline_guide::EntryId;

/// How a fine-tuning run learns what is preferred: DPO straight from the pairs, or a policy
/// gradient against a reward model trained on them. Each fine-tuning fault breaks one of them: the
/// one its guide entry is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    Dpo,
    Rl,
}

impl Method {
    /// The subcommand of `faultline align` that runs it.
    pub fn command(self) -> &'static str {
        match self {
            Method::Dpo => "dpo",
            Method::Rl => "rl",
        }
    }

    /// The guide entry whose faults break this method.
    pub fn entry(self) -> EntryId {
        match self {
            Method::Dpo => EntryId::DpoLossNotDecreasing,
            Method::Rl => EntryId::RewardIncreasesButQualityDecreases,
        }
    }

    /// The fine-tuning faults that break this method, in table order.
    pub fn faults(self) -> impl Iterator<Item = &'static FaultSpec> + Clone {
        Stage::FineTuning.faults().filter(move |f| f.guide_entry == self.entry())
    }

    /// The settings only this method reads (the other fine-tuning settings serve both).
    pub fn own_settings(self) -> &'static [SettingKey] {
        match self {
            Method::Dpo => &[SettingKey::Beta],
            Method::Rl => {
                &[SettingKey::KlCoef, SettingKey::RewardModels, SettingKey::RewardPairs, SettingKey::EntropyBonus]
            }
        }
    }

    /// Whether a run of this method reads setting `key`: any setting but the other method's own.
    pub fn takes(self, key: SettingKey) -> bool {
        [Method::Dpo, Method::Rl].into_iter().filter(|&m| m != self).all(|m| !m.own_settings().contains(&key))
    }

    /// The method a fine-tuning fault breaks.
    pub fn of(entry: EntryId) -> Option<Method> {
        [Method::Dpo, Method::Rl].into_iter().find(|m| m.entry() == entry)
    }

    /// Refuses a fine-tuning fault of the other method, naming where it applies.
    pub fn check(self, faults: &Faults) -> Result<(), ConfigError> {
        let foreign = faults.active().into_iter().find_map(|(id, _)| {
            let spec = id.spec();
            let method = Method::of(spec.guide_entry).filter(|_| spec.stage == Stage::FineTuning)?;
            (method != self).then_some((id, method))
        });
        match foreign {
            None => Ok(()),
            Some((id, method)) => Err(ConfigError::new(
                "fault",
                format!(
                    "'{id}' breaks {} fine-tuning: turn it on with `faultline align {} --fault {id}`",
                    method.name(),
                    method.command()
                ),
            )),
        }
    }

    /// The method's name in a sentence.
    pub fn name(self) -> &'static str {
        match self {
            Method::Dpo => "DPO",
            Method::Rl => "policy-gradient",
        }
    }
}
