//! The run buttons, and the ping counter that proves the page still answers while training runs.

use super::controller::Controller;
use crate::form::RunForm;
use crate::run_view::RunState;
use leptos::prelude::*;

#[component]
pub fn RunControls(controller: Controller, form: RwSignal<RunForm>) -> impl IntoView {
    let state = move || controller.view.with(|v| v.state);
    let config = move || form.with_untracked(|f| f.to_config().ok());
    let start = move |_| {
        if let Some(config) = config() {
            controller.start(config, false);
        }
    };
    view! {
        <div class="controls" role="group" aria-label="Training controls">
            <button id="start" class="primary" on:click=start>"Start"</button>
            <button id="pause" disabled=move || !matches!(state(), RunState::Starting | RunState::Running) on:click=move |_| controller.pause()>
                "Pause"
            </button>
            <button id="resume" disabled=move || state() != RunState::Paused on:click=move |_| controller.resume()>
                "Resume"
            </button>
            <button id="step" title="Take one optimiser step (pauses a running run)" on:click=move |_| controller.step(config)>
                "Step"
            </button>
            <button id="reset" disabled=move || state() == RunState::Idle on:click=move |_| controller.reset()>
                "Reset"
            </button>
        </div>
    }
}

#[component]
pub fn PingButton() -> impl IntoView {
    let count = RwSignal::new(0u32);
    view! {
        <p class="ping">
            <button id="ping" class="quiet" on:click=move |_| count.update(|n| *n += 1)>"Is the page responsive?"</button>
            " "
            <span id="ping-count">{count}</span>
            " clicks"
        </p>
    }
}
