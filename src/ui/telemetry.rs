//! The run's telemetry beyond the loss: gradient norms, attention, dead units, update sizes and where
//! the time goes; the line charts draw the compared runs too.

use super::attention_map::AttentionMap;
use super::line_chart::LineChartView;
use super::phase_chart::PhaseChart;
use crate::chart::lines::{dead_fractions, grad_norms, update_ratios, LineChart};
use crate::kept_runs::{Comparison, RunRecord};
use crate::run_view::RunView;
use leptos::prelude::*;

/// Points of the per-step gradient-norm line.
const GRAD_POINTS: usize = 400;

#[component]
pub fn TelemetryCharts(view: RwSignal<RunView>, comparison: Memo<Comparison>) -> impl IntoView {
    let shown = move |chart: fn(&RunView, &[RunRecord]) -> LineChart| {
        comparison.with(|c| if c.live { view.with(|v| chart(v, &c.runs)) } else { chart(&RunView::default(), &c.runs) })
    };
    let grads = Memo::new(move |_| shown(|v, runs| grad_norms(v, GRAD_POINTS, runs)));
    let dead = Memo::new(move |_| shown(dead_fractions));
    let updates = Memo::new(move |_| shown(update_ratios));
    view! {
        <section class="telemetry" aria-labelledby="telemetry-title">
            <h2 id="telemetry-title" class="section-title">"Inside the model"</h2>
            <div class="chart-grid">
                <LineChartView
                    id="grad-chart"
                    title="Gradient norm per block"
                    caption="Healthy gradients stay between about 0.1 and 10; a block stuck at the bottom edge gets no gradient at all."
                    y_label="gradient norm (log)"
                    data=grads
                />
                <AttentionMap view />
                <LineChartView
                    id="dead-chart"
                    title="Dead MLP units per block"
                    caption="The share of hidden units that never fire on a whole batch: they pass back no gradient."
                    y_label="fraction dead"
                    data=dead
                />
                <LineChartView
                    id="update-chart"
                    title="Update size ‖Δw‖ / ‖w‖"
                    caption="How much one step changes the weights, median over each block's matrices; around 1e-3 is typical."
                    y_label="update / weight (log)"
                    data=updates
                />
                <PhaseChart view />
            </div>
        </section>
    }
}
