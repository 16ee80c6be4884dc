//! A Hugging Face Trainer's `trainer_state.json` (TRL's trainers write the same file): every numeric key
//! of each `log_history` entry, at the entry's `step`, as one run named after the file.
//!
//! The Trainer's last entry sums the run up (`train_runtime`, and a `train_loss` that is the mean over
//! the whole run): it is no record of that step, and is left out.

use crate::json;
use crate::runs::Runs;
use crate::{Input, ReadError};
use serde::Deserialize;
use serde_json::error::Category;
use serde_json::{Map, Value};

/// The part of a trainer state that is read.
#[derive(Deserialize)]
struct TrainerState {
    log_history: Vec<Map<String, Value>>,
}

/// How far into a file [`is_state`] looks: a trainer state's `log_history` comes after a few short keys.
const HEAD: usize = 64 * 1024;

/// Whether `bytes` begin like a trainer state (a JSON document with a `log_history`), not JSONL.
pub(crate) fn is_state(bytes: &[u8]) -> bool {
    let head = &bytes[..bytes.len().min(HEAD)];
    head.windows(b"\"log_history\"".len()).any(|w| w == b"\"log_history\"")
}

/// Reads `file` as a trainer state into a run named after it.
pub(crate) fn read(file: &Input, runs: &mut Runs) -> Result<(), ReadError> {
    let text = json::quote_bare_non_finite(file.bytes);
    let state: TrainerState = serde_json::from_slice(&text).map_err(|e| {
        let what = match e.classify() {
            Category::Eof => "the JSON ends early (a truncated file?)",
            Category::Data => "not a Trainer state (a trainer_state.json with a `log_history` list)",
            Category::Syntax | Category::Io => "not valid JSON",
        };
        ReadError::new(file.name, Some(e.line()).filter(|&line| line > 0), format!("{what}: {}", json::reason(&e)))
    })?;
    let run = runs.named(file.name);
    for (index, entry) in state.log_history.iter().enumerate() {
        if entry.contains_key("train_runtime") {
            continue;
        }
        let at = |message: String| ReadError::new(file.name, None, format!("log_history entry {index}: {message}"));
        let step = entry.get("step").ok_or_else(|| at("no `step`".into()))?;
        let step = json::step(step).map_err(at)?;
        json::for_each_scalar(
            entry,
            |key| key == "step",
            |key, value| {
                let slot = run.slot(key);
                run.push(slot, step, value)
            },
        )
        .map_err(at)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::test_support::{mutated, points};
    use crate::{read, Format, Input};
    use faultline_telemetry::log::Signal;
    use proptest::prelude::*;

    const STATE: &str = r#"{
  "best_metric": null,
  "epoch": 1.0,
  "global_step": 20,
  "log_history": [
    {"epoch": 0.5, "grad_norm": 1.25, "learning_rate": 5e-05, "loss": 2.5, "step": 10},
    {"epoch": 0.5, "eval_loss": 2.75, "eval_runtime": 1.5, "step": 10},
    {"epoch": 1.0, "grad_norm": NaN, "learning_rate": 0.0, "loss": Infinity, "step": 20},
    {"epoch": 1.0, "step": 20, "total_flos": 1000.0, "train_loss": 2.1, "train_runtime": 30.5}
  ],
  "max_steps": 20
}"#;

    fn read_state(text: &str, format: Format) -> Result<crate::ReadLog, crate::ReadError> {
        read(&[Input { name: "out/trainer_state.json", bytes: text.as_bytes() }], Some(format))
    }

    #[test]
    fn every_numeric_key_is_a_series_and_the_summary_is_left_out() {
        let log = read_state(STATE, Format::Hf).unwrap();
        assert_eq!(log.format, Format::Hf);
        assert_eq!(log.runs.len(), 1);
        let run = &log.runs[0];
        assert_eq!(run.name, "out/trainer_state.json");
        let loss = points(run, &Signal::Loss);
        assert_eq!(loss[0], (10, 2.5));
        assert_eq!(loss[1], (20, f32::INFINITY), "the summary's train_loss is not a loss at step 20");
        assert_eq!(loss.len(), 2);
        assert!(points(run, &Signal::GradNorm)[1].1.is_nan());
        assert_eq!(points(run, &Signal::ValLoss), [(10, 2.75)]);
        assert_eq!(points(run, &Signal::LearningRate), [(10, 5e-5), (20, 0.0)]);
        assert_eq!(points(run, &Signal::Other("epoch".into())), [(10, 0.5), (20, 1.0)]);
        assert!(run.get(&Signal::Other("total_flos".into())).is_none());
        assert!(run.get(&Signal::Other("step".into())).is_none());
    }

    #[test]
    fn steps_must_increase_within_a_signal() {
        let repeated = STATE.replace(r#""loss": Infinity, "step": 20"#, r#""loss": 1.0, "step": 10"#);
        let e = read_state(&repeated, Format::Hf).unwrap_err();
        assert_eq!(e.file, "out/trainer_state.json");
        assert!(e.message.contains("log_history entry 2") && e.message.contains("logged twice"), "{e}");
        let back = STATE.replace(r#""loss": Infinity, "step": 20"#, r#""loss": 1.0, "step": 5"#);
        let e = read_state(&back, Format::Hf).unwrap_err();
        assert!(e.message.contains("step 5 of `epoch` comes after step 10"), "{e}");
        let negative = STATE.replace(r#""step": 10}"#, r#""step": -10}"#);
        assert!(read_state(&negative, Format::Hf).unwrap_err().message.contains("negative"));
        let fraction = STATE.replace(r#""step": 10}"#, r#""step": 10.5}"#);
        assert!(read_state(&fraction, Format::Hf).unwrap_err().message.contains("whole number"));
        let stepless = STATE.replace(r#", "step": 10}"#, "}");
        assert!(read_state(&stepless, Format::Hf).unwrap_err().message.contains("entry 0: no `step`"));
    }

    #[test]
    fn broken_or_foreign_files_say_what_they_are_not() {
        let truncated = &STATE[..STATE.len() / 2];
        let e = read_state(truncated, Format::Hf).unwrap_err();
        assert!(e.message.starts_with("the JSON ends early"), "{e}");
        assert!(e.line.is_some());
        let e = read_state(r#"{"global_step": 3}"#, Format::Hf).unwrap_err();
        assert!(e.message.starts_with("not a Trainer state"), "{e}");
        let e = read_state("{\"loss\": 1, \"step\": 1}\n{\"loss\": 1, \"step\": 2}\n", Format::Hf).unwrap_err();
        assert!(e.message.starts_with("not a Trainer state"), "{e}");
        let e = read_state(r#"{"log_history": [{"step": 1, "note": "hello"}]}"#, Format::Hf).unwrap_err();
        assert_eq!(e.message, "found no numeric scalars reading this as hf");
    }

    #[test]
    fn trl_reads_its_trainer_state_the_same_way() {
        let dpo = r#"{"log_history": [
            {"step": 5, "loss": 0.69, "rewards/margins": 0.0, "rewards/accuracies": 0.5, "logps/chosen": -120.5},
            {"step": 10, "loss": 0.6, "rewards/margins": 0.3, "rewards/accuracies": 0.75, "logps/chosen": -118.0}
        ]}"#;
        let log = read_state(dpo, Format::Trl).unwrap();
        let run = &log.runs[0];
        assert_eq!(points(run, &Signal::Other("rewards/margins".into())), [(5, 0.0), (10, 0.3)]);
        assert_eq!(points(run, &Signal::Loss), [(5, 0.69), (10, 0.6)]);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
            let _ = read(&[Input { name: "trainer_state.json", bytes: &bytes }], Some(Format::Hf));
        }

        #[test]
        fn a_damaged_state_never_panics(bytes in mutated(STATE.as_bytes())) {
            let _ = read(&[Input { name: "trainer_state.json", bytes: &bytes }], Some(Format::Hf));
            let _ = read(&[Input { name: "trainer_state.json", bytes: &bytes }], Some(Format::Trl));
        }
    }
}
