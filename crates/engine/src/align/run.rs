//! A DPO fine-tuning run: a pretrained policy, its reference frozen as log-probabilities cached when
//! the run starts, preference pairs from the corpus generator, and evaluations that score the
//! policy's own samples exactly.

use super::dpo::{dpo_terms, DpoTerms, PairLogps};
use super::pairs::PairSource;
use super::trainable::{may_step, FineTuneMemory, Policy};
use super::Method;
use crate::backend::Backend;
use crate::config::RunConfig;
use crate::data::corpus::CorpusId;
use crate::data::Tokenizer;
use crate::error::{ConfigError, EngineError};
use crate::faults::{Faults, Stage};
use crate::model::{Activations, Pass};
use crate::optim::global_norm;
use crate::rng::Rng;
use crate::telemetry::align::{DpoEvalRecord, DpoHistory, DpoStepRecord};
use crate::trainer::{Clock, Trainer};

#[cfg(test)]
mod gradcheck;

/// Pairs the policy trains on, drawn once per run.
pub const TRAIN_PAIRS: usize = 1024;
/// Pairs it never trains on, for the held-out loss and accuracy.
pub const HELD_OUT_PAIRS: usize = 64;
/// Prompts whose completions are scored at each evaluation.
pub const QUALITY_PROMPTS: usize = 64;
/// Samples kept in each evaluation record.
const SAMPLES_KEPT: usize = 4;

/// The corpus a fine-tuning run uses when none is chosen: DPO measurably raises the share of
/// correctly sorted lines there (BENCHMARKS.md, "DPO").
pub const DEFAULT_CORPUS: CorpusId = CorpusId::Sorting;

/// How a DPO run fine-tunes.
#[derive(Clone, Debug, PartialEq)]
pub struct DpoSettings {
    /// Inverse temperature of the implicit reward (the guide's starting value is 0.1).
    pub beta: f32,
    /// Fine-tuning learning rate (constant, AdamW without weight decay).
    pub lr: f32,
    /// Rank of the LoRA adapters; 0 trains every weight.
    pub lora_rank: usize,
    pub steps: usize,
    /// Preference pairs drawn to train on, pairs held out, and prompts whose completions are scored
    /// ([`TRAIN_PAIRS`], [`HELD_OUT_PAIRS`], [`QUALITY_PROMPTS`] unless a test wants fewer).
    pub train_pairs: usize,
    pub held_out_pairs: usize,
    pub quality_prompts: usize,
    /// Pairs per step (each is two sequences in the batch).
    pub pairs_per_step: usize,
    pub eval_every: usize,
    pub grad_clip: f32,
    /// Seeds the pairs, the batches and the samples.
    pub seed: u64,
    /// The rule for a learner's own text: prefer continuations that contain this word (`None` for a
    /// built-in corpus, whose grammar judges).
    pub prefer_word: Option<String>,
    /// Fine-tuning faults only ([`Stage::FineTuning`]).
    pub faults: Faults,
}

impl Default for DpoSettings {
    fn default() -> Self {
        DpoSettings::from_config(&RunConfig::default())
    }
}

impl DpoSettings {
    /// The fine-tuning stage of `cfg`: its fine-tuning settings, seed, clipping and fine-tuning faults.
    pub fn from_config(cfg: &RunConfig) -> DpoSettings {
        DpoSettings {
            beta: cfg.fine_tuning.beta,
            lr: cfg.fine_tuning.lr,
            lora_rank: cfg.fine_tuning.lora_rank,
            steps: 150,
            train_pairs: TRAIN_PAIRS,
            held_out_pairs: HELD_OUT_PAIRS,
            quality_prompts: QUALITY_PROMPTS,
            pairs_per_step: 8,
            eval_every: 25,
            grad_clip: cfg.grad_clip,
            seed: cfg.seed,
            prefer_word: None,
            faults: cfg.faults.of_stage(Stage::FineTuning),
        }
    }

