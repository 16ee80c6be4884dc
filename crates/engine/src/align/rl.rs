//! Policy-gradient fine-tuning against a learned reward: the guide's "Reward increases but quality
//! decreases" made real.
//!
//! Before the first step, `reward-models` bigram reward models ([`super::reward`]) train on
//! `reward-pairs` preference pairs each, every one on its own draw. Each step then:
//!
//! 1. samples one response per prompt of a batch from the policy, at temperature 1;
//! 2. scores each response with the ensemble (the proxy reward `r`), and reads the true quality off
//!    the corpus's grammar, which the run reports but never trains on;
//! 3. shapes the reward: `R = r − kl-coef · (log π(y) − log π_ref(y)) − entropy-bonus · log π(y)`,
//!    the KL penalty to the frozen reference and the entropy bonus both in their sampled form;
//! 4. takes REINFORCE's step with a leave-one-out baseline, whose estimate is unbiased: the
//!    gradient of `−(1/N) Σ_i (R_i − mean_{j≠i} R_j) · log π(y_i)`.
//!
//! The guide entry's fault sits at the line it changes: `faults.no_kl_penalty`.

use super::pairs::PairSource;
use super::reward::{PairIds, RewardEnsemble, RewardModel};
use super::run::pair_source;
use super::trainable::{may_step, FineTuneMemory, Policy};
use super::Method;
use crate::backend::Backend;
use crate::config::RunConfig;
use crate::data::corpus::CorpusId;
use crate::data::Tokenizer;
use crate::error::{ConfigError, EngineError};
use crate::faults::{Faults, Stage};
use crate::model::{Activations, Gpt, Pass};
use crate::optim::global_norm;
use crate::rng::Rng;
use crate::telemetry::align::{RlEvalRecord, RlHistory, RlStepRecord};
use crate::trainer::Trainer;

#[cfg(test)]
mod estimator;

/// The corpus a policy-gradient run uses when none is chosen: its base model writes grammatical
/// sentences most of the time, so a fall in the true quality shows.
pub const RL_DEFAULT_CORPUS: CorpusId = CorpusId::ToyEnglish;

/// Prompts the policy is trained on, drawn once per run.
const TRAIN_PROMPTS: usize = 1024;
/// Pairs held out from every reward model, for their accuracy.
const REWARD_HELD_OUT_PAIRS: usize = 256;
/// Samples kept in each evaluation record.
const SAMPLES_KEPT: usize = 4;

/// How a policy-gradient run fine-tunes.
#[derive(Clone, Debug, PartialEq)]
pub struct RlSettings {
    /// Weight of the KL penalty to the frozen reference, per nat.
    pub kl_coef: f32,
    /// Weight of the entropy bonus, per nat.
    pub entropy_bonus: f32,
    /// Reward models in the ensemble, and the pairs each trains on.
    pub reward_models: usize,
    pub reward_pairs: usize,
    /// Fine-tuning learning rate (constant, AdamW without weight decay).
    pub lr: f32,
    /// Rank of the LoRA adapters; 0 trains every weight.
    pub lora_rank: usize,
    pub steps: usize,
    /// Prompts per step, one sampled response each.
    pub prompts_per_step: usize,
    /// Fixed prompts whose completions each evaluation scores.
    pub quality_prompts: usize,
    pub eval_every: usize,
    pub grad_clip: f32,
    /// Seeds the reward models' pairs, the prompts and the samples.
    pub seed: u64,
    /// The rule for a learner's own text (`None` for a built-in corpus, whose grammar judges).
    pub prefer_word: Option<String>,
    /// Fine-tuning faults of this method only.
    pub faults: Faults,
}

impl Default for RlSettings {
    fn default() -> Self {
        RlSettings::from_config(&RunConfig::default())
    }
}

impl RlSettings {
    /// The fine-tuning stage of `cfg`: its fine-tuning settings, seed, clipping and fine-tuning faults.
    pub fn from_config(cfg: &RunConfig) -> RlSettings {
        let ft = &cfg.fine_tuning;
        RlSettings {
            kl_coef: ft.kl_coef,
            entropy_bonus: ft.entropy_bonus,
            reward_models: ft.reward_models,
            reward_pairs: ft.reward_pairs,
            lr: ft.lr,
            lora_rank: ft.lora_rank,
            steps: 200,
            prompts_per_step: 16,
            quality_prompts: 64,
            eval_every: 25,
            grad_clip: cfg.grad_clip,
            seed: cfg.seed,
            prefer_word: None,
            faults: cfg.faults.of_stage(Stage::FineTuning),
        }
    }

