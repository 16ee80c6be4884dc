//! A fine-tuning run's curves: the DPO loss against ln 2, the reward margin and preference accuracy,
//! the KL to the reference step by step, and the held-out accuracy and true quality at the
//! evaluations. The step axis spans the run's planned DPO steps.

use super::lines::{Line, LineChart, Reference};
use super::{Scale, MIN_STEPS_SHOWN};
use crate::align_view::AlignView;
use faultline_engine::telemetry::align::{DpoEvalRecord, DpoStepRecord};
use std::f64::consts::LN_2;

fn per_step(view: &AlignView, name: &str, value: fn(&DpoStepRecord) -> f32) -> Line {
    let points = view.steps.iter().map(|s| (s.step as f64, f64::from(value(s)))).collect();
    Line { name: name.to_string(), points, faint: false }
}

fn per_eval(view: &AlignView, name: &str, value: fn(&DpoEvalRecord) -> f32) -> Line {
    let points = view.evals.iter().map(|e| (e.record.step as f64, f64::from(value(&e.record)))).collect();
    Line { name: name.to_string(), points, faint: false }
}

/// `lines` on a linear axis that shows them and `also`, over the run's planned steps.
fn chart(view: &AlignView, lines: Vec<Line>, also: &[f64]) -> LineChart {
    let mut chart = LineChart::of_lines(lines, Scale::Linear);
    let values = chart.lines.iter().flat_map(|l| l.points.iter().map(|p| p.1));
    (chart.y_min, chart.y_max) = Scale::Linear.range(values.chain(also.iter().copied()));
    chart.x_max = chart.x_max.max(view.planned.max(MIN_STEPS_SHOWN) as f64);
    chart
}

/// The DPO loss of each step's pairs and of the held-out pairs at each evaluation, with ln 2, the loss
/// of a policy equal to its reference, dashed.
pub fn loss(view: &AlignView) -> LineChart {
    let lines = vec![per_step(view, "training pairs", |s| s.loss), per_eval(view, "held-out pairs", |e| e.loss)];
    let mut chart = chart(view, lines, &[LN_2]);
    chart.reference = Some(Reference { value: LN_2, label: "ln 2: the policy still equals its reference" });
    chart
}

/// The mean implicit reward margin and the share of pairs preferred, step by step.
pub fn margin_accuracy(view: &AlignView) -> LineChart {
    let lines =
        vec![per_step(view, "reward margin", |s| s.margin), per_step(view, "preference accuracy", |s| s.accuracy)];
    chart(view, lines, &[0.0, 1.0])
}

/// KL(policy ‖ reference) over the chosen answers, step by step.
pub fn kl(view: &AlignView) -> LineChart {
    chart(view, vec![per_step(view, "KL to the reference", |s| s.kl)], &[0.0])
}

/// At each evaluation: the held-out preference accuracy and the true quality of the policy's samples.
pub fn held_out(view: &AlignView) -> LineChart {
    let lines = vec![
        per_eval(view, "held-out preference accuracy", |e| e.accuracy),
        per_eval(view, "true quality", |e| e.quality),
    ];
    let mut chart = chart(view, lines, &[0.0, 1.0]);
    (chart.y_min, chart.y_max) = (0.0, 1.0);
    chart
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use crate::protocol::test_support::align_info;
    use crate::protocol::AlignEvent;

    fn view() -> AlignView {
        let mut v = AlignView::starting(1, 30, 6, faultline_engine::align::Method::Dpo);
        v.apply(1, AlignEvent::FineTuning(Box::new(align_info())));
        let steps = (1..=4)
            .map(|step| DpoStepRecord {
                step,
                loss: 0.69 - 0.05 * step as f32,
                margin: 0.1 * step as f32,
                accuracy: 0.25 * step as f32,
                chosen_drift: 0.0,
                rejected_drift: 0.0,
                kl: 0.5 * step as f32,
                grad_norm: 1.0,
                lr: 1e-4,
            })
            .collect();
        v.apply(1, AlignEvent::Steps(steps));
        for (step, quality) in [(0, 0.25), (4, 0.5)] {
            let record = DpoEvalRecord { step, loss: 0.6, accuracy: 0.75, quality, samples: Vec::new() };
            v.apply(1, AlignEvent::Eval { record, valid: Vec::new() });
        }
        v
    }

    #[test]
    fn the_loss_is_drawn_against_ln_2_over_the_planned_steps() {
        let c = loss(&view());
        assert_eq!(c.lines[0].points.len(), 4);
        assert_eq!(c.lines[1].points, [(0.0, 0.6f32 as f64), (4.0, 0.6f32 as f64)]);
        assert_eq!(c.reference.as_ref().map(|r| r.value), Some(LN_2));
        assert!(c.y_min <= 0.0 && c.y_max > LN_2, "ln 2 is on the axis: {}..{}", c.y_min, c.y_max);
        assert_eq!(c.x_max, MIN_STEPS_SHOWN as f64, "6 planned steps show as the axis's minimum");
        assert!(c.readout(4.2).unwrap().starts_with("step 4 · training pairs 0.490 · held-out pairs 0.600"));
    }

    #[test]
    fn margin_kl_and_the_evaluations() {
        let v = view();
        let m = margin_accuracy(&v);
        assert_eq!(m.lines[1].points.last(), Some(&(4.0, 1.0)));
        assert!(m.y_max >= 1.0);
        assert_eq!(kl(&v).lines[0].points[1], (2.0, 1.0));
        let h = held_out(&v);
        assert_eq!(h.lines[1].points, [(0.0, 0.25), (4.0, 0.5)]);
        assert_eq!((h.y_min, h.y_max), (0.0, 1.0));
        assert!(loss(&AlignView::default()).is_empty());
    }
}
