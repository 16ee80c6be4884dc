//! Attention statistics: the maps of every layer and head on a fixed probe text, and the per-head
//! measurements read off a batch's attention probabilities.

use super::Trainer;
use crate::backend::{AttnShape, Backend};
use crate::model::Pass;
use crate::telemetry::AttentionMaps;

impl<B: Backend> Trainer<B> {
    /// Runs the model on a fixed probe (the start of the validation text) and keeps every attention map.
    pub(super) fn attention_maps(&mut self) -> AttentionMaps {
        let m = self.model.config;
        let source = if self.dataset.val.len() > m.context { &self.dataset.val } else { &self.dataset.train };
        let probe: Vec<u32> = source.iter().take(m.context).copied().collect();
        let time = probe.len();
        let pass = Pass { batch: 1, time, dropout: 0.0, dropout_seed: 0 };
        self.model.forward(&mut self.backend, &mut self.sample_acts, &probe, None, pass);
        let mut probs = Vec::with_capacity(m.n_layers * m.n_heads * time * time);
        for block in &self.sample_acts.blocks {
            probs.extend_from_slice(&self.backend.download(&block.attn.probs)[..m.n_heads * time * time]);
        }
        AttentionMaps {
            layers: m.n_layers,
            heads: m.n_heads,
            time,
            tokens: probe.iter().map(|&t| self.dataset.tokenizer.token_label(t)).collect(),
            probs,
        }
    }
}

/// Mean entropy of the attention rows and mean probability above the diagonal, per head, from
/// `probs [batch, heads, time, time]`.
pub fn attention_row_stats(probs: &[f32], batch: usize, heads: usize, time: usize) -> (Vec<f32>, Vec<f32>) {
    let mut entropy = vec![0.0f64; heads];
    let mut above = vec![0.0f64; heads];
    for b in 0..batch {
        for (h, (e_sum, a_sum)) in entropy.iter_mut().zip(above.iter_mut()).enumerate() {
            for i in 0..time {
                let row = &probs[((b * heads + h) * time + i) * time..][..time];
                *e_sum -= row.iter().filter(|&&p| p > 0.0).map(|&p| p as f64 * (p as f64).ln()).sum::<f64>();
                *a_sum += row[i + 1..].iter().map(|&p| p as f64).sum::<f64>();
            }
        }
    }
    let rows = (batch * time) as f64;
    (entropy.iter().map(|e| (e / rows) as f32).collect(), above.iter().map(|a| (a / rows) as f32).collect())
}

/// Per head: the spread (standard deviation across a row's visible positions) of the attention logits,
/// recovered as `ln p`, summed over rows, over the same spread of `q·k/√d_k` computed from `qkv`
/// (`[N, 3C]`). Rows where a visible position's probability underflowed to 0 are skipped: their
/// logits cannot be recovered.
pub fn attention_logit_scale(probs: &[f32], qkv: &[f32], shape: AttnShape) -> Vec<f32> {
    let AttnShape { batch, time, d_model, heads } = shape;
    let d_k = shape.head_dim();
    let inv_sqrt = 1.0 / (d_k as f64).sqrt();
    let std = |v: &[f64]| {
        let mean = v.iter().sum::<f64>() / v.len() as f64;
        (v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / v.len() as f64).sqrt()
    };
    let (mut logits, mut dots) = (Vec::with_capacity(time), Vec::with_capacity(time));
    (0..heads)
        .map(|h| {
            let (mut spread_logit, mut spread_dot) = (0.0f64, 0.0f64);
            for b in 0..batch {
                for i in 0..time {
                    let row = &probs[((b * heads + h) * time + i) * time..][..time];
                    if row[..=i].iter().any(|&p| p <= 0.0) {
                        continue;
                    }
                    let q = &qkv[(b * time + i) * 3 * d_model + h * d_k..][..d_k];
                    logits.clear();
                    dots.clear();
                    for (j, &p) in row.iter().enumerate().filter(|(j, &p)| *j <= i || p > 0.0) {
                        let k = &qkv[(b * time + j) * 3 * d_model + d_model + h * d_k..][..d_k];
                        let dot: f64 = q.iter().zip(k).map(|(&a, &b)| a as f64 * b as f64).sum();
                        logits.push((p as f64).ln());
                        dots.push(dot * inv_sqrt);
                    }
                    if logits.len() > 1 {
                        spread_logit += std(&logits);
                        spread_dot += std(&dots);
                    }
                }
            }
            if spread_dot > 0.0 {
                (spread_logit / spread_dot) as f32
            } else {
                1.0
            }
        })
        .collect()
}
