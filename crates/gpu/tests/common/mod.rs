//! What the GPU tests share: opening the device, failing loudly when there is none.

use faultline_gpu::GpuBackend;

/// The GPU backend, or `None` when `FAULTLINE_SKIP_GPU=1` says this machine has no adapter. Without
/// that variable a missing adapter fails the test: Mesa's lavapipe gives every Linux machine one.
pub fn gpu() -> Option<GpuBackend> {
    if skipped() {
        eprintln!("FAULTLINE_SKIP_GPU=1: skipping a GPU test");
        return None;
    }
    match GpuBackend::new() {
        Ok(g) => Some(g),
        Err(e) => panic!(
            "{e}. The GPU tests need a Vulkan adapter: install Mesa's lavapipe (Debian: mesa-vulkan-drivers), \
             or set FAULTLINE_SKIP_GPU=1 to skip them on a machine without one"
        ),
    }
}

/// Whether `FAULTLINE_SKIP_GPU=1` asks to skip the GPU tests.
pub fn skipped() -> bool {
    std::env::var("FAULTLINE_SKIP_GPU").is_ok_and(|v| v == "1")
}
