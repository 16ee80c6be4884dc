//! The curves of a log another program wrote: thinned for drawing (each stretch keeps its first,
//! lowest, highest and last point, and its first NaN or Inf), smoothed the way TensorBoard and W&B
//! smooth a scalar, and laid out as the trainer's line charts.

use super::lines::{Line, LineChart};
use super::Scale;
use faultline_engine::telemetry::log::{Point, Series, Signal};

/// The most points a series of a log is drawn with.
pub const CURVE_POINTS: usize = 1000;

/// Points each stretch of a thinned series keeps at most: its first, lowest, highest and last point
/// and its first non-finite one.
const KEPT_PER_STRETCH: usize = 5;

/// `points` thinned to at most `max_points` (at least five), in step order: the series is cut into
/// equal stretches and each keeps its first and last point, its lowest and highest finite value and its
/// first NaN or Inf, so spikes, dips and the moment a run broke all survive.
pub fn thin(points: &[Point], max_points: usize) -> Vec<Point> {
    if points.len() <= max_points {
        return points.to_vec();
    }
    let stretches = (max_points / KEPT_PER_STRETCH).max(1);
    let per_stretch = points.len().div_ceil(stretches);
    let mut out = Vec::with_capacity(max_points);
    for stretch in points.chunks(per_stretch) {
        let finite = || stretch.iter().enumerate().filter(|(_, p)| p.value.is_finite());
        let lowest = finite().min_by(|a, b| a.1.value.total_cmp(&b.1.value)).map(|(i, _)| i);
        let highest = finite().max_by(|a, b| a.1.value.total_cmp(&b.1.value)).map(|(i, _)| i);
        let broken = stretch.iter().position(|p| !p.value.is_finite());
        let mut kept: Vec<usize> =
            [Some(0), lowest, highest, broken, Some(stretch.len() - 1)].into_iter().flatten().collect();
        kept.sort_unstable();
        kept.dedup();
        out.extend(kept.into_iter().map(|i| stretch[i]));
    }
    out
}

/// TensorBoard's and W&B's smoothing: an exponential moving average with `weight` in [0, 1), divided
/// by 1 − weight^n after n values so the start is not pulled towards zero. Non-finite values are
/// passed through, marked where they are, and leave the average as it was.
pub fn smooth(points: &[(f64, f64)], weight: f64) -> Vec<(f64, f64)> {
    let weight = weight.clamp(0.0, 0.999);
    let mut average = 0.0;
    let mut seen = 0;
    points
        .iter()
        .map(|&(x, y)| {
            if !y.is_finite() {
                return (x, y);
            }
            average = average * weight + (1.0 - weight) * y;
            seen += 1;
            (x, average / (1.0 - weight.powi(seen)))
        })
        .collect()
}

/// The charts of one logged run, each empty when the log lacks its signals.
#[derive(Clone, Debug, PartialEq)]
pub struct LoggedCharts {
    /// Training and validation loss.
    pub loss: LineChart,
    /// The global gradient norm, on a log axis.
    pub grad_norm: LineChart,
    /// Each layer's gradient norm, on a log axis.
    pub layers: LineChart,
    pub learning_rate: LineChart,
    /// Milliseconds per step.
    pub step_time: LineChart,
}

impl LoggedCharts {
    /// The charts of `curves`, each series smoothed with `smoothing` (its raw values faint behind
    /// it; drawn plain at 0), the loss on `loss_scale`. The training loss comes before the validation
    /// loss, so each gets the colour it has on the trainer's charts.
    pub fn new(curves: &[Series], smoothing: f64, loss_scale: Scale) -> Self {
        let lines = |pick: &dyn Fn(&Signal) -> bool| -> Vec<Line> {
            let mut picked: Vec<&Series> = curves.iter().filter(|s| pick(&s.signal)).collect();
            picked.sort_by_key(|s| s.signal == Signal::ValLoss);
            picked.into_iter().flat_map(|s| drawn(s, smoothing)).collect()
        };
        Self {
            loss: LineChart::of_lines(lines(&|s| matches!(s, Signal::Loss | Signal::ValLoss)), loss_scale),
            grad_norm: LineChart::of_lines(lines(&|s| *s == Signal::GradNorm), Scale::Log),
            layers: LineChart::of_lines(lines(&|s| matches!(s, Signal::LayerGradNorm(_))), Scale::Log),
            learning_rate: LineChart::of_lines(lines(&|s| *s == Signal::LearningRate), Scale::Linear),
            step_time: LineChart::of_lines(lines(&|s| *s == Signal::StepTimeMs), Scale::Linear),
        }
    }
}

/// Whether the charts draw `signal`.
pub fn is_charted(signal: &Signal) -> bool {
    !matches!(signal, Signal::Other(_))
}

