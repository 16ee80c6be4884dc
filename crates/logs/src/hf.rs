//! A Hugging Face Trainer's `trainer_state.json` (TRL's trainers write the same file): every numeric key
//! of each `log_history` entry, at the entry's `step`, as one run named after the file.
//!
//! The Trainer's last entry sums the run up (`train_runtime`, and a `train_loss` that is the mean over
//! the whole run): it is no record of that step, and is left out.
//!
//! A state is one JSON document: it is kept whole until the file ends (up to [`MAX_STATE`]), then
//! parsed with its `log_history` handed on an entry at a time, so the history is never one tree.

use crate::detect::HEAD;
use crate::json;
use crate::runs::{RunBuilder, Runs};
use crate::ReadError;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::error::Category;
use serde_json::{Map, Value};
use std::fmt;

/// The largest trainer state read.
pub(crate) const MAX_STATE: usize = 256 << 20;

/// Whether `bytes` begin like a trainer state (a JSON document with a `log_history`), not JSONL.
pub(crate) fn is_state(bytes: &[u8]) -> bool {
    let head = &bytes[..bytes.len().min(HEAD)];
    head.windows(b"\"log_history\"".len()).any(|w| w == b"\"log_history\"")
}

/// A trainer state being read, kept until it ends.
#[derive(Default)]
pub(crate) struct State {
    document: Vec<u8>,
}

impl State {
    /// The bytes held (the buffer's capacity).
    pub(crate) fn buffered(&self) -> usize {
        self.document.capacity()
    }

    pub(crate) fn push(&mut self, file: &str, chunk: &[u8]) -> Result<(), ReadError> {
        if self.document.len() + chunk.len() > MAX_STATE {
            let message = format!("a trainer state over {} MiB is more than Faultline reads", MAX_STATE >> 20);
            return Err(ReadError::new(file, None, message));
        }
        self.document.extend_from_slice(chunk);
        Ok(())
    }

    /// Reads the whole state into a run named after the file.
    pub(crate) fn end(self, file: &str, runs: &mut Runs) -> Result<(), ReadError> {
        let text = json::quote_bare_non_finite(&self.document);
        let run = runs.named(file);
        let mut failed = None;
        let mut index = 0;
        let mut each = |entry: Map<String, Value>| {
            if failed.is_none() {
                failed = read_entry(index, &entry, run).map_err(|m| ReadError::new(file, None, m)).err();
            }
            index += 1;
        };
        let mut json = serde_json::Deserializer::from_slice(&text);
        StateSeed(&mut each).deserialize(&mut json).and_then(|()| json.end()).map_err(|e| {
            let what = match e.classify() {
                Category::Eof => "the JSON ends early (a truncated file?)",
                Category::Data => "not a Trainer state (a trainer_state.json with a `log_history` list)",
                Category::Syntax | Category::Io => "not valid JSON",
            };
            ReadError::new(file, Some(e.line()).filter(|&line| line > 0), format!("{what}: {}", json::reason(&e)))
        })?;
        failed.map_or(Ok(()), Err)
    }
}

/// Adds the scalars of `log_history` entry `index` to `run`; the Trainer's summary is left out.
fn read_entry(index: usize, entry: &Map<String, Value>, run: &mut RunBuilder) -> Result<(), String> {
    if entry.contains_key("train_runtime") {
        return Ok(());
    }
    let at = |message: String| format!("log_history entry {index}: {message}");
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
    .map_err(at)
}

/// The part of a trainer state that is read, `{"log_history": [...]}`, each entry handed on as it is
/// parsed. Its errors are those of `#[derive(Deserialize)]` on a struct `TrainerState` with a
/// `log_history` list of maps (which also takes the struct as a list).
struct StateSeed<'a, F>(&'a mut F);

impl<'de, F: FnMut(Map<String, Value>)> DeserializeSeed<'de> for StateSeed<'_, F> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_struct("TrainerState", &["log_history"], self)
    }
}

impl<'de, F: FnMut(Map<String, Value>)> Visitor<'de> for StateSeed<'_, F> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("struct TrainerState")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut seen = false;
        while let Some(key) = map.next_key::<String>()? {
            if key != "log_history" {
                map.next_value::<IgnoredAny>()?;
            } else if seen {
                return Err(de::Error::duplicate_field("log_history"));
            } else {
                map.next_value_seed(History(&mut *self.0))?;
                seen = true;
            }
        }
        if seen {
            Ok(())
        } else {
            Err(de::Error::missing_field("log_history"))
        }
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        match seq.next_element_seed(History(self.0))? {
            Some(()) => Ok(()),
            None => Err(de::Error::invalid_length(0, &"struct TrainerState with 1 element")),
        }
    }
}

/// `log_history`: a list of maps, each handed on as it is parsed.
struct History<'a, F>(&'a mut F);

impl<'de, F: FnMut(Map<String, Value>)> DeserializeSeed<'de> for History<'_, F> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de, F: FnMut(Map<String, Value>)> Visitor<'de> for History<'_, F> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a sequence")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(entry) = seq.next_element()? {
            (self.0)(entry);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::test_support::{points, DPO_STATE, STATE};
    use crate::{read, Format, Input};
    use faultline_telemetry::log::Signal;

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
        let log = read_state(DPO_STATE, Format::Trl).unwrap();
        let run = &log.runs[0];
        assert_eq!(points(run, &Signal::Other("rewards/margins".into())), [(5, 0.0), (10, 0.3)]);
        assert_eq!(points(run, &Signal::Loss), [(5, 0.69), (10, 0.6)]);
    }
}
