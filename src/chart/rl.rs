//! A policy-gradient run's curves, step by step over its planned steps: the proxy reward and the
//! true quality together, the KL to the frozen reference, and the responses' length.

use super::lines::{Line, LineChart};
use super::{Scale, MIN_STEPS_SHOWN};
use crate::align_view::{AlignView, RlRecords};
use faultline_engine::telemetry::align::RlStepRecord;

fn per_step(rl: &RlRecords, name: &str, value: fn(&RlStepRecord) -> f32) -> Line {
    let points = rl.steps.iter().map(|s| (s.step as f64, f64::from(value(s)))).collect();
    Line { name: name.to_string(), points, faint: false }
}

/// The lines `make` draws from the run's records (none for a DPO run), on a linear axis that shows
/// them and `also`, over the run's planned steps.
fn chart(view: &AlignView, make: impl Fn(&RlRecords) -> Vec<Line>, also: &[f64]) -> LineChart {
    let lines = view.rl.as_ref().map(make).unwrap_or_default();
    let mut chart = LineChart::of_lines(lines, Scale::Linear);
    let values = chart.lines.iter().flat_map(|l| l.points.iter().map(|p| p.1));
    (chart.y_min, chart.y_max) = Scale::Linear.range(values.chain(also.iter().copied()));
    chart.x_max = chart.x_max.max(view.planned.max(MIN_STEPS_SHOWN) as f64);
    chart
}

/// The mean proxy reward of each step's samples (the reward models' score) and the share of them
/// the grammar accepts (the true quality, 0 to 1), on one axis: the gap between them is the
/// reward hacking.
pub fn reward_quality(view: &AlignView) -> LineChart {
    let lines =
        |rl: &RlRecords| vec![per_step(rl, "proxy reward", |s| s.reward), per_step(rl, "true quality", |s| s.quality)];
    chart(view, lines, &[0.0, 1.0])
}

/// `log π(y) − log π_ref(y)` of each step's samples, the estimate of KL(policy ‖ reference).
pub fn kl(view: &AlignView) -> LineChart {
    chart(view, |rl| vec![per_step(rl, "KL to the reference", |s| s.kl)], &[0.0])
}

/// The mean length of each step's responses, in tokens.
pub fn length(view: &AlignView) -> LineChart {
    chart(view, |rl| vec![per_step(rl, "response length", |s| s.length)], &[0.0])
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use crate::protocol::test_support::rl_info;
    use crate::protocol::AlignEvent;
    use faultline_engine::align::Method;

    fn view() -> AlignView {
        let mut v = AlignView::starting(1, 30, 6, Method::Rl);
        v.apply(1, AlignEvent::FineTuning(Box::new(rl_info())));
        let steps = (1..=4)
            .map(|step| RlStepRecord {
                step,
                reward: 0.5 * step as f32,
                quality: 1.0 - 0.2 * step as f32,
                kl: 0.25 * step as f32,
                length: 10.0 + step as f32,
                entropy: 1.0,
                grad_norm: 1.0,
            })
            .collect();
        v.apply(1, AlignEvent::RlSteps(steps));
        v
    }

    #[test]
    fn reward_and_quality_share_the_step_axis_and_kl_and_length_follow() {
        let v = view();
        let c = reward_quality(&v);
        assert_eq!(c.lines[0].points.last(), Some(&(4.0, 2.0)));
        assert_eq!(c.lines[1].points[0], (1.0, 0.8f32 as f64));
        assert!(c.y_min <= 0.0 && c.y_max >= 2.0, "{}..{}", c.y_min, c.y_max);
        assert_eq!(c.x_max, MIN_STEPS_SHOWN as f64);
        assert!(c.readout(4.0).unwrap().starts_with("step 4 · proxy reward 2.000 · true quality 0.200"));
        assert_eq!(kl(&v).lines[0].points[1], (2.0, 0.5));
        assert_eq!(length(&v).lines[0].points[3], (4.0, 14.0));
        assert!(reward_quality(&AlignView::default()).is_empty(), "a DPO run has no policy-gradient curves");
    }
}
