//! Fine-tuning a pretrained model against preferences: the alignment section of the guide made real.
//!
//! - `preference.rs`: (prompt, chosen, rejected) pairs written by the corpus generators, which know
//!   the truth, and the exact true quality of a model's completions.
//! - `pairs.rs`: [`pairs::PairSource`], a built-in corpus's grammar or the learner's text with a
//!   rule (prefer continuations that contain a word): the pairs, the prompts and the judge.
//! - `dpo.rs`: the DPO objective on the host, in f64, with its gradient with respect to each
//!   sequence's log-probability.
//! - `bench.rs`: a DPO step's cost beside a pretraining step's (`faultline bench`).
//! - `sft.rs`: [`sft::SftRun`], supervised fine-tuning on a small text (every weight or LoRA), with
//!   the validation gap overfitting opens.
//! - `run.rs`: [`DpoRun`], a DPO run on any backend: the reference frozen as cached
//!   log-probabilities, the step, evaluations, and the faults of the guide's "DPO loss not
//!   decreasing" entry at the lines they change (`faults.dpo_*`).

pub mod bench;
pub mod dpo;
pub mod lora;
pub mod pairs;
pub mod preference;
mod run;
pub mod sft;
mod trainable;

pub use run::{
    pretrain, pretraining_config, DpoRun, DpoSettings, DEFAULT_CORPUS, HELD_OUT_PAIRS, QUALITY_PROMPTS, TRAIN_PAIRS,
};
pub use trainable::FineTuneMemory;
