//! A policy-gradient run's curves on the trainer's line charts.

use super::super::line_chart::LineChartView;
use crate::align_view::AlignView;
use crate::chart::lines::LineChart;
use crate::chart::rl;
use leptos::prelude::*;

#[component]
pub fn RlCharts(view: RwSignal<AlignView>) -> impl IntoView {
    let chart = move |make: fn(&AlignView) -> LineChart| Memo::new(move |_| view.with(make));
    let (reward, kl, length) = (chart(rl::reward_quality), chart(rl::kl), chart(rl::length));
    view! {
        <section class="panel align-charts" aria-labelledby="align-charts-title">
            <h2 id="align-charts-title" class="section-title">"Fine-tuning, step by step"</h2>
            <div class="chart-grid">
                <LineChartView
                    id="rl-reward-chart"
                    title="Proxy reward and true quality"
                    y_label="reward score · quality share"
                    data=reward
                    caption="Both on one axis, against the step: the proxy reward is the reward models' mean score \
                             of the step's samples (what the policy climbs); the true quality is the share of them \
                             the corpus's grammar accepts, from 0 to 1 (what the reward stands for). Reward up while \
                             quality falls is reward hacking."
                />
                <LineChartView
                    id="rl-kl-chart"
                    title="KL to the reference"
                    y_label="nats per response"
                    data=kl
                    caption="log π(y) − log π_ref(y) of each step's samples: how far the policy has drifted from \
                             its frozen reference. The KL penalty (kl-coef) charges the reward for it."
                />
                <LineChartView
                    id="rl-length-chart"
                    title="Response length"
                    y_label="tokens"
                    data=length
                    caption="The mean length of each step's sampled responses."
                />
            </div>
        </section>
    }
}
