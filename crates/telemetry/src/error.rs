//! Errors the engine reports to its callers (the command line, the app's worker).

use serde::{Deserialize, Serialize};
use std::fmt;

/// A setting that cannot be used, named so a form can show the message next to its field.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ConfigError {
    /// The setting's name as the command line and the URL spell it (`lr`, `steps`, ...).
    pub field: String,
    pub message: String,
}

impl ConfigError {
    pub fn new(field: &str, message: impl Into<String>) -> Self {
        Self { field: field.to_string(), message: message.into() }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

impl std::error::Error for ConfigError {}

/// What can stop a run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum EngineError {
    Config(ConfigError),
    /// A tensor held NaN or Inf. `tensor` names the first one found in the order the step computes them.
    NonFinite {
        step: usize,
        tensor: String,
    },
    /// The run needs more memory than its budget allows.
    OutOfMemory {
        requested_bytes: u64,
        budget_bytes: u64,
        what: String,
    },
    /// The text cannot be used as a corpus.
    Data(String),
    /// A checkpoint file cannot be read or written (the engine's `checkpoint` module).
    Checkpoint(String),
}

impl fmt::Display for EngineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EngineError::Config(e) => write!(f, "{e}"),
            EngineError::NonFinite { step, tensor } => {
                write!(f, "non-finite value (NaN or Inf) in {tensor} at step {step}; the run stopped and kept its last good state")
            }
            EngineError::OutOfMemory { requested_bytes, budget_bytes, what } => write!(
                f,
                "out of memory: {what} needs {:.1} MiB but the budget is {:.1} MiB",
                *requested_bytes as f64 / 1048576.0,
                *budget_bytes as f64 / 1048576.0
            ),
            EngineError::Data(m) => write!(f, "{m}"),
            EngineError::Checkpoint(m) => write!(f, "{m}"),
        }
    }
}

impl std::error::Error for EngineError {}

impl From<ConfigError> for EngineError {
    fn from(e: ConfigError) -> Self {
        EngineError::Config(e)
    }
}
