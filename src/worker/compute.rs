//! Which backend a run trains on: the learner's choice (auto, CPU, WebGPU), the short calibration that
//! settles "auto", and the run's trainer as [`RunTrainer`], one enum over the two backends' trainers.
//! The session reaches the trainer inside through [`on_trainer!`], so it never asks which backend it
//! has, and a new `Trainer` method needs nothing added here.

use crate::protocol::Compute;
use faultline_engine::backend::{Backend, CpuBackend};
use faultline_engine::checkpoint::Checkpoint;
use faultline_engine::trainer::{Clock, Trainer};
use faultline_engine::{EngineError, RunConfig};
use faultline_gpu::GpuBackend;

/// Steps timed on each backend when "auto" has both: after one untimed step (pipelines compile,
/// buffers settle), the mean of these decides.
pub const CALIBRATION_STEPS: usize = 3;

/// A run's trainer, on the backend it got (boxed: the session moves it, and the two differ in size).
pub enum RunTrainer {
    Cpu(Box<Trainer<CpuBackend>>),
    Gpu(Box<Trainer<GpuBackend>>),
}

impl From<Trainer<CpuBackend>> for RunTrainer {
    fn from(trainer: Trainer<CpuBackend>) -> Self {
        Self::Cpu(Box::new(trainer))
    }
}

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

/// One calibration's outcome, kept per model shape so "auto" measures each shape once.
#[derive(Clone, Debug, PartialEq)]
struct Calibration {
    key: String,
    cpu_steps_per_s: f64,
    gpu_steps_per_s: Option<f64>,
}

/// Picks backends for runs and remembers what calibration measured.
#[derive(Default)]
pub struct Chooser {
    calibrations: Vec<Calibration>,
}

/// Calibrations remembered, at most.
const CALIBRATIONS_KEPT: usize = 8;

impl Chooser {
    /// A trainer for `origin` on the backend `compute` asks for, falling back to the CPU (and saying
    /// why) when there is no usable WebGPU. Errors are the trainer's own (bad settings, out of memory).
    pub fn choose(&mut self, origin: Origin, compute: Compute, clock: Clock) -> Result<Chosen, EngineError> {
        if compute == Compute::Cpu {
            let trainer = origin.build(cpu(), clock).map(RunTrainer::from)?;
            return Ok(Chosen { trainer, reason: "the CPU, as chosen in the Compute setting".into() });
        }
        let mut gpu = match open_gpu() {
            Ok(gpu) => gpu,
            Err(why) => {
                let trainer = origin.build(cpu(), clock).map(RunTrainer::from)?;
                return Ok(Chosen { trainer, reason: format!("{why}: training on the CPU") });
            }
        };
        if compute == Compute::Webgpu {
            let trainer = origin.build(gpu, clock).map(RunTrainer::from)?;
            return Ok(Chosen { trainer, reason: "WebGPU, as chosen in the Compute setting".into() });
        }
        let adapter = gpu.adapter_description();
        if gpu.is_software() {
            let trainer = origin.build(cpu(), clock).map(RunTrainer::from)?;
            let reason = format!(
                "auto: WebGPU here is {adapter}, a software renderer on the same CPU, which cannot beat the \
                 CPU's own kernels: training on the CPU (choose WebGPU in Compute to try it anyway)"
            );
            return Ok(Chosen { trainer, reason });
        }
        let config = match origin {
            Origin::Fresh(config) => config.clone(),
            Origin::Checkpoint(bytes) => Checkpoint::read_config(bytes)?,
        };
        let calibration = self.calibrate(&config, &mut gpu, clock);
        let cpu_rate = calibration.cpu_steps_per_s;
        match calibration.gpu_steps_per_s {
            Some(gpu_rate) if gpu_rate > cpu_rate => {
                let reason = format!(
                    "auto: WebGPU on {adapter} trained {gpu_rate:.1} steps/s and the CPU {cpu_rate:.1} in a \
                     {CALIBRATION_STEPS}-step calibration: training on WebGPU"
                );
                Ok(Chosen { trainer: origin.build(gpu, clock).map(RunTrainer::from)?, reason })
            }
            Some(gpu_rate) => {
                let trainer = origin.build(cpu(), clock).map(RunTrainer::from)?;
                let reason = format!(
                    "auto: the CPU trained {cpu_rate:.1} steps/s and WebGPU on {adapter} {gpu_rate:.1} in a \
                     {CALIBRATION_STEPS}-step calibration: training on the CPU"
                );
                Ok(Chosen { trainer, reason })
            }
            None => {
                let trainer = origin.build(cpu(), clock).map(RunTrainer::from)?;
                let reason =
                    format!("auto: WebGPU on {adapter} could not train this configuration: training on the CPU");
                Ok(Chosen { trainer, reason })
            }
        }
    }

