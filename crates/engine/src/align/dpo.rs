//! The DPO objective on the host, in f64: from each sequence's summed log-probability under the
//! policy and the frozen reference to the loss, the telemetry the page plots, and the weight each
//! token's cross-entropy gradient gets in the backward pass.
//!
//! For a pair with chosen answer `c` and rejected answer `r` after the same prompt,
//!
//! ```text
//! h    = β · [(log π(c) − log π_ref(c)) − (log π(r) − log π_ref(r))]     the implicit reward margin
//! loss = −log σ(h) = softplus(−h)                                          ln 2 when h = 0
//! ∂loss/∂log π(c) = −β σ(−h),   ∂loss/∂log π(r) = +β σ(−h)
//! ```
//!
//! A sequence's `log π` is the sum over its response tokens of `−cross_entropy(token)`, so each
//! response token's cross-entropy gradient is scaled by `−∂loss/∂log π` of its sequence; prompt and
//! padding tokens get weight 0. That is how the step reuses the backend's cross-entropy kernel: the
//! kernel writes `(softmax − onehot)` for every row, and one element-wise product by these weights
//! turns the language-model gradient into the DPO gradient.

/// One pair's log-probabilities: the policy's now and the reference's (cached when the run started).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PairLogps {
    pub chosen: f64,
    pub rejected: f64,
    pub ref_chosen: f64,
    pub ref_rejected: f64,
}

/// The DPO loss of a batch of pairs and what it says.
#[derive(Clone, Debug, PartialEq)]
pub struct DpoTerms {
    /// Mean of `−log σ(h)` over the pairs.
    pub loss: f64,
    /// Mean implicit reward margin `h`.
    pub margin: f64,
    /// Share of pairs with `h > 0` (the policy prefers the chosen answer more than the reference
    /// does); a tie counts as not preferred, as TRL counts it.
    pub accuracy: f64,
    /// Mean `log π(c) − log π_ref(c)` and `log π(r) − log π_ref(r)`: how the two answers' log
    /// probabilities have drifted from the reference.
    pub chosen_drift: f64,
    pub rejected_drift: f64,
    /// Per pair, `∂loss/∂log π(c)` and `∂loss/∂log π(r)` of the mean loss.
    pub grads: Vec<(f64, f64)>,
}

/// `log σ(x)`, without overflow for large `|x|`.
pub fn log_sigmoid(x: f64) -> f64 {
    if x >= 0.0 {
        -(-x).exp().ln_1p()
    } else {
        x - x.exp().ln_1p()
    }
}

/// `σ(x)`.
pub fn sigmoid(x: f64) -> f64 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

/// The DPO loss of `pairs` at inverse temperature `beta`. `reference_is_policy` is the
/// `dpo-reference-not-frozen` fault's graph: the reference log-probabilities are the policy's own
/// (`pairs` then carries them in `ref_*`), and the gradient flows through both, so it cancels.
pub fn dpo_terms(pairs: &[PairLogps], beta: f64, reference_is_policy: bool) -> DpoTerms {
    let n = pairs.len().max(1) as f64;
    let mut terms = DpoTerms {
        loss: 0.0,
        margin: 0.0,
        accuracy: 0.0,
        chosen_drift: 0.0,
        rejected_drift: 0.0,
        grads: Vec::with_capacity(pairs.len()),
    };
    for p in pairs {
        let (dc, dr) = (p.chosen - p.ref_chosen, p.rejected - p.ref_rejected);
        let h = beta * (dc - dr);
        terms.loss -= log_sigmoid(h) / n;
        terms.margin += h / n;
        terms.accuracy += f64::from(h > 0.0) / n;
        terms.chosen_drift += dc / n;
        terms.rejected_drift += dr / n;
        // ∂h/∂log π(c) = β through the policy, and −β again through a reference that is the policy.
        let through_reference = if reference_is_policy { -beta } else { 0.0 };
        let dh = beta + through_reference;
        let dloss_dh = -sigmoid(-h) / n;
        terms.grads.push((dloss_dh * dh, -dloss_dh * dh));
    }
    terms
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair(c: f64, r: f64, rc: f64, rr: f64) -> PairLogps {
        PairLogps { chosen: c, rejected: r, ref_chosen: rc, ref_rejected: rr }
    }

    #[test]
    fn a_policy_equal_to_its_reference_has_loss_ln2_and_no_accuracy() {
        let t = dpo_terms(&[pair(-3.0, -4.0, -3.0, -4.0), pair(-1.0, -1.5, -1.0, -1.5)], 0.1, false);
        assert!((t.loss - std::f64::consts::LN_2).abs() < 1e-15);
        assert_eq!((t.margin, t.accuracy, t.chosen_drift, t.rejected_drift), (0.0, 0.0, 0.0, 0.0));
        // At h = 0 the gradient is ∓β/2 per pair, over the mean of 2 pairs.
        assert!((t.grads[0].0 + 0.1 / 4.0).abs() < 1e-15 && (t.grads[0].1 - 0.1 / 4.0).abs() < 1e-15);
    }

    #[test]
    fn the_live_reference_cancels_the_gradient() {
        let t = dpo_terms(&[pair(-3.0, -4.0, -3.0, -4.0)], 0.1, true);
        assert_eq!(t.grads, [(0.0, 0.0)]);
    }

    /// The analytic gradient against central differences of the loss, in f64, at margins on both
    /// sides of 0 and in the tails where σ saturates.
    #[test]
    fn gradients_match_finite_differences() {
        let pairs = [pair(-3.0, -4.5, -3.5, -4.0), pair(-10.0, -2.0, -9.0, -3.0), pair(-0.5, -60.0, -0.6, -0.7)];
        for beta in [0.1, 1.0, 10.0] {
            let t = dpo_terms(&pairs, beta, false);
            let h = 1e-6;
            for i in 0..pairs.len() {
                for chosen in [true, false] {
                    let shifted = |d: f64| {
                        let mut p = pairs;
                        if chosen {
                            p[i].chosen += d;
                        } else {
                            p[i].rejected += d;
                        }
                        dpo_terms(&p, beta, false).loss
                    };
                    let numeric = (shifted(h) - shifted(-h)) / (2.0 * h);
                    let analytic = if chosen { t.grads[i].0 } else { t.grads[i].1 };
                    assert!((numeric - analytic).abs() < 1e-7 * (1.0 + analytic.abs()), "β {beta} pair {i}");
                }
            }
        }
    }

    #[test]
    fn log_sigmoid_is_stable_in_both_tails() {
        assert!((log_sigmoid(0.0) + std::f64::consts::LN_2).abs() < 1e-15);
        assert_eq!(log_sigmoid(800.0), 0.0);
        assert!((log_sigmoid(-800.0) + 800.0).abs() < 1e-9);
        assert!((sigmoid(-800.0)).abs() < 1e-300 && sigmoid(800.0) == 1.0);
    }
}
