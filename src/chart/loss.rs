//! What the loss chart shows, and the mapping between its pixels and its axes, kept apart from the
//! drawing so it can be tested without a canvas.

use crate::run_view::RunView;
use faultline_engine::EvalRecord;

/// The step axis never shows fewer steps than this, so an empty chart still has sensible ticks.
const MIN_STEPS_SHOWN: usize = 10;

/// The series of the loss chart, in axis units (step, nats per token).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LossSeries {
    /// Per-step training loss, averaged into at most the requested number of points.
    pub train: Vec<(f64, f64)>,
    pub eval_train: Vec<(f64, f64)>,
    pub eval_val: Vec<(f64, f64)>,
    /// The corpus's entropy rate, where known.
    pub floor: Option<f64>,
    pub x_max: f64,
    pub y_max: f64,
}

impl LossSeries {
    /// The chart's data for `view`, with the per-step curve reduced to at most `max_points` points.
    pub fn from_view(view: &RunView, max_points: usize) -> Self {
        let finite = |v: f32| v.is_finite().then_some(v as f64);
        let train = downsample(&view.train, max_points.max(1));
        let eval_train: Vec<_> =
            view.evals.iter().filter_map(|e| Some((e.step as f64, finite(e.train_loss)?))).collect();
        let eval_val: Vec<_> = view.evals.iter().filter_map(|e| Some((e.step as f64, finite(e.val_loss?)?))).collect();
        let floor = view.entropy_rate().filter(|f| f.is_finite());
        let highest = train.iter().chain(&eval_train).chain(&eval_val).map(|p| p.1).chain(floor).fold(0.0, f64::max);
        let planned = view.info.as_ref().map_or(0, |i| i.steps).max(view.steps_done).max(MIN_STEPS_SHOWN);
        Self {
            train,
            eval_train,
            eval_val,
            floor,
            x_max: planned as f64,
            y_max: if highest > 0.0 { highest * 1.08 } else { 5.0 },
        }
    }
}

