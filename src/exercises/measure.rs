//! The numbers the exercises' checks read off a run, and the common conditions they require. Each
//! condition returns why it fails in words the learner can act on.

use crate::align_view::{AlignState, AlignView};
use crate::run_view::{RunState, RunView};
use faultline_engine::faults::FaultId;
use faultline_engine::guide::EntryId;
use faultline_engine::telemetry::measure::median_grad_norm;
use faultline_engine::EvalRecord;

/// The run has ended: finished, stopped by a NaN, or failed.
pub fn over(v: &RunView) -> Result<(), String> {
    match v.state {
        RunState::Finished | RunState::Stopped | RunState::Error => Ok(()),
        RunState::Idle => Err("no run yet: apply the setup, then press Start on the trainer page".into()),
        _ => Err(format!("the run is at step {}; the check runs when it ends", v.steps_done)),
    }
}

/// The alignment page's run has ended: done, failed or stopped.
pub fn align_over(v: &AlignView) -> Result<(), String> {
    match v.state {
        AlignState::Done | AlignState::Failed | AlignState::Stopped => Ok(()),
        AlignState::Idle => {
            Err("no fine-tuning run yet: apply the setup, then press Start on the alignment page".into())
        }
        _ => Err(format!("the fine-tuning run is at step {}; the check runs when it ends", v.steps_done())),
    }
}

/// The alignment page's run fine-tuned every step it planned.
pub fn align_done(v: &AlignView) -> Result<(), String> {
    align_over(v)?;
    match v.state {
        AlignState::Done => Ok(()),
        other => {
            Err(format!("this fine-tuning run ended early ({}); the check needs one that finishes", other.as_str()))
        }
    }
}

/// Whether the alignment page's run has fault `id` switched on.
pub fn align_has_fault(v: &AlignView, id: FaultId) -> bool {
    v.config.as_ref().is_some_and(|c| c.faults.is_on(id))
}

/// The detector names guide entry `entry` on the alignment page's run.
pub fn align_named(v: &AlignView, entry: EntryId) -> bool {
    v.findings.as_ref().is_some_and(|f| f.iter().any(|f| f.entry == entry))
}

/// The run trained every step it planned.
pub fn finished(v: &RunView) -> Result<(), String> {
    over(v)?;
    match v.state {
        RunState::Finished => Ok(()),
        _ => Err(format!("this run ended early ({}); the fix needs a run that finishes", v.state.label())),
    }
}

/// Whether the run's settings have fault `id` switched on.
pub fn has_fault(v: &RunView, id: FaultId) -> bool {
    v.config.as_ref().is_some_and(|c| c.faults.is_on(id))
}

/// The run's settings have fault `id` on.
pub fn with_fault(v: &RunView, id: FaultId) -> Result<(), String> {
    if has_fault(v, id) {
        Ok(())
    } else {
        Err(format!("this run does not have the fault {id} switched on: apply the setup first"))
    }
}

/// The run's settings have fault `id` off.
pub fn without_fault(v: &RunView, id: FaultId) -> Result<(), String> {
    if has_fault(v, id) {
        Err(format!("this run still has the fault {id} switched on"))
    } else {
        Ok(())
    }
}

/// The detector names guide entry `id` among its findings.
pub fn named(v: &RunView, entry: EntryId) -> bool {
    v.findings().iter().any(|f| f.entry == entry)
}

/// ln V: the loss of a model that spreads its guesses evenly over the vocabulary.
pub fn ln_v(v: &RunView) -> Option<f32> {
    v.vocab_size().map(|n| (n as f32).ln())
}

pub fn first_loss(v: &RunView) -> Option<f32> {
    v.steps.first().map(|s| s.loss)
}

/// The highest batch loss of the run.
pub fn peak_loss(v: &RunView) -> Option<f32> {
    v.steps.iter().map(|s| s.loss).filter(|l| l.is_finite()).reduce(f32::max)
}

/// The largest gradient norm of the run, before clipping.
pub fn peak_grad(v: &RunView) -> Option<f32> {
    v.steps.iter().map(|s| s.grad_norm).filter(|g| g.is_finite()).reduce(f32::max)
}

/// The loss at the end: the last evaluation's training loss, else the last batch's.
pub fn final_loss(v: &RunView) -> Option<f32> {
    v.evals.last().map(|e| e.train_loss).or_else(|| v.last_train_loss())
}

pub fn last_eval(v: &RunView) -> Result<&EvalRecord, String> {
    v.evals.last().ok_or_else(|| "this run has no evaluation yet: give it more steps than eval-every".to_string())
}

/// The median gradient norm of the steps in `range` (fractions of the run).
pub fn median_grad(v: &RunView, from: f32, to: f32) -> Option<f32> {
    let n = v.steps.len();
    let (a, b) = ((n as f32 * from) as usize, (n as f32 * to) as usize);
    median_grad_norm(v.steps.get(a..b)?)
}

/// The share of step time spent reading telemetry back, and the mean milliseconds per step.
pub fn telemetry_share(v: &RunView) -> Option<(f64, f64)> {
    let total: f64 = v.steps.iter().map(|s| s.times.total_ms()).sum();
    let telemetry: f64 = v.steps.iter().map(|s| s.times.telemetry_ms).sum();
    (total > 0.0).then(|| (telemetry / total, total / v.steps.len() as f64))
}

/// Passes `ok`, or fails with `why`.
pub fn require(ok: bool, why: impl FnOnce() -> String) -> Result<(), String> {
    if ok {
        Ok(())
    } else {
        Err(why())
    }
}
