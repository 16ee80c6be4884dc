//! Readers for the training logs people already have: a Hugging Face Trainer's `trainer_state.json`,
//! TensorBoard's event files and CSV downloads, a W&B CSV export, nanoGPT's printout, TRL's logs and
//! plain JSONL, each read into [`LoggedRun`]s of named scalar series.
//!
//! [`read`] takes the files as bytes (the CLI reads them from disk, the page from a file picker) with
//! the format the user named, or none, to [`detect`] it. Every reader holds the same rules: within a
//! run, each signal's steps strictly increase (a step logged twice with the very same value, as a
//! Trainer's training and evaluation records both carry `epoch`, counts once); NaN and infinities are
//! values, kept, however Python spelled them. Each reader goes through its input once, line by line
//! where the format has lines, so a log of tens of megabytes reads in a moment.

mod crc32c;
mod csv;
mod detect;
mod hf;
mod json;
mod jsonl;
mod nanogpt;
mod number;
mod proto;
mod runs;
mod tb_csv;
mod tb_events;
#[cfg(test)]
mod test_support;
mod wandb;

use faultline_telemetry::log::LoggedRun;
use runs::Runs;
use std::fmt;

pub use detect::detect;

faultline_guide::spelled_ids! {
    /// The log formats Faultline reads.
    pub enum Format {
        /// A Hugging Face Trainer's `trainer_state.json`: its `log_history`.
        Hf => "hf",
        /// TensorBoard's "download CSV" of one scalar (`Wall time,Step,Value`), one file per tag.
        TbCsv => "tb-csv",
        /// TensorBoard's event files (`events.out.tfevents.*`), one run per file.
        TbEvents => "tb-events",
        /// A W&B CSV export (`Step`, `<run> - <metric>` columns), or any CSV with a `step` column.
        WandbCsv => "wandb-csv",
        /// What nanoGPT's `train.py` prints (`iter N: loss X, time Yms, mfu Z%`).
        Nanogpt => "nanogpt",
        /// TRL's DPO, PPO and RLOO logs (`rewards/margins`, `objective/kl`, ...): a trainer state or JSONL.
        Trl => "trl",
        /// One JSON object per line, each with a `step` (or `iter`, `global_step`).
        Jsonl => "jsonl",
    }
}

/// One file to read: its name as the user gave it (a path, perhaps) and its contents.
#[derive(Clone, Copy, Debug)]
pub struct Input<'a> {
    pub name: &'a str,
    pub bytes: &'a [u8],
}

/// What [`read`] found: the files' format and their runs, in the order they first appear.
#[derive(Clone, Debug, PartialEq)]
pub struct ReadLog {
    pub format: Format,
    pub runs: Vec<LoggedRun>,
}

/// Why a log could not be read: the file, the line where the format has lines, and what is wrong.
#[derive(Debug, Clone, PartialEq)]
pub struct ReadError {
    /// The file's name as it was given; empty when no file was given at all.
    pub file: String,
    /// The 1-based line (or CSV record's first line); `None` for formats without lines, whose message
    /// says where instead (a `log_history` entry, a byte offset).
    pub line: Option<usize>,
    pub message: String,
}

impl ReadError {
    pub(crate) fn new(file: &str, line: Option<usize>, message: impl Into<String>) -> ReadError {
        ReadError { file: file.to_string(), line, message: message.into() }
    }
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.file.is_empty(), self.line) {
            (true, _) => f.write_str(&self.message),
            (false, Some(line)) => write!(f, "{}:{}: {}", self.file, line, self.message),
            (false, None) => write!(f, "{}: {}", self.file, self.message),
        }
    }
}

impl std::error::Error for ReadError {}

