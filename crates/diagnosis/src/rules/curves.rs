//! Rules that read the per-step curves (loss, gradient norm, validation loss, step times) and how the
//! run ended: what an imported log can have too.

use super::{median, noise, Add};
use crate::{Evidence, Step, Stop, View};
use faultline_guide::EntryId;
use faultline_telemetry::error::EngineError;
use faultline_telemetry::PhaseTimes;

/// The run stopped: a non-finite value, or memory that could not be had.
pub(crate) fn stopped(h: &View, add: &mut Add) {
    let peak = h.steps.iter().filter_map(|s| s.grad_norm).fold(0.0f32, f32::max);
    let non_finite = match h.stop {
        Some(Stop::Engine(EngineError::NonFinite { step, tensor })) => {
            Some(Evidence::NonFinite { tensor: tensor.clone(), step: *step })
        }
        Some(Stop::Logged { signal, step }) => Some(Evidence::LoggedNonFinite { signal: signal.into(), step }),
        _ => None,
    };
    if let Some(evidence) = non_finite {
        add(EntryId::LossBecomesNan, evidence);
        if peak > 100.0 {
            add(EntryId::ExplodingGradients, Evidence::ExplodedBeforeNan { peak });
            add(EntryId::LossBecomesNan, Evidence::GradNormBeforeNan { peak });
        }
    }
    if let Some(Stop::Engine(EngineError::OutOfMemory { requested_bytes, budget_bytes, what })) = h.stop {
        let evidence = Evidence::OutOfMemory {
            what: what.clone(),
            requested_bytes: *requested_bytes,
            budget_bytes: *budget_bytes,
        };
        add(EntryId::OutOfMemoryOom, evidence);
    }
}

/// Early layers whose gradients are orders of magnitude below the last layer's: the engine's blocks
/// at its latest evaluation, or a log's first and last layer at its latest record of them.
pub(crate) fn layer_gradients(h: &View, add: &mut Add) {
    let (first, last, loss, layers) = match (h.last, h.layers) {
        (Some(e), _) => {
            let (Some(first), Some(last)) = (e.blocks.first(), e.blocks.last()) else { return };
            if e.blocks.len() < 2 {
                return;
            }
            (first.grad_norm, last.grad_norm, e.train_loss, None)
        }
        (None, Some(l)) => {
            let Some(step) = h.steps.last() else { return };
            (l.first.1, l.last.1, step.loss, Some((l.first.0.clone(), l.last.0.clone())))
        }
        (None, None) => return,
    };
    if first == 0.0 || last == 0.0 || !first.is_finite() || !last.is_finite() {
        return;
    }
    let ratio = first / last;
    let stuck = h.ln_v.is_some_and(|ln_v| loss > 0.5 * ln_v);
    if ratio < 0.1 || (ratio < 0.3 && stuck) {
        add(EntryId::VanishingGradients, Evidence::LayerGradients { first, last, loss, layers });
    }
}

/// Validation loss climbing from its minimum while the training loss keeps falling.
pub(crate) fn overfitting(h: &View, add: &mut Add) {
    let vals: Vec<(usize, f32, f32)> = h.checks.iter().filter_map(|c| c.val.map(|v| (c.step, v, c.train))).collect();
    if vals.len() < 3 {
        return;
    }
    let (best_step, best_val, _) = vals.iter().copied().min_by(|a, b| a.1.total_cmp(&b.1)).expect("non-empty");
    let &(step, val, train) = vals.last().expect("non-empty");
    let gap = val - train;
    if val - best_val > 0.1 && gap > 0.3 {
        add(
            EntryId::ValidationLossIncreasingWhileTrainingLossDecreases,
            Evidence::ValidationRising { best_val, best_step, val, step, train },
        );
    }
}

