//! The page's binary (Trunk's main `rust` link).

#[cfg(target_arch = "wasm32")]
fn main() {
    faultline_app::start_page();
}

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    eprintln!("faultline-app is the web page: build it for the browser with `trunk build` (see README).");
}
