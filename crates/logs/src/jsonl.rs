//! One JSON object per line (a hand-rolled logger's, TRL's, or a Trainer's `log_history` dumped line by
//! line): every numeric key at the line's `step` (or `iter`, `global_step`, W&B's `_step`), as one run
//! named after the file. Lines are read one at a time, as they arrive, so a large log never becomes one
//! JSON tree.
//!
//! A log whose lines carry no step at all counts them: 0, 1, 2, ... A log where some lines carry one
//! and others do not is an error: counting would put the step-less lines at made-up steps.

use crate::json;
use crate::runs::Runs;
use crate::text::Lines;
use crate::ReadError;
use serde_json::error::Category;
use serde_json::{Map, Value};

/// The keys a line's step may go by, the first present taken; none of them is a scalar.
const STEP_KEYS: [&str; 4] = ["step", "global_step", "iter", "_step"];

/// A JSONL file being read into a run named after it.
pub(crate) struct Jsonl {
    run: usize,
    first_stepless: Option<usize>,
    first_stepped: Option<usize>,
    previous: Option<u64>,
}

impl Jsonl {
    pub(crate) fn new(file: &str, runs: &mut Runs) -> Jsonl {
        Jsonl { run: runs.index(file), first_stepless: None, first_stepped: None, previous: None }
    }
}