/// Gradient norms far above the guide's healthy range, or a spike the loss follows upward and stays up.
///
/// A spike alone proves nothing: with clipping, healthy runs spike up to ~18× the median of the 50
/// steps before them and the loss keeps falling. What clipping prevents is the damage: without it the
/// loss climbs after the spike and stays up. On the tuning runs, the median loss of the 10 steps after
/// the worst spike rose 0.17–1.8 nats over that of the 10 before in every `no-grad-clip` run and at most
/// 0.17 in a healthy one; 20 steps later it was still 0.13–0.55 up in the first and at most 0.06 in
/// the second.
pub(crate) fn exploding(h: &View, add: &mut Add) {
    let Some(norms) = h.grad_norms() else { return };
    if let Some((i, peak)) = norms.iter().copied().enumerate().max_by(|a, b| a.1.total_cmp(&b.1)) {
        if peak > 100.0 {
            let median = median(norms.clone());
            add(EntryId::ExplodingGradients, Evidence::GradNormAboveGuide { peak, step: h.steps[i].step, median });
            return;
        }
    }
    let losses = h.losses();
    let (ten, window, after, lasting_for) =
        (h.records(10), h.records(SPIKE_WINDOW), h.records(AFTER_SPIKE), h.records(LASTING));
    let mut worst: Option<Evidence> = None;
    for i in ten..norms.len().saturating_sub(after + lasting_for) {
        let recent = median(norms[i.saturating_sub(window)..i].to_vec());
        if norms[i] < SPIKE_RATIO * recent {
            continue;
        }
        let before = median(losses[i - ten..i].to_vec());
        let loss_rise = median(losses[i + 1..=i + after].to_vec()) - before;
        let lasting = median(losses[i + after + 1..=i + after + lasting_for].to_vec()) - before;
        let larger = |w: &Option<Evidence>| match w {
            Some(Evidence::GradNormSpike { loss_rise: r, .. }) => loss_rise > *r,
            _ => true,
        };
        let spread = noise(&losses[i.saturating_sub(window)..i]);
        let rose = loss_rise > SPIKE_LOSS_RISE.max(RISE_SPREADS * spread);
        let stayed = lasting > SPIKE_LASTING_RISE.max(LASTING_SPREADS * spread);
        if rose && stayed && larger(&worst) {
            let step = h.steps[i].step;
            worst = Some(Evidence::GradNormSpike { peak: norms[i], step, median: recent, loss_rise, lasting });
        }
    }
    if let Some(evidence) = worst {
        add(EntryId::ExplodingGradients, evidence);
    }
}

/// Steps before a gradient norm whose median it is compared with.
const SPIKE_WINDOW: usize = 50;
/// A norm this many times its recent median is a spike.
const SPIKE_RATIO: f32 = 3.0;
/// Steps after a spike whose median loss is compared with the 10 before it.
pub(crate) const AFTER_SPIKE: usize = 10;
/// The steps after those, whose median loss shows whether the rise lasted.
pub(crate) const LASTING: usize = 20;
/// How far (nats) the loss must rise after a spike for the spike to be blamed.
const SPIKE_LOSS_RISE: f32 = 0.12;
/// How far above the loss before the spike it must still be [`LASTING`] steps later.
const SPIKE_LASTING_RISE: f32 = 0.09;
/// On a noisy loss the rises must also stand out of the noise: three standard errors of the
/// difference of two medians, of 10 steps and 10 (1.2533 σ √(1/10 + 1/10) ≈ 0.56 σ), and of 20
/// steps and 10 (≈ 0.49 σ), σ being the loss's spread ([`noise`]) over the window before the spike.
/// On the tuning and retired runs a missing clip's spikes rose at least 5.2 σ and stayed 3.9 σ up;
/// the healthy runs read as exploding had risen 1.1–3.6 σ and stayed 0.8–4.0 σ.
const RISE_SPREADS: f32 = 1.68;
const LASTING_SPREADS: f32 = 1.46;

/// A global gradient norm of exactly zero at nine records in ten or more: nothing reaches any weight
/// (every weight initialised to zero, or the gradients cleared between the backward pass and the
/// step). A healthy norm is never exactly zero.
pub(crate) fn zero_gradients(h: &View, add: &mut Add) {
    let Some(norms) = h.grad_norms() else { return };
    let zero = norms.iter().filter(|&&n| n == 0.0).count();
    if zero * 10 >= norms.len() * 9 {
        add(EntryId::GradientsAreAllZero, Evidence::GradNormZero { zero, records: norms.len() });
    }
}

