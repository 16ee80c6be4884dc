//! Text generation: sampling at the run's settings (after the sampling faults), decoding ids into the
//! text a reader sees, and measuring a sample against the training data.

use super::Trainer;
use crate::backend::Backend;
use crate::error::EngineError;
use crate::model::Pass;
use crate::rng::Rng;
use crate::sampling::{next_token_probs, repeated_ngram_rate, sample_next, SamplingConfig};
use crate::telemetry::SampleStats;

impl<B: Backend> Trainer<B> {
    /// How samples are decoded in this run, after the sampling faults.
    pub fn sampling(&self) -> SamplingConfig {
        self.cfg.decoding()
    }

    /// Generates up to `max_new_tokens` tokens after `prompt` (an empty prompt starts from the first
    /// validation token) and returns prompt + continuation as text.
    pub fn sample(
        &mut self,
        prompt: &str,
        max_new_tokens: usize,
        opts: &SamplingConfig,
        seed: u64,
    ) -> Result<String, EngineError> {
        let (ids, _) = self.generate(prompt, max_new_tokens, opts, seed)?;
        Ok(self.decode(&ids))
    }

    fn generate(
        &mut self,
        prompt: &str,
        max_new_tokens: usize,
        opts: &SamplingConfig,
        seed: u64,
    ) -> Result<(Vec<u32>, Choices), EngineError> {
        opts.validate()?;
        let mut tokens = self.dataset.tokenizer.encode(prompt)?;
        if tokens.is_empty() {
            let first = self.dataset.val.first().or(self.dataset.train.first()).copied().unwrap_or(0);
            tokens.push(first);
        }
        let m = self.model.config;
        let mut rng = Rng::derive(seed, "sample");
        let (mut model_entropy, mut sampler_entropy) = (0.0f64, 0.0f64);
        for _ in 0..max_new_tokens {
            let start = tokens.len().saturating_sub(m.context);
            let window = &tokens[start..];
            let pass = Pass { batch: 1, time: window.len(), dropout: 0.0, dropout_seed: 0 };
            self.model.forward(&mut self.backend, &mut self.sample_acts, window, None, pass);
            let logits = self.backend.download(&self.sample_acts.logits);
            let last = &logits[(window.len() - 1) * m.vocab_size..window.len() * m.vocab_size];
            let next = sample_next(last, window, opts, &mut rng);
            let plain = next_token_probs(last, &[], &SamplingConfig::PLAIN);
            model_entropy += entropy(plain);
            sampler_entropy += entropy(next_token_probs(last, window, opts));
            tokens.push(next);
        }
        let n = max_new_tokens.max(1) as f64;
        let choices =
            Choices { model_entropy: (model_entropy / n) as f32, sampler_entropy: (sampler_entropy / n) as f32 };
        Ok((tokens, choices))
    }

    /// Turns generated ids into the text a reader sees.
    fn decode(&self, ids: &[u32]) -> String {
        if self.cfg.faults.tokenizer_mismatch {
            // faults.tokenizer_mismatch: ids looked up in the vocabulary read back to front
            let v = self.model.config.vocab_size as u32;
            let foreign: Vec<u32> = ids.iter().map(|&id| v - 1 - id.min(v - 1)).collect();
            return self.dataset.tokenizer.decode(&foreign);
        }
        self.dataset.tokenizer.decode(ids)
    }

    /// A sample at the run's sampling settings, measured against the training data.
    pub(super) fn eval_sample(&mut self) -> Option<SampleStats> {
        if self.cfg.sample_tokens == 0 {
            return None;
        }
        let opts = self.sampling();
        self.sample_stats("", self.cfg.sample_tokens, &opts, self.cfg.seed ^ self.steps_done as u64).ok()
    }

    /// Generates like [`Trainer::sample`] and measures the text as an evaluation's sample is measured
    /// (repeated 4-grams, unseen bigrams, the entropy the decoding kept).
    pub fn sample_stats(
        &mut self,
        prompt: &str,
        max_new_tokens: usize,
        opts: &SamplingConfig,
        seed: u64,
    ) -> Result<SampleStats, EngineError> {
        let (ids, choices) = self.generate(prompt, max_new_tokens, opts, seed)?;
        let text = self.decode(&ids);
        // Measure what the reader sees: re-encode the text (a mismatched vocabulary shows up here).
        let seen = self.dataset.tokenizer.encode(&text).unwrap_or_default();
        let v = self.model.config.vocab_size;
        let pairs = seen.windows(2).count().max(1);
        let unseen = seen.windows(2).filter(|p| !self.train_bigrams[p[0] as usize * v + p[1] as usize]).count();
        let reference: Vec<u32> = self.dataset.val.iter().take(seen.len()).copied().collect();
        Ok(SampleStats {
            text,
            repeated_ngram_rate: repeated_ngram_rate(&seen, 4),
            reference_ngram_rate: repeated_ngram_rate(&reference, 4),
            unseen_bigram_rate: unseen as f32 / pairs as f32,
            reread_loss: self.text_loss(&seen),
            model_entropy: choices.model_entropy,
            sampler_entropy: choices.sampler_entropy,
        })
    }

    /// The model's mean loss on a token sequence, read in context-length windows; `None` when it is
    /// too short to predict anything.
    fn text_loss(&mut self, ids: &[u32]) -> Option<f32> {
        let context = self.model.config.context;
        let (mut total, mut count) = (0.0f64, 0usize);
        let mut start = 0;
        while start + 1 < ids.len() {
            let end = (start + context + 1).min(ids.len());
            let (x, y) = (&ids[start..end - 1], &ids[start + 1..end]);
            let pass = Pass { batch: 1, time: x.len(), dropout: 0.0, dropout_seed: 0 };
            self.model.forward(&mut self.backend, &mut self.sample_acts, x, Some(y), pass);
            let losses = self.backend.download(&self.sample_acts.losses);
            total += losses[..x.len()].iter().map(|&l| l as f64).sum::<f64>();
            count += x.len();
            start = end - 1;
        }
        (count > 0).then(|| (total / count as f64) as f32)
    }
}

/// How uncertain the model was while generating, and how much of that the decoding kept.
struct Choices {
    /// Mean entropy of the model's own next-token distributions (plain softmax of the logits).
    model_entropy: f32,
    /// Mean entropy of the distributions the sampler actually drew from (after temperature, top-k,
    /// top-p, the repetition penalty or greedy decoding).
    sampler_entropy: f32,
}

/// Entropy (nats) of a distribution given as probabilities.
fn entropy(probs: impl IntoIterator<Item = f64>) -> f64 {
    probs.into_iter().filter(|&p| p > 0.0).map(|p| -p * p.ln()).sum()
}