    /// Times both backends on `config` (or recalls an earlier timing of the same model shape). The GPU
    /// trial trains on a sibling of `gpu` (the same device), whose compiled pipelines `gpu` then keeps.
    fn calibrate(&mut self, config: &RunConfig, gpu: &mut GpuBackend, clock: Clock) -> Calibration {
        let key = format!(
            "{:?}/{}/{}/{}/{}",
            config.preset,
            config.heads,
            config.batch_size,
            config.grad_accum,
            config.corpus.name()
        );
        if let Some(known) = self.calibrations.iter().find(|c| c.key == key) {
            return known.clone();
        }
        let trial = RunConfig { steps: CALIBRATION_STEPS + 1, eval_every: usize::MAX, ..config.clone() };
        let cpu_trial = Trainer::new(trial.clone(), cpu(), clock);
        let mut gpu_trial = Trainer::new(trial, gpu.sibling(), clock);
        let calibration = Calibration {
            cpu_steps_per_s: cpu_trial.ok().and_then(|mut t| steps_per_s(&mut t, clock)).unwrap_or(0.0),
            gpu_steps_per_s: gpu_trial.as_mut().ok().and_then(|t| steps_per_s(t, clock)),
            key,
        };
        if let Ok(trial) = &gpu_trial {
            gpu.adopt_pipelines(trial.backend());
        }
        if self.calibrations.len() == CALIBRATIONS_KEPT {
            drop(self.calibrations.remove(0));
        }
        self.calibrations.push(calibration.clone());
        calibration
    }
}

/// The CPU backend (f32, SIMD kernels).
fn cpu() -> CpuBackend {
    CpuBackend::new()
}

/// A WebGPU device, or why there is none.
fn open_gpu() -> Result<GpuBackend, String> {
    GpuBackend::new().map_err(|e| format!("no usable WebGPU here ({e})"))
}

