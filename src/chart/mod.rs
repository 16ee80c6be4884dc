//! What the charts show and the mapping between their pixels and their axes, kept apart from the
//! drawing so it can be tested without a canvas.
//!
//! - [`palette`]: the series colours, safe for colour-blind readers, defined once.
//! - [`access`]: the keyboard cursor over a chart's points and its data as tables.
//! - [`loss`]: the loss curves, the corpus's floor and the kept runs being compared.
//! - [`lines`]: per-block telemetry over time (gradient norms, dead units, update sizes).
//! - [`attention`]: one attention map as a heatmap.
//! - [`logged`]: a log another program wrote: its curves thinned, smoothed and charted like a run's.
//! - [`phases`]: where each step's time goes.
//! - [`lr_range`]: the learning-rate range test's loss against the rate, on a log axis.
//! - [`dpo`]: a fine-tuning run's DPO loss against ln 2, margin, accuracy, KL and true quality.
//! - [`rl`]: a policy-gradient run's proxy reward beside its true quality, KL and response length.

pub mod access;
pub mod attention;
pub mod dpo;
pub mod lines;
pub mod logged;
pub mod loss;
pub mod lr_range;
pub mod palette;
pub mod phases;
pub mod recap;
pub mod rl;

pub use loss::{HoverPoint, LossSeries};

/// The step axis never shows fewer steps than this, so an empty chart still has sensible ticks.
pub const MIN_STEPS_SHOWN: usize = 10;

/// How values map onto the y axis.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Scale {
    #[default]
    Linear,
    /// Decades: the axis holds log10 of the value.
    Log,
}

impl Scale {
    /// Where value `v` sits on the axis; `None` for values the scale cannot show (non-finite ones, and
    /// zero or less on a log axis).
    pub fn to_axis(self, v: f64) -> Option<f64> {
        match self {
            Scale::Linear => v.is_finite().then_some(v),
            Scale::Log => (v.is_finite() && v > 0.0).then(|| v.log10()),
        }
    }

    /// The value at axis position `y`.
    pub fn from_axis(self, y: f64) -> f64 {
        match self {
            Scale::Linear => y,
            Scale::Log => 10f64.powf(y),
        }
    }

    /// A tick label for axis position `y`.
    pub fn tick(self, y: f64) -> String {
        match self {
            Scale::Linear => {
                let a = y.abs();
                if a != 0.0 && !(0.01..10_000.0).contains(&a) {
                    format!("{y:.0e}")
                } else if a >= 10.0 {
                    format!("{y:.0}")
                } else {
                    format!("{y:.2}").trim_end_matches('0').trim_end_matches('.').to_string()
                }
            }
            Scale::Log => log_tick(y),
        }
    }

    /// The y range (in axis units) that shows every value of `values`, with a little room; a sensible
    /// default when there is nothing to show.
    pub fn range(self, values: impl IntoIterator<Item = f64>) -> (f64, f64) {
        let axis: Vec<f64> = values.into_iter().filter_map(|v| self.to_axis(v)).collect();
        let lo = axis.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = axis.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        match self {
            Scale::Linear if axis.is_empty() => (0.0, 1.0),
            Scale::Linear => (lo.min(0.0), if hi > 0.0 { hi * 1.08 } else { 1.0 }),
            Scale::Log if axis.is_empty() => (-3.0, 1.0),
            Scale::Log => {
                let pad = ((hi - lo) * 0.06).max(0.15);
                (lo - pad, hi + pad)
            }
        }
    }
}

/// The label of a log axis's tick at `y` decades: powers of ten plainly, anything else to two
/// significant digits.
fn log_tick(y: f64) -> String {
    let v = 10f64.powf(y);
    if (y - y.round()).abs() < 1e-9 {
        return match y.round() as i32 {
            e @ 0..=3 => format!("{}", 10u32.pow(e as u32)),
            e @ -2..=-1 => format!("{}", 10f64.powi(e)),
            e => format!("1e{e}"),
        };
    }
    if !(0.01..10_000.0).contains(&v) {
        return format!("{v:.1e}");
    }
    let digits = (1 - v.log10().floor() as i32).max(0) as usize;
    format!("{v:.digits$}")
}

/// A number as a readout shows it: three significant digits, scientific where that reads better.
pub fn format_value(v: f64) -> String {
    let a = v.abs();
    if v == 0.0 {
        "0".to_string()
    } else if !v.is_finite() {
        format!("{v}")
    } else if !(0.01..10_000.0).contains(&a) {
        format!("{v:.2e}")
    } else if a >= 100.0 {
        format!("{v:.0}")
    } else if a >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.3}")
    }
}

/// Averages consecutive points into buckets so that at most `max_points` remain; non-finite values
/// are left out.
pub fn downsample(points: &[(usize, f32)], max_points: usize) -> Vec<(f64, f64)> {
    let per_bucket = points.len().div_ceil(max_points.max(1)).max(1);
    points
        .chunks(per_bucket)
        .filter_map(|bucket| {
            let finite: Vec<_> = bucket.iter().filter(|p| p.1.is_finite()).collect();
            let n = finite.len() as f64;
            (!finite.is_empty()).then(|| {
                let step = finite.iter().map(|p| p.0 as f64).sum::<f64>() / n;
                let value = finite.iter().map(|p| p.1 as f64).sum::<f64>() / n;
                (step, value)
            })
        })
        .collect()
}

