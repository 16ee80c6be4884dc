//! Steps recorded back to back, then read back at once: on a GPU the host records the next step
//! while the device computes the last, and waits only at the readback.

use super::{mean, Trainer};
use crate::backend::{Backend, BackendKind};
use crate::data::Split;
use crate::error::{ConfigError, EngineError};
use crate::faults::Faults;
use crate::optim::{global_norm, UpdateSettings};
use crate::rng::Rng;
use crate::telemetry::{Mode, PhaseTimes, StepRecord};

/// Steps a GPU run records between readbacks of their telemetry: the GPU works through them while
/// the host records the next, instead of idling at every step's wait. The records reach the page
/// in bursts of this many, a fraction of a second apart on a real GPU.
pub const GPU_STEPS_PER_READBACK: usize = 8;

/// A step recorded on the backend whose telemetry has not been read back yet.
#[derive(Clone)]
pub(super) struct InFlight {
    /// The batch sampler as the step found it, to draw its batches again.
    pub(super) batches_from: Rng,
    lr: f32,
    /// The mode its forward passes ran in.
    mode: Mode,
    times: PhaseTimes,
    /// Milliseconds from its start until it was recorded.
    ms: f64,
}

impl<B: Backend> Trainer<B> {
    /// Up to `limit` optimiser steps (at least one), recorded back to back, then one readback of all
    /// their losses and gradient sums of squares: a GPU computes them without waiting for the host
    /// in between (see [`Trainer::steps_per_readback`]). It stops short before an evaluation, at the
    /// end of the run, and after every step under `faults.sync_every_step`. Returns how many steps
    /// it added to the history (its last records). A non-finite loss or gradient stops the run at
    /// the first step that had one: the backend skips its update and every later one before the
    /// readback, so the parameters keep the values of the last good step, and the steps after it
    /// are not counted.
    pub fn steps(&mut self, limit: usize) -> Result<usize, EngineError> {
        if let Some(e) = &self.history.stopped {
            return Err(e.clone());
        }
        if self.steps_done >= self.cfg.steps {
            return Err(ConfigError::new("steps", format!("the run has finished its {} steps", self.cfg.steps)).into());
        }
        let first = (self.steps_done, self.optimizer.steps());
        self.in_flight.clear();
        let mut before = Vec::new();
        loop {
            // The update ratios an evaluation reports need the parameters from before its update.
            let measure_update = self.eval_follows() || self.cfg.faults.sync_every_step;
            self.launch_step(measure_update.then_some(&mut before))?;
            self.steps_done += 1;
            if measure_update || self.in_flight.len() >= limit || self.steps_done >= self.cfg.steps {
                break;
            }
        }
        self.land_steps(first, &before)
    }

    /// How many steps [`Trainer::steps`] should record between readbacks: one on the CPU, where
    /// reading is free, and under `faults.sync_every_step` (that fault *is* a readback every step);
    /// [`GPU_STEPS_PER_READBACK`] on a GPU, whose every wait for the host leaves it idle.
    pub fn steps_per_readback(&self) -> usize {
        if self.cfg.faults.sync_every_step || self.backend.kind() == BackendKind::Cpu {
            1
        } else {
            GPU_STEPS_PER_READBACK
        }
    }

    /// Records one step on the backend, up to its update and the [`Backend::keep_step`] of its
    /// telemetry, without reading anything back (but the parameters into `before`, when given).
    fn launch_step(&mut self, before: Option<&mut Vec<Vec<f32>>>) -> Result<(), EngineError> {
        self.apply_weight_faults()?;
        let now = self.clock;
        let mut times = PhaseTimes::default();
        let t_start = now();
        if !self.cfg.faults.no_zero_grad {
            for g in self.grads.iter_mut() {
                self.backend.fill(g, 0.0); // zero_grad(); faults.no_zero_grad skips it and gradients pile up
            }
        }
        if self.cfg.one_batch {
            self.batch_rng = Rng::derive(self.cfg.seed, "batches"); // one-batch: the run's first batches, every step
        }
        let batches_from = self.batch_rng.clone();
        let mode = Mode::Train;
        for micro in 0..self.cfg.grad_accum {
            let t0 = now();
            let (batch, context) = (self.cfg.effective_batch(), self.model.config.context);
            self.dataset.batch(Split::Train, &mut self.batch_rng, batch, context, &mut self.x, &mut self.y);
            let t1 = now();
            let pass = self.pass(mode, micro);
            self.model.forward(&mut self.backend, &mut self.acts, &self.x, Some(&self.y), pass);
            let t2 = now();
            if let Some(rows) = self.loss_rows.get_mut(micro) {
                self.backend.copy(rows, &self.acts.losses);
            }
            let t3 = now();
            self.model.backward(&mut self.backend, &mut self.acts, &mut self.grads, &self.x, pass);
            let t4 = now();
            times.data_ms += t1 - t0;
            times.forward_ms += t2 - t1;
            times.telemetry_ms += t3 - t2;
            times.backward_ms += t4 - t3;
        }
        let t4 = now();
        self.mean_over_micro_batches();
        let max_norm = if self.cfg.faults.no_grad_clip { 0.0 } else { self.cfg.grad_clip }; // faults.no_grad_clip: no ceiling on the step
        let losses = (&self.loss_rows[..], &self.acts.losses);
        self.backend.clip_grad_norm(&mut self.grads, &losses, max_norm);
        let lr = self.lr_override.unwrap_or_else(|| self.current_lr());
        if let Some(before) = before {
            *before = self.model.params.tensors().into_iter().map(|p| self.backend.download(p)).collect();
        }
        let weight_decay = if self.cfg.faults.no_regularization { 0.0 } else { self.cfg.weight_decay }; // faults.no_regularization
        let hyper = UpdateSettings { lr, weight_decay, ..UpdateSettings::from(&self.cfg) };
        self.optimizer.update(&mut self.backend, &mut self.model.params, &self.grads, &self.model.specs, hyper);
        let losses = (&self.loss_rows[..], &self.acts.losses);
        self.backend.keep_step(&losses);
        // Clipping and the update (on a GPU, recording them).
        let t_end = now();
        times.optimizer_ms = t_end - t4;
        self.in_flight.push(InFlight { batches_from, lr, mode, times, ms: t_end - t_start });
        Ok(())
    }

