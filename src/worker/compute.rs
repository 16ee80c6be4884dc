//! Which backend a run trains on: the learner's choice (auto, CPU, WebGPU), the short calibration that
//! settles "auto", and the run's trainer as [`RunTrainer`], one enum over the two backends' trainers.
//! The session reaches the trainer inside through [`on_trainer!`], so it never asks which backend it
//! has, and a new `Trainer` method needs nothing added here. The WebGPU side (opening a device, the
//! calibration) is in [`webgpu`], compiled only into the worker builds with the `webgpu` feature.

use crate::protocol::Compute;
use faultline_engine::backend::{Backend, CpuBackend};
use faultline_engine::trainer::{Clock, Trainer};
use faultline_engine::{EngineError, RunConfig};
#[cfg(feature = "webgpu")]
use faultline_gpu::GpuBackend;

#[cfg(feature = "webgpu")]
mod webgpu;

/// Why the build without WebGPU trains on the CPU: the boot script loads it only where the browser
/// offered no WebGPU adapter (src/worker/worker-boot.js).
#[cfg(not(feature = "webgpu"))]
pub const NO_WEBGPU: &str = "this browser has no WebGPU adapter (the worker loaded its build without WebGPU)";

/// A run's trainer, on the backend it got (boxed: the session moves it, and the two differ in size).
pub enum RunTrainer {
    Cpu(Box<Trainer<CpuBackend>>),
    #[cfg(feature = "webgpu")]
    Gpu(Box<Trainer<GpuBackend>>),
}

impl From<Trainer<CpuBackend>> for RunTrainer {
    fn from(trainer: Trainer<CpuBackend>) -> Self {
        Self::Cpu(Box::new(trainer))
    }
}

#[cfg(feature = "webgpu")]
impl From<Trainer<GpuBackend>> for RunTrainer {
    fn from(trainer: Trainer<GpuBackend>) -> Self {
        Self::Gpu(Box::new(trainer))
    }
}

/// Evaluates `$body` with `$t` bound to the trainer inside `$run` (a [`RunTrainer`], by value or by
/// reference), whichever backend it trains on: `on_trainer!(&run, |t| t.steps_done())`. The body is
/// compiled once for each backend.
macro_rules! on_trainer {
    ($run:expr, |$t:ident| $body:expr) => {
        match $run {
            $crate::worker::compute::RunTrainer::Cpu($t) => $body,
            #[cfg(feature = "webgpu")]
            $crate::worker::compute::RunTrainer::Gpu($t) => $body,
        }
    };
}
pub(crate) use on_trainer;

/// A run's trainer and, in words, which backend it got and why.
pub struct Chosen {
    pub trainer: RunTrainer,
    pub reason: String,
}

/// Continues a run whose backend was lost on the CPU, from `snapshot` (its checkpoint bytes).
pub fn continue_on_cpu(snapshot: &[u8], clock: Clock) -> Result<Trainer<CpuBackend>, EngineError> {
    Origin::Checkpoint(snapshot).build(cpu(), clock)
}

/// Where a run starts from: a fresh model, or a checkpoint's bytes.
#[derive(Clone, Copy)]
pub enum Origin<'a> {
    Fresh(&'a RunConfig),
    Checkpoint(&'a [u8]),
}

impl Origin<'_> {
    fn build<B: Backend>(self, backend: B, clock: Clock) -> Result<Trainer<B>, EngineError> {
        match self {
            Origin::Fresh(config) => Trainer::new(config.clone(), backend, clock),
            Origin::Checkpoint(bytes) => Trainer::from_checkpoint(bytes, backend, clock),
        }
    }
}

/// Picks backends for runs and remembers what calibration measured.
#[derive(Default)]
pub struct Chooser {
    #[cfg(feature = "webgpu")]
    calibrations: webgpu::Calibrations,
}

impl Chooser {
    /// A trainer for `origin` on the backend `compute` asks for, falling back to the CPU (and saying
    /// why) when there is no usable WebGPU. Errors are the trainer's own (bad settings, out of memory).
    pub fn choose(&mut self, origin: Origin, compute: Compute, clock: Clock) -> Result<Chosen, EngineError> {
        if compute == Compute::Cpu {
            let trainer = origin.build(cpu(), clock).map(RunTrainer::from)?;
            return Ok(Chosen { trainer, reason: "the CPU, as chosen in the Compute setting".into() });
        }
        #[cfg(feature = "webgpu")]
        return self.calibrations.choose(origin, compute, clock);
        #[cfg(not(feature = "webgpu"))]
        {
            let trainer = origin.build(cpu(), clock).map(RunTrainer::from)?;
            Ok(Chosen { trainer, reason: format!("{NO_WEBGPU}: training on the CPU") })
        }
    }
}

/// The CPU backend (f32, SIMD kernels).
fn cpu() -> CpuBackend {
    CpuBackend::new()
}
