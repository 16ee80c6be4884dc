//! The Leptos page: the app (trainer and guide), or the bench view when the URL asks for it.

mod align;
mod app;
mod attention_map;
mod bench_page;
mod canvas;
mod chart_access;
mod checkpoint;
mod compute;
mod controller;
mod controls;
mod diagnose;
mod exercises;
mod export;
mod faults;
mod finding;
mod guide;
mod guide_text;
mod kept_runs;
mod line_chart;
mod link;
mod loss_chart;
mod lr_finder;
mod memory;
mod more_help;
mod mystery;
mod performance;
mod phase_chart;
mod sample;
mod settings;
mod stats;
mod symptoms;
mod telemetry;
mod trainer_page;

use crate::{banner, bench};
use app::App;
use bench_page::BenchPage;
use leptos::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::UrlSearchParams;

/// The element the app renders into; the error banner sits outside it.
const ROOT_ID: &str = "app";

/// The browser's `localStorage`, where the page may use it (not in private modes that refuse it).
fn local_storage() -> Option<web_sys::Storage> {
    web_sys::window()?.local_storage().ok()?
}

/// The URL's query as (key, value) pairs, repeated keys (`fault`) included, in order.
fn query() -> Vec<(String, String)> {
    let search = web_sys::window().and_then(|w| w.location().search().ok()).unwrap_or_default();
    let Ok(params) = UrlSearchParams::new_with_str(&search) else { return Vec::new() };
    params
        .entries()
        .into_iter()
        .filter_map(|entry| {
            let pair = js_sys::Array::from(&entry.ok()?);
            Some((pair.get(0).as_string()?, pair.get(1).as_string()?))
        })
        .collect()
}

/// The page's entry point.
pub fn start() {
    banner::install_panic_hook();
    banner::show_context_notice();
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
        mount_to(root, move || view! { <App query /> }).forget();
    }
}