    /// Checks every setting, naming the first bad one as the command line spells it.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if !(self.beta.is_finite() && self.beta > 0.0) {
            return Err(ConfigError::new("beta", format!("must be a positive number, got {}", self.beta)));
        }
        if !(self.lr.is_finite() && self.lr > 0.0) {
            return Err(ConfigError::new("fine-tune-lr", format!("must be a positive number, got {}", self.lr)));
        }
        if self.steps == 0 {
            return Err(ConfigError::new("steps", "must be at least 1"));
        }
        if !(16..=100_000).contains(&self.train_pairs) {
            return Err(ConfigError::new(
                "train-pairs",
                format!("must be between 16 and 100000, got {}", self.train_pairs),
            ));
        }
        if !(1..=10_000).contains(&self.held_out_pairs) || !(1..=256).contains(&self.quality_prompts) {
            return Err(ConfigError::new("held-out-pairs", "held-out pairs and quality prompts must be at least 1"));
        }
        if !(1..=64).contains(&self.pairs_per_step) {
            return Err(ConfigError::new("pairs", format!("must be between 1 and 64, got {}", self.pairs_per_step)));
        }
        if self.eval_every == 0 {
            return Err(ConfigError::new("eval-every", "must be at least 1"));
        }
        if !(self.grad_clip.is_finite() && self.grad_clip >= 0.0) {
            return Err(ConfigError::new(
                "grad-clip",
                format!("must be 0 or a positive number, got {}", self.grad_clip),
            ));
        }
        self.faults.validate()?;
        self.faults.only_for(Stage::FineTuning)?;
        Method::Dpo.check(&self.faults)
    }

    /// β after the faults.
    pub fn effective_beta(&self) -> f32 {
        self.faults.dpo_beta_too_high.unwrap_or(self.beta) // faults.dpo_beta_too_high: a large β in place of the run's
    }

    /// The learning rate after the faults.
    pub fn effective_lr(&self) -> f32 {
        match self.faults.dpo_lr_too_low {
            Some(factor) => self.lr / factor, // faults.dpo_lr_too_low: the fine-tuning step is divided
            None => self.lr,
        }
    }
}

/// One pair as token ids, with what the reference said of it when the run started.
struct EncodedPair {
    /// prompt + answer, as ids.
    chosen: Vec<u32>,
    rejected: Vec<u32>,
    /// Ids of the prompt: targets at positions `>= prompt_len` are the answer's.
    prompt_len: usize,
    ref_chosen: f64,
    ref_rejected: f64,
    /// The reference's log-softmax at each of the chosen answer's target rows `[rows, V]`, for the KL
    /// (training pairs only; empty for held-out ones).
    ref_rows: Vec<f32>,
}

/// One DPO fine-tuning run on backend `B`.
pub struct DpoRun<B: Backend> {
    settings: DpoSettings,
    source: PairSource,
    policy: Policy<B>,
    /// Sized for the step's `2 · pairs_per_step` sequences, and for the quality prompts.
    acts: Activations<B::Buf>,
    sample_acts: Activations<B::Buf>,
    /// Per-element weights turning the cross-entropy gradient into the DPO gradient `[N, V]`.
    weights: B::Buf,
    tokenizer: Tokenizer,
    train: Vec<EncodedPair>,
    held_out: Vec<EncodedPair>,
    prompts: Vec<String>,
    batch_rng: Rng,
    history: DpoHistory,
    steps_done: usize,
    /// Token positions (padding included) the DPO steps have run forward and backward.
    tokens_trained: usize,
}

/// The run that pretrains the base model of `base`: its `pretrain-steps` steps with one evaluation
/// point, at the end, and its fine-tuning faults taken off (they belong to the stage after it).
pub fn pretraining_config(base: &RunConfig) -> RunConfig {
    let steps = base.fine_tuning.pretrain_steps;
    RunConfig { faults: base.faults.of_stage(Stage::Pretraining), steps, eval_every: steps, ..base.clone() }
}

/// The base model's pretraining ([`pretraining_config`]), run to its end in one call.
pub fn pretrain<B: Backend>(base: RunConfig, backend: B, clock: Clock) -> Result<Trainer<B>, EngineError> {
    let mut trainer = Trainer::new(pretraining_config(&base), backend, clock)?;
    while !trainer.is_done() {
        trainer.steps(trainer.steps_per_readback())?;
    }
    Ok(trainer)
}

