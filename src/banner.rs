//! The error banner: a fixed element of `index.html`, outside the part Leptos renders, written with plain
//! DOM calls so that it still works after a panic has left the app's state unusable. Beside it, the
//! notice of what an insecure context turns off.

use js_sys::Reflect;
use wasm_bindgen::JsValue;
use web_sys::Element;

pub const BANNER_ID: &str = "error-banner";
/// The notice shown, once at start, where the page is not a secure context.
const CONTEXT_NOTICE_ID: &str = "context-notice";

fn element(id: &str) -> Option<Element> {
    web_sys::window()?.document()?.get_element_by_id(id)
}

/// Shows `message` in the banner.
pub fn show(message: &str) {
    if let Some(banner) = element(BANNER_ID) {
        banner.set_text_content(Some(message));
        banner.remove_attribute("hidden").ok();
    }
}

/// Hides the banner.
pub fn hide() {
    if let Some(banner) = element(BANNER_ID) {
        banner.set_text_content(None);
        banner.set_attribute("hidden", "").ok();
    }
}

/// Where the page is not a secure context (plain http from a host other than localhost), says which of
/// what the app uses the browser then turns off: service workers and WebGPU exist only in secure
/// contexts, and cross-origin isolation (the threaded training build) needs one too.
pub fn show_context_notice() {
    let Some(window) = web_sys::window() else { return };
    if window.is_secure_context() {
        return;
    }
    let navigator = window.navigator();
    let has = |target: &JsValue, name: &str| Reflect::has(target, &name.into()).unwrap_or(false);
    let isolated = Reflect::get(&window, &"crossOriginIsolated".into()).ok().and_then(|v| v.as_bool()) == Some(true);
    let missing: Vec<&str> = [
        (!has(&navigator, "serviceWorker")).then_some("service workers"),
        (!has(&navigator, "gpu")).then_some("WebGPU"),
        (!isolated).then_some("cross-origin isolation (training on several threads)"),
    ]
    .into_iter()
    .flatten()
    .collect();
    let Some(notice) = element(CONTEXT_NOTICE_ID).filter(|_| !missing.is_empty()) else { return };
    notice.set_text_content(Some(&context_message(&missing)));
    notice.remove_attribute("hidden").ok();
}

/// The notice for what an insecure context turns off, `missing` in the order named.
fn context_message(missing: &[&str]) -> String {
    let list = match missing.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} and {last}", rest.join(", ")),
        _ => missing.join(""),
    };
    format!(
        "This page is served over plain http from a host other than localhost, so the browser does not treat it \
         as a secure context and turns off {list}. Training still works, on one thread of the CPU. Serve it over \
         https, or open it from localhost, to have them."
    )
}

/// Installs the main thread's panic hook: the message goes to the console and the banner, and a bench
/// still waiting for its result gets the error as its result, so nothing waits on a dead page.
pub fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        console_error_panic_hook::hook(info);
        let message = format!("The page crashed: {info}");
        show(&message);
        if let Some(pre) = element(crate::bench::RESULT_ID).filter(|pre| !pre.has_attribute("data-done")) {
            pre.set_text_content(Some(&crate::bench::error_json(&message)));
            pre.set_attribute("data-done", "1").ok();
        }
    }));
}
