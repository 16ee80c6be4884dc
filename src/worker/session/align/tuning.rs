//! Either fine-tuning method's run, behind the few calls the worker's slices make: a step, the
//! evaluations with their samples judged, the detector's reading and what the page learns first.

use crate::protocol::{AlignEvent, AlignInfo, MethodInfo, RlInfo};
use faultline_engine::align::{DpoRun, DpoSettings, Method, RlRun, RlSettings};
use faultline_engine::backend::CpuBackend;
use faultline_engine::diagnosis::{diagnose_dpo, diagnose_rl, Finding};
use faultline_engine::telemetry::align::{DpoStepRecord, RlStepRecord};
use faultline_engine::trainer::Trainer;
use faultline_engine::{ConfigError, EngineError, RunConfig};

/// A method's settings, waiting for the base model.
pub(super) enum Settings {
    Dpo(DpoSettings),
    Rl(RlSettings),
}

impl Settings {
    /// `method`'s settings from `config`'s fine-tuning stage, with `steps` steps.
    pub(super) fn new(method: Method, config: &RunConfig, steps: usize) -> Settings {
        match method {
            Method::Dpo => Settings::Dpo(DpoSettings { steps, ..DpoSettings::from_config(config) }),
            Method::Rl => Settings::Rl(RlSettings { steps, ..RlSettings::from_config(config) }),
        }
    }

    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        match self {
            Settings::Dpo(s) => s.validate(),
            Settings::Rl(s) => s.validate(),
        }
    }
}

/// Step records not yet sent to the page.
#[derive(Default)]
pub(super) struct Pending {
    dpo: Vec<DpoStepRecord>,
    rl: Vec<RlStepRecord>,
}

impl Pending {
    /// The records waiting, as one message, or `None` when none wait.
    pub(super) fn take(&mut self) -> Option<AlignEvent> {
        if !self.dpo.is_empty() {
            Some(AlignEvent::Steps(std::mem::take(&mut self.dpo)))
        } else if !self.rl.is_empty() {
            Some(AlignEvent::RlSteps(std::mem::take(&mut self.rl)))
        } else {
            None
        }
    }
}

/// A fine-tuning run of either method on the CPU.
pub(super) enum Tuning {
    Dpo(Box<DpoRun<CpuBackend>>),
    Rl(Box<RlRun<CpuBackend>>),
}

impl Tuning {
    /// Fine-tunes the model `base` holds: caches the reference, trains any reward models and takes
    /// the first evaluation.
    pub(super) fn new(base: Trainer<CpuBackend>, settings: Settings) -> Result<Tuning, EngineError> {
        Ok(match settings {
            Settings::Dpo(s) => Tuning::Dpo(Box::new(DpoRun::new(base, s)?)),
            Settings::Rl(s) => Tuning::Rl(Box::new(RlRun::new(base, s)?)),
        })
    }

    /// What the page learns as fine-tuning begins: the run's settings, then, for the policy
    /// gradient, its reward models' training.
    pub(super) fn opening(&self, pretrain_steps: usize) -> Vec<AlignEvent> {
        match self {
            Tuning::Dpo(run) => {
                let s = run.settings();
                let method = MethodInfo::Dpo { pairs_per_step: s.pairs_per_step, beta: s.effective_beta() };
                let info = AlignInfo {
                    corpus: run.source().name(),
                    pretrain_steps,
                    steps: s.steps,
                    eval_every: s.eval_every,
                    method,
                    lr: s.effective_lr(),
                    lora_rank: s.lora_rank,
                    memory: run.memory(),
                    backend: run.backend_name(),
                };
                vec![AlignEvent::FineTuning(Box::new(info))]
            }
            Tuning::Rl(run) => {
                let s = run.settings();
                let rl = RlInfo {
                    prompts_per_step: s.prompts_per_step,
                    quality_prompts: s.quality_prompts,
                    kl_coef: s.effective_kl_coef(),
                    entropy_bonus: s.entropy_bonus,
                    reward_models: s.reward_models,
                    reward_pairs: s.reward_pairs,
                    reward_accuracy: run.reward_accuracy(),
                };
                let info = AlignInfo {
                    corpus: run.source().name(),
                    pretrain_steps,
                    steps: s.steps,
                    eval_every: s.eval_every,
                    method: MethodInfo::Rl(rl),
                    lr: s.lr,
                    lora_rank: s.lora_rank,
                    memory: run.memory(),
                    backend: run.backend_name(),
                };
                vec![
                    AlignEvent::FineTuning(Box::new(info)),
                    AlignEvent::RewardModels(run.history().reward_models.clone()),
                ]
            }
        }
    }

    /// Takes one step, its record into `pending`.
    pub(super) fn step(&mut self, pending: &mut Pending) -> Result<(), EngineError> {
        match self {
            Tuning::Dpo(run) => pending.dpo.push(run.step()?),
            Tuning::Rl(run) => pending.rl.push(run.step()?),
        }
        Ok(())
    }

    pub(super) fn steps_done(&self) -> usize {
        match self {
            Tuning::Dpo(run) => run.steps_done(),
            Tuning::Rl(run) => run.steps_done(),
        }
    }

    pub(super) fn is_done(&self) -> bool {
        match self {
            Tuning::Dpo(run) => run.is_done(),
            Tuning::Rl(run) => run.is_done(),
        }
    }

    /// Evaluations taken so far.
    pub(super) fn evals(&self) -> usize {
        match self {
            Tuning::Dpo(run) => run.history().evals.len(),
            Tuning::Rl(run) => run.history().evals.len(),
        }
    }

    /// The evaluations from the `from`-th on, each with whether its samples are valid completions.
    pub(super) fn evals_from(&self, from: usize) -> Vec<AlignEvent> {
        match self {
            Tuning::Dpo(run) => run.history().evals[from..]
                .iter()
                .map(|record| {
                    let valid = record.samples.iter().map(|(p, c)| run.source().is_good(p, c)).collect();
                    AlignEvent::Eval { record: record.clone(), valid }
                })
                .collect(),
            Tuning::Rl(run) => run.history().evals[from..]
                .iter()
                .map(|record| {
                    let valid = record.samples.iter().map(|(p, c)| run.source().is_good(p, c)).collect();
                    AlignEvent::RlEval { record: record.clone(), valid }
                })
                .collect(),
        }
    }

    /// What the detector reads in the run's telemetry so far.
    pub(super) fn diagnose(&self) -> Vec<Finding> {
        match self {
            Tuning::Dpo(run) => diagnose_dpo(run.history()),
            Tuning::Rl(run) => diagnose_rl(run.history()),
        }
    }
}
