//! The error banner: a fixed element of `index.html`, outside the part Leptos renders, written with plain
//! DOM calls so that it still works after a panic has left the app's state unusable.

use web_sys::Element;

pub const BANNER_ID: &str = "error-banner";

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
