//! The export buttons: the run's steps as CSV, the whole run as JSON, the loss chart as PNG.

use crate::export::{file_stem, run_json, steps_csv};
use crate::run_view::RunView;
use leptos::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{Blob, BlobPropertyBag, HtmlAnchorElement, HtmlCanvasElement, Url};

/// Makes the browser save `href` as `name`.
fn save(href: &str, name: &str) -> Option<()> {
    let document = web_sys::window()?.document()?;
    let link: HtmlAnchorElement = document.create_element("a").ok()?.dyn_into().ok()?;
    link.set_href(href);
    link.set_download(name);
    link.click();
    Some(())
}

/// Saves `text` as a file called `name` of type `mime`.
pub(super) fn save_text(text: &str, name: &str, mime: &str) -> Option<()> {
    save_parts(&js_sys::Array::of1(&text.into()), name, mime)
}

/// Saves `bytes` as a file called `name` of type `mime`.
pub fn save_bytes(bytes: &[u8], name: &str, mime: &str) -> Option<()> {
    save_parts(&js_sys::Array::of1(&js_sys::Uint8Array::from(bytes)), name, mime)
}

/// Saves the blob made of `parts` as a file called `name` of type `mime`.
fn save_parts(parts: &js_sys::Array, name: &str, mime: &str) -> Option<()> {
    let options = BlobPropertyBag::new();
    options.set_type(mime);
    let blob = Blob::new_with_buffer_source_sequence_and_options(parts, &options).ok()?;
    let url = Url::create_object_url_with_blob(&blob).ok()?;
    let saved = save(&url, name);
    Url::revoke_object_url(&url).ok()?;
    saved
}

/// Saves the canvas `id` as a PNG called `name`.
fn save_canvas(id: &str, name: &str) -> Option<()> {
    let document = web_sys::window()?.document()?;
    let canvas: HtmlCanvasElement = document.get_element_by_id(id)?.dyn_into().ok()?;
    save(&canvas.to_data_url().ok()?, name)
}

#[component]
pub fn ExportBar(view: RwSignal<RunView>) -> impl IntoView {
    let empty = move || view.with(|v| v.steps.is_empty());
    let stem = move || view.with_untracked(file_stem);
    view! {
        <div class="export-bar" role="group" aria-label="Export this run">
            <button id="export-csv" class="quiet" disabled=empty
                on:click=move |_| { view.with_untracked(|v| save_text(&steps_csv(v), &format!("{}.csv", stem()), "text/csv")); }>
                "Steps as CSV"
            </button>
            <button id="export-json" class="quiet" disabled=empty
                on:click=move |_| { view.with_untracked(|v| save_text(&run_json(v), &format!("{}.json", stem()), "application/json")); }>
                "Run as JSON"
            </button>
            <button id="export-png" class="quiet" disabled=empty
                on:click=move |_| { save_canvas("loss-chart", &format!("{}-loss.png", stem())); }>
                "Loss chart as PNG"
            </button>
        </div>
    }
}
