//! The run saved as checkpoint bytes ([`crate::checkpoint`] holds the file format) and resumed from
//! them, so the next step is the one the saved run would have taken.

use super::{Clock, Trainer};
use crate::backend::Backend;
use crate::checkpoint::{Checkpoint, NamedTensor};
use crate::config::OptimizerKind;
use crate::error::EngineError;
use crate::rng::Rng;

impl<B: Backend> Trainer<B> {
    /// The run saved as checkpoint bytes (see [`crate::checkpoint`]): settings, steps done,
    /// parameters, optimiser state and the batch sampler's position, read back from the backend.
    /// Fails when a tensor to be saved holds NaN or Inf.
    pub fn checkpoint(&mut self) -> Result<Vec<u8>, EngineError> {
        let layout = self.checkpoint_layout();
        let Trainer { backend, model, optimizer, grads, cfg, .. } = self;
        let buffers =
            saved_buffers(model.params.tensors(), optimizer.state(), cfg.faults.no_zero_grad, || grads.tensors());
        let mut tensors = Vec::with_capacity(layout.len());
        for ((name, shape), buf) in layout.into_iter().zip(buffers) {
            let values = backend.download(buf);
            if values.iter().any(|v| !v.is_finite()) {
                return Err(EngineError::Checkpoint(format!(
                    "{name} holds NaN or Inf, so there is no good state to save"
                )));
            }
            tensors.push(NamedTensor { name, shape, values });
        }
        let file = Checkpoint {
            config: self.cfg.clone(),
            steps_done: self.steps_done,
            optimizer_steps: self.optimizer.steps(),
            batch_rng: self.batch_rng.state(),
            tensors,
        };
        Ok(file.to_bytes())
    }

    /// Continues a run from [`Trainer::checkpoint`]'s bytes on `backend`: the next step is the one the
    /// saved run would have taken, with the same batch, so the losses match an uninterrupted run.
    /// The faults come back with the settings. Fails with [`EngineError::Checkpoint`] when the file
    /// is refused or its tensors do not fit the model its settings describe.
    pub fn from_checkpoint(bytes: &[u8], backend: B, clock: Clock) -> Result<Self, EngineError> {
        let file = Checkpoint::from_bytes(bytes)?;
        let mut trainer = Self::new(file.config, backend, clock)?;
        let layout = trainer.checkpoint_layout();
        if file.tensors.len() != layout.len() {
            return Err(EngineError::Checkpoint(format!(
                "the checkpoint holds {} tensors but its settings describe a run with {}",
                file.tensors.len(),
                layout.len()
            )));
        }
        let vocab = trainer.model.config.vocab_size;
        for (t, (name, shape)) in file.tensors.iter().zip(&layout) {
            if t.name != *name {
                return Err(EngineError::Checkpoint(format!(
                    "checkpoint tensor `{}` stands where the model its settings describe has `{name}`",
                    t.name
                )));
            }
            if t.shape != *shape {
                return Err(EngineError::Checkpoint(shape_mismatch(name, &t.shape, shape, vocab)));
            }
        }
        let Trainer { backend, model, optimizer, grads, cfg, .. } = &mut trainer;
        let buffers = saved_buffers(model.params.tensors_mut(), optimizer.state_mut(), cfg.faults.no_zero_grad, || {
            grads.tensors_mut()
        });
        for (buf, t) in buffers.into_iter().zip(&file.tensors) {
            backend.upload(buf, &t.values);
        }
        trainer.optimizer.set_steps(file.optimizer_steps);
        trainer.batch_rng = Rng::from_state(file.batch_rng);
        trainer.steps_done = file.steps_done;
        Ok(trainer)
    }

    /// Name and shape of every tensor a checkpoint of this run holds, in the order of
    /// [`saved_buffers`].
    fn checkpoint_layout(&self) -> Vec<(String, Vec<usize>)> {
        let shapes = self.model.specs.shapes();
        let named =
            |suffix: &'static str| shapes.iter().map(move |(name, shape)| (format!("{name}{suffix}"), shape.clone()));
        let mut layout: Vec<_> = named("").collect();
        match self.cfg.optimizer {
            OptimizerKind::Adamw => {
                layout.extend(named(" (AdamW first moment)").chain(named(" (AdamW second moment)")))
            }
            OptimizerKind::Sgd => layout.extend(named(" (SGD velocity)")),
        }
        if self.cfg.faults.no_zero_grad {
            layout.extend(named(" (gradient carried over by no-zero-grad)"));
        }
        layout
    }
}

/// Why checkpoint tensor `name` of shape `saved` cannot be loaded into the model's `needed`: where
/// only the vocabulary's dimensions differ (the model's `vocab` entries), the checkpoint was trained on
/// another vocabulary than its text gives now.
fn shape_mismatch(name: &str, saved: &[usize], needed: &[usize], vocab: usize) -> String {
    let only_vocab = saved.len() == needed.len() && saved.iter().zip(needed).all(|(s, n)| s == n || *n == vocab);
    let why = if only_vocab {
        format!("the checkpoint was trained on another vocabulary (its text gives {vocab} tokens here)")
    } else {
        "the checkpoint does not fit the model its settings describe".to_string()
    };
    format!("checkpoint tensor `{name}` is {saved:?}, the model needs {needed:?}: {why}")
}

/// What a checkpoint saves, in its order: parameters, optimiser state and, where the `no-zero-grad`
/// fault lets them carry over to the next step (`keep_grads`), the gradients.
fn saved_buffers<T>(params: Vec<T>, state: Vec<T>, keep_grads: bool, grads: impl FnOnce() -> Vec<T>) -> Vec<T> {
    let mut buffers = params;
    buffers.extend(state);
    if keep_grads {
        buffers.extend(grads());
    }
    buffers
}
