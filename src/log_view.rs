//! What the diagnose page knows about the logs it reads, rebuilt from the worker's messages: the
//! reading in progress, and the last logs read, which stay on the page until another reading succeeds.

use crate::protocol::{DiagnosedRun, LogDiagnosis, LogEvent};
use faultline_logs::Format;

/// Where the latest reading is; `as_str` is the `data-state` of `#diagnose`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LogState {
    #[default]
    Idle,
    /// The page is sending the files.
    Sending,
    /// Every byte is sent: the worker reads and diagnoses them.
    Reading,
    Done,
    Failed,
}

impl LogState {
    pub fn as_str(self) -> &'static str {
        match self {
            LogState::Idle => "idle",
            LogState::Sending => "sending",
            LogState::Reading => "reading",
            LogState::Done => "done",
            LogState::Failed => "failed",
        }
    }

    /// A reading is under way.
    pub fn is_busy(self) -> bool {
        matches!(self, LogState::Sending | LogState::Reading)
    }
}

/// The page's copy of the log readings.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LogView {
    /// The request whose messages are accepted; others are stale and dropped.
    pub request: u32,
    pub state: LogState,
    /// The files of the latest reading, and their size in bytes all together.
    pub files: Vec<String>,
    pub total: u64,
    /// Bytes the worker has taken in.
    pub received: u64,
    /// The last logs read and diagnosed.
    pub read: Option<LogDiagnosis>,
    /// Why the latest reading failed.
    pub message: Option<String>,
    /// The run of `read` on show.
    pub selected: usize,
}

impl LogView {
    /// Starts request `request`, a reading of `files` (`total` bytes); the last logs read stay.
    pub fn begin(&mut self, request: u32, files: Vec<String>, total: u64) {
        *self = LogView {
            request,
            state: LogState::Sending,
            files,
            total,
            read: self.read.take(),
            selected: self.selected,
            ..LogView::default()
        };
    }

    /// Starts request `request`, the last logs read diagnosed again.
    pub fn rediagnose(&mut self, request: u32) {
        self.request = request;
        self.state = LogState::Reading;
        self.message = None;
        if let Some(read) = &self.read {
            self.files = read.files.clone();
        }
    }

    /// Every byte has been sent.
    pub fn sent(&mut self) {
        if self.state == LogState::Sending {
            self.state = LogState::Reading;
        }
    }

    /// Applies one message from the worker; returns false when it was about another request.
    pub fn apply(&mut self, request: u32, event: LogEvent) -> bool {
        if request != self.request || !self.state.is_busy() {
            return false;
        }
        match event {
            LogEvent::Received { bytes } => self.received = bytes,
            LogEvent::Read(read) => {
                let same_runs = self.read.as_ref().is_some_and(|r| r.files == read.files);
                if !same_runs || self.selected >= read.runs.len() {
                    self.selected = 0;
                }
                self.read = Some(*read);
                self.state = LogState::Done;
            }
            LogEvent::Failed { message } => self.fail(message),
        }
        true
    }

    /// Ends the reading under way as failed: the page could not read a file, or the worker crashed.
    pub fn fail(&mut self, message: String) {
        self.message = Some(message);
        self.state = LogState::Failed;
    }

    /// The run on show.
    pub fn run(&self) -> Option<&DiagnosedRun> {
        self.read.as_ref()?.runs.get(self.selected)
    }

    /// The share of the bytes sent, while sending.
    pub fn progress(&self) -> Option<f64> {
        (self.state == LogState::Sending && self.total > 0).then(|| self.received as f64 / self.total as f64)
    }

    /// One sentence on where the reading is.
    pub fn status(&self) -> String {
        let files = self.files.join(", ");
        match self.state {
            LogState::Idle => "No log read yet.".to_string(),
            LogState::Sending => format!("Reading {files}: {} of {}", megabytes(self.received), megabytes(self.total)),
            LogState::Reading => format!("Diagnosing {files}…"),
            LogState::Failed => self.message.clone().unwrap_or_default(),
            LogState::Done => match &self.read {
                Some(read) => {
                    let runs = read.runs.len();
                    format!(
                        "{}: {}, {runs} run{}.",
                        read.files.join(", "),
                        format_label(read.format),
                        if runs == 1 { "" } else { "s" }
                    )
                }
                None => String::new(),
            },
        }
    }
}

/// A size in bytes as the progress line says it.
fn megabytes(bytes: u64) -> String {
    if bytes < 1_000_000 {
        format!("{:.0} kB", bytes as f64 / 1e3)
    } else {
        format!("{:.1} MB", bytes as f64 / 1e6)
    }
}

