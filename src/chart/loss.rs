//! The loss chart's series: per-step training loss, evaluated train and validation loss, the corpus's
//! entropy rate and the faint ghost of the last healthy run.

use super::{downsample, Scale, MIN_STEPS_SHOWN};
use crate::run_view::RunView;
use faultline_engine::EvalRecord;

/// A run's per-step training loss: (step, loss).
pub type LossCurve = Vec<(usize, f32)>;

/// The per-step loss curve of `view`, for keeping as a ghost.
pub fn loss_curve(view: &RunView) -> LossCurve {
    view.steps.iter().map(|r| (r.step, r.loss)).collect()
}

/// The series of the loss chart, in axis units (step, and loss on the chosen scale).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LossSeries {
    pub scale: Scale,
    /// Per-step training loss, averaged into at most the requested number of points.
    pub train: Vec<(f64, f64)>,
    pub eval_train: Vec<(f64, f64)>,
    pub eval_val: Vec<(f64, f64)>,
    /// The last healthy run's per-step loss, within this run's step range.
    pub ghost: Vec<(f64, f64)>,
    /// The corpus's entropy rate, where known.
    pub floor: Option<f64>,
    pub x_max: f64,
    pub y_min: f64,
    pub y_max: f64,
}

impl LossSeries {
    /// The chart's data for `view` (and the `ghost` run behind it), with each per-step curve reduced to
    /// at most `max_points` points.
    pub fn from_view(view: &RunView, ghost: Option<&[(usize, f32)]>, max_points: usize, scale: Scale) -> Self {
        let on_axis = |points: Vec<(f64, f64)>| -> Vec<(f64, f64)> {
            points.into_iter().filter_map(|(x, y)| Some((x, scale.to_axis(y)?))).collect()
        };
        let train = on_axis(downsample(&loss_curve(view), max_points));
        let evals = |value: fn(&EvalRecord) -> Option<f32>| {
            on_axis(view.evals.iter().filter_map(|e| Some((e.step as f64, value(e)? as f64))).collect())
        };
        let eval_train = evals(|e| Some(e.train_loss));
        let eval_val = evals(|e| e.val_loss);
        let floor = view.entropy_rate().and_then(|f| scale.to_axis(f));
        let planned = view.info.as_ref().map_or(0, |i| i.steps).max(view.steps_done).max(MIN_STEPS_SHOWN);
        let x_max = planned as f64;
        let ghost = ghost
            .map(|g| {
                let within: Vec<(usize, f32)> = g.iter().copied().filter(|&(s, _)| s as f64 <= x_max).collect();
                on_axis(downsample(&within, max_points))
            })
            .unwrap_or_default();
        let shown = train.iter().chain(&eval_train).chain(&eval_val).chain(&ghost).map(|p| scale.from_axis(p.1));
        let (y_min, y_max) = match scale {
            Scale::Linear => (0.0, scale.range(shown.chain(floor)).1.max(1.0)),
            Scale::Log => scale.range(shown.chain(floor.map(|f| scale.from_axis(f)))),
        };
        Self { scale, train, eval_train, eval_val, ghost, floor, x_max, y_min, y_max }
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
        let steps = &view.steps;
        let after = steps.partition_point(|r| (r.step as f64) < step);
        let candidates = [after.checked_sub(1), (after < steps.len()).then_some(after)];
        let found = candidates
            .into_iter()
            .flatten()
            .map(|i| &steps[i])
            .min_by(|a, b| (a.step as f64 - step).abs().total_cmp(&(b.step as f64 - step).abs()))?;
        let eval = view.evals.iter().min_by_key(|e| e.step.abs_diff(found.step)).cloned();
        Some(Self { step: found.step, train_loss: found.loss, eval })
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
    use crate::protocol::test_support::{eval_record, step_record};

    fn view(losses: &[f32]) -> RunView {
        RunView {
            steps: losses.iter().enumerate().map(|(i, &l)| step_record(i + 1, l)).collect(),
            ..RunView::default()
        }
    }

    #[test]
    fn series_cover_every_value_and_the_floor() {
        let mut v = view(&[4.0, 3.0, f32::INFINITY]);
        v.evals.push(eval_record(2, 3.5, Some(5.0), None));
        v.steps_done = 3;
        let s = LossSeries::from_view(&v, None, 100, Scale::Linear);
        assert_eq!(s.train.len(), 2);
        assert_eq!((s.eval_train.clone(), s.eval_val.clone()), (vec![(2.0, 3.5)], vec![(2.0, 5.0)]));
        assert_eq!(s.x_max, MIN_STEPS_SHOWN as f64);
        assert_eq!(s.y_min, 0.0);
        assert!((s.y_max - 5.0 * 1.08).abs() < 1e-9);
        assert!(s.ghost.is_empty());
    }

    #[test]
    fn the_log_scale_shows_a_blow_up_and_the_ordinary_values_together() {
        let v = view(&[3.3, 2.0, 2.5e6]);
        let s = LossSeries::from_view(&v, None, 100, Scale::Log);
        assert_eq!(s.train.iter().map(|p| p.1.round()).collect::<Vec<_>>(), [1.0, 0.0, 6.0]);
        assert!(s.y_min < 2f64.log10() && s.y_max > 6.0);
    }

    #[test]
    fn the_ghost_is_cut_to_this_runs_steps() {
        let mut v = view(&[4.0, 3.0]);
        v.steps_done = 2;
        let ghost: Vec<(usize, f32)> = (1..=40).map(|s| (s, 1.0)).collect();
        let s = LossSeries::from_view(&v, Some(&ghost), 100, Scale::Linear);
        assert_eq!(s.ghost.len(), MIN_STEPS_SHOWN);
        assert_eq!(loss_curve(&v), [(1, 4.0), (2, 3.0)]);
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