    /// Checks every setting, naming the first bad one as the command line spells it.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let non_negative = |key: &str, v: f32| {
            if v.is_finite() && v >= 0.0 {
                Ok(())
            } else {
                Err(ConfigError::new(key, format!("must be 0 or a positive number, got {v}")))
            }
        };
        non_negative("kl-coef", self.kl_coef)?;
        non_negative("entropy-bonus", self.entropy_bonus)?;
        non_negative("grad-clip", self.grad_clip)?;
        if self.reward_models == 0 {
            return Err(ConfigError::new("reward-models", "must be at least 1 (one reward model, or an ensemble)"));
        }
        if self.reward_pairs < 8 {
            return Err(ConfigError::new("reward-pairs", format!("must be at least 8, got {}", self.reward_pairs)));
        }
        if !(self.lr.is_finite() && self.lr > 0.0) {
            return Err(ConfigError::new("fine-tune-lr", format!("must be a positive number, got {}", self.lr)));
        }
        if self.steps == 0 {
            return Err(ConfigError::new("steps", "must be at least 1"));
        }
        if !(2..=256).contains(&self.prompts_per_step) {
            return Err(ConfigError::new(
                "prompts",
                format!("must be between 2 and 256, got {}", self.prompts_per_step),
            ));
        }
        if !(1..=256).contains(&self.quality_prompts) {
            return Err(ConfigError::new("quality-prompts", "must be between 1 and 256"));
        }
        if self.eval_every == 0 {
            return Err(ConfigError::new("eval-every", "must be at least 1"));
        }
        self.faults.validate()?;
        self.faults.only_for(Stage::FineTuning)?;
        Method::Rl.check(&self.faults)
    }

    /// The KL coefficient after the faults.
    pub fn effective_kl_coef(&self) -> f32 {
        if self.faults.no_kl_penalty {
            0.0 // faults.no_kl_penalty: the drift from the reference costs nothing
        } else {
            self.kl_coef
        }
    }
}

/// Responses the policy sampled, as one padded batch.
pub(super) struct Rollout {
    /// Each prompt + response, and where its response starts.
    seqs: Vec<Vec<u32>>,
    prompt_lens: Vec<usize>,
    /// Inputs and targets `[batch, time]`, and 1 on the rows whose target is a response token.
    x: Vec<u32>,
    y: Vec<u32>,
    mask: Vec<f32>,
}

impl Rollout {
    fn new(seqs: Vec<Vec<u32>>, prompt_lens: Vec<usize>) -> Rollout {
        let time = seqs.iter().map(|s| s.len().saturating_sub(1)).max().unwrap_or(1).max(1);
        let n = seqs.len() * time;
        let (mut x, mut y, mut mask) = (vec![0u32; n], vec![0u32; n], vec![0.0f32; n]);
        for (s, (ids, &prompt_len)) in seqs.iter().zip(&prompt_lens).enumerate() {
            for t in 0..ids.len().saturating_sub(1) {
                let r = s * time + t;
                (x[r], y[r]) = (ids[t], ids[t + 1]);
                mask[r] = f32::from(u8::from(t + 1 >= prompt_len)); // the response's tokens only
            }
        }
        Rollout { seqs, prompt_lens, x, y, mask }
    }

    /// Mean response length, in tokens.
    fn mean_length(&self) -> f32 {
        (self.mask.iter().map(|&m| f64::from(m)).sum::<f64>() / self.seqs.len().max(1) as f64) as f32
    }

    /// Token positions of the padded batch.
    pub(super) fn tokens(&self) -> usize {
        self.x.len()
    }

    fn time(&self) -> usize {
        self.x.len() / self.seqs.len().max(1)
    }

    fn response(&self, s: usize) -> &[u32] {
        &self.seqs[s][self.prompt_lens[s]..]
    }

    /// Each sequence's log-probability from per-row losses (−log p of each target).
    fn log_probs(&self, losses: &[f32]) -> Vec<f64> {
        let time = self.time();
        (0..self.seqs.len())
            .map(|s| (s * time..(s + 1) * time).map(|r| -f64::from(self.mask[r]) * f64::from(losses[r])).sum())
            .collect()
    }
}

/// What a batch of responses scored, sample by sample.
struct Scored {
    reward: Vec<f64>,
    /// `log π(y)` and `log π_ref(y)`.
    logp: Vec<f64>,
    ref_logp: Vec<f64>,
    /// Mean next-token entropy over the batch's response tokens.
    entropy: f64,
}

