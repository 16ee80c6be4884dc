//! The training worker's binary (Trunk's `data-type="worker"` link).

#[cfg(target_arch = "wasm32")]
fn main() {
    faultline_app::worker::run();
}

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    eprintln!("faultline-worker runs inside the browser as the app's Web Worker; it is built by `trunk build`.");
}
