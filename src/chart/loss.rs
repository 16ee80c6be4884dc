//! The loss chart's series: per-step training loss, evaluated train and validation loss, the corpus's
//! entropy rate and the kept runs being compared.

use super::{downsample, Scale, MIN_STEPS_SHOWN};
use crate::kept_runs::RunRecord;
use crate::run_view::RunView;
use faultline_engine::EvalRecord;

/// A kept run's curves on the loss chart, in axis units.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ComparedLoss {
    /// The legend's name for it.
    pub name: String,
    /// Per-step training loss, averaged into at most the requested number of points.
    pub train: Vec<(f64, f64)>,
    pub val: Vec<(f64, f64)>,
}

/// The series of the loss chart, in axis units (step, and loss on the chosen scale).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LossSeries {
    pub scale: Scale,
    /// Per-step training loss, averaged into at most the requested number of points.
    pub train: Vec<(f64, f64)>,
    pub eval_train: Vec<(f64, f64)>,
    pub eval_val: Vec<(f64, f64)>,
    /// The kept runs drawn over this one, in the order picked.
    pub compared: Vec<ComparedLoss>,
    /// The corpus's entropy rate, where known.
    pub floor: Option<f64>,
    pub x_max: f64,
    pub y_min: f64,
    pub y_max: f64,
}

impl LossSeries {
    /// The chart's data for `view` and the `compared` runs, with each per-step curve reduced to at most
    /// `max_points` points; the axes show every run whole.
    pub fn from_view(view: &RunView, compared: &[RunRecord], max_points: usize, scale: Scale) -> Self {
        let on_axis = |points: Vec<(f64, f64)>| -> Vec<(f64, f64)> {
            points.into_iter().filter_map(|(x, y)| Some((x, scale.to_axis(y)?))).collect()
        };
        let per_step: Vec<(usize, f32)> = view.steps.iter().map(|r| (r.step, r.loss)).collect();
        let train = on_axis(downsample(&per_step, max_points));
        let evals = |value: fn(&EvalRecord) -> Option<f32>| {
            on_axis(view.evals.iter().filter_map(|e| Some((e.step as f64, value(e)? as f64))).collect())
        };
        let eval_train = evals(|e| Some(e.train_loss));
        let eval_val = evals(|e| e.val_loss);
        let floor = view.entropy_rate().and_then(|f| scale.to_axis(f));
        let compared: Vec<ComparedLoss> = compared
            .iter()
            .map(|r| {
                let train: Vec<(usize, f32)> = r.curves.train.iter().map(|&(s, l)| (s as usize, l)).collect();
                ComparedLoss {
                    name: r.name(),
                    train: on_axis(downsample(&train, max_points)),
                    val: on_axis(r.curves.val.iter().map(|&(s, l)| (s as f64, l as f64)).collect()),
                }
            })
            .collect();
        let planned = view.info.as_ref().map_or(0, |i| i.steps).max(view.steps_done).max(MIN_STEPS_SHOWN);
        let last_compared = compared.iter().flat_map(|c| c.train.last().into_iter().chain(c.val.last())).map(|p| p.0);
        let x_max = last_compared.fold(planned as f64, f64::max);
        let compared_points = compared.iter().flat_map(|c| c.train.iter().chain(&c.val));
        let shown =
            train.iter().chain(&eval_train).chain(&eval_val).chain(compared_points).map(|p| scale.from_axis(p.1));
        let (y_min, y_max) = match scale {
            Scale::Linear => (0.0, scale.range(shown.chain(floor)).1.max(1.0)),
            Scale::Log => scale.range(shown.chain(floor.map(|f| scale.from_axis(f)))),
        };
        Self { scale, train, eval_train, eval_val, compared, floor, x_max, y_min, y_max }
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
        let s = LossSeries::from_view(&v, &[], 100, Scale::Linear);
        assert_eq!(s.train.len(), 2);
        assert_eq!((s.eval_train.clone(), s.eval_val.clone()), (vec![(2.0, 3.5)], vec![(2.0, 5.0)]));
        assert_eq!(s.x_max, MIN_STEPS_SHOWN as f64);
        assert_eq!(s.y_min, 0.0);
        assert!((s.y_max - 5.0 * 1.08).abs() < 1e-9);
        assert!(s.compared.is_empty());
    }

    #[test]
    fn the_log_scale_shows_a_blow_up_and_the_ordinary_values_together() {
        let v = view(&[3.3, 2.0, 2.5e6]);
        let s = LossSeries::from_view(&v, &[], 100, Scale::Log);
        assert_eq!(s.train.iter().map(|p| p.1.round()).collect::<Vec<_>>(), [1.0, 0.0, 6.0]);
        assert!(s.y_min < 2f64.log10() && s.y_max > 6.0);
    }

    #[test]
    fn compared_runs_are_drawn_whole_on_shared_axes() {
        let mut v = view(&[4.0, 3.0]);
        v.steps_done = 2;
        let mut kept = RunView::starting(1, faultline_engine::RunConfig::default());
        kept.steps = (1..=40).map(|s| step_record(s, 1.0)).collect();
        kept.steps[9].loss = 6.0;
        kept.evals.push(eval_record(40, 1.0, Some(1.2), None));
        let mut history = crate::kept_runs::KeptRuns::default();
        history.add(&kept, None);
        let s = LossSeries::from_view(&v, &history.runs, 100, Scale::Linear);
        assert_eq!(s.compared.len(), 1);
        let c = &s.compared[0];
        assert_eq!((c.name.as_str(), c.train.len(), c.val.clone()), ("run 1", 40, vec![(40.0, 1.2f32 as f64)]));
        assert_eq!(s.x_max, 40.0, "the step axis reaches the longer run's end");
        assert!((s.y_max - 6.0 * 1.08).abs() < 1e-9, "the loss axis its highest loss");
        let alone = LossSeries::from_view(&RunView::default(), &history.runs, 100, Scale::Linear);
        assert!(alone.train.is_empty() && alone.compared[0].train.len() == 40);
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
