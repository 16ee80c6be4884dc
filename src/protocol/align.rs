//! The messages of a fine-tuning run (the alignment page, `#/align`): the base model's pretraining,
//! then DPO or the policy gradient step by step, its evaluations, the detector's reading and how the
//! run ended.

use faultline_engine::align::{FineTuneMemory, Method};
use faultline_engine::diagnosis::Finding;
use faultline_engine::telemetry::align::{DpoEvalRecord, DpoStepRecord, RewardModelRecord, RlEvalRecord, RlStepRecord};
use serde::{Deserialize, Serialize};

/// The life of one fine-tuning run ([`super::ToWorker::Align`]), as the worker tells it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AlignEvent {
    /// The base model is pretraining: `done` of its `total` steps, and the training loss of the
    /// last one (none before the first).
    Pretraining { done: usize, total: usize, loss: Option<f32> },
    /// The base model is pretrained and DPO begins: the frozen reference is cached and the first
    /// evaluation (step 0) follows.
    FineTuning(Box<AlignInfo>),
    /// The DPO steps since the last batch, oldest first.
    Steps(Vec<DpoStepRecord>),
    /// An evaluation, with whether each of its kept samples is a valid completion (the corpus's
    /// grammar, as the true quality counts it), in the samples' order.
    Eval { record: DpoEvalRecord, valid: Vec<bool> },
    /// The policy-gradient run's reward models, trained before its first step: one record each.
    RewardModels(Vec<RewardModelRecord>),
    /// The policy-gradient steps since the last batch, oldest first.
    RlSteps(Vec<RlStepRecord>),
    /// A policy-gradient evaluation, with whether each of its kept samples is valid, in their order.
    RlEval { record: RlEvalRecord, valid: Vec<bool> },
    /// What the detector reads in the fine-tuning telemetry so far (empty when it names nothing).
    /// Sent after every evaluation, and before `Failed` when fine-tuning fails.
    Diagnosis { step: usize, findings: Vec<Finding> },
    /// Every planned fine-tuning step ran.
    Done { steps: usize },
    /// The run could not start or continue: a setting it refuses (the message names it), out of
    /// memory, or a NaN or Inf in pretraining or in fine-tuning.
    Failed { message: String },
    /// The run was ended before its end: by `Reset`, or replaced by another run.
    Stopped { why: String },
}

/// What the page learns of a fine-tuning run as fine-tuning begins.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AlignInfo {
    /// The built-in corpus whose grammar writes the pairs and scores the samples.
    pub corpus: String,
    /// Steps the base model pretrained.
    pub pretrain_steps: usize,
    /// Fine-tuning steps planned, and steps between evaluations.
    pub steps: usize,
    pub eval_every: usize,
    /// The method and its own settings, after the run's faults.
    pub method: MethodInfo,
    /// The learning rate the run uses, after its faults.
    pub lr: f32,
    /// Rank of the LoRA adapters; 0 trains every weight.
    pub lora_rank: usize,
    /// Where the run's memory goes.
    pub memory: FineTuneMemory,
    pub backend: String,
}

/// A fine-tuning method's own settings, as the run uses them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MethodInfo {
    /// DPO: preference pairs per step, and β after the faults.
    Dpo {
        pairs_per_step: usize,
        beta: f32,
    },
    Rl(RlInfo),
}

impl MethodInfo {
    pub fn method(&self) -> Method {
        match self {
            MethodInfo::Dpo { .. } => Method::Dpo,
            MethodInfo::Rl(_) => Method::Rl,
        }
    }
}

/// A policy-gradient run's own settings, and what its reward models reached.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RlInfo {
    /// Prompts per step, one sampled response each, and the fixed prompts each evaluation scores.
    pub prompts_per_step: usize,
    pub quality_prompts: usize,
    /// The KL coefficient after the faults, and the entropy bonus.
    pub kl_coef: f32,
    pub entropy_bonus: f32,
    /// Reward models in the ensemble, and the pairs each trained on.
    pub reward_models: usize,
    pub reward_pairs: usize,
    /// The ensemble's accuracy on preference pairs none of its models trained on.
    pub reward_accuracy: f64,
}

/// A [`Method`] in a message, by its `faultline align` subcommand: `"dpo"` or `"rl"`.
pub mod method_name {
    use faultline_engine::align::Method;
    use serde::{de, Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(method: &Method, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(method.command())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Method, D::Error> {
        let name = String::deserialize(d)?;
        [Method::Dpo, Method::Rl]
            .into_iter()
            .find(|m| m.command() == name)
            .ok_or_else(|| de::Error::custom(format!("no fine-tuning method called '{name}' (dpo or rl)")))
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::super::test_support::{align_info, rl_info};
    use super::super::FromWorker;
    use super::*;
    use faultline_engine::diagnosis::Evidence;
    use faultline_engine::guide::EntryId;
    use faultline_engine::telemetry::align::RewardEpochRecord;

    #[test]
    fn every_alignment_event_round_trips() {
        let step = DpoStepRecord {
            step: 1,
            loss: 0.69,
            margin: 0.01,
            accuracy: 0.5,
            chosen_drift: 0.1,
            rejected_drift: -0.1,
            kl: 0.0,
            grad_norm: 1.0,
            lr: 1e-4,
        };
        let record = DpoEvalRecord {
            step: 0,
            loss: 0.69,
            accuracy: 0.0,
            quality: 0.25,
            samples: vec![("dcba>".into(), "abcd\n".into())],
        };
        let finding = Finding {
            entry: EntryId::DpoLossNotDecreasing,
            confidence: 0.9,
            first_step: Some(25),
            evidence: vec![Evidence::DpoLossFlat { steps: 30, loss: 0.69, margin: 0.0, accuracy: 0.0 }],
        };
        let events = [
            AlignEvent::Pretraining { done: 0, total: 30, loss: None },
            AlignEvent::Pretraining { done: 12, total: 30, loss: Some(2.5) },
            AlignEvent::FineTuning(Box::new(align_info())),
            AlignEvent::Steps(vec![step]),
            AlignEvent::Eval { record, valid: vec![true] },
            AlignEvent::Diagnosis { step: 30, findings: vec![finding] },
            AlignEvent::FineTuning(Box::new(rl_info())),
            AlignEvent::RewardModels(vec![RewardModelRecord {
                epochs: vec![RewardEpochRecord { epoch: 1, loss: 0.5, held_out_accuracy: 0.8 }],
                pairs: 64,
            }]),
            AlignEvent::RlSteps(vec![RlStepRecord {
                step: 1,
                reward: 0.2,
                quality: 0.9,
                kl: 0.01,
                length: 12.0,
                entropy: 1.1,
                grad_norm: 0.5,
            }]),
            AlignEvent::RlEval {
                record: RlEvalRecord {
                    step: 0,
                    reward: 0.1,
                    quality: 0.75,
                    length: 11.5,
                    samples: vec![("the dog".into(), " runs.\n".into())],
                },
                valid: vec![true],
            },
            AlignEvent::Done { steps: 30 },
            AlignEvent::Failed { message: "beta: must be a positive number, got 0".into() },
            AlignEvent::Stopped { why: "a training run started".into() },
        ];
        for event in events {
            let msg = FromWorker::Align { run: 3, event };
            let json = serde_json::to_value(&msg).unwrap();
            assert_eq!(json["align"]["run"], 3);
            assert_eq!(serde_json::from_value::<FromWorker>(json).unwrap(), msg);
        }
    }
}
