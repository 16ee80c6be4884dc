//! The learning-rate range test, as the guide's entry `finding-the-right-learning-rate` describes it.
//!
//! 1. Make the rates: `num_lrs` values spaced evenly on a log scale from `start_lr` to `end_lr`
//!    (the guide's 100 rates from 1e-7 to 1 by default).
//! 2. From a freshly initialised model, take exactly one training step at each rate, smallest first,
//!    and record that step's loss. Stop as soon as a loss is more than [`BLOWUP_FACTOR`] times the
//!    first one (the model has blown up), or when a NaN or Inf appears.
//! 3. Suggest the rate at the lowest recorded loss divided by [`SUGGESTION_DIVISOR`].
//!
//! The losses are the raw per-step batch losses: the guide's test records every step's loss as it is
//! and reads the lowest one, without smoothing.
//!
//! The rate on the curve is the value of the learning-rate setting. Everything else about the run
//! (model, optimiser, clipping, faults) is the run's own; the learning-rate faults scale each step's
//! rate as they do in training, so the suggestion is the setting to use with those faults on. Warmup
//! and the schedule play no part: the sweep sets every step's rate itself.

use crate::backend::{Backend, CpuBackend};
use crate::config::RunConfig;
use crate::error::{ConfigError, EngineError};
use crate::trainer::{Clock, Trainer};
use faultline_guide::EntryId;
use serde::{Deserialize, Serialize};

/// The guide entry this test follows.
pub const GUIDE_ENTRY: EntryId = EntryId::FindingTheRightLearningRate;

/// The sweep stops once a loss exceeds this multiple of the first loss.
pub const BLOWUP_FACTOR: f32 = 4.0;

/// The suggestion is the rate at the lowest loss divided by this.
pub const SUGGESTION_DIVISOR: f32 = 10.0;

/// The most rates one sweep may try.
pub const MAX_LRS: usize = 10_000;

/// Which rates the sweep tries.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RangeSettings {
    /// The smallest rate, tried first.
    pub start_lr: f32,
    /// The largest rate, tried last.
    pub end_lr: f32,
    /// How many rates, evenly spaced on a log scale, both ends included.
    pub num_lrs: usize,
}

impl Default for RangeSettings {
    /// The guide's sweep: 100 rates from 1e-7 up to 1.
    fn default() -> Self {
        Self { start_lr: 1e-7, end_lr: 1.0, num_lrs: 100 }
    }
}

impl RangeSettings {
    /// Checks the bounds and the count; the message names the command line's flag.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let in_range = |v: f32| v.is_finite() && v > 0.0 && v <= 100.0;
        if !in_range(self.start_lr) {
            return Err(ConfigError::new(
                "start-lr",
                format!("must be a positive number of at most 100, got {}", self.start_lr),
            ));
        }
        if !in_range(self.end_lr) {
            return Err(ConfigError::new(
                "end-lr",
                format!("must be a positive number of at most 100, got {}", self.end_lr),
            ));
        }
        if self.end_lr <= self.start_lr {
            return Err(ConfigError::new(
                "end-lr",
                format!("must be above the start rate {}, got {}", self.start_lr, self.end_lr),
            ));
        }
        if self.num_lrs < 2 || self.num_lrs > MAX_LRS {
            return Err(ConfigError::new("num-lrs", format!("must be between 2 and {MAX_LRS}, got {}", self.num_lrs)));
        }
        Ok(())
    }

    /// The rates, smallest first, evenly spaced on a log scale with both bounds included.
    pub fn learning_rates(&self) -> Vec<f32> {
        let (lo, hi) = ((self.start_lr as f64).log10(), (self.end_lr as f64).log10());
        let last = self.num_lrs.saturating_sub(1).max(1) as f64;
        (0..self.num_lrs).map(|i| 10f64.powf(lo + (hi - lo) * i as f64 / last) as f32).collect()
    }
}

/// One step of the sweep.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct RangePoint {
    /// 1 for the first step.
    pub step: usize,
    /// The learning-rate setting of this step.
    pub lr: f32,
    /// The step's training loss on its batch.
    pub loss: f32,
}

/// Why the sweep ended.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RangeEnd {
    /// Every rate was tried.
    Completed,
    /// The loss of `step` was more than [`BLOWUP_FACTOR`] times the first loss.
    Exploded { step: usize, lr: f32, loss: f32 },
    /// A NaN or Inf appeared in `tensor` at `step`, before its loss could be recorded.
    NonFinite { step: usize, lr: f32, tensor: String },
}

/// The guide's pick.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Suggestion {
    /// The suggested learning rate: `lowest_lr / 10`.
    pub lr: f32,
    /// Where the loss was lowest, just before it starts to rise.
    pub lowest_lr: f32,
    pub lowest_loss: f32,
}

