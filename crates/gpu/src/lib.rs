//! Faultline's GPU backend: the engine's [`Backend`](faultline_engine::backend::Backend) trait on
//! wgpu, natively on Vulkan and in the browser on WebGPU.
//!
//! Buffers stay in GPU memory for the whole run. Each operation records a compute dispatch (or a
//! copy) into one command encoder; nothing is submitted until a readback (`download`, `sum_squares`,
//! `read_steps`) needs the results. Gradient clipping runs on the GPU (the clip factor is computed in
//! a kernel and read by the clip and optimiser kernels), and each step's losses and per-tensor sums of
//! squares are copied aside on the GPU (`keep_step`), so the trainer's launch of several steps
//! between evaluations is one submission and one readback. The kernels are WGSL files under
//! `src/kernels/`, one per family, each with a Rust module beside it that names its entry points,
//! their uniform structs and its bindings.
//!
//! The modules, in the order a dispatch meets them:
//! - `device`: the adapter and device, their limits and errors, and what the backend tells about them;
//! - `backend`: the engine's `Backend` trait, each operation as its kernels' dispatches;
//! - `clip`: gradient clipping and the deferred scaling of the gradients it leaves waiting, and the
//!   engine's tensors ([`GpuBuf`]), whose buffers only it hands out, so no command reads a gradient
//!   before its scaling;
//! - `kernels`: each entry point's file, uniforms and bindings, the workgroups, the pipelines;
//! - `uniforms`: the uniform structs' trait, and the arena of uniform buffers they are copied into;
//! - `encoder`: the command encoder and compute pass, uploads, the submission and the readbacks;
//! - `steps`: the steps kept on the GPU until the trainer reads them;
//! - `stats`: the work counters;
//! - [`wait`]: waiting for the GPU without an `async` trait; [`bench`](mod@bench): the training
//!   benchmark.

mod backend;
pub mod bench;
mod clip;
mod device;
mod encoder;
mod kernels;
mod stats;
mod steps;
mod uniforms;
pub mod wait;

pub use clip::GpuBuf;
pub use device::GpuInitError;
pub use stats::{GpuStats, GpuStatsHandle};

/// The wgpu backend (f32).
pub struct GpuBackend {
    /// The device, its pipelines, and everything recorded since the last submission.
    rec: encoder::Recorder,
    adapter: wgpu::AdapterInfo,
    limits: wgpu::Limits,
    /// The attention backward pass's dS scratch, grown as needed.
    scratch: Option<wgpu::Buffer>,
    /// The clip status and the gradients waiting for their clip scaling.
    clip: clip::Clipping,
    /// The steps kept since the last `read_steps`, in GPU memory until then.
    kept: Vec<steps::KeptStep>,
    budget: u64,
    used: u64,
}