/// What a format is, as the page names it.
pub fn format_label(format: Format) -> &'static str {
    match format {
        Format::Hf => "Hugging Face Trainer state (trainer_state.json)",
        Format::TbCsv => "TensorBoard CSV download",
        Format::TbEvents => "TensorBoard event file",
        Format::WandbCsv => "W&B CSV export",
        Format::Nanogpt => "nanoGPT printout",
        Format::Trl => "TRL log",
        Format::Jsonl => "JSONL",
    }
}

/// The vocabulary-size field: empty for none (ln V is then estimated, or unknown), else a whole
/// number of at least 2.
pub fn parse_vocab(text: &str) -> Result<Option<usize>, String> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    match text.replace(['_', ','], "").parse::<usize>() {
        Ok(v) if v >= 2 => Ok(Some(v)),
        _ => Err(format!("'{text}' is not a vocabulary size: give a whole number of at least 2, or leave it empty")),
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use faultline_engine::diagnosis::diagnose_log;
    use faultline_engine::telemetry::log::{LoggedRun, Signal};

    fn read(files: &[&str], runs: usize) -> LogDiagnosis {
        let mut run = LoggedRun { name: "run".into(), series: Vec::new() };
        run.push(Signal::Loss, 1, 3.0);
        let diagnosed =
            DiagnosedRun { name: run.name.clone(), report: diagnose_log(&run, None), curves: run.series.clone() };
        LogDiagnosis {
            format: Format::WandbCsv,
            files: files.iter().map(|f| f.to_string()).collect(),
            runs: vec![diagnosed; runs],
        }
    }

    #[test]
    fn a_reading_reports_progress_then_its_runs() {
        let mut v = LogView::default();
        assert_eq!((v.state, v.status()), (LogState::Idle, "No log read yet.".to_string()));
        v.begin(1, vec!["export.csv".into()], 4_000_000);
        assert!(v.apply(1, LogEvent::Received { bytes: 1_000_000 }));
        assert_eq!(v.progress(), Some(0.25));
        assert_eq!(v.status(), "Reading export.csv: 1.0 MB of 4.0 MB");
        assert!(!v.apply(2, LogEvent::Received { bytes: 9 }), "another request's message is dropped");
        v.sent();
        assert_eq!((v.state, v.progress()), (LogState::Reading, None));
        assert!(v.apply(1, LogEvent::Read(Box::new(read(&["export.csv"], 3)))));
        assert_eq!(v.state.as_str(), "done");
        assert_eq!(v.status(), "export.csv: W&B CSV export, 3 runs.");
        v.selected = 2;
        assert_eq!(v.run().map(|r| r.name.as_str()), Some("run"));
        assert!(!v.apply(1, LogEvent::Failed { message: "late".into() }), "a finished reading takes nothing more");
    }

    #[test]
    fn a_failed_reading_keeps_the_last_logs_read() {
        let mut v = LogView::default();
        v.begin(1, vec!["a.csv".into()], 10);
        v.apply(1, LogEvent::Read(Box::new(read(&["a.csv"], 2))));
        v.selected = 1;
        v.begin(2, vec!["b.jsonl".into()], 10);
        assert_eq!((v.received, v.message.clone()), (0, None));
        v.apply(2, LogEvent::Failed { message: "b.jsonl:3: step 2 of `loss` comes after step 5".into() });
        assert_eq!(v.state, LogState::Failed);
        assert_eq!(v.status(), "b.jsonl:3: step 2 of `loss` comes after step 5");
        assert_eq!(v.run().map(|r| r.name.as_str()), Some("run"), "the last runs read stay on show");
        v.rediagnose(3);
        assert_eq!(v.status(), "Diagnosing a.csv…", "the logs on show, not the file refused");
        assert!(v.apply(3, LogEvent::Read(Box::new(read(&["a.csv"], 2)))));
        assert_eq!(v.selected, 1, "the same files diagnosed again keep the run on show");
        v.begin(4, vec!["c.csv".into()], 10);
        v.apply(4, LogEvent::Read(Box::new(read(&["c.csv"], 1))));
        assert_eq!(v.selected, 0, "other files start at their first run");
    }

    #[test]
    fn the_vocabulary_size_is_a_whole_number_of_at_least_two_or_nothing() {
        assert_eq!(parse_vocab(""), Ok(None));
        assert_eq!(parse_vocab(" 50257 "), Ok(Some(50257)));
        assert_eq!(parse_vocab("50_257"), Ok(Some(50257)));
        assert!(parse_vocab("1").unwrap_err().contains("at least 2"));
        assert!(parse_vocab("lots").unwrap_err().starts_with("'lots' is not a vocabulary size"));
        assert_eq!(format_label(Format::Hf), "Hugging Face Trainer state (trainer_state.json)");
    }
}
