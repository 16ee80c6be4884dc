//! The Performance panel's numbers, read off the run's own step records: how fast this browser trains
//! the model, and where a step's time goes.

use faultline_engine::StepRecord;

/// At most this many recent steps are averaged, so the figures follow the run as it goes.
pub const WINDOW: usize = 50;

/// One phase of a step: its mean time and its share of the step.
#[derive(Clone, Debug, PartialEq)]
pub struct Phase {
    pub name: &'static str,
    pub ms: f64,
    /// 0 to 1.
    pub share: f64,
}

/// The recent steps' speed.
#[derive(Clone, Debug, PartialEq)]
pub struct Performance {
    /// How many steps were averaged (the latest ones, step 1 left out once there are others: it pays
    /// for first-use costs).
    pub steps: usize,
    pub ms_per_step: f64,
    pub steps_per_s: f64,
    /// Tokens trained per second of step time.
    pub tokens_per_s: f64,
    /// Arithmetic per second by the usual estimate of 6 × parameters × tokens per step (forward 2,
    /// backward 4; attention's own products are left out), when the parameter count is known.
    pub gflops: Option<f64>,
    /// In the order of a step: data, forward, backward, optimiser, telemetry.
    pub phases: Vec<Phase>,
}

impl Performance {
    /// The phase that takes longest.
    pub fn slowest(&self) -> Option<&Phase> {
        self.phases.iter().max_by(|a, b| a.ms.total_cmp(&b.ms))
    }
}

/// The speed of the latest steps of `steps`, or `None` before a step with a measured time.
pub fn measure(steps: &[StepRecord], param_count: Option<usize>) -> Option<Performance> {
    let skip_first = usize::from(steps.len() > 1 && steps[0].step == 1);
    let recent = &steps[skip_first.max(steps.len().saturating_sub(WINDOW))..];
    let n = recent.len() as f64;
    let mean = |f: fn(&StepRecord) -> f64| recent.iter().map(f).sum::<f64>() / n;
    let ms_per_step = mean(|s| s.times.total_ms());
    if recent.is_empty() || ms_per_step <= 0.0 || !ms_per_step.is_finite() {
        return None;
    }
    let tokens = mean(|s| s.tokens as f64);
    let steps_per_s = 1000.0 / ms_per_step;
    let phase = |name, ms: f64| Phase { name, ms, share: ms / ms_per_step };
    Some(Performance {
        steps: recent.len(),
        ms_per_step,
        steps_per_s,
        tokens_per_s: tokens * steps_per_s,
        gflops: param_count.map(|p| 6.0 * p as f64 * tokens * steps_per_s / 1e9),
        phases: vec![
            phase("data", mean(|s| s.times.data_ms)),
            phase("forward", mean(|s| s.times.forward_ms)),
            phase("backward", mean(|s| s.times.backward_ms)),
            phase("optimizer", mean(|s| s.times.optimizer_ms)),
            phase("telemetry", mean(|s| s.times.telemetry_ms)),
        ],
    })
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use crate::run_view::trained;
    use faultline_engine::{PhaseTimes, RunConfig};

    fn step(step: usize, forward_ms: f64, backward_ms: f64) -> StepRecord {
        let times = PhaseTimes { data_ms: 1.0, forward_ms, backward_ms, optimizer_ms: 2.0, telemetry_ms: 0.0 };
        StepRecord { step, loss: 3.0, grad_norm: 1.0, lr: 1e-3, tokens: 1000, times, mode: None }
    }

    #[test]
    fn averages_the_recent_steps_without_the_first() {
        assert_eq!(measure(&[], Some(10)), None);
        let mut steps = vec![step(1, 500.0, 500.0)];
        steps.extend((2..=5).map(|i| step(i, 3.0, 4.0 + (i % 2) as f64 * 2.0)));
        let p = measure(&steps, Some(100_000)).unwrap();
        assert_eq!(p.steps, 4, "step 1's warm-up is left out");
        assert!((p.ms_per_step - 11.0).abs() < 1e-9, "{p:?}");
        assert!((p.steps_per_s - 1000.0 / 11.0).abs() < 1e-9);
        assert!((p.tokens_per_s - 1000.0 * 1000.0 / 11.0).abs() < 1e-6);
        assert!((p.gflops.unwrap() - 6.0 * 1e5 * p.tokens_per_s / 1e9).abs() < 1e-12);
        assert_eq!(p.slowest().unwrap().name, "backward");
        assert!((p.phases.iter().map(|f| f.share).sum::<f64>() - 1.0).abs() < 1e-12);
        assert_eq!(measure(&steps[..1], None).unwrap().steps, 1, "a lone first step is all there is");
        assert_eq!(measure(&steps, None).unwrap().gflops, None);
    }

    #[test]
    fn follows_only_the_latest_window() {
        let steps: Vec<StepRecord> = (1..=200).map(|i| step(i, if i > 150 { 10.0 } else { 1.0 }, 1.0)).collect();
        let p = measure(&steps, None).unwrap();
        assert_eq!(p.steps, WINDOW);
        assert!((p.phases[1].ms - 10.0).abs() < 1e-9, "only steps 151..200 count: {p:?}");
    }

    #[test]
    fn a_real_run_spends_most_of_a_step_in_the_passes() {
        let view = trained(RunConfig::from_pairs([("steps", "8"), ("eval-every", "100")]).unwrap());
        let p = measure(&view.steps, view.info.as_ref().map(|i| i.param_count)).unwrap();
        assert_eq!(p.steps, 7);
        let passes = p.phases[1].share + p.phases[2].share;
        assert!(passes > 0.5, "forward and backward take {:.0}% of a step: {p:?}", passes * 100.0);
        assert!(p.gflops.unwrap() > 0.0);
    }
}
