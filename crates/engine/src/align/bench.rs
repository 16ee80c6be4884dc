//! What a DPO step and a policy-gradient step cost beside a pretraining step, on one backend, in one
//! run: the `dpo` and `rl` rows of `faultline bench`.

use super::{pretraining_config, DpoRun, DpoSettings, RlRun, RlSettings};
use crate::backend::Backend;
use crate::config::{CorpusSource, FineTuning, RunConfig};
use crate::data::corpus::CorpusId;
use crate::error::EngineError;
use crate::trainer::{Clock, Trainer};
use serde::{Deserialize, Serialize};

/// Milliseconds per step of pretraining, full DPO and rank-4 LoRA DPO, each timed after two untimed
/// steps, on the same backend with the same 16 sequences a step (tiny's batch; 8 preference pairs).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DpoBench {
    pub corpus: String,
    pub backend_name: String,
    pub steps: usize,
    pub pretrain_ms: f64,
    pub dpo_ms: f64,
    pub lora_ms: f64,
    /// `dpo_ms / pretrain_ms`: the budget is 2.
    pub dpo_ratio: f64,
    pub lora_ratio: f64,
    /// Token positions a DPO step runs (its pairs' sequences are shorter than the context a
    /// pretraining step fills), and a pretraining step's.
    pub dpo_tokens: f64,
    pub pretrain_tokens: usize,
}

/// Times `steps` steps of each stage on backends from `make` (one per stage, so each starts cold
/// and warms up the same way). The reference's log-probabilities are cached before the timing
/// starts, as a run caches them once.
pub fn run_dpo_bench<B: Backend>(
    make: impl Fn() -> Result<B, EngineError>,
    corpus: CorpusId,
    steps: usize,
    clock: Clock,
) -> Result<DpoBench, EngineError> {
    const WARM: usize = 2;
    let cfg = RunConfig {
        corpus: CorpusSource::Builtin(corpus.id().into()),
        fine_tuning: FineTuning { pretrain_steps: steps + WARM, ..FineTuning::default() },
        ..RunConfig::default()
    };
    let timed = |step: &mut dyn FnMut() -> Result<(), EngineError>| -> Result<f64, EngineError> {
        for _ in 0..WARM {
            step()?;
        }
        let start = clock();
        for _ in 0..steps {
            step()?;
        }
        Ok((clock() - start) / steps as f64)
    };
    let mut trainer = Trainer::new(pretraining_config(&cfg), make()?, clock)?;
    let backend_name = trainer.backend_name();
    let pretrain_ms = timed(&mut || trainer.step().map(drop))?;
    let base = trainer.checkpoint()?;
    // One more step than timed, so the run's closing evaluation falls outside the timing.
    let settings =
        DpoSettings { steps: steps + WARM + 1, eval_every: steps + WARM + 1, ..DpoSettings::from_config(&cfg) };
    let pretrain_tokens = cfg.effective_batch() * cfg.model(0).context;
    let (mut dpo_ms, mut dpo_tokens) = ([0.0; 2], 0.0);
    for (ms, lora_rank) in dpo_ms.iter_mut().zip([0, 4]) {
        let base = Trainer::from_checkpoint(&base, make()?, clock)?;
        let mut run = DpoRun::new(base, DpoSettings { lora_rank, ..settings.clone() })?;
        *ms = timed(&mut || run.step().map(drop))?;
        dpo_tokens = run.tokens_trained() as f64 / (steps + WARM) as f64;
    }
    let [dpo_ms, lora_ms] = dpo_ms;
    Ok(DpoBench {
        corpus: corpus.id().into(),
        backend_name,
        steps,
        pretrain_ms,
        dpo_ms,
        lora_ms,
        dpo_ratio: dpo_ms / pretrain_ms,
        lora_ratio: lora_ms / pretrain_ms,
        dpo_tokens,
        pretrain_tokens,
    })
}

/// Milliseconds per policy-gradient step beside a pretraining step, split into the rollout (the
/// responses sampled token by token, one forward pass per token) and the update (the policy's and
/// the reference's forward passes over the sampled batch, the backward pass and AdamW), each timed
/// over the same steps after two untimed ones.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RlBench {
    pub corpus: String,
    pub backend_name: String,
    pub steps: usize,
    pub pretrain_ms: f64,
    pub rollout_ms: f64,
    pub update_ms: f64,
    /// `rollout_ms / pretrain_ms` and `update_ms / pretrain_ms`: the budget for the update
    /// is 3.
    pub rollout_ratio: f64,
    pub update_ratio: f64,
    /// Token positions an update runs (prompts and responses of 16 samples, padded to the longest),
    /// and a pretraining step's.
    pub update_tokens: f64,
    pub pretrain_tokens: usize,
}

/// Times `steps` policy-gradient steps on a backend from `make`, beside `steps` pretraining steps
/// on another from `make`; the reward models train before the timing starts, as a run trains them
/// once.
pub fn run_rl_bench<B: Backend>(
    make: impl Fn() -> Result<B, EngineError>,
    corpus: CorpusId,
    steps: usize,
    clock: Clock,
) -> Result<RlBench, EngineError> {
    const WARM: usize = 2;
    let cfg = RunConfig {
        corpus: CorpusSource::Builtin(corpus.id().into()),
        fine_tuning: FineTuning { pretrain_steps: steps + WARM, ..FineTuning::default() },
        ..RunConfig::default()
    };
    let mut trainer = Trainer::new(pretraining_config(&cfg), make()?, clock)?;
    let backend_name = trainer.backend_name();
    for _ in 0..WARM {
        trainer.step()?;
    }
    let start = clock();
    for _ in 0..steps {
        trainer.step()?;
    }
    let pretrain_ms = (clock() - start) / steps as f64;
    let base = Trainer::from_checkpoint(&trainer.checkpoint()?, make()?, clock)?;
    // One more step than timed, so the run's closing evaluation falls outside the timing.
    let settings =
        RlSettings { steps: steps + WARM + 1, eval_every: steps + WARM + 1, ..RlSettings::from_config(&cfg) };
    let mut run = RlRun::new(base, settings)?;
    let (mut rollout_ms, mut update_ms, mut update_tokens) = (0.0, 0.0, 0.0);
    for step in 0..steps + WARM {
        let start = clock();
        let rollout = run.sample_batch();
        let sampled = clock();
        run.learn(&rollout)?;
        if step >= WARM {
            rollout_ms += sampled - start;
            update_ms += clock() - sampled;
            update_tokens += rollout.tokens() as f64;
        }
    }
    let n = steps as f64;
    let (rollout_ms, update_ms) = (rollout_ms / n, update_ms / n);
    Ok(RlBench {
        corpus: corpus.id().into(),
        backend_name,
        steps,
        pretrain_ms,
        rollout_ms,
        update_ms,
        rollout_ratio: rollout_ms / pretrain_ms,
        update_ratio: update_ms / pretrain_ms,
        update_tokens: update_tokens / n,
        pretrain_tokens: cfg.effective_batch() * cfg.model(0).context,
    })
}