/// The whole sweep.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RangeResult {
    pub settings: RangeSettings,
    pub points: Vec<RangePoint>,
    pub end: RangeEnd,
    /// `None` when no loss fell below the first one: the curve has no downhill stretch to read.
    pub suggestion: Option<Suggestion>,
}

/// The guide's rule: the rate at the lowest loss, divided by ten. `None` when the lowest loss is the
/// first one (the loss never fell), or when there is no finite loss.
pub fn suggest(points: &[RangePoint]) -> Option<Suggestion> {
    let first = points.first()?.loss;
    let lowest = points.iter().filter(|p| p.loss.is_finite()).min_by(|a, b| a.loss.total_cmp(&b.loss))?;
    (lowest.loss < first).then(|| Suggestion {
        lr: lowest.lr / SUGGESTION_DIVISOR,
        lowest_lr: lowest.lr,
        lowest_loss: lowest.loss,
    })
}

/// A sweep in progress, one step per [`RangeTest::advance`], so a caller can interleave other work.
pub struct RangeTest<B: Backend = CpuBackend> {
    trainer: Trainer<B>,
    settings: RangeSettings,
    lrs: Vec<f32>,
    points: Vec<RangePoint>,
    end: Option<RangeEnd>,
}

impl RangeTest<CpuBackend> {
    /// A sweep on the plain CPU backend.
    pub fn cpu(config: &RunConfig, settings: RangeSettings, clock: Clock) -> Result<Self, EngineError> {
        Self::new(config, settings, CpuBackend::new(), clock)
    }
}

impl<B: Backend> RangeTest<B> {
    /// Checks both settings and builds a fresh model from `config.seed`.
    pub fn new(config: &RunConfig, settings: RangeSettings, backend: B, clock: Clock) -> Result<Self, EngineError> {
        config.validate()?;
        settings.validate()?;
        let lrs = settings.learning_rates();
        let sweep = RunConfig { steps: lrs.len(), eval_every: lrs.len(), sample_tokens: 0, ..config.clone() };
        let trainer = Trainer::new(sweep, backend, clock)?;
        Ok(Self { trainer, settings, points: Vec::with_capacity(lrs.len()), lrs, end: None })
    }

    /// Rates the sweep tries if it does not stop early.
    pub fn planned(&self) -> usize {
        self.lrs.len()
    }

    pub fn points(&self) -> &[RangePoint] {
        &self.points
    }

    pub fn is_done(&self) -> bool {
        self.end.is_some()
    }

    /// Takes the next step and returns its point; `None` once the sweep has ended (a NaN or Inf ends
    /// it without a point). Errors other than a non-finite value are passed on.
    pub fn advance(&mut self) -> Result<Option<RangePoint>, EngineError> {
        if self.end.is_some() {
            return Ok(None);
        }
        let (step, lr) = (self.points.len() + 1, self.lrs[self.points.len()]);
        let effective = self.trainer.config().faults.apply_lr(lr);
        let record = match self.trainer.step_at(effective) {
            Ok(record) => record,
            Err(EngineError::NonFinite { tensor, .. }) => {
                self.end = Some(RangeEnd::NonFinite { step, lr, tensor });
                return Ok(None);
            }
            Err(e) => return Err(e),
        };
        let point = RangePoint { step, lr, loss: record.loss };
        self.points.push(point);
        if point.loss > BLOWUP_FACTOR * self.points[0].loss {
            self.end = Some(RangeEnd::Exploded { step, lr, loss: point.loss });
        } else if step == self.lrs.len() {
            self.end = Some(RangeEnd::Completed);
        }
        Ok(Some(point))
    }

    /// The sweep so far, its end (`Completed` while it is still running) and the suggestion.
    pub fn result(&self) -> RangeResult {
        RangeResult {
            settings: self.settings,
            points: self.points.clone(),
            end: self.end.clone().unwrap_or(RangeEnd::Completed),
            suggestion: suggest(&self.points),
        }
    }
}