/// Averages consecutive points into buckets so that at most `max_points` remain; non-finite losses
/// are left out.
pub fn downsample(points: &[(usize, f32)], max_points: usize) -> Vec<(f64, f64)> {
    let per_bucket = points.len().div_ceil(max_points).max(1);
    points
        .chunks(per_bucket)
        .filter_map(|bucket| {
            let finite: Vec<_> = bucket.iter().filter(|p| p.1.is_finite()).collect();
            let n = finite.len() as f64;
            (!finite.is_empty()).then(|| {
                let step = finite.iter().map(|p| p.0 as f64).sum::<f64>() / n;
                let loss = finite.iter().map(|p| p.1 as f64).sum::<f64>() / n;
                (step, loss)
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
    pub y_max: f64,
}

impl PlotFrame {
    /// The step under canvas pixel column `px`, or `None` outside the plotting area.
    pub fn step_at(&self, px: f64) -> Option<f64> {
        let (l, r) = (self.left as f64, self.right as f64);
        (r > l && (l..=r).contains(&px)).then(|| (px - l) / (r - l) * self.x_max)
    }

    /// The canvas pixel of the point (step, loss).
    pub fn to_px(&self, step: f64, loss: f64) -> (i32, i32) {
        let x = self.left as f64 + step / self.x_max * (self.right - self.left) as f64;
        let y = self.bottom as f64 - loss / self.y_max * (self.bottom - self.top) as f64;
        (x.round() as i32, y.round() as i32)
    }
}

/// What the pointer is over: the nearest recorded step and the evaluation nearest to it.
#[derive(Clone, Debug, PartialEq)]
pub struct HoverPoint {
    pub step: usize,
    pub train_loss: f32,
    pub eval: Option<EvalRecord>,
}

impl HoverPoint {
    /// The nearest step record to `step` (records are in step order).
    pub fn nearest(view: &RunView, step: f64) -> Option<Self> {
        let train = &view.train;
        let after = train.partition_point(|&(s, _)| (s as f64) < step);
        let candidates = [after.checked_sub(1), (after < train.len()).then_some(after)];
        let &(step_found, train_loss) = candidates
            .into_iter()
            .flatten()
            .map(|i| &train[i])
            .min_by(|a, b| (a.0 as f64 - step).abs().total_cmp(&(b.0 as f64 - step).abs()))?;
        let eval = view.evals.iter().min_by_key(|e| e.step.abs_diff(step_found)).cloned();
        Some(Self { step: step_found, train_loss, eval })
    }

    /// One line for the tooltip.
    pub fn describe(&self) -> String {
        let mut text = format!("step {} · train loss {:.4}", self.step, self.train_loss);
        if let Some(e) = &self.eval {
            text.push_str(&format!(" · eval at step {}: train {:.4}", e.step, e.train_loss));
            if let Some(v) = e.val_loss {
                text.push_str(&format!(", val {v:.4}"));
            }
        }
        text
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use crate::protocol::test_support::eval_record;

    fn view(losses: &[f32]) -> RunView {
        RunView { train: losses.iter().enumerate().map(|(i, &l)| (i + 1, l)).collect(), ..RunView::default() }
    }

    #[test]
    fn downsample_keeps_short_series_and_averages_long_ones() {
        let pts: Vec<(usize, f32)> = (1..=4).map(|s| (s, s as f32)).collect();
        assert_eq!(downsample(&pts, 10), [(1.0, 1.0), (2.0, 2.0), (3.0, 3.0), (4.0, 4.0)]);
        assert_eq!(downsample(&pts, 2), [(1.5, 1.5), (3.5, 3.5)]);
        assert_eq!(downsample(&[(1, f32::NAN), (2, 4.0)], 1), [(2.0, 4.0)]);
        assert!(downsample(&[], 5).is_empty());
    }

    #[test]
    fn series_cover_every_value_and_the_floor() {
        let mut v = view(&[4.0, 3.0, f32::INFINITY]);
        v.evals.push(eval_record(2, 3.5, Some(5.0), None));
        v.steps_done = 3;
        let s = LossSeries::from_view(&v, 100);
        assert_eq!(s.train.len(), 2);
        assert_eq!((s.eval_train.clone(), s.eval_val.clone()), (vec![(2.0, 3.5)], vec![(2.0, 5.0)]));
        assert_eq!(s.x_max, MIN_STEPS_SHOWN as f64);
        assert!((s.y_max - 5.0 * 1.08).abs() < 1e-9);
    }

    #[test]
    fn pixels_and_steps_map_both_ways() {
        let f = PlotFrame { left: 100, right: 500, top: 10, bottom: 210, x_max: 2000.0, y_max: 4.0 };
        assert_eq!(f.step_at(300.0), Some(1000.0));
        assert_eq!(f.step_at(99.0), None);
        assert_eq!(f.to_px(1000.0, 2.0), (300, 110));
    }

    #[test]
    fn hover_finds_the_nearest_step_and_evaluation() {
        let mut v = view(&[4.0, 3.0, 2.0, 1.0]);
        v.evals.push(eval_record(2, 2.9, None, None));
        v.evals.push(eval_record(4, 1.1, Some(1.3), None));
        let h = HoverPoint::nearest(&v, 2.8).unwrap();
        assert_eq!((h.step, h.train_loss), (3, 2.0));
        assert_eq!(h.eval.as_ref().map(|e| e.step), Some(2));
        assert_eq!(HoverPoint::nearest(&v, 100.0).unwrap().step, 4);
        assert!(HoverPoint::nearest(&view(&[]), 1.0).is_none());
        let text = HoverPoint::nearest(&v, 4.0).unwrap().describe();
        assert_eq!(text, "step 4 · train loss 1.0000 · eval at step 4: train 1.1000, val 1.3000");
    }
}