/// Steps per second over [`CALIBRATION_STEPS`] steps after one untimed step (it compiles the GPU's
/// pipelines), taken in the launches a run takes (`steps_per_readback`), so a GPU's saved waits count;
/// `None` when a step failed.
fn steps_per_s<B: Backend>(trainer: &mut Trainer<B>, clock: Clock) -> Option<f64> {
    trainer.step().ok()?;
    let start = clock();
    let mut done = 0;
    while done < CALIBRATION_STEPS {
        done += trainer.steps(trainer.steps_per_readback().min(CALIBRATION_STEPS - done)).ok()?;
    }
    Some(CALIBRATION_STEPS as f64 / ((clock() - start) / 1e3).max(1e-9))
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use faultline_engine::trainer::native_clock;
    use faultline_engine::{Preset, StepRecord};

    /// One step, as the session takes them (`steps`), and its record.
    fn one_step<B: Backend>(trainer: &mut Trainer<B>) -> Result<StepRecord, EngineError> {
        trainer.steps(1)?;
        Ok(trainer.history().steps.last().expect("a step taken is recorded").clone())
    }

    /// The calibration trains both backends for real (natively on lavapipe) and measures each model
    /// shape once.
    #[test]
    fn calibration_times_both_backends_once_per_shape() {
        let config = RunConfig { steps: 50, batch_size: 2, ..RunConfig::preset(Preset::Tiny) };
        let mut chooser = Chooser::default();
        let mut gpu = GpuBackend::new().expect("a Vulkan adapter (Mesa's lavapipe in CI)");
        let first = chooser.calibrate(&config, &mut gpu, native_clock);
        assert!(first.cpu_steps_per_s > 0.0, "{first:?}");
        assert!(first.gpu_steps_per_s.is_some_and(|r| r > 0.0), "{first:?}");
        // What one step of this shape compiles on a fresh device: the trial has compiled it all.
        let mut fresh =
            Trainer::new(config.clone(), GpuBackend::new().expect("the same adapter"), native_clock).expect("builds");
        fresh.step().expect("a step");
        let step_needs = fresh.backend().pipelines_compiled();
        let compiled = gpu.pipelines_compiled();
        assert!(
            step_needs > 10 && compiled >= step_needs,
            "the trial's pipelines ({compiled}) are every one a step needs ({step_needs}), kept for the run"
        );
        let again = chooser.calibrate(&config, &mut gpu, native_clock);
        assert_eq!(again, first, "the same shape is not measured twice");
        let other = RunConfig { batch_size: 3, ..config.clone() };
        chooser.calibrate(&other, &mut gpu, native_clock);
        assert_eq!(chooser.calibrations.len(), 2);
        // The run then trains on the device the calibration used, with nothing left to compile.
        let mut run = Origin::Fresh(&config).build(gpu, native_clock).expect("builds");
        let record = one_step(&mut run).expect("steps on the calibrated device");
        assert!(record.loss.is_finite(), "{record:?}");
        assert_eq!(run.backend_lost(), None);
    }

    /// A GPU lost mid-run (here destroyed, as a driver reset does): the backend says so, and the run
    /// continues on the CPU from the state saved before, taking the step the uninterrupted run took.
    #[test]
    fn a_lost_gpu_continues_on_the_cpu_from_the_saved_state() {
        let config = RunConfig { steps: 8, batch_size: 2, ..RunConfig::preset(Preset::Tiny) };
        let gpu = GpuBackend::new().expect("a Vulkan adapter (Mesa's lavapipe in CI)");
        let device = gpu.device().clone();
        let mut trainer = Origin::Fresh(&config).build(gpu, native_clock).expect("builds");
        for _ in 0..3 {
            one_step(&mut trainer).expect("healthy steps");
        }
        let snapshot = trainer.checkpoint().expect("saves");
        assert_eq!(trainer.backend_lost(), None);
        device.destroy();
        let _ = one_step(&mut trainer);
        let why = trainer.backend_lost().expect("a destroyed device is reported");
        assert!(why.contains("GPU"), "{why}");

        let mut moved = continue_on_cpu(&snapshot, native_clock).expect("the saved state continues");
        assert_eq!(moved.steps_done(), 3);
        assert!(moved.history().steps.is_empty(), "a checkpoint holds no telemetry");
        moved.adopt_history(trainer.history());
        let steps: Vec<usize> = moved.history().steps.iter().map(|s| s.step).collect();
        assert_eq!(steps, [1, 2, 3], "the steps up to the saved state, not the lost step after it");
        assert!(moved.backend_name().starts_with("CPU"), "{}", moved.backend_name());
        let resumed = one_step(&mut moved).expect("the CPU steps").loss;
        let mut uninterrupted = Origin::Fresh(&config).build(cpu(), native_clock).expect("builds");
        let losses: Vec<f32> = (0..4).map(|_| one_step(&mut uninterrupted).expect("steps").loss).collect();
        assert!((resumed - losses[3]).abs() <= 1e-3, "step 4: moved {resumed} vs uninterrupted {}", losses[3]);
    }
}
