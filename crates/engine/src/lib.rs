//! Faultline's training engine.
//!
//! A tiny GPT (token + position embeddings, pre-norm blocks of causal multi-head self-attention and a
//! GELU MLP, a final LayerNorm and an LM head) with a hand-written backward pass, AdamW and SGD with
//! momentum, a warmup + cosine schedule, built-in corpora, tokenizers and sampling. The engine has no
//! web dependencies: the same code runs natively (the `faultline` command line, the tests) and inside the
//! browser's Web Worker.
//!
//! Where to look:
//! - [`model`]: the GPT, forward and backward, one named line per thing a learner can break.
//! - [`backend`]: the small [`backend::Backend`] trait every kernel goes through, and its CPU implementation.
//! - [`optim`]: AdamW, SGD with momentum, global-norm clipping, the learning-rate schedule.
//! - [`data`]: tokenizers, the built-in corpora (with their entropy rates) and batching.
//! - [`sampling`]: greedy, temperature, top-k, top-p and repetition-penalty decoding.
//! - [`faults`]: the fault table, the one place every fault is declared ([`faults::FaultId`]).
//! - [`settings`]: the settings table ([`settings::SettingKey`]) and [`settings::Change`], the one
//!   parser of `key=value` and `fault=ID[=STRENGTH]`.
//! - [`trainer`]: a training run: steps, evaluation, telemetry records, NaN detection.
//! - [`checkpoint`]: a run saved to bytes and resumed from them, exactly where it left off.
//! - [`lr_range`]: the guide's learning-rate range test and its suggested rate.
//!
//! Three crates below the engine are re-exported under the names they had inside it: [`guide`]
//! (`faultline-guide`: the guide and its typed ids), [`telemetry`] and [`error`] (`faultline-telemetry`:
//! what a run reports and what stops it) and [`diagnosis`] (`faultline-diagnosis`: the detector, which
//! cannot see the fault table or the settings because it does not depend on this crate).

pub mod align;
pub mod backend;
pub mod bench;
pub mod checkpoint;
pub mod config;
pub mod data;
pub mod faults;
pub mod lr_range;
pub mod memory;
pub mod model;
pub mod optim;
pub mod rng;
pub mod sampling;
pub mod settings;
pub mod trainer;

pub use faultline_diagnosis as diagnosis;
pub use faultline_guide as guide;
pub use faultline_telemetry as telemetry;
pub use faultline_telemetry::error;

pub use config::{ModelConfig, OptimizerKind, Preset, RunConfig};
pub use error::{ConfigError, EngineError};
pub use faults::Faults;
pub use telemetry::{EvalRecord, PhaseTimes, RunSummary, StepRecord};
pub use trainer::Trainer;