/// Reads `files`, all of one format: `format`, or the one [`detect`] finds (TRL's reader takes the
/// Trainer states and JSONL logs that come with TRL's own, so those may be mixed). Each file must hold
/// at least one numeric scalar.
pub fn read(files: &[Input], format: Option<Format>) -> Result<ReadLog, ReadError> {
    let Some((first, rest)) = files.split_first() else {
        return Err(ReadError::new("", None, "no log files to read"));
    };
    if let Some(empty) = files.iter().find(|file| file.bytes.iter().all(u8::is_ascii_whitespace)) {
        return Err(ReadError::new(empty.name, None, "the file is empty"));
    }
    let format = match format {
        Some(format) => format,
        None => detect_all(first, rest)?,
    };
    let mut runs = Runs::default();
    for file in files {
        let before = runs.points();
        match format {
            Format::Hf => hf::read(file, &mut runs)?,
            Format::Trl if hf::is_state(file.bytes) => hf::read(file, &mut runs)?,
            Format::Trl | Format::Jsonl => jsonl::read(file, &mut runs)?,
            Format::TbCsv => tb_csv::read(file, &mut runs)?,
            Format::TbEvents => tb_events::read(file, &mut runs)?,
            Format::WandbCsv => wandb::read(file, &mut runs)?,
            Format::Nanogpt => nanogpt::read(file, &mut runs)?,
        }
        if runs.points() == before {
            return Err(ReadError::new(file.name, None, format!("found no numeric scalars reading this as {format}")));
        }
    }
    Ok(ReadLog { format, runs: runs.finish() })
}

/// The one format of all the files, or an error naming the first file that cannot be told or differs.
fn detect_all(first: &Input, rest: &[Input]) -> Result<Format, ReadError> {
    let detect_one = |file: &Input| {
        detect(file.name, file.bytes).ok_or_else(|| {
            let known: Vec<&str> = Format::ALL.iter().map(|f| f.as_str()).collect();
            let message = format!("cannot tell which format this is; pass --format ({})", known.join(", "));
            ReadError::new(file.name, None, message)
        })
    };
    let mut found = detect_one(first)?;
    for file in rest {
        let format = detect_one(file)?;
        found = common(found, format).ok_or_else(|| {
            let message = format!("this log is {format}, but {} is {found}; read one format at a time", first.name);
            ReadError::new(file.name, None, message)
        })?;
    }
    Ok(found)
}

/// The format whose reader takes logs of both `a` and `b`.
fn common(a: Format, b: Format) -> Option<Format> {
    match (a, b) {
        _ if a == b => Some(a),
        (Format::Trl, Format::Hf | Format::Jsonl) | (Format::Hf | Format::Jsonl, Format::Trl) => Some(Format::Trl),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_name_the_file_and_the_line_where_there_is_one() {
        let at_line = ReadError::new("log.jsonl", Some(3), "step 2 of `loss` comes after step 5");
        assert_eq!(at_line.to_string(), "log.jsonl:3: step 2 of `loss` comes after step 5");
        let in_file = ReadError::new("events.out.tfevents.1", None, "at byte 40: the record's CRC does not match");
        assert_eq!(in_file.to_string(), "events.out.tfevents.1: at byte 40: the record's CRC does not match");
        assert_eq!(read(&[], None).unwrap_err().to_string(), "no log files to read");
    }

    #[test]
    fn formats_are_spelled_as_on_the_command_line() {
        let spelled: Vec<&str> = Format::ALL.iter().map(|f| f.as_str()).collect();
        assert_eq!(spelled, ["hf", "tb-csv", "tb-events", "wandb-csv", "nanogpt", "trl", "jsonl"]);
        assert_eq!("wandb-csv".parse::<Format>(), Ok(Format::WandbCsv));
        assert_eq!(serde_json::to_string(&Format::TbEvents).unwrap(), "\"tb-events\"");
    }

    #[test]
    fn trl_takes_the_trainer_states_and_jsonl_that_come_with_it() {
        assert_eq!(common(Format::Hf, Format::Trl), Some(Format::Trl));
        assert_eq!(common(Format::Trl, Format::Jsonl), Some(Format::Trl));
        assert_eq!(common(Format::Hf, Format::Hf), Some(Format::Hf));
        assert_eq!(common(Format::Hf, Format::Jsonl), None);
        assert_eq!(common(Format::TbCsv, Format::WandbCsv), None);
    }
}