impl Lines for Jsonl {
    fn read(&mut self, file: &str, runs: &mut Runs, first: usize, text: &[u8]) -> Result<(), ReadError> {
        let run = runs.run(self.run);
        let at = |line: usize, message: String| ReadError::new(file, Some(line), message);
        for (index, line) in text.split(|&b| b == b'\n').enumerate() {
            let number = first + index;
            let line = line.trim_ascii();
            if line.is_empty() {
                continue;
            }
            let entry: Map<String, Value> =
                serde_json::from_slice(&json::quote_bare_non_finite(line)).map_err(|e| {
                    let message = match e.classify() {
                        Category::Eof => "the JSON object is cut short".to_string(),
                        _ => format!("not a JSON object: {} (column {})", json::reason(&e), e.column()),
                    };
                    at(number, message)
                })?;
            let step = match STEP_KEYS.iter().find_map(|key| entry.get(*key)) {
                Some(step) => {
                    if let Some(stepless) = self.first_stepless {
                        return Err(at(stepless, format!("no `step` here, though line {number} has one")));
                    }
                    self.first_stepped.get_or_insert(number);
                    json::step(step).map_err(|m| at(number, m))?
                }
                None => {
                    if let Some(stepped) = self.first_stepped {
                        return Err(at(number, format!("no `step` here, though line {stepped} has one")));
                    }
                    self.first_stepless.get_or_insert(number);
                    self.previous.map_or(0, |p| p + 1)
                }
            };
            self.previous = Some(step);
            json::for_each_scalar(
                &entry,
                |key| STEP_KEYS.contains(&key),
                |key, value| {
                    let slot = run.slot(key);
                    run.push(slot, step, value)
                },
            )
            .map_err(|m| at(number, m))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::test_support::{points, JSONL, PPO_JSONL};
    use crate::{read, Format, Input, ReadError, ReadLog};
    use faultline_telemetry::log::Signal;

    fn read_log(text: &str) -> Result<ReadLog, ReadError> {
        read(&[Input { name: "metrics.jsonl", bytes: text.as_bytes() }], Some(Format::Jsonl))
    }

    #[test]
    fn each_line_adds_its_scalars_at_its_step() {
        let log = read_log(JSONL).unwrap();
        let run = &log.runs[0];
        assert_eq!(run.name, "metrics.jsonl");
        let loss = points(run, &Signal::Loss);
        assert_eq!((loss[0], loss[1].0, loss[2]), ((1, 4.5), 2, (3, f32::NEG_INFINITY)));
        assert!(loss[1].1.is_nan(), "train_loss is the loss; a bare NaN reads");
        assert_eq!(points(run, &Signal::GradNorm), [(1, 2.0), (2, f32::INFINITY)]);
        assert_eq!(points(run, &Signal::LayerGradNorm("h.0.attn".into())), [(1, 0.5)]);
        assert_eq!(points(run, &Signal::LearningRate), [(1, 0.001), (2, 0.001)]);
        assert_eq!(points(run, &Signal::StepTimeMs), [(1, 120.0)]);
        assert_eq!(points(run, &Signal::ValLoss), [(3, 4.0)]);
        assert_eq!(points(run, &Signal::Other("tokens".into())), [(3, 4096.0)]);
        assert!(run.get(&Signal::Other("iter".into())).is_none());
        assert!(run.get(&Signal::Other("note".into())).is_none());
    }

    #[test]
    fn lines_without_steps_count_only_when_no_line_has_one() {
        let log = read_log("{\"loss\": 3}\n{\"loss\": 2}\n\n{\"loss\": 1}\n").unwrap();
        assert_eq!(points(&log.runs[0], &Signal::Loss), [(0, 3.0), (1, 2.0), (2, 1.0)]);
        let e = read_log("{\"step\": 5, \"loss\": 3}\n{\"loss\": 2}\n").unwrap_err();
        assert_eq!((e.line, e.message.as_str()), (Some(2), "no `step` here, though line 1 has one"));
        let e = read_log("{\"loss\": 3}\n{\"loss\": 2}\n{\"step\": 5, \"loss\": 1}\n").unwrap_err();
        assert_eq!((e.line, e.message.as_str()), (Some(1), "no `step` here, though line 3 has one"));
    }

    #[test]
    fn duplicate_decreasing_and_bad_steps_name_their_line() {
        let e = read_log("{\"step\": 1, \"loss\": 3}\n{\"step\": 1, \"loss\": 2}\n").unwrap_err();
        assert_eq!(e.to_string(), "metrics.jsonl:2: step 1 of `loss` is logged twice, with different values");
        let e = read_log("{\"step\": 4, \"loss\": 3}\n{\"step\": 2, \"loss\": 2}\n").unwrap_err();
        assert_eq!(e.to_string(), "metrics.jsonl:2: step 2 of `loss` comes after step 4: steps must increase");
        assert_eq!(read_log("{\"step\": -1, \"loss\": 3}").unwrap_err().message, "step -1 is negative");
        assert_eq!(read_log("{\"step\": 0.5, \"loss\": 3}").unwrap_err().message, "step 0.5 is not a whole number");
        let log = read_log("{\"step\": 1, \"loss\": 3}\n{\"step\": 1, \"val_loss\": 2}\n").unwrap();
        assert_eq!(log.runs[0].series.len(), 2, "two signals may share a step");
    }

    #[test]
    fn broken_and_foreign_lines_are_errors() {
        let e = read_log("{\"step\": 1, \"loss\": 3}\n{\"step\": 2, \"lo").unwrap_err();
        assert_eq!((e.line, e.message.as_str()), (Some(2), "the JSON object is cut short"));
        let e = read_log("Wall time,Step,Value\n1.5,1,2.0\n").unwrap_err();
        assert_eq!(e.line, Some(1));
        assert!(e.message.starts_with("not a JSON object"), "{e}");
        assert!(read_log("[1, 2]\n").unwrap_err().message.starts_with("not a JSON object"));
        assert_eq!(read_log("{\"step\": 1}\n").unwrap_err().message, "found no numeric scalars reading this as jsonl");
        assert_eq!(read_log(" \n\n").unwrap_err().message, "the file is empty");
    }

    #[test]
    fn trl_lines_read_the_same_way() {
        let log = read(&[Input { name: "ppo.jsonl", bytes: PPO_JSONL.as_bytes() }], Some(Format::Trl)).unwrap();
        assert_eq!(log.format, Format::Trl);
        assert_eq!(points(&log.runs[0], &Signal::Other("env/reward_mean".into())), [(1, -0.5), (2, 0.25)]);
    }

    #[test]
    fn a_five_megabyte_log_reads_in_a_moment() {
        let mut text = String::with_capacity(5_300_000);
        let mut step = 0;
        while text.len() < 5_000_000 {
            step += 1;
            let loss = 5.0 / f64::from(step).sqrt();
            text.push_str(&format!(
                "{{\"step\": {step}, \"loss\": {loss:.6}, \"lr\": 0.0003, \"grad_norm\": 1.{step}, \"time_ms\": 31.5}}\n"
            ));
        }
        let started = std::time::Instant::now();
        let log = read_log(&text).unwrap();
        let took = started.elapsed();
        assert_eq!(points(&log.runs[0], &Signal::Loss).len(), step as usize);
        assert!(took.as_secs_f64() < 2.0, "{took:?}");
    }
}