/// Where the pairs of a run on `base`'s model come from: its built-in corpus's grammar, or the
/// learner's text under the rule "prefer continuations that contain `prefer_word`".
pub(super) fn pair_source(base: &RunConfig, prefer_word: Option<&str>) -> Result<PairSource, ConfigError> {
    match (&base.corpus, prefer_word) {
        (crate::config::CorpusSource::Builtin(id), None) => CorpusId::parse(id)
            .map(PairSource::Corpus)
            .ok_or_else(|| ConfigError::new("corpus", format!("unknown corpus '{id}' (see `faultline corpora`)"))),
        (crate::config::CorpusSource::Builtin(id), Some(_)) => Err(ConfigError::new(
            "prefer-word",
            format!("'{id}' judges answers by its own grammar; a preference rule is for a text of your own"),
        )),
        (crate::config::CorpusSource::Text { name, text }, Some(word)) => PairSource::own_text(name, text, word),
        (crate::config::CorpusSource::Text { name, .. }, None) => Err(ConfigError::new(
            "prefer-word",
            format!(
                "'{name}' is your own text: DPO needs a rule to say which answer is better, such as \
                 --prefer-word W (prefer continuations that contain the word W)"
            ),
        )),
    }
}

impl<B: Backend> DpoRun<B> {
    /// Fine-tunes the model `base` holds (pretrained, or restored from a checkpoint). Draws the
    /// pairs, caches the reference's log-probabilities (the policy is the reference now) and takes a
    /// first evaluation at step 0.
    pub fn new(base: Trainer<B>, settings: DpoSettings) -> Result<Self, EngineError> {
        settings.validate()?;
        let source = pair_source(base.config(), settings.prefer_word.as_deref())?;
        let (backend, model, dataset) = base.into_parts();
        let m = model.config;
        let mut policy = Policy::new(backend, model, settings.lora_rank, settings.seed)?;
        let backend = &mut policy.backend;
        let acts = Activations::new(backend, &m, 2 * settings.pairs_per_step, m.context)?;
        let sample_acts = Activations::new(backend, &m, settings.quality_prompts, m.context)?;
        let weights = backend.alloc(2 * settings.pairs_per_step * m.context * m.vocab_size, "DPO weights")?;
        let tokenizer = dataset.tokenizer;
        let encode = |pairs: Vec<super::preference::PreferencePair>| -> Result<Vec<EncodedPair>, EngineError> {
            pairs
                .into_iter()
                .map(|p| {
                    let ids = |answer: &str| tokenizer.encode(&format!("{}{answer}", p.prompt));
                    Ok(EncodedPair {
                        chosen: ids(&p.chosen)?,
                        rejected: ids(&p.rejected)?,
                        prompt_len: tokenizer.encode(&p.prompt)?.len(),
                        ref_chosen: 0.0,
                        ref_rejected: 0.0,
                        ref_rows: Vec::new(),
                    })
                })
                .filter(|p: &Result<EncodedPair, EngineError>| {
                    p.as_ref().map_or(true, |p| p.chosen.len().max(p.rejected.len()) <= m.context + 1)
                })
                .collect()
        };
        let train = encode(source.pairs(settings.train_pairs, settings.seed))?;
        let held_out = encode(source.pairs(settings.held_out_pairs, settings.seed ^ 0x05EE_D0F4_E1D0_D7A1))?;
        let prompts = source.prompts(settings.quality_prompts, settings.seed ^ 0x9_0A11_7E57);
        if train.is_empty() || held_out.is_empty() {
            return Err(ConfigError::new(
                "text-file",
                format!(
                    "no preference pair of {} fits the model's context of {} tokens: use shorter sentences",
                    source.name(),
                    m.context
                ),
            )
            .into());
        }
        let mut run = DpoRun {
            batch_rng: Rng::derive(settings.seed, "dpo batches"),
            settings,
            source,
            policy,
            acts,
            sample_acts,
            weights,
            tokenizer,
            train,
            held_out,
            prompts,
            history: DpoHistory::default(),
            steps_done: 0,
            tokens_trained: 0,
        };
        run.cache_reference();
        run.evaluate();
        Ok(run)
    }

