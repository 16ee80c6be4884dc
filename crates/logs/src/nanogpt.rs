//! What nanoGPT's `train.py` prints, as one run named after the file:
//!
//! - `iter N: loss X, time Yms, mfu Z%` gives the loss and the step time at step N (the MFU, `-100.00%`
//!   until it is measured, is not read);
//! - `step N: train loss X, val loss Y` gives the validation loss at step N, and the evaluation's train
//!   loss as `eval_train_loss` (a mean over many batches, unlike the iteration's one-batch loss).
//!
//! Every other line (the config, `compiling the model...`, a traceback) is left alone.

use crate::number;
use crate::runs::Runs;
use crate::text::Lines;
use crate::ReadError;

/// A line nanoGPT prints, its numbers still as text.
enum Line<'a> {
    Iter { step: &'a str, loss: &'a str, time_ms: Option<&'a str> },
    Eval { step: &'a str, train: Option<&'a str>, val: Option<&'a str> },
}

/// The nanoGPT line `line` is, if it is one.
fn parse(line: &str) -> Option<Line<'_>> {
    let line = line.trim();
    let (head, rest) = line.split_once(':')?;
    let parts = || rest.split(',').map(str::trim);
    let find = |key: &str| parts().find_map(|part| part.strip_prefix(key)).map(str::trim);
    if let Some(step) = head.strip_prefix("iter ") {
        let loss = parts().next()?.strip_prefix("loss ")?.trim();
        let time_ms = find("time ").map(|t| t.strip_suffix("ms").unwrap_or(t));
        return Some(Line::Iter { step, loss, time_ms });
    }
    let step = head.strip_prefix("step ")?;
    let first = parts().next()?;
    (first.starts_with("train loss ") || first.starts_with("val loss ")).then(|| Line::Eval {
        step,
        train: find("train loss "),
        val: find("val loss "),
    })
}

/// Whether `line` is one nanoGPT prints while training.
pub(crate) fn is_nanogpt_line(line: &str) -> bool {
    parse(line).is_some()
}

/// nanoGPT's printout being read into a run named after the file.
pub(crate) struct Nanogpt {
    run: usize,
    /// The series of the loss, the step time, the validation loss and the evaluation's train loss.
    slots: [usize; 4],
}

impl Nanogpt {
    pub(crate) fn new(file: &str, runs: &mut Runs) -> Nanogpt {
        let index = runs.index(file);
        let run = runs.run(index);
        Nanogpt { run: index, slots: ["loss", "time_ms", "val_loss", "eval_train_loss"].map(|key| run.slot(key)) }
    }
}

impl Lines for Nanogpt {
    fn read(&mut self, file: &str, runs: &mut Runs, first: usize, text: &[u8]) -> Result<(), ReadError> {
        let text = String::from_utf8_lossy(text);
        let run = runs.run(self.run);
        let [loss, time, val, eval_train] = self.slots;
        for (index, line) in text.lines().enumerate() {
            let at = |message: String| ReadError::new(file, Some(first + index), message);
            let value = |name: &str, text: &str| {
                number::value(text).ok_or_else(|| at(format!("{name} `{text}` is not a number")))
            };
            let (step, pushes) = match parse(line) {
                None => continue,
                Some(Line::Iter { step, loss: l, time_ms }) => {
                    (step, [Some((loss, "loss", l)), time_ms.map(|t| (time, "time", t))])
                }
                Some(Line::Eval { step, train, val: v }) => {
                    (step, [train.map(|t| (eval_train, "train loss", t)), v.map(|v| (val, "val loss", v))])
                }
            };
            let step = number::step_of_text(step).map_err(at)?;
            for (slot, name, text) in pushes.into_iter().flatten() {
                run.push(slot, step, value(name, text)?).map_err(at)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{points, NANOGPT};
    use crate::{read, Format, Input, ReadError, ReadLog};
    use faultline_telemetry::log::Signal;

    fn read_log(text: &str) -> Result<ReadLog, ReadError> {
        read(&[Input { name: "train.log", bytes: text.as_bytes() }], Some(Format::Nanogpt))
    }

    #[test]
    fn iterations_and_evaluations_give_their_signals() {
        let log = read_log(NANOGPT).unwrap();
        let run = &log.runs[0];
        assert_eq!(run.name, "train.log");
        let loss = points(run, &Signal::Loss);
        assert_eq!((loss[0], loss[1], loss[3]), ((0, 4.2654), (10, 3.2417), (250, 2.0352)));
        assert!(loss[2].1.is_nan());
        assert_eq!(points(run, &Signal::StepTimeMs), [(0, 29735.91), (10, 101.75), (20, 101.82), (250, 9825.71)]);
        assert_eq!(points(run, &Signal::ValLoss), [(0, 4.2823), (250, 2.0682)]);
        assert_eq!(points(run, &Signal::Other("eval_train_loss".into())), [(0, 4.2874), (250, 1.9656)]);
        assert_eq!(run.series.len(), 4);
    }

    #[test]
    fn only_nanogpt_lines_count() {
        assert!(is_nanogpt_line("iter 5: loss 2.5, time 10.00ms, mfu 1.00%"));
        assert!(is_nanogpt_line("step 5: train loss 2.5, val loss 2.6"));
        assert!(!is_nanogpt_line("step 5: saving"));
        assert!(!is_nanogpt_line("iter 5 took long: 3s"));
        assert!(!is_nanogpt_line("{\"step\": 5, \"loss\": 2}"));
        assert_eq!(read_log("hello\nworld\n").unwrap_err().message, "found no numeric scalars reading this as nanogpt");
    }

    #[test]
    fn bad_steps_and_values_name_their_line() {
        let e = read_log("iter 10: loss 3.0, time 1ms\niter 10: loss 2.0, time 1ms\n").unwrap_err();
        assert_eq!(e.to_string(), "train.log:2: step 10 of `loss` is logged twice, with different values");
        let e = read_log("iter 10: loss 3.0\niter 5: loss 2.0\n").unwrap_err();
        assert_eq!(e.to_string(), "train.log:2: step 5 of `loss` comes after step 10: steps must increase");
        assert_eq!(read_log("iter -1: loss 3.0\n").unwrap_err().message, "step -1 is negative");
        assert_eq!(read_log("iter 1.5: loss 3.0\n").unwrap_err().message, "step 1.5 is not a whole number");
        assert_eq!(read_log("iter 1: loss low\n").unwrap_err().message, "loss `low` is not a number");
    }
}
