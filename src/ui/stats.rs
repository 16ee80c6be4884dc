//! The run's headline numbers: status, steps, losses, throughput and backend.

use crate::run_view::{RunState, RunView};
use leptos::prelude::*;

const NONE: &str = "—";

fn loss(v: Option<f32>) -> String {
    v.map_or_else(|| NONE.to_string(), |l| if l.abs() < 1e4 { format!("{l:.4}") } else { format!("{l:.3e}") })
}

/// One headline number: its label, and its value under `id` (tests and screen readers find it there).
pub fn stat(label: &'static str, id: &'static str, value: impl IntoView + 'static) -> impl IntoView {
    view! {
        <div class="stat">
            <dt>{label}</dt>
            <dd id=id>{value}</dd>
        </div>
    }
}

#[component]
pub fn RunStats(view: RwSignal<RunView>) -> impl IntoView {
    let state = move || view.with(|v| v.state);
    let planned = move || view.with(|v| v.info.as_ref().map(|i| format!(" / {}", i.steps)).unwrap_or_default());
    view! {
        <dl class="stats">
            <div class="stat">
                <dt>"Status"</dt>
                <dd id="status" data-state=move || state().as_str() aria-live="polite">{move || state().label()}</dd>
            </div>
            <div class="stat">
                <dt>"Step"</dt>
                <dd><span id="step-count">{move || view.with(|v| v.steps_done)}</span><span class="of">{planned}</span></dd>
            </div>
            <div class="stat">
                <dt>"Train loss"</dt>
                <dd id="train-loss">{move || view.with(|v| loss(v.last_train_loss()))}</dd>
            </div>
            <div class="stat">
                <dt>"Val loss"</dt>
                <dd id="val-loss">{move || view.with(|v| loss(v.last_val_loss()))}</dd>
            </div>
            <div class="stat">
                <dt>"Tokens/s"</dt>
                <dd id="tokens-per-s">{move || view.with(|v| v.tokens_per_s.map_or_else(|| NONE.to_string(), |t| format!("{t:.0}")))}</dd>
            </div>
            <div class="stat">
                <dt>"Backend"</dt>
                <dd id="backend">{move || view.with(|v| v.info.as_ref().map_or_else(|| NONE.to_string(), |i| i.backend.clone()))}</dd>
            </div>
        </dl>
        <RunMessage view />
    }
}

/// One sentence: what to do first, what the run trains, or how it ended.
#[component]
fn RunMessage(view: RwSignal<RunView>) -> impl IntoView {
    let text = move || {
        view.with(|v| {
            if let Some(m) = &v.message {
                return m.clone();
            }
            let Some(info) = v.info.as_ref() else {
                return match v.state {
                    RunState::Idle => "Press Start to train, or Step to go one optimiser step at a time.".to_string(),
                    _ => "Building the model and loading the training text…".to_string(),
                };
            };
            let floor = info
                .corpus
                .entropy_rate
                .map(|f| format!("; the corpus's entropy rate, the lowest reachable loss, is {f:.3}"))
                .unwrap_or_default();
            format!(
                "{} parameters on '{}' ({} characters, vocabulary {}){floor}.",
                info.param_count, info.corpus.id, info.corpus.chars, info.corpus.vocab_size
            )
        })
    };
    view! { <p id="run-message" class="run-message">{text}</p> }
}