    pub fn settings(&self) -> &DpoSettings {
        &self.settings
    }

    /// Where the run's pairs come from, and the judge of its completions.
    pub fn source(&self) -> &PairSource {
        &self.source
    }

    pub fn history(&self) -> &DpoHistory {
        &self.history
    }

    pub fn steps_done(&self) -> usize {
        self.steps_done
    }

    pub fn is_done(&self) -> bool {
        self.steps_done >= self.settings.steps || self.history.stopped.is_some()
    }

    /// Numbers the optimiser trains: every weight, or the LoRA adapters'.
    pub fn trainable_params(&self) -> usize {
        self.policy.trainable_params()
    }

    /// Token positions (padding included) the DPO steps have trained on so far.
    pub fn tokens_trained(&self) -> usize {
        self.tokens_trained
    }

    /// Where the run's memory goes, in numbers (f32 each): what LoRA shrinks and what it does not.
    pub fn memory(&self) -> FineTuneMemory {
        self.policy.memory()
    }

    /// The backend's name, for the summary.
    pub fn backend_name(&self) -> String {
        self.policy.backend.name()
    }

    /// The reference is the policy as the run starts: one forward pass over every pair, kept.
    fn cache_reference(&mut self) {
        let chunk = self.settings.pairs_per_step;
        for held_out in [false, true] {
            let count = self.pairs(held_out).len();
            for start in (0..count).step_by(chunk) {
                let idx: Vec<usize> = (start..(start + chunk).min(count)).collect();
                let batch = self.measure(held_out, &idx, !held_out);
                let pairs = if held_out { &mut self.held_out } else { &mut self.train };
                for ((k, logps), rows) in idx.iter().zip(batch.logps).zip(batch.rows) {
                    let p = &mut pairs[*k];
                    (p.ref_chosen, p.ref_rejected, p.ref_rows) = (logps.0, logps.1, rows);
                }
            }
        }
    }

    fn pairs(&self, held_out: bool) -> &[EncodedPair] {
        if held_out {
            &self.held_out
        } else {
            &self.train
        }
    }

    /// A forward pass over pairs `idx` (of the training or the held-out pairs), leaving the
    /// cross-entropy gradient in the activations: chosen and rejected sequences interleaved, padded
    /// on the right to the longest. With `rows`, the logits are read back too, for the chosen
    /// answers' log-softmax rows (the KL needs them, on training pairs only).
    fn measure(&mut self, held_out: bool, idx: &[usize], rows: bool) -> Measured {
        let pairs = if held_out { &self.held_out } else { &self.train };
        let v = self.policy.model.config.vocab_size;
        let time = idx.iter().map(|&k| pairs[k].chosen.len().max(pairs[k].rejected.len()) - 1).max().unwrap_or(1);
        let batch = 2 * idx.len();
        let mut m = Measured {
            x: vec![0; batch * time],
            mask: vec![0.0; batch * time],
            logps: Vec::with_capacity(idx.len()),
            rows: Vec::with_capacity(idx.len()),
        };
        let mut y = vec![0u32; batch * time];
        for (s, &k) in idx.iter().enumerate() {
            let p = &pairs[k];
            for (seq, ids) in [(2 * s, &p.chosen), (2 * s + 1, &p.rejected)] {
                for t in 0..ids.len() - 1 {
                    let r = seq * time + t;
                    (m.x[r], y[r]) = (ids[t], ids[t + 1]);
                    let answer = t + 1 >= p.prompt_len;
                    // log π(sequence) = Σ over the answer's targets of log p(target | the ids before it)
                    let counted = if self.settings.faults.dpo_logprob_bug {
                        !answer // faults.dpo_logprob_bug: the mask inverted, the prompt's targets summed instead
                    } else {
                        answer
                    };
                    m.mask[r] = f32::from(u8::from(counted));
                }
            }
        }
        let pass = Pass { batch, time, dropout: 0.0, dropout_seed: 0 };
        self.policy.model.forward(&mut self.policy.backend, &mut self.acts, &m.x, Some(&y), pass);
        let losses = self.policy.backend.download(&self.acts.losses);
        let logits = if rows { self.policy.backend.download(&self.acts.logits) } else { Vec::new() };
        let seq_logp = |seq: usize| -> f64 {
            (seq * time..(seq + 1) * time).map(|r| -f64::from(m.mask[r]) * f64::from(losses[r])).sum()
        };
        for (s, &k) in idx.iter().enumerate() {
            let p = &pairs[k];
            let mut chosen_rows = Vec::new();
            if rows {
                for t in p.prompt_len.saturating_sub(1)..p.chosen.len() - 1 {
                    let r = 2 * s * time + t;
                    chosen_rows.extend(log_softmax(&logits[r * v..(r + 1) * v]));
                }
            }
            m.logps.push((seq_logp(2 * s), seq_logp(2 * s + 1)));
            m.rows.push(chosen_rows);
        }
        m
    }

