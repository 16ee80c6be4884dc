//! The alignment entries, read from a fine-tuning run's telemetry ([`DpoHistory`], [`RlHistory`])
//! alone.
//!
//! "DPO loss not decreasing": the DPO loss of a policy equal to its reference is exactly ln 2, and a
//! run that learns its preferences takes it well below that within a few dozen steps. The rule
//! compares the mean loss over the last stretch of steps with ln 2, and asks that the margin has not
//! grown either: a loss that stays inside [`FLAT_BAND`] of ln 2 is flat.

use crate::{Evidence, Finding};
use faultline_guide::EntryId;
use faultline_telemetry::align::{DpoHistory, DpoStepRecord, RlHistory, RlStepRecord};
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

/// "Reward increases but quality decreases": the proxy reward is what the policy climbs, the true
/// quality what it should have bought. The rule compares means over the first and the last tenth of
/// the steps (the samples of each step pooled): the reward must be higher and the quality lower by
/// at least [`QUALITY_FALL`].
///
/// Steps a policy-gradient run needs before its reward and quality can be compared.
pub const RL_MIN_STEPS: usize = 40;
/// How far the true quality must fall, first stretch to last, while the proxy reward rises (a share
/// of samples).
pub const QUALITY_FALL: f32 = 0.15;

/// The alignment findings of a policy-gradient run: "Reward increases but quality decreases" when
/// the proxy reward of the policy's own samples has risen while the share the truth accepts has
/// fallen, each compared as a mean over the first and the last tenth of the steps.
pub fn diagnose_rl(h: &RlHistory) -> Vec<Finding> {
    let Some(evidence) = reward_hacking(&h.steps) else { return Vec::new() };
    let first_step =
        (RL_MIN_STEPS..=h.steps.len()).find(|&n| reward_hacking(&h.steps[..n]).is_some()).map(|n| h.steps[n - 1].step);
    let confidence = crate::confidence(&evidence);
    vec![Finding {
        entry: EntryId::RewardIncreasesButQualityDecreases,
        confidence,
        first_step,
        evidence: vec![evidence],
    }]
}

/// The reward-up, quality-down measurement of `steps`, when it holds.
fn reward_hacking(steps: &[RlStepRecord]) -> Option<Evidence> {
    if steps.len() < RL_MIN_STEPS {
        return None;
    }
    let stretch = (steps.len() / 10).max(RL_MIN_STEPS / 4);
    let mean = |part: &[RlStepRecord], f: fn(&RlStepRecord) -> f32| {
        (part.iter().map(|s| f64::from(f(s))).sum::<f64>() / part.len() as f64) as f32
    };
    let (first, last) = (&steps[..stretch], &steps[steps.len() - stretch..]);
    let reward = (mean(first, |s| s.reward), mean(last, |s| s.reward));
    let quality = (mean(first, |s| s.quality), mean(last, |s| s.quality));
    let hacked = reward.1 > reward.0 && quality.0 - quality.1 >= QUALITY_FALL;
    hacked.then_some(Evidence::RewardHacking { steps: steps.len(), reward, quality, kl: mean(last, |s| s.kl) })
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

    /// A policy-gradient run whose proxy reward and true quality follow `reward` and `quality`.
    fn rl(n: usize, reward: impl Fn(f32) -> f32, quality: impl Fn(f32) -> f32) -> RlHistory {
        let steps = (0..n)
            .map(|i| {
                let t = i as f32 / n as f32;
                RlStepRecord {
                    step: i + 1,
                    reward: reward(t),
                    quality: quality(t),
                    kl: 10.0 * t,
                    length: 16.0,
                    entropy: 0.5,
                    grad_norm: 1.0,
                }
            })
            .collect();
        RlHistory { steps, ..RlHistory::default() }
    }

    #[test]
    fn reward_up_and_quality_down_is_named_from_the_step_it_shows() {
        let hacked = diagnose_rl(&rl(150, |t| t, |t| 0.9 - 0.9 * t));
        assert_eq!(hacked.len(), 1);
        assert_eq!(hacked[0].entry, EntryId::RewardIncreasesButQualityDecreases);
        let first = hacked[0].first_step.expect("a first step");
        assert!((RL_MIN_STEPS..150).contains(&first), "{first}");
        assert!(
            hacked[0].evidence[0].to_string().contains("true quality fell from 86% to 5%"),
            "{}",
            hacked[0].evidence[0]
        );
    }

    #[test]
    fn quality_that_holds_or_a_reward_that_falls_is_not_reward_hacking() {
        assert!(diagnose_rl(&rl(150, |t| t, |_| 0.9)).is_empty(), "quality holds");
        assert!(diagnose_rl(&rl(150, |t| 1.0 - t, |t| 0.9 - 0.9 * t)).is_empty(), "the reward fell too");
        assert!(diagnose_rl(&rl(150, |t| t, |t| 0.9 - 0.1 * t)).is_empty(), "a fall inside the noise");
        assert!(diagnose_rl(&rl(RL_MIN_STEPS - 1, |t| t, |t| 0.9 - 0.9 * t)).is_empty(), "too few steps");
    }

    #[test]
    fn too_few_steps_say_nothing() {
        assert!(diagnose_dpo(&run((0..DPO_MIN_STEPS - 1).map(|_| LN_2))).is_empty());
        assert_eq!(diagnose_dpo(&run((0..DPO_MIN_STEPS).map(|_| LN_2))).len(), 1);
    }
}
