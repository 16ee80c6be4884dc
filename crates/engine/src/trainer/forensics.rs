//! NaN forensics: a step whose loss or gradient is not finite stops the run, and the error names the
//! first tensor (parameters, then activations in forward order, then gradients in backward order)
//! that held a NaN or Inf at that step.

use super::Trainer;
use crate::backend::Backend;
use crate::data::Split;
use crate::error::EngineError;
use crate::rng::Rng;
use crate::telemetry::Mode;

impl<B: Backend> Trainer<B> {
    /// Stops the run at the `index`-th step launched from `first` (steps done, optimiser updates),
    /// the first whose readback holds a non-finite value (a loss of micro-batch `bad_loss`, or else
    /// a gradient): the steps from it on are undone (the backend skipped their updates), and the
    /// step's state is computed again where the buffers hold a later one's, so the error names the
    /// first tensor that step made non-finite.
    pub(super) fn stop_in_launch(&mut self, first: (usize, u32), index: usize, bad_loss: Option<usize>) -> EngineError {
        let launched = self.steps_done;
        self.steps_done = first.0 + index;
        self.optimizer.set_steps(first.1 + index as u32);
        let rng = self.in_flight[index].batches_from.clone();
        // The sampler as it was before the stopped step, matching the steps done.
        self.batch_rng = rng.clone();
        match bad_loss {
            // The backend skipped this update and every later one, so the parameters are the ones
            // that gave this loss: its forward pass again shows where the non-finite values began.
            Some(micro) => self.replay_forward(rng, micro),
            // The gradient buffers hold a later step's (piled onto this one's under no_zero_grad,
            // where they stay non-finite), so this step's backward passes run again.
            None if self.steps_done + 1 < launched && !self.cfg.faults.no_zero_grad => self.replay_backward(rng),
            None => {}
        }
        self.stop_non_finite()
    }

    /// Runs micro-batch `micro`'s forward pass again, its batch drawn from `rng` as the step drew it,
    /// so the activations are the ones its non-finite loss came from (the parameters are unchanged:
    /// the backend skipped the update).
    fn replay_forward(&mut self, mut rng: Rng, micro: usize) {
        let (batch, context) = (self.cfg.effective_batch(), self.model.config.context);
        for _ in 0..=micro {
            self.dataset.batch(Split::Train, &mut rng, batch, context, &mut self.x, &mut self.y);
        }
        let pass = self.pass(Mode::Train, micro);
        self.model.forward(&mut self.backend, &mut self.acts, &self.x, Some(&self.y), pass);
    }

    /// Runs the step about to be taken again up to its gradients, its batches drawn from `rng` as
    /// the step drew them (the parameters are unchanged: the backend skipped the update).
    fn replay_backward(&mut self, mut rng: Rng) {
        let (batch, context) = (self.cfg.effective_batch(), self.model.config.context);
        for g in self.grads.iter_mut() {
            self.backend.fill(g, 0.0);
        }
        for micro in 0..self.cfg.grad_accum {
            self.dataset.batch(Split::Train, &mut rng, batch, context, &mut self.x, &mut self.y);
            let pass = self.pass(Mode::Train, micro);
            self.model.forward(&mut self.backend, &mut self.acts, &self.x, Some(&self.y), pass);
            self.model.backward(&mut self.backend, &mut self.acts, &mut self.grads, &self.x, pass);
        }
        self.mean_over_micro_batches();
    }

    /// Records and returns the non-finite error, naming the first tensor (parameters, then activations
    /// in forward order, then gradients in backward order) that holds a NaN or Inf.
    fn stop_non_finite(&mut self) -> EngineError {
        let tensor = self.first_non_finite().unwrap_or_else(|| "loss".to_string());
        let err = EngineError::NonFinite { step: self.steps_done + 1, tensor };
        self.history.stopped = Some(err.clone());
        err
    }

    fn first_non_finite(&mut self) -> Option<String> {
        let b = &mut self.backend;
        let mut bad = |name: &str, buf: &B::Buf| {
            let len = b.len(buf);
            (!b.sum_squares(buf, len).is_finite()).then(|| name.to_string())
        };
        for (spec, p) in self.model.specs.tensors().into_iter().zip(self.model.params.tensors()) {
            if let Some(n) = bad(&format!("parameter {}", spec.name), p) {
                return Some(n);
            }
        }
        let a = &self.acts;
        if let Some(n) = bad("activation embeddings", &a.resid[0]) {
            return Some(n);
        }
        for (l, ba) in a.blocks.iter().enumerate() {
            let named = [
                ("ln1", &ba.ln1),
                ("attn.qkv", &ba.attn.qkv),
                ("attn.probs", &ba.attn.probs),
                ("attn.out", &ba.attn.out),
                ("attn.branch", &ba.attn.branch),
                ("sum1", &ba.sum1),
                ("x_mid", &ba.x_mid),
                ("ln2", &ba.ln2),
                ("mlp.fc", &ba.mlp.fc),
                ("mlp.act", &ba.mlp.act),
                ("mlp.branch", &ba.mlp.branch),
                ("sum2", &ba.sum2),
                ("out", &a.resid[l + 1]),
            ];
            for (name, buf) in named {
                if let Some(n) = bad(&format!("activation block{l}.{name}"), buf) {
                    return Some(n);
                }
            }
        }
        for (name, buf) in [("lnf", &a.lnf), ("logits", &a.logits), ("loss", &a.losses)] {
            if let Some(n) = bad(&format!("activation {name}"), buf) {
                return Some(n);
            }
        }
        let specs = self.model.specs.tensors();
        let grads = self.grads.tensors();
        for (spec, g) in specs.into_iter().zip(grads).rev() {
            if let Some(n) = bad(&format!("gradient of {}", spec.name), g) {
                return Some(n);
            }
        }
        None
    }
}