    /// The gradients of `grad_accum` micro-batches, summed by the backward passes, divided into
    /// their mean.
    pub(super) fn mean_over_micro_batches(&mut self) {
        let micro_batches = self.cfg.grad_accum;
        if micro_batches > 1 {
            for g in self.grads.iter_mut() {
                self.backend.scale(g, 1.0 / micro_batches as f32); // the mean over all micro-batches
            }
        }
    }

    /// Reads back the steps launched since `first` (the steps done and the optimiser's updates
    /// then) and records them, up to the first with a non-finite loss or gradient, where the run
    /// stops.
    fn land_steps(&mut self, first: (usize, u32), before: &[Vec<f32>]) -> Result<usize, EngineError> {
        let now = self.clock;
        let t_read = now();
        self.backend.read_steps(&mut self.readouts);
        let waited = now() - t_read;
        let launched = self.in_flight.len();
        let tokens = self.cfg.grad_accum * self.cfg.effective_batch() * self.model.config.context;
        for i in 0..launched {
            let readout = &self.readouts[i];
            // One pass over the micro-batches' mean losses: their sum, or the first that is not finite.
            let mut loss_sum = 0.0f64;
            let mut bad_loss = None;
            for (micro, rows) in readout.losses.iter().enumerate() {
                let m = mean(rows);
                if !m.is_finite() {
                    bad_loss = Some(micro);
                    break;
                }
                loss_sum += m as f64;
            }
            let norm = global_norm(&readout.grad_sq);
            if bad_loss.is_some() || !norm.is_finite() {
                return Err(self.stop_in_launch(first, i, bad_loss));
            }
            self.grad_sq.clone_from(&readout.grad_sq);
            let flight = self.in_flight[i].clone();
            let (mut times, mut ms) = (flight.times, flight.ms);
            if i + 1 == launched {
                // The wait for the readback, and the statistics read after it, count in the last step.
                let t_post = now();
                if !before.is_empty() {
                    self.update_ratios = self.update_ratios_since(before);
                }
                if self.cfg.faults.sync_every_step {
                    // faults.sync_every_step: a validation pass and every statistic read back after
                    // every step, as logging each step does
                    self.split_loss(Split::Val, Mode::Eval);
                    self.tensor_stats();
                    self.block_stats();
                }
                let post = now() - t_post;
                times.optimizer_ms += waited;
                times.telemetry_ms += post;
                ms += waited + post;
            }
            self.tokens_trained += tokens;
            self.train_ms += ms;
            let loss = (loss_sum / self.cfg.grad_accum as f64) as f32;
            let step = first.0 + i + 1;
            let record = StepRecord {
                step,
                loss,
                grad_norm: norm as f32,
                lr: flight.lr,
                tokens,
                times,
                mode: Some(flight.mode),
            };
            self.history.steps.push(record);
        }
        Ok(launched)
    }

    /// The weight faults that strike at a given step.
    fn apply_weight_faults(&mut self) -> Result<(), EngineError> {
        let step = self.steps_done + 1;
        let at = |v: Option<f32>| v.is_some_and(|s| s as usize == step);
        if at(self.cfg.faults.corrupt_embeddings) {
            // faults.corrupt_embeddings: the token table is overwritten with noise of std 1
            let mut rng = Rng::derive(self.cfg.seed, "corrupt");
            let noise: Vec<f32> = (0..self.backend.len(&self.model.params.wte)).map(|_| rng.normal() as f32).collect();
            self.backend.upload(&mut self.model.params.wte, &noise);
        }
        if at(self.cfg.faults.wrong_checkpoint) {
            // faults.wrong_checkpoint: the weights of another, untrained run replace ours
            let foreign = self.model.specs.initial_values(self.cfg.seed.wrapping_add(1), &Faults::default());
            for (p, v) in self.model.params.tensors_mut().into_iter().zip(foreign.tensors()) {
                self.backend.upload(p, v);
            }
        }
        Ok(())
    }
}