/// Gradient norms that grow smoothly, step after step: gradients summed instead of replaced. A sum
/// over t steps changes by about 1/t of itself per step, so its norm moves by a few per cent a step;
/// healthy norms, one fresh batch each, move by 15–45 % (median over the second half, tuning runs).
pub(crate) fn accumulating(h: &View, add: &mut Add) {
    let Some(norms) = h.grad_norms() else { return };
    let n = norms.len();
    let span = &norms[n / 10..];
    let size = span.len() / 5;
    if size < 3 {
        return;
    }
    let medians: Vec<f32> = span.chunks(size).take(5).map(|c| median(c.to_vec())).collect();
    let (first, last) = (medians[0], medians[medians.len() - 1]);
    let half = &norms[n / 2..];
    let change = median(half.windows(2).map(|w| (w[1] - w[0]).abs() / w[0].max(1e-12)).collect());
    // Summed gradients also end far above the first steps' norms; a run whose steps are too small to
    // move the weights has smooth norms too, but near where they started.
    let start = median(norms[..h.records(10)].to_vec());
    // A log's records are `stride` steps apart, over which a sum moves `stride` times as far; the
    // cap stays below a fresh batch's 15 %.
    let smooth = (SMOOTH_CHANGE * h.stride as f32).min(SMOOTH_CHANGE_CAP);
    if first > 0.0 && last > 1.5 * first && last > SUMMED_GROWTH * start && change < smooth {
        add(EntryId::GradientsAreAllZero, Evidence::GradientsPileUp { medians, change });
    }
}

/// A gradient norm whose median change per step is below this moves like a running sum.
const SMOOTH_CHANGE: f32 = 0.05;
/// The most a log's records (many steps apart) may change and still read as a running sum.
const SMOOTH_CHANGE_CAP: f32 = 0.12;
/// How far above the first 10 steps' median a summed norm ends (tuning runs: 5.8–14.7× with the
/// gradients summed, at most 1× for runs at a tiny rate, whose norms are smooth too).
const SUMMED_GROWTH: f32 = 3.0;

/// How many steps before a loss jump a gradient spike may be blamed for it: its own update, and the
/// momentum that carries it into the next two.
const SPIKE_LEAD: usize = 3;

/// How far (nats) the loss must jump above the median of the 10 steps before it.
const JUMP: f32 = 0.6;

/// How many times the loss's own step-to-step spread ([`noise`]) a jump must also exceed. Batches of
/// a varied text make the step loss noisy: a healthy PyTorch run on the standard library's docstrings
/// (`cargo xtask peer-logs --tuning`) rose 3.4 spreads once; the engine's damaged weights jump 31 to
/// 126 spreads (tuning runs).
const JUMP_NOISE: f32 = 6.0;

/// A sudden jump of the loss after it had come down: damaged or replaced weights.
pub(crate) fn loss_jump(h: &View, add: &mut Add) {
    let losses = h.losses();
    // Without gradient norms a jump cannot be told from a spike's damage: the rule abstains.
    let Some(norms) = h.grad_norms() else { return };
    let ten = h.records(10);
    // A jump in the first steps is the early instability `early_spike` reads, not changed weights.
    let window = h.records(SPIKE_WINDOW);
    for i in h.records(EARLY_STEPS)..losses.len() {
        let before = median(losses[i.saturating_sub(ten)..i].to_vec());
        let first = losses[0];
        if losses[i] > before + JUMP
            && before < first - 0.5
            && losses[i] - before > JUMP_NOISE * noise(&losses[i.saturating_sub(window)..i])
        {
            // A gradient spike in the last few steps before the jump caused it (its update threw
            // the loss); a jump with no such spike means the weights themselves changed. Healthy
            // runs spike too (on arithmetic up to ~10× their median after step 10, with no jump
            // after), so the culprit must also be the largest gradient since the first 10 steps: a
            // spike no bigger than earlier harmless ones cannot explain the jump.
            let med = median(norms.clone());
            let spike = (i.saturating_sub(h.records(SPIKE_LEAD))..i).max_by(|&a, &b| norms[a].total_cmp(&norms[b]));
            let record = |j: usize| norms[ten.min(j)..j].iter().all(|&n| n < norms[j]);
            if let Some(j) = spike.filter(|&j| norms[j] > 10.0 * med && record(j)) {
                let evidence = Evidence::SpikeThrewLoss {
                    norm: norms[j],
                    step: h.steps[j].step,
                    ratio: norms[j] / med.max(1e-12),
                    before,
                    after: losses[i],
                };
                add(EntryId::ExplodingGradients, evidence);
                return;
            }
            let evidence = Evidence::LossJumped { before, after: losses[i], step: h.steps[i].step };
            add(EntryId::ModelOutputsNonsense, evidence);
            return;
        }
    }
}

