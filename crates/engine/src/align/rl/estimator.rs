//! The policy-gradient estimator against the exact gradient of what it estimates, on a model small
//! enough to enumerate: a vocabulary of 3 tokens, a one-token prompt and responses of 2 tokens, so
//! 9 responses and, for a batch of 2, 81 batches.
//!
//! The objective is written here from its definition, independently of the run's code:
//! `J(θ) = Σ_y π(y) r(y) − c · KL(π ‖ π_ref) + e · H(π)`, over the 9 responses. Its gradient is a
//! central difference in f64. The estimator's expectation is enumerated exactly: every batch of 2
//! responses, weighted by its probability `π(y₁) π(y₂)`, through the run's own shaped rewards,
//! leave-one-out coefficients and weighted backward pass (by linearity, one backward pass over the
//! 9 responses with each response's total coefficient). If the estimator is unbiased, the two agree
//! to the precision of the check. As in `run/gradcheck.rs`, with h = 1e-6 in f64 the difference's
//! errors are near 1e-10, and the coefficients pass through f32 once (relative 1e-7), so the check
//! demands `|analytic − numeric| ≤ 1e-7 + 1e-5·|numeric|`; a biased baseline (one that includes the
//! sample itself), a wrong sign of the KL or entropy term, or a missing factor fails it by orders of
//! magnitude.

use super::*;
use crate::backend::CpuBackend;
use crate::config::ModelConfig;

type B = CpuBackend<f64>;

const H: f64 = 1e-6;
const KL_COEF: f64 = 0.7;
const ENTROPY_BONUS: f64 = 0.3;

fn tiny() -> ModelConfig {
    ModelConfig { vocab_size: 3, context: 4, d_model: 8, n_heads: 2, n_layers: 1, mlp_mult: 2 }
}

/// The policy and a reference, both with weights spread wide enough that their distributions are
/// far from uniform and from each other.
fn models() -> (Policy<B>, Gpt<B>, Activations<Vec<f64>>, Vec<f64>) {
    let mut backend = B::new();
    let mut rng = Rng::new(5);
    let mut spread = |model: &mut Gpt<B>| {
        for t in model.params.tensors_mut() {
            for v in t.iter_mut() {
                *v += 0.6 * (rng.uniform() - 0.5);
            }
        }
    };
    let mut model = Gpt::new(&mut backend, tiny(), Faults::default(), 1).unwrap();
    let mut reference = Gpt::new(&mut backend, tiny(), Faults::default(), 2).unwrap();
    spread(&mut model);
    spread(&mut reference);
    let mut policy = Policy::new(backend, model, 0, 1).unwrap();
    let acts = Activations::new(&mut policy.backend, &tiny(), 9, 4).unwrap();
    let weights = policy.backend.alloc(9 * 4 * 3, "weights").unwrap();
    (policy, reference, acts, weights)
}

/// The 9 responses of 2 tokens to the prompt `[0]`.
fn responses() -> Rollout {
    let seqs = (0..9u32).map(|k| vec![0, k / 3, k % 3]).collect();
    Rollout::new(seqs, vec![1; 9])
}

/// A proxy reward per response, fixed and uneven.
const REWARD: [f64; 9] = [0.3, -1.2, 0.7, 1.5, -0.4, 0.0, 2.1, -0.8, 0.5];

/// `log π(y)` of each of the 9 responses under `model`.
fn log_probs(model: &Gpt<B>, backend: &mut B, acts: &mut Activations<Vec<f64>>, all: &Rollout) -> Vec<f64> {
    let pass = Pass { batch: 9, time: all.time(), dropout: 0.0, dropout_seed: 0 };
    model.forward(backend, acts, &all.x, Some(&all.y), pass);
    let time = all.time();
    (0..9).map(|s| (s * time..(s + 1) * time).map(|r| -f64::from(all.mask[r]) * acts.losses[r]).sum()).collect()
}