/// Each sample's shaped reward: its proxy reward, less the KL penalty and plus the entropy bonus,
/// both in their sampled form: `R = r − kl_coef · (log π(y) − log π_ref(y)) − entropy_bonus · log π(y)`.
fn shaped_rewards(scored: &Scored, kl_coef: f64, entropy_bonus: f64) -> Vec<f64> {
    (0..scored.reward.len())
        .map(|i| {
            let kl = scored.logp[i] - scored.ref_logp[i]; // log π(y) − log π_ref(y)
            scored.reward[i] - kl_coef * kl - entropy_bonus * scored.logp[i]
        })
        .collect()
}

/// The REINFORCE coefficients of a batch: `(R_i − mean_{j≠i} R_j) / N`, so that the gradient of
/// `−Σ_i coef_i · log π(y_i)` is the leave-one-out estimate of `−∇ E[R]`.
fn leave_one_out(shaped: &[f64]) -> Vec<f64> {
    let n = shaped.len();
    if n < 2 {
        return vec![0.0; n];
    }
    let total: f64 = shaped.iter().sum();
    shaped.iter().map(|&r| (r - (total - r) / (n - 1) as f64) / n as f64).collect()
}

/// One policy-gradient fine-tuning run on backend `B`.
pub struct RlRun<B: Backend> {
    settings: RlSettings,
    source: PairSource,
    policy: Policy<B>,
    /// The policy as the run started, frozen.
    reference: Gpt<B>,
    rewards: RewardEnsemble,
    reward_accuracy: f64,
    /// Sized for a step's batch, and for the quality prompts.
    acts: Activations<B::Buf>,
    sample_acts: Activations<B::Buf>,
    weights: B::Buf,
    tokenizer: Tokenizer,
    train_prompts: Vec<Vec<u32>>,
    quality_prompts: Vec<Vec<u32>>,
    /// Tokens a response may run to: twice the longest answer the reward models saw.
    max_response: usize,
    rng: Rng,
    history: RlHistory,
    steps_done: usize,
}

impl<B: Backend> RlRun<B> {
    /// Fine-tunes the model `base` holds. Trains the reward models, freezes a copy of the policy as
    /// the reference and takes a first evaluation at step 0.
    pub fn new(base: Trainer<B>, settings: RlSettings) -> Result<Self, EngineError> {
        settings.validate()?;
        let source = pair_source(base.config(), settings.prefer_word.as_deref())?;
        let (mut backend, model, dataset) = base.into_parts();
        let m = model.config;
        let tokenizer = dataset.tokenizer;
        let reference = Gpt {
            config: m,
            faults: model.faults.clone(),
            specs: model.specs.clone(),
            params: model.params.try_map(|p| {
                let mut copy = backend.alloc(backend.len(p), "reference")?;
                backend.copy(&mut copy, p);
                Ok::<_, EngineError>(copy)
            })?,
        };
        let mut policy = Policy::new(backend, model, settings.lora_rank, settings.seed)?;
        let backend = &mut policy.backend;
        let acts = Activations::new(backend, &m, settings.prompts_per_step, m.context)?;
        let sample_acts = Activations::new(backend, &m, settings.quality_prompts, m.context)?;
        let weights = backend.alloc(settings.prompts_per_step * m.context * m.vocab_size, "policy-gradient weights")?;

        let encode_pairs = |seed: u64, count: usize| -> Result<Vec<PairIds>, EngineError> {
            source
                .pairs(count, seed)
                .into_iter()
                .map(|p| {
                    let prompt = tokenizer.encode(&p.prompt)?;
                    Ok(PairIds {
                        prompt_last: prompt.last().copied().unwrap_or(0),
                        chosen: tokenizer.encode(&p.chosen)?,
                        rejected: tokenizer.encode(&p.rejected)?,
                    })
                })
                .collect()
        };
        let held_out = encode_pairs(settings.seed ^ 0x000B_AD5E_ED0F_4E1D, REWARD_HELD_OUT_PAIRS)?;
        let mut history = RlHistory::default();
        let mut models = Vec::new();
        let mut longest = 1;
        for k in 0..settings.reward_models {
            let pairs = encode_pairs(settings.seed.wrapping_add(0x5EED_0000 * (k as u64 + 1)), settings.reward_pairs)?;
            longest = pairs.iter().map(|p| p.chosen.len()).fold(longest, usize::max);
            let (model, record) = RewardModel::train(m.vocab_size, &pairs, &held_out);
            models.push(model);
            history.reward_models.push(record);
        }
        let encode_prompts = |count: usize, seed: u64| -> Result<Vec<Vec<u32>>, EngineError> {
            source.prompts(count, seed).iter().map(|p| tokenizer.encode(p)).collect()
        };
        let train_prompts = encode_prompts(TRAIN_PROMPTS, settings.seed ^ 0x0007_2A10)?;
        let quality_prompts = encode_prompts(settings.quality_prompts, settings.seed ^ 0x9_0A11_7E57)?;
        let rewards = RewardEnsemble { models };
        let mut run = RlRun {
            reward_accuracy: rewards.accuracy(&held_out),
            rng: Rng::derive(settings.seed, "rl rollouts"),
            max_response: 2 * longest,
            settings,
            source,
            policy,
            reference,
            rewards,
            acts,
            sample_acts,
            weights,
            tokenizer,
            train_prompts,
            quality_prompts,
            history,
            steps_done: 0,
        };
        run.evaluate();
        Ok(run)
    }

