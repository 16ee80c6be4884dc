//! The checkpoint controls: save the run as a file, and continue a run from such a file.

use super::controller::{CheckpointStatus, Controller};
use crate::run_view::RunState;
use leptos::prelude::*;
use wasm_bindgen::JsCast;

/// Files larger than this are refused before they are read: no checkpoint of a preset comes near it.
const MAX_CHECKPOINT_BYTES: f64 = 64.0 * 1024.0 * 1024.0;

#[component]
pub fn CheckpointBar(controller: Controller) -> impl IntoView {
    let savable = move || {
        controller
            .view
            .with(|v| matches!(v.state, RunState::Running | RunState::Paused | RunState::Finished | RunState::Stopped))
    };
    let status = controller.checkpoint;
    let read_file = move |ev: web_sys::Event| {
        let Some(input) = ev.target().and_then(|t| t.dyn_into::<web_sys::HtmlInputElement>().ok()) else { return };
        let Some(file) = input.files().and_then(|files| files.get(0)) else { return };
        input.set_value("");
        let name = file.name();
        if file.size() > MAX_CHECKPOINT_BYTES {
            let message = format!(
                "{name} was not loaded: at {:.0} MB it is too large to be a Faultline checkpoint. Your run and settings are unchanged.",
                file.size() / 1e6
            );
            status.set(CheckpointStatus { message, failed: true });
            return;
        }
        let reading = wasm_bindgen_futures::JsFuture::from(file.array_buffer());
        leptos::task::spawn_local(async move {
            match reading.await {
                Ok(buffer) => controller.load_checkpoint(name, js_sys::Uint8Array::new(&buffer).to_vec()),
                Err(_) => status.set(CheckpointStatus {
                    message: format!("{name} could not be read. Your run and settings are unchanged."),
                    failed: true,
                }),
            }
        });
    };
    view! {
        <div class="checkpoint-bar" role="group" aria-label="Checkpoint">
            <button id="save-checkpoint" class="quiet" disabled=move || !savable()
                title="Save the model, the optimiser and the settings as a file (pauses a running run)"
                on:click=move |_| controller.save_checkpoint()>
                "Save checkpoint"
            </button>
            <label class="checkpoint-load">
                "Load checkpoint: "
                <input id="load-checkpoint" type="file" accept=".flckpt" aria-describedby="checkpoint-status"
                    on:change=read_file />
            </label>
            <p id="checkpoint-status" class="checkpoint-status" role="status"
                class:failed=move || status.with(|s| s.failed)>
                {move || status.with(|s| s.message.clone())}
            </p>
        </div>
    }
}