/// Where the plotting area lies on the canvas (in canvas pixels) and which axis ranges it shows.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PlotFrame {
    pub left: i32,
    pub right: i32,
    pub top: i32,
    pub bottom: i32,
    pub x_max: f64,
    pub y_min: f64,
    pub y_max: f64,
}

impl PlotFrame {
    /// The x value under canvas pixel column `px`, or `None` outside the plotting area.
    pub fn step_at(&self, px: f64) -> Option<f64> {
        let (l, r) = (self.left as f64, self.right as f64);
        (r > l && (l..=r).contains(&px)).then(|| (px - l) / (r - l) * self.x_max)
    }

    /// The y value (axis units) under canvas pixel row `py`, or `None` outside the plotting area.
    pub fn y_at(&self, py: f64) -> Option<f64> {
        let (t, b) = (self.top as f64, self.bottom as f64);
        (b > t && (t..=b).contains(&py)).then(|| self.y_min + (b - py) / (b - t) * (self.y_max - self.y_min))
    }

    /// The canvas pixel of the point (x, y), y in axis units.
    pub fn to_px(&self, x: f64, y: f64) -> (i32, i32) {
        let px = self.left as f64 + x / self.x_max * (self.right - self.left) as f64;
        let py = self.bottom as f64 - (y - self.y_min) / (self.y_max - self.y_min) * (self.bottom - self.top) as f64;
        (px.round() as i32, py.round() as i32)
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;

    #[test]
    fn downsample_keeps_short_series_and_averages_long_ones() {
        let pts: Vec<(usize, f32)> = (1..=4).map(|s| (s, s as f32)).collect();
        assert_eq!(downsample(&pts, 10), [(1.0, 1.0), (2.0, 2.0), (3.0, 3.0), (4.0, 4.0)]);
        assert_eq!(downsample(&pts, 2), [(1.5, 1.5), (3.5, 3.5)]);
        assert_eq!(downsample(&[(1, f32::NAN), (2, 4.0)], 1), [(2.0, 4.0)]);
        assert!(downsample(&[], 5).is_empty());
    }

    #[test]
    fn pixels_and_values_map_both_ways() {
        let f = PlotFrame { left: 100, right: 500, top: 10, bottom: 210, x_max: 2000.0, y_min: 0.0, y_max: 4.0 };
        assert_eq!(f.step_at(300.0), Some(1000.0));
        assert_eq!(f.step_at(99.0), None);
        assert_eq!(f.to_px(1000.0, 2.0), (300, 110));
        assert_eq!(f.y_at(110.0), Some(2.0));
        assert_eq!(f.y_at(5.0), None);
        let log = PlotFrame { y_min: -2.0, y_max: 2.0, ..f };
        assert_eq!(log.to_px(0.0, -2.0), (100, 210));
        assert_eq!(log.y_at(10.0), Some(2.0));
    }

    #[test]
    fn log_scale_shows_decades_and_drops_what_it_cannot_show() {
        assert_eq!(Scale::Log.to_axis(100.0), Some(2.0));
        assert_eq!(Scale::Log.to_axis(0.0), None);
        assert_eq!(Scale::Linear.to_axis(f64::NAN), None);
        assert!((Scale::Log.from_axis(-3.0) - 1e-3).abs() < 1e-12);
        let (lo, hi) = Scale::Log.range([1e-3, 10.0, 0.0, f64::INFINITY]);
        assert!(lo < -3.0 && hi > 1.0 && hi < 1.5, "{lo}..{hi}");
        assert_eq!(Scale::Linear.range([2.0, 5.0]), (0.0, 5.0 * 1.08));
        assert_eq!(Scale::Linear.range([]), (0.0, 1.0));
        assert_eq!(Scale::Log.tick(-3.0), "1e-3");
        assert_eq!(Scale::Log.tick(-1.0), "0.1");
        assert_eq!(Scale::Log.tick(2.0), "100");
        assert_eq!(Scale::Log.tick(0.5), "3.2");
        assert_eq!(Scale::Log.tick(-0.5), "0.32");
        assert_eq!(Scale::Log.tick(1.5), "32");
        assert_eq!(Scale::Log.tick(-2.5), "3.2e-3");
        assert_eq!(Scale::Linear.tick(2.5), "2.5");
        assert_eq!(Scale::Linear.tick(200.0), "200");
    }

    #[test]
    fn values_read_well() {
        assert_eq!(format_value(0.0), "0");
        assert_eq!(format_value(1.23456), "1.235");
        assert_eq!(format_value(12.345), "12.3");
        assert_eq!(format_value(2.5e9), "2.50e9");
        assert_eq!(format_value(3e-5), "3.00e-5");
    }
}
