//! Finite-difference checks of a DPO step's gradient through the whole model, in f64.
//!
//! The analytic gradient is what [`DpoRun::gradients`] leaves behind: the DPO weights on the
//! cross-entropy gradient (answer rows only, the prompt masked), back-propagated, and with LoRA
//! projected onto the adapters. The numeric one is a central difference of the DPO loss recomputed
//! from the per-row losses in f64. As in `tests/gradcheck.rs`, f64 puts the rounding error of a
//! central difference with h = 1e-6 near 1e-16/1e-6 = 1e-10 and the truncation error near 1e-12; the
//! DPO coefficients pass through f32 once (the backend's readback), a relative error of ~1e-7. So
//! the check demands `|analytic − numeric| ≤ 1e-7 + 1e-5·|numeric|`: a wrong sign, a missing factor
//! of the row count or a row counted on the wrong side of the mask fails by orders of magnitude.

use super::*;
use crate::align::trainable::{Policy, Trainable};
use crate::backend::CpuBackend;
use crate::config::{CorpusSource, FineTuning};
use crate::faults::FaultId;
use crate::trainer::native_clock;

type B = CpuBackend<f64>;

const H: f64 = 1e-6;

/// A DPO run on a base model pretrained a few steps, two DPO steps in (so the policy has left its
/// reference and the margins are not 0).
fn run(lora_rank: usize, fault: Option<FaultId>) -> DpoRun<B> {
    let mut cfg = RunConfig {
        corpus: CorpusSource::Builtin("sorting".into()),
        fine_tuning: FineTuning { pretrain_steps: 20, lora_rank, beta: 1.0, lr: 3e-3, ..FineTuning::default() },
        ..RunConfig::default()
    };
    if let Some(id) = fault {
        cfg.faults.set(id, None).unwrap();
    }
    let base = pretrain(cfg.clone(), B::new(), native_clock).unwrap();
    let settings = DpoSettings { steps: 10, pairs_per_step: 2, ..DpoSettings::from_config(&cfg) };
    let mut run = DpoRun::new(base, settings).unwrap();
    run.step().unwrap();
    run.step().unwrap();
    run
}

/// The DPO loss of pairs `idx`, every sum in f64 from the backend's own f64 rows.
fn loss(run: &mut DpoRun<B>, idx: &[usize]) -> f64 {
    let mut measured = run.measure(false, idx, false);
    let time = measured.x.len() / (2 * idx.len());
    for (s, logps) in measured.logps.iter_mut().enumerate() {
        let seq = |q: usize| -> f64 {
            (q * time..(q + 1) * time).map(|r| -measured.mask[r] as f64 * run.acts.losses[r]).sum()
        };
        *logps = (seq(2 * s), seq(2 * s + 1));
    }
    let pairs = run.pair_logps(false, idx, &measured);
    let live = run.settings.faults.dpo_reference_not_frozen;
    dpo_terms(&pairs, f64::from(run.settings.effective_beta()), live).loss
}

fn assert_close(what: &str, analytic: f64, numeric: f64) {
    let tol = 1e-7 + 1e-5 * numeric.abs();
    assert!(
        (analytic - numeric).abs() <= tol,
        "{what}: analytic {analytic:.10e} vs numeric {numeric:.10e} (diff {:.3e}, tol {tol:.3e})",
        (analytic - numeric).abs()
    );
}

/// Every weight tensor of the model at a few random coordinates. Returns the largest |gradient| seen.
fn check_weights(run: &mut DpoRun<B>, what: &str) -> f64 {
    let idx = [3, 17];
    run.gradients(&idx);
    let analytic: Vec<Vec<f64>> = run.policy.grads.tensors().into_iter().cloned().collect();
    let mut rng = Rng::new(7);
    let mut largest = 0.0f64;
    for (t, grad) in analytic.iter().enumerate() {
        for _ in 0..3 {
            let j = rng.below(grad.len());
            let nudge = |run: &mut DpoRun<B>, d: f64| {
                run.policy.model.params.tensors_mut()[t][j] += d;
                loss(run, &idx)
            };
            let plus = nudge(run, H);
            let minus = nudge(run, -2.0 * H);
            nudge(run, H);
            assert_close(&format!("{what}: tensor {t}[{j}]"), grad[j], (plus - minus) / (2.0 * H));
            largest = largest.max(grad[j].abs());
        }
    }
    largest
}

#[test]
fn the_dpo_gradient_of_every_weight_tensor() {
    let mut healthy = run(0, None);
    let largest = check_weights(&mut healthy, "healthy");
    assert!(largest > 1e-4, "the check must see real gradients, the largest was {largest:e}");
}

#[test]
fn the_live_reference_has_no_gradient_and_a_constant_loss() {
    let mut live = run(0, Some(FaultId::DpoReferenceNotFrozen));
    assert_eq!(check_weights(&mut live, "live reference"), 0.0);
}

#[test]
fn the_lora_adapters_gradient() {
    let mut run = run(2, None);
    let idx = [5, 11];
    run.gradients(&idx);
    let Trainable::Lora(lora) = &run.policy.trainable else { panic!("a rank-2 run has adapters") };
    let analytic: Vec<Vec<f64>> = lora.grads().to_vec();
    let mut rng = Rng::new(11);
    let mut largest = 0.0f64;
    for (k, grad) in analytic.iter().enumerate() {
        for _ in 0..3 {
            let j = rng.below(grad.len());
            let nudge = |run: &mut DpoRun<B>, d: f64| {
                let Policy { trainable: Trainable::Lora(lora), backend, model, .. } = &mut run.policy else {
                    unreachable!()
                };
                lora.params_mut()[k][j] += d;
                lora.merge(backend, &mut model.params);
                loss(run, &idx)
            };
            let plus = nudge(&mut run, H);
            let minus = nudge(&mut run, -2.0 * H);
            nudge(&mut run, H);
            assert_close(&format!("adapter {k}[{j}]"), grad[j], (plus - minus) / (2.0 * H));
            largest = largest.max(grad[j].abs());
        }
    }
    assert!(largest > 1e-4, "the check must see real gradients, the largest was {largest:e}");
}
