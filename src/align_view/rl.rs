//! What the alignment page knows of a policy-gradient run: its reward models' training, its steps
//! and its evaluations, each evaluation's samples judged.

use super::{percent, SampleSet};
use faultline_engine::telemetry::align::{RewardModelRecord, RlEvalRecord, RlStepRecord};

/// One policy-gradient evaluation, with whether each of its samples is a valid completion.
#[derive(Clone, Debug, PartialEq)]
pub struct RlEvaluation {
    pub record: RlEvalRecord,
    pub valid: Vec<bool>,
}

/// The records of a policy-gradient run, as they arrived.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RlRecords {
    pub reward_models: Vec<RewardModelRecord>,
    pub steps: Vec<RlStepRecord>,
    pub evals: Vec<RlEvaluation>,
}

impl RlRecords {
    pub fn steps_done(&self) -> usize {
        self.steps.last().map_or(0, |s| s.step)
    }

    /// The evaluation before any step (step 0), and the latest one after steps.
    pub fn before(&self) -> Option<&RlEvaluation> {
        self.evals.first()
    }

    pub fn after(&self) -> Option<&RlEvaluation> {
        self.evals.last().filter(|e| e.record.step > 0)
    }

    /// An evaluation's samples, as the samples panel shows them.
    pub fn samples(eval: &RlEvaluation) -> SampleSet {
        SampleSet {
            step: eval.record.step,
            quality: eval.record.quality,
            samples: eval.record.samples.clone(),
            valid: eval.valid.clone(),
        }
    }

    /// Where a run under way is, in a sentence.
    pub fn progress(&self, planned: usize) -> String {
        match self.steps.last() {
            Some(s) => format!(
                "Fine-tuning with the policy gradient: step {} of {planned}, proxy reward {:+.3}, true quality {}.",
                s.step,
                s.reward,
                percent(s.quality)
            ),
            None => format!("Fine-tuning with the policy gradient: {planned} steps to go."),
        }
    }

    /// How a finished run went, in its own numbers.
    pub fn summary(&self) -> String {
        let mut parts = vec![format!("Done: {} policy-gradient steps", self.steps_done())];
        if let (Some(before), Some(after)) = (self.before(), self.after()) {
            let (b, a) = (&before.record, &after.record);
            parts.push(format!("the proxy reward went from {:+.3} to {:+.3}", b.reward, a.reward));
            parts.push(format!("true quality {} → {}", percent(b.quality), percent(a.quality)));
        }
        if let Some(last) = self.steps.last() {
            parts.push(format!("KL to the reference {:.3} nats", last.kl));
        }
        format!("{}.", parts.join("; "))
    }
}
