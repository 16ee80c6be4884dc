//! The detector's rules: each reads the run (a `View`) or its latest evaluation and, where what it
//! measures points to a guide entry, adds that entry with the [`Evidence`] in numbers. `evaluations`
//! holds the rules that read what an evaluation of the engine measured (attention, samples, the
//! tokenizer, each tensor); `curves` those that read the per-step curves a log has too.

pub(crate) mod curves;
pub(crate) mod evaluations;

use crate::Evidence;
use faultline_guide::EntryId;
use faultline_telemetry::measure;

/// How a rule reports: the entry it points to, and what it measured.
pub(crate) type Add<'a> = dyn FnMut(EntryId, Evidence) + 'a;

/// The median of `v`, 0 for none (a rule reads it only where it has steps).
pub(crate) fn median(v: Vec<f32>) -> f32 {
    measure::median(v).unwrap_or(0.0)
}

/// The robust spread of the step-to-step noise in `losses`, trend left out: 1.4826 × the median
/// absolute deviation of successive differences, over √2 (a difference holds two steps' noise). For
/// normal noise it is the standard deviation; a falling loss's trend barely moves it.
pub(crate) fn noise(losses: &[f32]) -> f32 {
    let steps: Vec<f32> = losses.windows(2).map(|w| w[1] - w[0]).collect();
    let m = median(steps.clone());
    1.4826 * median(steps.iter().map(|d| (d - m).abs()).collect()) / std::f32::consts::SQRT_2
}
