//! The worker's WebGPU side: opening a device and, for "auto", the short calibration that times both
//! backends on the run's model shape (each shape once). Compiled only with the `webgpu` feature.

use super::{cpu, Chosen, Origin, RunTrainer};
use crate::protocol::Compute;
use faultline_engine::backend::Backend;
use faultline_engine::checkpoint::Checkpoint;
use faultline_engine::trainer::{Clock, Trainer};
use faultline_engine::{EngineError, RunConfig};
use faultline_gpu::GpuBackend;

/// Steps timed on each backend when "auto" has both: after one untimed step (pipelines compile,
/// buffers settle), the mean of these decides.
pub const CALIBRATION_STEPS: usize = 3;

/// One calibration's outcome, kept per model shape so "auto" measures each shape once.
#[derive(Clone, Debug, PartialEq)]
struct Calibration {
    key: String,
    cpu_steps_per_s: f64,
    gpu_steps_per_s: Option<f64>,
}

/// What calibration measured, most recent last.
#[derive(Default)]
pub(super) struct Calibrations {
    kept: Vec<Calibration>,
}

/// Calibrations remembered, at most.
const CALIBRATIONS_KEPT: usize = 8;

impl Calibrations {
    /// A trainer for `origin` on WebGPU or, for "auto", on whichever backend the calibration found
    /// faster, falling back to the CPU (and saying why) when there is no usable WebGPU.
    pub(super) fn choose(&mut self, origin: Origin, compute: Compute, clock: Clock) -> Result<Chosen, EngineError> {
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
        if let Some(known) = self.kept.iter().find(|c| c.key == key) {
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
        if self.kept.len() == CALIBRATIONS_KEPT {
            drop(self.kept.remove(0));
        }
        self.kept.push(calibration.clone());
        calibration
    }
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
    use super::super::continue_on_cpu;
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
        let mut chooser = Calibrations::default();
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
        assert_eq!(chooser.kept.len(), 2);
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
