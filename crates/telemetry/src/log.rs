//! A training log written by another program (Hugging Face Trainer, TensorBoard, W&B, nanoGPT, TRL,
//! JSONL), read as far as it goes: named scalar series, each signal present or absent.
//!
//! The readers (`faultline-logs`) turn a file into [`LoggedRun`]s; the detector reads a run through
//! `faultline_diagnosis::diagnose_log`, naming an entry only from the signals the log has.

use serde::{Deserialize, Serialize};

/// What a logged scalar measures, as far as the detector is concerned.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "signal", content = "name")]
pub enum Signal {
    /// The training loss (a Trainer's `loss`: the mean over the steps since the last record).
    Loss,
    /// The validation (evaluation) loss.
    ValLoss,
    /// The global gradient norm before clipping.
    GradNorm,
    /// The learning rate.
    LearningRate,
    /// Milliseconds per step.
    StepTimeMs,
    /// One layer's gradient norm (`grad_norm/<layer>`), with the layer's name.
    LayerGradNorm(String),
    /// Any other scalar, kept under its own name to be charted (`rewards/margins`, `epoch`, ...).
    Other(String),
}

impl Signal {
    /// The signal a scalar's name stands for: the names the common trainers write (`loss`,
    /// `train/loss`, `train_loss`, `eval_loss`, `val/loss`, `grad_norm`, `learning_rate`, `lr`,
    /// `time_ms`, `grad_norm/<layer>`, PyTorch's `Loss/train` and `Loss/val`), case aside; any other name is [`Signal::Other`].
    pub fn from_name(name: &str) -> Signal {
        let lower = name.trim().to_ascii_lowercase();
        if let Some(layer) = lower.strip_prefix("grad_norm/").or_else(|| lower.strip_prefix("grad_norm.")) {
            if !layer.is_empty() {
                return Signal::LayerGradNorm(name.trim()["grad_norm/".len()..].to_string());
            }
        }
        let key = lower
            .strip_prefix("train/")
            .or_else(|| lower.strip_prefix("train_"))
            .or_else(|| lower.strip_prefix("training/"))
            .unwrap_or(&lower);
        match key {
            "loss" => Signal::Loss,
            "grad_norm" | "gradient_norm" | "grad-norm" => Signal::GradNorm,
            "learning_rate" | "lr" => Signal::LearningRate,
            "time_ms" | "step_time_ms" | "dt_ms" => Signal::StepTimeMs,
            // PyTorch's tutorials tag scalars the other way round: `Loss/train`, `Loss/val`.
            "loss/train" => Signal::Loss,
            _ => match lower.as_str() {
                "eval_loss" | "val_loss" | "eval/loss" | "val/loss" | "validation/loss" | "validation_loss"
                | "loss/val" | "loss/eval" | "loss/validation" | "loss/test" => Signal::ValLoss,
                _ => Signal::Other(name.trim().to_string()),
            },
        }
    }

    /// The name a report uses for it (`loss`, `val_loss`, `grad_norm/<layer>`, or the scalar's own).
    pub fn name(&self) -> String {
        match self {
            Signal::Loss => "loss".into(),
            Signal::ValLoss => "val_loss".into(),
            Signal::GradNorm => "grad_norm".into(),
            Signal::LearningRate => "learning_rate".into(),
            Signal::StepTimeMs => "time_ms".into(),
            Signal::LayerGradNorm(layer) => format!("grad_norm/{layer}"),
            Signal::Other(name) => name.clone(),
        }
    }
}

/// One logged value: the optimiser step it was logged at, and the value (NaN and infinities kept).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Point {
    pub step: u64,
    pub value: f32,
}

/// Every value of one scalar, in increasing step order.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Series {
    pub signal: Signal,
    pub points: Vec<Point>,
}

/// One run of a log (a W&B export or a TensorBoard folder can hold several).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LoggedRun {
    /// The run's name in the export, or the file's name where the format has none.
    pub name: String,
    pub series: Vec<Series>,
}

impl LoggedRun {
    /// The series of `signal`, if the log has it with at least one value.
    pub fn get(&self, signal: &Signal) -> Option<&Series> {
        self.series.iter().find(|s| &s.signal == signal && !s.points.is_empty())
    }

    /// Adds `value` at `step` to the series of `signal`, creating it where needed.
    pub fn push(&mut self, signal: Signal, step: u64, value: f32) {
        let point = Point { step, value };
        match self.series.iter_mut().find(|s| s.signal == signal) {
            Some(s) => s.points.push(point),
            None => self.series.push(Series { signal, points: vec![point] }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_trainers_names_map_to_signals_and_others_are_kept() {
        assert_eq!(Signal::from_name("loss"), Signal::Loss);
        assert_eq!(Signal::from_name("train/loss"), Signal::Loss);
        assert_eq!(Signal::from_name("train_loss"), Signal::Loss);
        assert_eq!(Signal::from_name("eval_loss"), Signal::ValLoss);
        assert_eq!(Signal::from_name("val/loss"), Signal::ValLoss);
        assert_eq!(Signal::from_name("Loss/train"), Signal::Loss);
        assert_eq!(Signal::from_name("Loss/val"), Signal::ValLoss);
        assert_eq!(Signal::from_name("train/grad_norm"), Signal::GradNorm);
        assert_eq!(Signal::from_name("learning_rate"), Signal::LearningRate);
        assert_eq!(Signal::from_name("lr"), Signal::LearningRate);
        assert_eq!(Signal::from_name("grad_norm/h.0.attn"), Signal::LayerGradNorm("h.0.attn".into()));
        assert_eq!(Signal::from_name("rewards/margins"), Signal::Other("rewards/margins".into()));
        assert_eq!(Signal::LayerGradNorm("h.0".into()).name(), "grad_norm/h.0");
    }

    #[test]
    fn push_keeps_one_series_per_signal() {
        let mut run = LoggedRun::default();
        run.push(Signal::Loss, 1, 3.0);
        run.push(Signal::Loss, 2, f32::NAN);
        run.push(Signal::GradNorm, 1, 0.5);
        assert_eq!(run.series.len(), 2);
        assert_eq!(run.get(&Signal::Loss).map(|s| s.points.len()), Some(2));
        assert!(run.get(&Signal::ValLoss).is_none());
    }
}
