//! The training worker's binary (Trunk's `data-type="worker"` link).

#[cfg(target_arch = "wasm32")]
fn main() {
    faultline_app::worker::run();
}

/// One turn of the worker, exported for its boot script's `WebAssembly.promising`. It is declared here,
/// not in the library: a library export would be linked into the page's binary too, and with it the
/// whole training worker (engine, WebGPU backend), which the page never runs.
#[cfg(target_arch = "wasm32")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn faultline_worker_turn() {
    faultline_app::worker::turn();
}

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    eprintln!("faultline-worker runs inside the browser as the app's Web Worker; it is built by `trunk build`.");
}