    /// The pairs' log-probabilities against the reference the run uses.
    fn pair_logps(&self, held_out: bool, idx: &[usize], measured: &Measured) -> Vec<PairLogps> {
        let pairs = self.pairs(held_out);
        idx.iter()
            .zip(&measured.logps)
            .map(|(&k, &(chosen, rejected))| {
                if self.settings.faults.dpo_reference_not_frozen {
                    // faults.dpo_reference_not_frozen: the reference is the live policy, not the frozen copy
                    PairLogps { chosen, rejected, ref_chosen: chosen, ref_rejected: rejected }
                } else {
                    let p = &pairs[k];
                    PairLogps { chosen, rejected, ref_chosen: p.ref_chosen, ref_rejected: p.ref_rejected }
                }
            })
            .collect()
    }

    /// KL(policy ‖ reference) over each chosen answer's target rows, mean over training pairs `idx`.
    fn kl(&self, idx: &[usize], measured: &Measured) -> f64 {
        if self.settings.faults.dpo_reference_not_frozen {
            return 0.0; // the reference is the policy itself
        }
        let pairs = &self.train;
        let total: f64 = idx
            .iter()
            .zip(&measured.rows)
            .map(|(&k, rows)| {
                let q = &pairs[k].ref_rows;
                rows.iter().zip(q).map(|(&lp, &lq)| f64::from(lp).exp() * f64::from(lp - lq)).sum::<f64>()
            })
            .sum();
        total / idx.len().max(1) as f64
    }

    /// The DPO loss of training pairs `idx` and its gradient: in the weights' gradients, and with
    /// LoRA in the adapters' too. Nothing is updated.
    fn gradients(&mut self, idx: &[usize]) -> (DpoTerms, Measured) {
        self.policy.zero_grads();
        let measured = self.measure(false, idx, true);
        let logps = self.pair_logps(false, idx, &measured);
        let live_reference = self.settings.faults.dpo_reference_not_frozen;
        let terms = dpo_terms(&logps, f64::from(self.settings.effective_beta()), live_reference);
        // −Σ coef · log π with coef = −∂loss/∂log π, chosen and rejected interleaved
        let coefs: Vec<f64> = terms.grads.iter().flat_map(|&(c, r)| [-c, -r]).collect();
        self.tokens_trained += measured.x.len();
        let (policy, acts) = (&mut self.policy, &mut self.acts);
        policy.backward_weighted(acts, &mut self.weights, &measured.x, &measured.mask, &coefs);
        (terms, measured)
    }

