//! What the GPU tests share: opening the device (failing loudly when there is none) and comparing
//! a GPU result with the CPU's.

use faultline_gpu::GpuBackend;

/// The GPU backend, or `None` when `FAULTLINE_SKIP_GPU=1` says this machine has no adapter. Without
/// that variable a missing adapter fails the test: Mesa's lavapipe gives every Linux machine one.
pub fn gpu() -> Option<GpuBackend> {
    match GpuBackend::new() {
        Ok(g) => Some(g),
        Err(e) if std::env::var("FAULTLINE_SKIP_GPU").is_ok_and(|v| v == "1") => {
            eprintln!("FAULTLINE_SKIP_GPU=1: skipping a GPU test ({e})");
            None
        }
        Err(e) => panic!(
            "{e}. The GPU tests need a Vulkan adapter: install Mesa's lavapipe (Debian: mesa-vulkan-drivers), \
             or set FAULTLINE_SKIP_GPU=1 to skip them on a machine without one"
        ),
    }
}

/// Asserts `gpu` matches `cpu` element-wise: finite values within `tol · max(1, |cpu|)`, and every
/// non-finite value of the CPU's matched by the same kind (NaN, +Inf, -Inf) on the GPU.
pub fn assert_close(what: &str, gpu: &[f32], cpu: &[f32], tol: f32) {
    assert_eq!(gpu.len(), cpu.len(), "{what}: lengths differ");
    for (i, (&g, &c)) in gpu.iter().zip(cpu).enumerate() {
        if c.is_nan() {
            assert!(g.is_nan(), "{what}[{i}]: CPU NaN, GPU {g}");
        } else if c.is_infinite() {
            assert_eq!(g, c, "{what}[{i}]: CPU {c}, GPU {g}");
        } else {
            let bound = tol * c.abs().max(1.0);
            assert!(
                (g - c).abs() <= bound,
                "{what}[{i}]: GPU {g} vs CPU {c} (diff {:.3e}, bound {bound:.3e})",
                (g - c).abs()
            );
        }
    }
}