    pub fn settings(&self) -> &RlSettings {
        &self.settings
    }

    pub fn source(&self) -> &PairSource {
        &self.source
    }

    pub fn history(&self) -> &RlHistory {
        &self.history
    }

    pub fn steps_done(&self) -> usize {
        self.steps_done
    }

    pub fn is_done(&self) -> bool {
        self.steps_done >= self.settings.steps || self.history.stopped.is_some()
    }

    pub fn trainable_params(&self) -> usize {
        self.policy.trainable_params()
    }

    pub fn memory(&self) -> FineTuneMemory {
        self.policy.memory()
    }

    pub fn backend_name(&self) -> String {
        self.policy.backend.name()
    }

    /// The share of held-out pairs the reward ensemble ranks right.
    pub fn reward_accuracy(&self) -> f64 {
        self.reward_accuracy
    }

    /// The proxy reward of rollout `s`'s response.
    fn proxy(&self, rollout: &Rollout, s: usize) -> f64 {
        let prompt_last = rollout.seqs[s][..rollout.prompt_lens[s]].last().copied().unwrap_or(0);
        self.rewards.score(prompt_last, rollout.response(s))
    }

    /// Samples one response to each of `prompts`, with the run's stream of draws or `rng`.
    fn roll_out(&mut self, prompts: &[Vec<u32>], rng: &mut Rng, evaluation: bool) -> Rollout {
        let mut seqs = prompts.to_vec();
        let acts = if evaluation { &mut self.sample_acts } else { &mut self.acts };
        self.policy.sample(acts, &self.tokenizer, &mut seqs, self.max_response, rng);
        Rollout::new(seqs, prompts.iter().map(Vec::len).collect())
    }

    /// The policy's and the reference's log-probabilities of the rollout's responses, their proxy
    /// rewards and the policy's entropy, leaving the policy's cross-entropy gradient in the
    /// activations for the backward pass.
    fn score(&mut self, rollout: &Rollout) -> Scored {
        let (v, time) = (self.policy.model.config.vocab_size, rollout.time());
        let pass = Pass { batch: rollout.seqs.len(), time, dropout: 0.0, dropout_seed: 0 };
        let backend = &mut self.policy.backend;
        self.reference.forward(backend, &mut self.acts, &rollout.x, Some(&rollout.y), pass);
        let ref_logp = rollout.log_probs(&backend.download(&self.acts.losses));
        self.policy.model.forward(&mut self.policy.backend, &mut self.acts, &rollout.x, Some(&rollout.y), pass);
        let logp = rollout.log_probs(&self.policy.backend.download(&self.acts.losses));
        let logits = self.policy.backend.download(&self.acts.logits);
        let (mut entropy, mut rows) = (0.0, 0usize);
        for r in (0..rollout.mask.len()).filter(|&r| rollout.mask[r] > 0.0) {
            entropy += row_entropy(&logits[r * v..(r + 1) * v]);
            rows += 1;
        }
        let reward = (0..rollout.seqs.len()).map(|s| self.proxy(rollout, s)).collect();
        Scored { reward, logp, ref_logp, entropy: entropy / rows.max(1) as f64 }
    }

    /// Whether each response is one the truth accepts, and the samples as text.
    fn judge(&self, rollout: &Rollout) -> (Vec<bool>, Vec<(String, String)>) {
        let samples: Vec<(String, String)> = (0..rollout.seqs.len())
            .map(|s| {
                let prompt = self.tokenizer.decode(&rollout.seqs[s][..rollout.prompt_lens[s]]);
                (prompt, self.tokenizer.decode(rollout.response(s)))
            })
            .collect();
        (samples.iter().map(|(p, c)| self.source.is_good(p, c)).collect(), samples)
    }