    /// One DPO step: a batch of pairs forward, the DPO weights on the cross-entropy gradient,
    /// backward, clipping and an AdamW update.
    pub fn step(&mut self) -> Result<DpoStepRecord, EngineError> {
        may_step(&self.history.stopped, self.is_done(), self.settings.steps)?;
        let idx: Vec<usize> =
            (0..self.settings.pairs_per_step).map(|_| self.batch_rng.below(self.train.len())).collect();
        let (terms, measured) = self.gradients(&idx);
        let lr = self.settings.effective_lr();
        let readout = self.policy.finish_step(&self.acts.losses, self.settings.grad_clip, lr);
        let grad_norm = global_norm(&readout.grad_sq);
        self.steps_done += 1;
        let step = self.steps_done;
        if !(terms.loss.is_finite() && grad_norm.is_finite()) {
            let tensor = if terms.loss.is_finite() { "gradients" } else { "DPO loss" };
            let e = EngineError::NonFinite { step, tensor: tensor.into() };
            self.history.stopped = Some(e.clone());
            return Err(e);
        }
        let record = DpoStepRecord {
            step,
            loss: terms.loss as f32,
            margin: terms.margin as f32,
            accuracy: terms.accuracy as f32,
            chosen_drift: terms.chosen_drift as f32,
            rejected_drift: terms.rejected_drift as f32,
            kl: self.kl(&idx, &measured) as f32,
            grad_norm: grad_norm as f32,
            lr,
        };
        self.history.steps.push(record.clone());
        if step.is_multiple_of(self.settings.eval_every) || step == self.settings.steps {
            self.evaluate();
        }
        Ok(record)
    }

    /// The held-out pairs' DPO loss and accuracy, and the true quality of completions of the
    /// quality prompts, sampled at temperature 1 from a stream fixed per run (so two runs of the
    /// same seed are scored on the same draws).
    fn evaluate(&mut self) {
        let chunk = self.settings.pairs_per_step;
        let mut logps = Vec::with_capacity(self.held_out.len());
        for start in (0..self.held_out.len()).step_by(chunk) {
            let idx: Vec<usize> = (start..(start + chunk).min(self.held_out.len())).collect();
            let measured = self.measure(true, &idx, false);
            logps.extend(self.pair_logps(true, &idx, &measured));
        }
        let terms = dpo_terms(&logps, f64::from(self.settings.effective_beta()), false);
        let samples = self.complete_prompts();
        self.history.evals.push(DpoEvalRecord {
            step: self.steps_done,
            loss: terms.loss as f32,
            accuracy: terms.accuracy as f32,
            quality: self.source.quality(&samples) as f32,
            samples: samples.into_iter().take(SAMPLES_KEPT).collect(),
        });
    }

    /// Completes every quality prompt, all of them in one batch, token by token, until each has
    /// ended its unit (a newline, or a sentence's ". ") or filled the context.
    fn complete_prompts(&mut self) -> Vec<(String, String)> {
        let mut rng = Rng::derive(self.settings.seed, "dpo quality samples");
        let mut seqs: Vec<Vec<u32>> =
            self.prompts.iter().map(|p| self.tokenizer.encode(p).unwrap_or_default()).collect();
        let starts: Vec<usize> = seqs.iter().map(Vec::len).collect();
        let context = self.policy.model.config.context;
        self.policy.sample(&mut self.sample_acts, &self.tokenizer, &mut seqs, context, &mut rng);
        self.prompts
            .iter()
            .zip(&seqs)
            .zip(&starts)
            .map(|((p, ids), &start)| (p.clone(), self.tokenizer.decode(&ids[start..])))
            .collect()
    }
}

/// One batch of pairs measured by a forward pass.
struct Measured {
    /// The inputs `[2·pairs, time]`, padded on the right to the longest.
    x: Vec<u32>,
    /// 1 where a row's target counts toward its sequence's log-probability.
    mask: Vec<f32>,
    /// Per pair, (log π(c), log π(r)).
    logps: Vec<(f64, f64)>,
    /// Per pair, the log-softmax of each of the chosen answer's target rows `[rows, V]` (empty
    /// unless asked for).
    rows: Vec<Vec<f32>>,
}

/// `z − logsumexp(z)` of one row, in f32 from f64 sums.
fn log_softmax(z: &[f32]) -> Vec<f32> {
    let max = z.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let lse = f64::from(max) + z.iter().map(|&v| f64::from(v - max).exp()).sum::<f64>().ln();
    z.iter().map(|&v| (f64::from(v) - lse) as f32).collect()
}