/// The lines of `series`: plain without smoothing, else the raw values faint behind the smoothed.
fn drawn(series: &Series, smoothing: f64) -> Vec<Line> {
    let name = series.signal.name();
    let raw: Vec<(f64, f64)> = series.points.iter().map(|p| (p.step as f64, p.value as f64)).collect();
    if smoothing <= 0.0 {
        return vec![Line { name, points: raw, faint: false }];
    }
    let smoothed = smooth(&raw, smoothing);
    vec![Line { name: format!("{name}, raw"), points: raw, faint: true }, Line { name, points: smoothed, faint: false }]
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;

    fn points(values: &[f32]) -> Vec<Point> {
        values.iter().enumerate().map(|(i, &value)| Point { step: i as u64 + 1, value }).collect()
    }

    #[test]
    fn thinning_keeps_the_ends_the_extremes_and_the_first_nan_of_every_stretch() {
        let mut values: Vec<f32> = (0..100_000).map(|i| 5.0 - i as f32 * 1e-5).collect();
        values[40_000] = 80.0;
        values[60_000] = -3.0;
        values[70_000] = f32::INFINITY;
        for v in &mut values[90_000..] {
            *v = f32::NAN;
        }
        let all = points(&values);
        let thinned = thin(&all, CURVE_POINTS);
        let stretches = CURVE_POINTS / KEPT_PER_STRETCH;
        assert!((2 * stretches..=CURVE_POINTS).contains(&thinned.len()), "{}", thinned.len());
        assert_eq!(thinned[0], all[0]);
        assert_eq!(thinned.last().map(|p| p.step), all.last().map(|p| p.step));
        assert!(thinned.windows(2).all(|w| w[0].step < w[1].step), "in step order, each point once");
        let at = |step: u64| thinned.iter().find(|p| p.step == step).map(|p| p.value);
        assert_eq!((at(40_001), at(60_001), at(70_001)), (Some(80.0), Some(-3.0), Some(f32::INFINITY)));
        assert!(at(90_001).is_some_and(f32::is_nan), "the first NaN is kept where it happened");
        let short = points(&[1.0, f32::NAN, 2.0]);
        assert_eq!(thin(&short, CURVE_POINTS).len(), 3, "a short series is kept whole");
    }

    #[test]
    fn smoothing_is_tensorboards_debiased_moving_average() {
        let raw = [(1.0, 2.0), (2.0, 4.0), (3.0, f64::NAN), (4.0, 4.0)];
        let s = smooth(&raw, 0.5);
        assert_eq!(s[0], (1.0, 2.0), "the first value is its own average: no pull towards zero");
        // (0.5·0.5·2 + 0.5·4) / (1 − 0.5²) = 10/3
        assert!((s[1].1 - 10.0 / 3.0).abs() < 1e-12, "{s:?}");
        assert!(s[2].1.is_nan() && s[2].0 == 3.0, "a NaN stays where it was");
        assert!(
            (s[3].1 - (0.125 * 2.0 + 0.25 * 4.0 + 0.5 * 4.0) / 0.875).abs() < 1e-12,
            "and does not enter the average"
        );
        assert_eq!(smooth(&raw[..2], 0.0), raw[..2], "weight 0 leaves the values alone");
        let flat: Vec<(f64, f64)> = (0..50).map(|i| (i as f64, 3.0)).collect();
        assert!(smooth(&flat, 0.99).iter().all(|p| (p.1 - 3.0).abs() < 1e-9), "a constant stays constant");
    }

    #[test]
    fn a_log_is_charted_like_a_run_with_the_raw_values_behind_the_smoothed() {
        let series = |signal: Signal, values: &[f32]| Series { signal, points: points(values) };
        let curves = vec![
            series(Signal::ValLoss, &[3.5, 2.5]),
            series(Signal::Loss, &[4.0, 3.0, 2.0, f32::NAN]),
            series(Signal::GradNorm, &[1.0, 2.0]),
            series(Signal::LayerGradNorm("h.0".into()), &[0.1, 0.2]),
        ];
        let charts = LoggedCharts::new(&curves, 0.6, Scale::Linear);
        let names: Vec<&str> = charts.loss.lines.iter().map(|l| l.name.as_str()).collect();
        assert_eq!(names, ["loss, raw", "loss", "val_loss, raw", "val_loss"]);
        assert!(charts.loss.lines[0].faint && !charts.loss.lines[1].faint);
        assert_eq!(charts.loss.non_finite(), [4.0], "the NaN is marked at its step");
        assert_eq!(charts.loss.x_max, 10.0, "short logs keep a sensible step axis");
        assert_eq!((charts.grad_norm.scale, charts.grad_norm.lines.len()), (Scale::Log, 2));
        assert_eq!(charts.layers.lines[1].name, "grad_norm/h.0");
        assert!(charts.learning_rate.is_empty() && charts.step_time.is_empty());
        let plain = LoggedCharts::new(&curves, 0.0, Scale::Log);
        assert_eq!(plain.loss.lines.len(), 2, "no smoothing: one plain line per series");
        assert_eq!(plain.loss.scale, Scale::Log);
        assert!(is_charted(&Signal::StepTimeMs) && !is_charted(&Signal::Other("epoch".into())));
    }
}
