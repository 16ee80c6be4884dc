//! The learning-rate range test's curve: loss against the rate on a log axis, with the rate at the
//! lowest loss and the suggested rate marked.

use crate::range_view::RangeView;

/// Everything the range chart draws; x in decades (log10 of the rate), y in nats.
#[derive(Clone, Debug, PartialEq)]
pub struct RangeChart {
    /// (log10 rate, loss) of every finite step, in order.
    pub points: Vec<(f64, f64)>,
    pub x_min: f64,
    pub x_max: f64,
    pub y_min: f64,
    pub y_max: f64,
    /// The lowest point of the curve.
    pub lowest: Option<(f64, f64)>,
    /// log10 of the suggested rate.
    pub suggestion: Option<f64>,
}

impl RangeChart {
    /// The chart of `view`'s sweep; its x axis spans the whole sweep from the start.
    pub fn from_view(view: &RangeView) -> Self {
        let points: Vec<(f64, f64)> = view
            .points
            .iter()
            .filter(|p| p.loss.is_finite() && p.lr > 0.0)
            .map(|p| ((p.lr as f64).log10(), p.loss as f64))
            .collect();
        let lo = points.iter().map(|p| p.1).fold(f64::INFINITY, f64::min);
        let hi = points.iter().map(|p| p.1).fold(f64::NEG_INFINITY, f64::max);
        let (y_min, y_max) = if points.is_empty() {
            (0.0, 5.0)
        } else {
            let pad = ((hi - lo) * 0.08).max(0.1);
            ((lo - pad).max(0.0), hi + pad)
        };
        let suggestion = view.suggestion();
        Self {
            points,
            x_min: (view.settings.start_lr as f64).log10(),
            x_max: (view.settings.end_lr as f64).log10(),
            y_min,
            y_max,
            lowest: suggestion.map(|s| ((s.lowest_lr as f64).log10(), s.lowest_loss as f64)),
            suggestion: suggestion.map(|s| (s.lr as f64).log10()),
        }
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use crate::protocol::LrRangeEvent;
    use faultline_engine::lr_range::{suggest, RangeEnd, RangePoint, RangeResult, RangeSettings};

    #[test]
    fn the_axes_span_the_sweep_and_the_marks_sit_on_the_suggestion() {
        let settings = RangeSettings::default();
        let mut view = RangeView::requested(1, settings);
        let empty = RangeChart::from_view(&view);
        assert!((empty.x_min + 7.0).abs() < 1e-6 && empty.x_max == 0.0, "{}..{}", empty.x_min, empty.x_max);
        assert!(empty.points.is_empty() && empty.y_max > empty.y_min);
        let points = vec![
            RangePoint { step: 1, lr: 1e-4, loss: 3.0 },
            RangePoint { step: 2, lr: 1e-2, loss: 2.0 },
            RangePoint { step: 3, lr: 1.0, loss: f32::NAN },
        ];
        let result = RangeResult { settings, suggestion: suggest(&points), points, end: RangeEnd::Completed };
        view.apply(1, LrRangeEvent::Done(result));
        let chart = RangeChart::from_view(&view);
        assert_eq!(chart.points.len(), 2, "a NaN loss is not drawn");
        assert!((chart.points[1].0 + 2.0).abs() < 1e-6 && chart.points[1].1 == 2.0);
        assert!(chart.y_min < 2.0 && chart.y_max > 3.0);
        assert!((chart.suggestion.unwrap() + 3.0).abs() < 1e-5, "{:?}", chart.suggestion);
        assert_eq!(chart.lowest.map(|p| p.1), Some(2.0));
    }
}
