//! Readers for the training logs people already have: a Hugging Face Trainer's `trainer_state.json`,
//! TensorBoard's event files and CSV downloads, a W&B CSV export, nanoGPT's printout, TRL's logs and
//! plain JSONL, each read into [`LoggedRun`]s of named scalar series.
//!
//! A [`Reader`] takes files pushed to it a chunk at a time, cut anywhere (the CLI reads them from disk,
//! the page's worker slices them from a file picker); [`read`] takes whole files as bytes, through a
//! `Reader`. The format is the one the user named, or, where none, the one [`detect`] tells from each
//! file's name and first 64 KiB, which are kept until then. After that:
//!
//! - the line formats (JSONL and TRL's, nanoGPT's printout, TensorBoard's and W&B's CSV) are streamed:
//!   read a line (a CSV record, whose quoted fields may span lines) at a time as they arrive, keeping
//!   only the unfinished one, of at most 16 MiB;
//! - TensorBoard's event files are streamed a record at a time, keeping only the unfinished one, of at
//!   most 16 MiB (a larger record, a graph or an image, has its CRC checked and is passed over);
//! - a trainer state (`hf`, or TRL's) is one JSON document, and is buffered: kept whole, up to 256 MiB,
//!   and read when the file ends, its `log_history` an entry at a time.
//!
//! Every reader holds the same rules: within a run, each signal's steps strictly increase (a step
//! logged twice with the very same value, as a Trainer's training and evaluation records both carry
//! `epoch`, counts once); NaN and infinities are values, kept, however Python spelled them. Errors name
//! the file, and the line where the format has lines.

mod crc32c;
mod csv;
mod detect;
mod hf;
mod json;
mod jsonl;
mod nanogpt;
mod number;
mod proto;
mod reader;
mod runs;
mod tb_csv;
mod tb_events;
#[cfg(test)]
mod test_support;
mod text;
mod wandb;
mod write;

use faultline_telemetry::log::LoggedRun;
use std::fmt;

pub use detect::detect;
pub use reader::Reader;
pub use write::EventWriter;

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

impl Format {
    /// Every format's spelling, comma-separated (`hf, tb-csv, ...`), as `--format` takes them.
    pub fn spellings() -> String {
        Format::ALL.iter().map(|f| f.as_str()).collect::<Vec<_>>().join(", ")
    }
}

/// One file to read: its name as the user gave it (a path, perhaps) and its contents.
#[derive(Clone, Copy, Debug)]
pub struct Input<'a> {
    pub name: &'a str,
    pub bytes: &'a [u8],
}

/// What [`read`] or a [`Reader`] found: the files' format and their runs, in the order they first
/// appear.
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
/// at least one numeric scalar. The files go through a [`Reader`] in turn, so the first file with a
/// problem is the one named.
pub fn read(files: &[Input], format: Option<Format>) -> Result<ReadLog, ReadError> {
    let mut reader = Reader::new(format);
    for file in files {
        reader.begin_file(file.name)?;
        for chunk in file.bytes.chunks(CHUNK) {
            reader.push(chunk)?;
        }
        reader.end_file()?;
    }
    reader.finish()
}

/// How much of an [`Input`] [`read`] pushes at a time, so that the reader's buffers stay small.
const CHUNK: usize = 1 << 20;

/// The format whose reader takes logs of both `a` and `b`.
pub(crate) fn common(a: Format, b: Format) -> Option<Format> {
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
        assert_eq!(Format::spellings(), "hf, tb-csv, tb-events, wandb-csv, nanogpt, trl, jsonl");
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