/// A loss far above ln V, the loss of guessing uniformly: at the start (weights initialised far too
/// large) or later (steps so large they throw the model out of its basin).
pub(crate) fn worse_than_guessing(h: &View, add: &mut Add) {
    let Some(ln_v) = h.ln_v else { return };
    let first = h.steps[0].loss;
    // Only a loss logged in the first steps is the initial weights' loss.
    if first > ln_v + 2.0 && h.steps[0].step <= FIRST_STEPS {
        add(EntryId::ExplodingGradients, Evidence::FirstLossAboveLnV { first, ln_v });
        return;
    }
    // A step or two above ln V early on is warmup settling (tuning runs: one step at most in healthy
    // runs); a rate that is too high keeps the loss there (42 steps or more of 200).
    let above: Vec<&Step> = h.steps.iter().skip(h.records(5)).filter(|s| s.loss > ln_v + 1.0).collect();
    if above.len() >= h.records(ABOVE_LN_V_STEPS) {
        let s = above[0];
        add(EntryId::LossOscillatesWildly, Evidence::LossAboveLnV { loss: s.loss, step: s.step, ln_v });
    }
}

/// A first loss logged after this many steps is not the initial weights' loss.
const FIRST_STEPS: usize = 10;

/// Steps above ln V + 1 that make a run's steps too big to settle.
const ABOVE_LN_V_STEPS: usize = 5;

/// Loss that jumps up and down without a downward trend.
pub(crate) fn oscillation(h: &View, add: &mut Add) {
    let n = h.steps.len();
    let tail: Vec<f32> = h.steps[n / 2..].iter().map(|s| s.loss).collect();
    let mean_step: f32 = tail.windows(2).map(|w| (w[1] - w[0]).abs()).sum::<f32>() / (tail.len() - 1).max(1) as f32;
    let third = tail.len() / 3;
    let trend = median(tail[..third].to_vec()) - median(tail[tail.len() - third..].to_vec());
    let level = median(tail.clone());
    if mean_step > 0.25 && trend < mean_step {
        add(EntryId::LossOscillatesWildly, Evidence::Oscillation { mean_step, level });
    }
}

/// The first steps of a run, where warmup and the first large updates still shake the loss.
const EARLY_STEPS: usize = 60;

/// A loss that shoots up in the first steps, then settles on a plateau.
pub(crate) fn early_spike(h: &View, add: &mut Add) {
    let first = h.steps[0].loss;
    let early = &h.steps[..h.steps.len().min(h.records(EARLY_STEPS))];
    let Some(peak) = early.iter().max_by(|a, b| a.loss.total_cmp(&b.loss)) else { return };
    let low_before = early.iter().take_while(|s| s.step < peak.step).map(|s| s.loss).fold(first, f32::min);
    if peak.loss > low_before + 0.5 && peak.step > 1 {
        let evidence = Evidence::EarlySpike { low: low_before, peak: peak.loss, step: peak.step };
        add(EntryId::LossStopsDecreasing, evidence);
    }
}

/// Steps that spend much of their time outside the forward and backward passes.
pub(crate) fn slow_steps(h: &View, add: &mut Add) {
    let recent: Vec<PhaseTimes> = h.steps[h.steps.len() / 2..].iter().filter_map(|s| s.times).collect();
    let total: f64 = recent.iter().map(|t| t.total_ms()).sum();
    let overhead: f64 = recent.iter().map(|t| t.telemetry_ms + t.data_ms).sum();
    if total > 0.0 && overhead / total > 0.3 {
        add(EntryId::TrainingIsVerySlow, Evidence::SlowSteps { overhead: overhead / total });
    }
}
