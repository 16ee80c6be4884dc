//! `faultline lr-find`: the guide's learning-rate range test.

use crate::args::{ArgError, Args, Failure};
use crate::out;
use crate::train::{diagnose_refused, refusal};
use faultline_engine::config::RunConfig;
use faultline_engine::guide::EntryId;
use faultline_engine::lr_range::{self, RangeEnd, RangeResult, RangeSettings};
use faultline_engine::settings::{setting, SettingKind};
use faultline_engine::trainer::native_clock;
use faultline_engine::EngineError;
use serde_json::{json, Value};
use std::io::Write;

/// The guide's learning-rate range test: one step per rate from a fresh model, and the suggested rate.
pub(crate) fn lr_find(rest: &[String]) -> Result<(), Failure> {
    let mut pairs: Vec<(&str, &str)> = Vec::new();
    let mut json = false;
    let mut sweep = RangeSettings::default();
    let mut args = Args::new(rest);
    while let Some(flag) = args.next_flag() {
        let key = flag.strip_prefix("--").unwrap_or(flag);
        match key {
            "json" => json = true,
            "start-lr" => sweep.start_lr = args.parse(flag, "a number")?,
            "end-lr" => sweep.end_lr = args.parse(flag, "a number")?,
            "num-lrs" => sweep.num_lrs = args.parse(flag, "a whole number")?,
            "fault" => pairs.push(("fault", args.value(flag)?)),
            _ => match setting(key) {
                Some(s) if flag.starts_with("--") => {
                    let value = if s.kind == SettingKind::Flag { "on" } else { args.value(flag)? };
                    pairs.push((s.key.as_str(), value));
                }
                _ => return Err(ArgError(format!("{flag}: unknown argument for 'lr-find'")).into()),
            },
        }
    }
    let cfg = RunConfig::from_pairs(pairs.iter().copied())?;
    cfg.validate()?;
    sweep.validate()?;
    let result = match lr_range::run(&cfg, sweep, native_clock) {
        Ok(result) => result,
        Err(e) => {
            if json && matches!(e, EngineError::OutOfMemory { .. }) {
                let (_, diagnosis) = diagnose_refused(&cfg, e.clone())?;
                let never_ran =
                    RangeResult { settings: sweep, points: Vec::new(), end: RangeEnd::Completed, suggestion: None };
                let mut doc = sweep_doc(&never_ran, Some(diagnosis));
                // The sweep never began: it has no end.
                doc["end"] = json!(null);
                out!("{doc}")?;
            }
            return Err(refusal(e, &cfg));
        }
    };
    if json {
        return out!("{}", sweep_doc(&result, None));
    }
    out!(
        "faultline: learning-rate range test ({}), {} rates from {:e} to {:e}, one step each from a fresh model",
        lr_range::GUIDE_ENTRY,
        sweep.num_lrs,
        sweep.start_lr,
        sweep.end_lr
    )?;
    for p in &result.points {
        out!("step {:>5} | lr {:.3e} | loss {:.4}", p.step, p.lr, p.loss)?;
    }
    match &result.end {
        RangeEnd::Completed => out!("every rate tried")?,
        RangeEnd::Exploded { step, lr, loss } => {
            out!("stopped at step {step} (lr {lr:.3e}): loss {loss:.4} is more than 4x the first")?
        }
        RangeEnd::NonFinite { step, lr, tensor } => {
            out!("stopped at step {step} (lr {lr:.3e}): NaN or Inf in {tensor}")?
        }
    }
    match result.suggestion {
        Some(s) => out!(
            "suggested lr {:.3e}: a tenth of {:.3e}, where the loss was lowest ({:.4})",
            s.lr,
            s.lowest_lr,
            s.lowest_loss
        ),
        None => out!("no suggestion: the loss never fell below its first value"),
    }
}

/// `lr-find --json`'s document: the sweep, the guide entry it follows and the detector's `diagnosis`
/// of a sweep refused before its first step (null for one that ran: the detector reads training runs).
pub(crate) fn sweep_doc(result: &RangeResult, diagnosis: Option<Vec<EntryId>>) -> Value {
    let mut doc = serde_json::to_value(result).expect("the sweep serialises");
    doc["guide_entry"] = json!(lr_range::GUIDE_ENTRY);
    doc["diagnosis"] = json!(diagnosis);
    doc
}
