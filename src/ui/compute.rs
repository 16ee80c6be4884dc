//! The Compute setting: which backend the next run trains on (auto, the CPU, WebGPU), remembered in
//! this browser. The run itself says which backend it got and why (Performance panel).

use super::local_storage;
use crate::protocol::Compute;
use leptos::prelude::*;

/// The `localStorage` key of the learner's choice (its id: `auto`, `cpu` or `webgpu`).
pub const COMPUTE_KEY: &str = "faultline.compute";

#[component]
pub fn ComputeSetting(compute: RwSignal<Compute>) -> impl IntoView {
    let choose = move |ev| {
        if let Ok(chosen) = Compute::parse(&event_target_value(&ev)) {
            compute.set(chosen);
            if let Some(storage) = local_storage() {
                storage.set_item(COMPUTE_KEY, chosen.id()).ok();
            }
        }
    };
    view! {
        <p class="compute-setting">
            <label for="compute-select">"Compute "</label>
            <select id="compute-select" on:change=choose prop:value=move || compute.get().id()>
                {Compute::ALL
                    .into_iter()
                    .map(|c| view! { <option value=c.id()>{c.label()}</option> })
                    .collect_view()}
            </select>
            <span class="hint">" Applies from the next Start."</span>
        </p>
    }
}