/// Runs the whole sweep for `config` on the CPU backend.
pub fn run(config: &RunConfig, settings: RangeSettings, clock: Clock) -> Result<RangeResult, EngineError> {
    let mut test = RangeTest::cpu(config, settings, clock)?;
    while !test.is_done() {
        test.advance()?;
    }
    Ok(test.result())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Preset;
    use crate::trainer::native_clock;

    fn point(step: usize, lr: f32, loss: f32) -> RangePoint {
        RangePoint { step, lr, loss }
    }

    #[test]
    fn the_guides_rates_are_log_spaced_from_1e_7_to_1() {
        let lrs = RangeSettings::default().learning_rates();
        assert_eq!(lrs.len(), 100);
        assert!((lrs[0] - 1e-7).abs() < 1e-12 && (lrs[99] - 1.0).abs() < 1e-6, "{} .. {}", lrs[0], lrs[99]);
        let ratio = (7.0f64 * std::f64::consts::LN_10 / 99.0).exp();
        for w in lrs.windows(2) {
            assert!((w[1] as f64 / w[0] as f64 - ratio).abs() < 1e-4, "{w:?}");
        }
    }

    #[test]
    fn bad_sweeps_name_their_flag() {
        let field = |s: RangeSettings| s.validate().unwrap_err().field;
        let ok = RangeSettings::default();
        assert_eq!(field(RangeSettings { start_lr: 0.0, ..ok }), "start-lr");
        assert_eq!(field(RangeSettings { start_lr: f32::NAN, ..ok }), "start-lr");
        assert_eq!(field(RangeSettings { end_lr: f32::INFINITY, ..ok }), "end-lr");
        assert_eq!(field(RangeSettings { start_lr: 0.1, end_lr: 0.1, ..ok }), "end-lr");
        assert_eq!(field(RangeSettings { num_lrs: 1, ..ok }), "num-lrs");
        assert_eq!(field(RangeSettings { num_lrs: MAX_LRS + 1, ..ok }), "num-lrs");
        let bad_run = RunConfig { lr: -1.0, ..RunConfig::default() };
        assert!(matches!(RangeTest::cpu(&bad_run, ok, native_clock), Err(EngineError::Config(e)) if e.field == "lr"));
    }

    #[test]
    fn the_suggestion_is_a_tenth_of_the_rate_at_the_lowest_loss() {
        let curve = [point(1, 1e-4, 4.0), point(2, 1e-3, 3.0), point(3, 1e-2, 2.0), point(4, 1e-1, 9.0)];
        let s = suggest(&curve).unwrap();
        assert_eq!((s.lowest_lr, s.lowest_loss), (1e-2, 2.0));
        assert!((s.lr - 1e-3).abs() < 1e-9);
        assert_eq!(suggest(&[point(1, 1e-4, 4.0), point(2, 1e-3, 4.5)]), None, "the loss never fell");
        assert_eq!(suggest(&[]), None);
    }

    /// A short real run at `lr` (constant after a short warmup): the mean loss of its last 20 steps.
    fn trained_loss(lr: f32) -> f32 {
        let config = RunConfig { steps: 120, lr, warmup_steps: 10, min_lr_ratio: 1.0, ..RunConfig::default() };
        let mut trainer = Trainer::cpu(config, native_clock).unwrap();
        let mut losses = Vec::new();
        while !trainer.is_done() {
            match trainer.step() {
                Ok(r) => losses.push(r.loss),
                Err(_) => return f32::INFINITY,
            }
        }
        let tail = &losses[losses.len() - 20..];
        tail.iter().sum::<f32>() / tail.len() as f32
    }

    #[test]
    fn on_the_tiny_model_the_curve_falls_then_rises_and_its_suggestion_trains_well() {
        let config = RunConfig::preset(Preset::Tiny);
        let settings = RangeSettings::default();
        let result = run(&config, settings, native_clock).unwrap();
        let losses: Vec<f32> = result.points.iter().map(|p| p.loss).collect();
        let s = result.suggestion.expect("the loss falls somewhere in the sweep");
        let lowest = result.points.iter().position(|p| p.lr == s.lowest_lr).unwrap();
        eprintln!("{:?}\nend {:?}, suggestion {s:?}", losses, result.end);
        assert!(lowest > 0 && s.lowest_loss < 0.8 * losses[0], "falls well below the start: {losses:?}");
        let risen =
            !matches!(result.end, RangeEnd::Completed) || losses[lowest + 1..].iter().any(|&l| l > s.lowest_loss * 1.5);
        assert!(lowest + 1 < losses.len() && risen, "and rises again after its lowest point: {:?}", result.end);
        assert!(settings.start_lr < s.lr && s.lr < settings.end_lr, "{} inside the sweep", s.lr);

        let (at_suggestion, at_top) = (trained_loss(s.lr), trained_loss(settings.end_lr));
        assert!(at_suggestion < at_top - 0.5, "suggested lr {}: {at_suggestion}, top lr: {at_top}", s.lr);
    }

    #[test]
    fn a_sweep_is_deterministic_for_a_seed_and_stops_at_a_blow_up() {
        let config = RunConfig { batch_size: 4, ..RunConfig::default() };
        let settings = RangeSettings { start_lr: 1e-3, end_lr: 30.0, num_lrs: 12 };
        let a = run(&config, settings, native_clock).unwrap();
        assert_eq!(a, run(&config, settings, native_clock).unwrap());
        let first = a.points[0].loss;
        match &a.end {
            RangeEnd::Exploded { step, loss, .. } => {
                assert_eq!(*step, a.points.len());
                assert!(*loss > BLOWUP_FACTOR * first);
                assert!(a.points[..step - 1].iter().all(|p| p.loss <= BLOWUP_FACTOR * first));
            }
            RangeEnd::NonFinite { step, .. } => assert_eq!(*step, a.points.len() + 1),
            RangeEnd::Completed => panic!("a rate of 30 did not blow the model up: {:?}", a.points),
        }
    }
}
