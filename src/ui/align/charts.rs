//! The fine-tuning run's curves on the trainer's line charts.

use super::super::line_chart::LineChartView;
use crate::align_view::AlignView;
use crate::chart::dpo;
use crate::chart::lines::LineChart;
use leptos::prelude::*;

#[component]
pub fn AlignCharts(view: RwSignal<AlignView>) -> impl IntoView {
    let chart = move |make: fn(&AlignView) -> LineChart| Memo::new(move |_| view.with(make));
    let (loss, margin, kl, held_out) =
        (chart(dpo::loss), chart(dpo::margin_accuracy), chart(dpo::kl), chart(dpo::held_out));
    view! {
        <section class="panel align-charts" aria-labelledby="align-charts-title">
            <h2 id="align-charts-title" class="section-title">"Fine-tuning, step by step"</h2>
            <div class="chart-grid">
                <LineChartView
                    id="dpo-loss-chart"
                    title="DPO loss"
                    y_label="−log σ(margin)"
                    data=loss
                    caption="Each step's pairs and, at each evaluation, pairs the run never trains on. It starts at \
                             ln 2 (dashed) and falls as the policy learns the preferences; flat at ln 2, it learns nothing."
                />
                <LineChartView
                    id="dpo-margin-chart"
                    title="Reward margin and preference accuracy"
                    y_label="margin, share"
                    data=margin
                    caption="The mean implicit reward margin β·Δ of each step's pairs, and the share of them the policy \
                             prefers the right way."
                />
                <LineChartView
                    id="dpo-kl-chart"
                    title="KL to the reference"
                    y_label="nats"
                    data=kl
                    caption="How far the policy has moved from its frozen reference over the chosen answers: β holds \
                             it back."
                />
                <LineChartView
                    id="dpo-quality-chart"
                    title="Held-out accuracy and true quality"
                    y_label="share"
                    data=held_out
                    caption="At each evaluation: the held-out pairs preferred the right way, and the share of the \
                             policy's own completions the corpus's grammar accepts."
                />
            </div>
        </section>
    }
}
