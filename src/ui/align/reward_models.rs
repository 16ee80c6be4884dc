//! The policy-gradient run's reward models: how each trained, and how often the ensemble ranks a
//! held-out preference pair the right way.

use crate::align_view::{percent, AlignView};
use crate::protocol::MethodInfo;
use leptos::prelude::*;

#[component]
pub fn RewardModelTable(view: RwSignal<AlignView>) -> impl IntoView {
    let rows = move || {
        view.with(|v| {
            let models = v.rl.as_ref().map(|rl| rl.reward_models.clone()).unwrap_or_default();
            models
                .into_iter()
                .enumerate()
                .map(|(k, m)| {
                    let last = m.epochs.last();
                    let loss = last.map_or_else(|| "—".to_string(), |e| format!("{:.3}", e.loss));
                    let accuracy = last.map_or_else(|| "—".to_string(), |e| percent(e.held_out_accuracy));
                    view! {
                        <tr>
                            <td>{k + 1}</td>
                            <td>{m.pairs}</td>
                            <td>{m.epochs.len()}</td>
                            <td>{loss}</td>
                            <td class="rm-accuracy">{accuracy}</td>
                        </tr>
                    }
                })
                .collect_view()
        })
    };
    let ensemble = move || {
        view.with(|v| match v.info.as_ref().map(|i| &i.method) {
            Some(MethodInfo::Rl(rl)) => format!(
                "The ensemble of {} scores a response by its models' minimum; it ranks {} of held-out preference \
                 pairs the right way. The policy is trained against it, and never sees the grammar.",
                rl.reward_models,
                percent(rl.reward_accuracy as f32)
            ),
            _ => String::new(),
        })
    };
    view! {
        <section id="rl-reward-models" class="panel" aria-labelledby="rl-reward-models-title">
            <h2 id="rl-reward-models-title" class="section-title">"The reward models"</h2>
            <p id="rl-ensemble-accuracy" class="note">{ensemble}</p>
            <div class="table-scroll">
                <table class="memory-table">
                    <thead>
                        <tr>
                            <th>"Model"</th>
                            <th>"Pairs"</th>
                            <th>"Epochs"</th>
                            <th>"Loss"</th>
                            <th>"Held-out accuracy"</th>
                        </tr>
                    </thead>
                    <tbody>{rows}</tbody>
                </table>
            </div>
        </section>
    }
}