/// `J(θ)`, from its definition.
fn objective(policy: &mut Policy<B>, reference: &Gpt<B>, acts: &mut Activations<Vec<f64>>, all: &Rollout) -> f64 {
    let logp = log_probs(&policy.model, &mut policy.backend, acts, all);
    let ref_logp = log_probs(reference, &mut policy.backend, acts, all);
    let p: Vec<f64> = logp.iter().map(|l| l.exp()).collect();
    let expected_reward: f64 = p.iter().zip(REWARD).map(|(p, r)| p * r).sum();
    let kl: f64 = (0..9).map(|y| p[y] * (logp[y] - ref_logp[y])).sum();
    let entropy: f64 = (0..9).map(|y| -p[y] * logp[y]).sum();
    expected_reward - KL_COEF * kl + ENTROPY_BONUS * entropy
}

#[test]
fn the_leave_one_out_estimator_is_unbiased_for_the_shaped_objective() {
    let (mut policy, reference, mut acts, mut weights) = models();
    let all = responses();
    let logp = log_probs(&policy.model, &mut policy.backend, &mut acts, &all);
    let ref_logp = log_probs(&reference, &mut policy.backend, &mut acts, &all);
    let total: f64 = logp.iter().map(|l| l.exp()).sum();
    assert!((total - 1.0).abs() < 1e-12, "the 9 responses are every response: Σπ = {total}");

    // Every batch of two responses, through the run's shaped rewards and leave-one-out coefficients.
    let mut coefs = [0.0f64; 9];
    for a in 0..9 {
        for b in 0..9 {
            let batch = [a, b];
            let scored = Scored {
                reward: batch.iter().map(|&y| REWARD[y]).collect(),
                logp: batch.iter().map(|&y| logp[y]).collect(),
                ref_logp: batch.iter().map(|&y| ref_logp[y]).collect(),
                entropy: 0.0,
            };
            let probability = (logp[a] + logp[b]).exp();
            let batch_coefs = leave_one_out(&shaped_rewards(&scored, KL_COEF, ENTROPY_BONUS));
            for (&y, c) in batch.iter().zip(batch_coefs) {
                coefs[y] += probability * c;
            }
        }
    }
    // The forward pass the backward one reads, then the expected loss gradient, −E[∇̂J].
    log_probs(&policy.model, &mut policy.backend, &mut acts, &all);
    policy.zero_grads();
    policy.backward_weighted(&mut acts, &mut weights, &all.x, &all.mask, &coefs);
    let expected: Vec<Vec<f64>> = policy.grads.tensors().into_iter().cloned().collect();

    let mut rng = Rng::new(9);
    let mut largest = 0.0f64;
    for (t, grad) in expected.iter().enumerate() {
        for _ in 0..4 {
            let j = rng.below(grad.len());
            let mut nudge = |policy: &mut Policy<B>, d: f64| {
                policy.model.params.tensors_mut()[t][j] += d;
                objective(policy, &reference, &mut acts, &all)
            };
            let plus = nudge(&mut policy, H);
            let minus = nudge(&mut policy, -2.0 * H);
            nudge(&mut policy, H);
            let numeric = -(plus - minus) / (2.0 * H); // the loss is −J
            let tol = 1e-7 + 1e-5 * numeric.abs();
            assert!(
                (grad[j] - numeric).abs() <= tol,
                "tensor {t}[{j}]: estimator's expectation {:.10e} vs exact {numeric:.10e}",
                grad[j]
            );
            largest = largest.max(numeric.abs());
        }
    }
    assert!(largest > 1e-3, "the check must see real gradients, the largest was {largest:e}");
}

/// The baseline leaves each sample out of its own: with every shaped reward equal there is nothing
/// to learn, and the coefficients sum to zero for any batch.
#[test]
fn leave_one_out_coefficients() {
    assert_eq!(leave_one_out(&[2.0, 2.0, 2.0]), vec![0.0; 3]);
    let c = leave_one_out(&[1.0, 0.0, -2.0, 5.0]);
    assert!(c.iter().sum::<f64>().abs() < 1e-12);
    assert!((c[3] - (5.0 - (1.0 + 0.0 - 2.0) / 3.0) / 4.0).abs() < 1e-12);
    assert_eq!(leave_one_out(&[3.0]), vec![0.0]);
}