    /// One policy-gradient step: a batch of prompts answered by the policy, scored, and one
    /// REINFORCE update on the shaped reward.
    pub fn step(&mut self) -> Result<RlStepRecord, EngineError> {
        may_step(&self.history.stopped, self.is_done(), self.settings.steps)?;
        let rollout = self.sample_batch();
        self.learn(&rollout)
    }

    /// A step's first half: a batch of training prompts, each answered by the policy token by token.
    pub(super) fn sample_batch(&mut self) -> Rollout {
        let prompts: Vec<Vec<u32>> = (0..self.settings.prompts_per_step)
            .map(|_| self.train_prompts[self.rng.below(self.train_prompts.len())].clone())
            .collect();
        let mut rng = self.rng.clone();
        let rollout = self.roll_out(&prompts, &mut rng, false);
        self.rng = rng;
        rollout
    }

    /// A step's second half: the rollout scored, and the REINFORCE update on its shaped rewards.
    pub(super) fn learn(&mut self, rollout: &Rollout) -> Result<RlStepRecord, EngineError> {
        let scored = self.score(rollout);
        let (kl_coef, entropy_bonus) =
            (f64::from(self.settings.effective_kl_coef()), f64::from(self.settings.entropy_bonus));
        let coefs = leave_one_out(&shaped_rewards(&scored, kl_coef, entropy_bonus));
        let (policy, acts) = (&mut self.policy, &mut self.acts);
        policy.zero_grads();
        policy.backward_weighted(acts, &mut self.weights, &rollout.x, &rollout.mask, &coefs);
        let readout = self.policy.finish_step(&self.acts.losses, self.settings.grad_clip, self.settings.lr);
        let grad_norm = global_norm(&readout.grad_sq);
        self.steps_done += 1;
        let step = self.steps_done;
        let n = scored.reward.len() as f64;
        let mean = |v: &[f64]| v.iter().sum::<f64>() / n;
        let kl = scored.logp.iter().zip(&scored.ref_logp).map(|(a, b)| a - b).sum::<f64>() / n;
        let reward = mean(&scored.reward);
        if !(reward.is_finite() && kl.is_finite() && grad_norm.is_finite()) {
            let tensor = if !reward.is_finite() {
                "reward"
            } else if !kl.is_finite() {
                "log-probabilities"
            } else {
                "gradients"
            };
            let e = EngineError::NonFinite { step, tensor: tensor.into() };
            self.history.stopped = Some(e.clone());
            return Err(e);
        }
        let (good, _) = self.judge(rollout);
        let record = RlStepRecord {
            step,
            reward: reward as f32,
            quality: share(&good),
            kl: kl as f32,
            length: rollout.mean_length(),
            entropy: scored.entropy as f32,
            grad_norm: grad_norm as f32,
        };
        self.history.steps.push(record.clone());
        if step.is_multiple_of(self.settings.eval_every) || step == self.settings.steps {
            self.evaluate();
        }
        Ok(record)
    }

    /// Completions of the fixed quality prompts, sampled from a stream fixed per run (two runs of
    /// the same seed are scored on the same draws), scored by the proxy and by the truth.
    fn evaluate(&mut self) {
        let mut rng = Rng::derive(self.settings.seed, "rl quality samples");
        let prompts = self.quality_prompts.clone();
        let rollout = self.roll_out(&prompts, &mut rng, true);
        let (good, samples) = self.judge(&rollout);
        let n = prompts.len().max(1) as f64;
        let reward: f64 = (0..rollout.seqs.len()).map(|s| self.proxy(&rollout, s)).sum();
        self.history.evals.push(RlEvalRecord {
            step: self.steps_done,
            reward: (reward / n) as f32,
            quality: share(&good),
            length: rollout.mean_length(),
            samples: samples.into_iter().take(SAMPLES_KEPT).collect(),
        });
    }
}

/// The share of `good` that is true (0 for none).
fn share(good: &[bool]) -> f32 {
    (good.iter().filter(|&&g| g).count() as f64 / good.len().max(1) as f64) as f32
}

/// Entropy of the softmax of one row of logits, in nats.
fn row_entropy(z: &[f32]) -> f64 {
    let max = z.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let e: Vec<f64> = z.iter().map(|&v| f64::from(v - max).exp()).collect();
    let total: f64 = e.iter().sum();
    -e.iter().map(|&p| p / total).filter(|&p| p > 0.0).map(|p| p * p.ln()).sum::<f64>()
}
