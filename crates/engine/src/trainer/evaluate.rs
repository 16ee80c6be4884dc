//! Evaluations: when one is due, the mean loss of each split, and every per-tensor and per-block
//! measurement the detector and the charts read.

use super::attention::{attention_logit_scale, attention_row_stats};
use super::{mean, Trainer};
use crate::backend::cpu::activation_slope;
use crate::backend::{AttnShape, Backend};
use crate::data::Split;
use crate::optim::global_norm;
use crate::rng::Rng;
use crate::telemetry::{BlockStats, EvalRecord, Mode, TensorStats};

impl<B: Backend> Trainer<B> {
    /// Whether an evaluation is due after the step just taken.
    pub fn should_evaluate(&self) -> bool {
        self.steps_done > 0
            && (self.steps_done.is_multiple_of(self.cfg.eval_every) || self.steps_done == self.cfg.steps)
            && self.history.evals.last().is_none_or(|e| e.step != self.steps_done)
    }

    /// Whether an evaluation is due right after the step about to run.
    pub(super) fn eval_follows(&self) -> bool {
        (self.steps_done + 1).is_multiple_of(self.cfg.eval_every) || self.steps_done + 1 == self.cfg.steps
    }

    /// Evaluates the model: mean loss over `eval_batches` fixed batches of each split (dropout off),
    /// then every per-tensor, per-block and attention measurement, and a generated sample.
    pub fn evaluate(&mut self) -> EvalRecord {
        let mode = Mode::Eval;
        let train_loss = self.split_loss(Split::Train, mode);
        let val_loss = (!self.dataset.val.is_empty()).then(|| self.split_loss(Split::Val, mode));
        // The activations now hold the last evaluation batch (validation when there is one).
        let blocks = self.block_stats();
        let logits = self.backend.download(&self.acts.logits);
        let max_abs_logit = logits.iter().fold(0.0f32, |m, v| if v.abs() > m || v.is_nan() { v.abs() } else { m });
        let record = EvalRecord {
            step: self.steps_done,
            train_loss,
            val_loss,
            grad_norm: global_norm(&self.grad_sq) as f32,
            tensors: self.tensor_stats(),
            blocks,
            max_abs_logit,
            attention: self.attention_maps(),
            sample: self.eval_sample(),
            tokenizer: self.dataset.tokenizer_stats.clone(),
            mode: Some(mode),
        };
        let mut kept = record.clone();
        kept.attention.probs = Vec::new();
        self.history.evals.push(kept);
        record
    }

    pub(super) fn update_ratios_since(&mut self, before: &[Vec<f32>]) -> Vec<Option<f32>> {
        before
            .iter()
            .zip(self.model.params.tensors())
            .map(|(old, p)| {
                let new = self.backend.download(p);
                let delta: f64 = old.iter().zip(&new).map(|(a, b)| ((b - a) as f64).powi(2)).sum();
                let norm: f64 = old.iter().map(|&a| (a as f64).powi(2)).sum();
                (norm > 0.0).then(|| (delta / norm).sqrt() as f32)
            })
            .collect()
    }

    fn mean_loss(&mut self) -> f32 {
        mean(&self.backend.download(&self.acts.losses))
    }

    pub(super) fn tensor_stats(&mut self) -> Vec<TensorStats> {
        let specs = self.model.specs.tensors();
        let params = self.model.params.tensors();
        specs
            .into_iter()
            .zip(params)
            .enumerate()
            .map(|(i, (spec, p))| {
                let len = self.backend.len(p);
                TensorStats {
                    name: spec.name.clone(),
                    kind: Some(spec.kind),
                    block: spec
                        .name
                        .strip_prefix("block")
                        .and_then(|r| r.split('.').next())
                        .and_then(|n| n.parse().ok()),
                    grad_norm: self.grad_sq.get(i).map_or(0.0, |s| s.sqrt() as f32),
                    param_norm: self.backend.sum_squares(p, len).sqrt() as f32,
                    update_ratio: self.update_ratios.get(i).copied().flatten(),
                }
            })
            .collect()
    }

    pub(super) fn block_stats(&mut self) -> Vec<BlockStats> {
        let m = self.model.config;
        let (batch, time) = (self.cfg.batch_size, m.context);
        let (n, c, f, heads) = (batch * time, m.d_model, m.mlp_dim(), m.n_heads);
        let specs = self.model.specs.tensors();
        (0..m.n_layers)
            .map(|l| {
                let prefix = format!("block{l}.");
                let grad_sq: f64 =
                    specs.iter().zip(&self.grad_sq).filter(|(s, _)| s.name.starts_with(&prefix)).map(|(_, g)| *g).sum();
                let out = self.backend.download(&self.acts.resid[l + 1]);
                let mean = out[..n * c].iter().map(|&v| v as f64).sum::<f64>() / (n * c) as f64;
                let var = out[..n * c].iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>() / (n * c) as f64;
                let fc = self.backend.download(&self.acts.blocks[l].mlp.fc);
                let act = self.model.mlp_activation();
                let dead =
                    (0..f).filter(|&u| (0..n).all(|r| activation_slope(act, fc[r * f + u]).abs() < 1e-3)).count();
                let probs = self.backend.download(&self.acts.blocks[l].attn.probs);
                let (entropy, above) = attention_row_stats(&probs, batch, heads, time);
                let qkv = self.backend.download(&self.acts.blocks[l].attn.qkv);
                let logit_scale = attention_logit_scale(&probs, &qkv, AttnShape { batch, time, d_model: c, heads });
                BlockStats {
                    block: l,
                    grad_norm: grad_sq.sqrt() as f32,
                    out_mean: mean as f32,
                    out_std: var.sqrt() as f32,
                    dead_fraction: dead as f32 / f as f32,
                    attn_entropy: entropy,
                    attn_above_diag: above,
                    attn_logit_scale: logit_scale,
                }
            })
            .collect()
    }

    /// The mean loss over `eval_batches` fixed batches of `split`, its forward passes run in `mode`.
    pub(super) fn split_loss(&mut self, split: Split, mode: Mode) -> f32 {
        let label = match split {
            Split::Train => "eval-train",
            Split::Val => "eval-val",
        };
        let mut rng = Rng::derive(self.cfg.seed, label);
        let pass = self.pass(mode, 0);
        let mut total = 0.0f64;
        for _ in 0..self.cfg.eval_batches {
            self.dataset.batch(split, &mut rng, pass.batch, pass.time, &mut self.x, &mut self.y);
            self.model.forward(&mut self.backend, &mut self.acts, &self.x, Some(&self.y), pass);
            total += self.mean_loss() as f64;
        }
        (total / self.cfg.eval_batches as f64) as f32
    }
}
