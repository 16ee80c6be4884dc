//! The alignment entries, read from a fine-tuning run's telemetry ([`DpoHistory`]) alone.
//!
//! "DPO loss not decreasing": the DPO loss of a policy equal to its reference is exactly ln 2, and a
//! run that learns its preferences takes it well below that within a few dozen steps. The rule
//! compares the mean loss over the last stretch of steps with ln 2, and asks that the margin has not
//! grown either: a loss that stays inside [`FLAT_BAND`] of ln 2 is flat.

use crate::{Evidence, Finding};
use faultline_guide::EntryId;
use faultline_telemetry::align::{DpoHistory, DpoStepRecord};
use std::f32::consts::LN_2;

/// Steps a DPO run needs before its loss can be called flat.
pub const DPO_MIN_STEPS: usize = 20;
/// How close to ln 2 the recent mean DPO loss must stay to be flat, in nats (a mean margin below
/// about 0.06). Set on the DPO tuning seeds 1-3 (`crates/evaluation/tests/dpo.rs`): the flat runs end
/// within 0.005 of ln 2, healthy ones near 0.2-0.35, rank-4 LoRA ones at 0.43-0.64.
pub const FLAT_BAND: f32 = 0.03;

/// The alignment findings of a DPO run, best first; empty for a run that learns its preferences.
pub fn diagnose_dpo(h: &DpoHistory) -> Vec<Finding> {
    let ends: Vec<usize> = h.evals.iter().map(|e| e.step).chain(h.steps.last().map(|s| s.step)).collect();
    let Some(evidence) = flat_loss(&h.steps) else { return Vec::new() };
    let first_step = ends.into_iter().find(|&end| {
        let upto = h.steps.iter().take_while(|s| s.step <= end).count();
        flat_loss(&h.steps[..upto]).is_some()
    });
    let confidence = crate::confidence(&evidence);
    vec![Finding { entry: EntryId::DpoLossNotDecreasing, confidence, first_step, evidence: vec![evidence] }]
}

/// The flat-loss measurement of `steps`, when it holds.
fn flat_loss(steps: &[DpoStepRecord]) -> Option<Evidence> {
    if steps.len() < DPO_MIN_STEPS {
        return None;
    }
    let recent = &steps[steps.len() - (steps.len() / 4).max(DPO_MIN_STEPS / 2)..];
    let mean = |f: fn(&DpoStepRecord) -> f32| recent.iter().map(|s| f64::from(f(s))).sum::<f64>() / recent.len() as f64;
    let (loss, margin, accuracy) = (mean(|s| s.loss) as f32, mean(|s| s.margin) as f32, mean(|s| s.accuracy) as f32);
    (loss > LN_2 - FLAT_BAND).then_some(Evidence::DpoLossFlat { steps: steps.len(), loss, margin, accuracy })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(losses: impl Iterator<Item = f32>) -> DpoHistory {
        let steps = losses
            .enumerate()
            .map(|(i, loss)| DpoStepRecord {
                step: i + 1,
                loss,
                margin: 2.0 * (LN_2 - loss),
                accuracy: if loss < LN_2 { 0.8 } else { 0.0 },
                chosen_drift: 0.0,
                rejected_drift: 0.0,
                kl: 0.0,
                grad_norm: 1.0,
                lr: 1e-4,
            })
            .collect();
        DpoHistory { steps, ..DpoHistory::default() }
    }

    #[test]
    fn a_loss_that_stays_at_ln2_is_named_and_one_that_falls_is_not() {
        let flat = diagnose_dpo(&run((0..100).map(|_| LN_2)));
        assert_eq!(flat.len(), 1);
        assert_eq!(flat[0].entry, EntryId::DpoLossNotDecreasing);
        assert!(flat[0].confidence >= 0.5);
        assert!(diagnose_dpo(&run((0..100).map(|i| LN_2 * (1.0 - i as f32 / 150.0)))).is_empty());
    }

    #[test]
    fn too_few_steps_say_nothing() {
        assert!(diagnose_dpo(&run((0..DPO_MIN_STEPS - 1).map(|_| LN_2))).is_empty());
        assert_eq!(diagnose_dpo(&run((0..DPO_MIN_STEPS).map(|_| LN_2))).len(), 1);
    }
}
