//! The Leptos page: the trainer screen, or the bench view when the URL asks for it.

mod bench_page;
mod controller;
mod controls;
mod loss_chart;
mod sample;
mod settings;
mod stats;
mod trainer_page;

use crate::{banner, bench};
use bench_page::BenchPage;
use leptos::prelude::*;
use trainer_page::TrainerPage;
use wasm_bindgen::JsCast;
use web_sys::UrlSearchParams;

/// The element the app renders into; the error banner sits outside it.
const ROOT_ID: &str = "app";

/// The query parameters the page understands, as (key, value) pairs.
fn query() -> Vec<(String, String)> {
    let search = web_sys::window().and_then(|w| w.location().search().ok()).unwrap_or_default();
    let Ok(params) = UrlSearchParams::new_with_str(&search) else { return Vec::new() };
    ["bench", "backend", "steps", "seed"]
        .into_iter()
        .filter_map(|key| Some((key.to_string(), params.get(key)?)))
        .collect()
}

/// The page's entry point.
pub fn start() {
    banner::install_panic_hook();
    let root = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.get_element_by_id(ROOT_ID))
        .and_then(|e| e.dyn_into::<web_sys::HtmlElement>().ok())
        .expect("index.html has an #app element");
    root.set_text_content(None);
    let query = query();
    if bench::is_bench(&query) {
        mount_to(root, move || view! { <BenchPage query /> }).forget();
    } else {
        mount_to(root, TrainerPage).forget();
    }
}
