//! Training logs another program wrote: read as the page sends them, a chunk at a time, through the
//! logs crate's [`Reader`] (which keeps only an unfinished line or record of a text or event file), then
//! diagnosed run by run. The runs read last are kept, so another vocabulary size is tried without
//! sending the files again.

use crate::chart::logged::{is_charted, thin, CURVE_POINTS};
use crate::protocol::{DiagnosedRun, FromWorker, LogDiagnosis, LogEvent, LogPart, MAX_LOG_BYTES};
use faultline_engine::diagnosis::diagnose_log;
use faultline_engine::telemetry::log::Series;
use faultline_logs::{ReadLog, Reader};

/// Why a piece of a reading that is no longer in progress is refused.
const REPLACED: &str = "this reading was replaced by a newer one";

/// A reading whose files are still arriving.
struct Reading {
    request: u32,
    reader: Reader,
    /// The files' names so far; the last is open while its chunks arrive.
    files: Vec<String>,
    /// Bytes of all the files so far.
    received: u64,
}

/// The reading in progress, and the logs read last.
#[derive(Default)]
pub(super) struct Logs {
    reading: Option<Reading>,
    /// The files' names and what they held.
    last: Option<(Vec<String>, ReadLog)>,
}

impl Logs {
    /// Takes one piece of reading `request` and returns the answer, if it has one. Once a piece has
    /// failed, the pieces after it fail the same way (the page stops at the first); the logs read last
    /// stay.
    pub(super) fn handle(&mut self, request: u32, part: LogPart) -> Option<FromWorker> {
        let event = match self.take(request, part) {
            Ok(event) => event?,
            Err(message) => LogEvent::Failed { message },
        };
        Some(FromWorker::Log { request, event })
    }

    fn take(&mut self, request: u32, part: LogPart) -> Result<Option<LogEvent>, String> {
        match part {
            LogPart::Begin { format } => {
                let reading = Reading { request, reader: Reader::new(format), files: Vec::new(), received: 0 };
                self.reading = Some(reading);
                Ok(None)
            }
            LogPart::File { name } => {
                let reading = self.current(request)?;
                if !reading.files.is_empty() {
                    reading.reader.end_file().map_err(|e| e.to_string())?;
                }
                reading.reader.begin_file(&name).map_err(|e| e.to_string())?;
                reading.files.push(name);
                Ok(None)
            }
            LogPart::Chunk(bytes) => {
                let reading = self.current(request)?;
                reading.received += bytes.0.len() as u64;
                if reading.received > MAX_LOG_BYTES {
                    let name = reading.files.last().map_or("", String::as_str);
                    return Err(format!(
                        "{name}: the files come to more than {} MB, more than the page reads at once",
                        MAX_LOG_BYTES >> 20
                    ));
                }
                reading.reader.push(&bytes.0).map_err(|e| e.to_string())?;
                Ok(Some(LogEvent::Received { bytes: reading.received }))
            }
            LogPart::End { vocab_size } => {
                check_vocab(vocab_size)?;
                let mut reading = match self.reading.take() {
                    Some(reading) if reading.request == request => reading,
                    other => {
                        self.reading = other;
                        return Err(REPLACED.to_string());
                    }
                };
                if !reading.files.is_empty() {
                    reading.reader.end_file().map_err(|e| e.to_string())?;
                }
                let log = reading.reader.finish().map_err(|e| e.to_string())?;
                let read = diagnose(&reading.files, &log, vocab_size);
                self.last = Some((reading.files, log));
                Ok(Some(LogEvent::Read(Box::new(read))))
            }
            LogPart::Rediagnose { vocab_size } => {
                check_vocab(vocab_size)?;
                let (names, log) = self.last.as_ref().ok_or("no log has been read yet")?;
                Ok(Some(LogEvent::Read(Box::new(diagnose(names, log, vocab_size)))))
            }
        }
    }

    /// The reading in progress if it is `request`'s.
    fn current(&mut self, request: u32) -> Result<&mut Reading, String> {
        self.reading.as_mut().filter(|r| r.request == request).ok_or_else(|| REPLACED.to_string())
    }
}

fn check_vocab(vocab_size: Option<usize>) -> Result<(), String> {
    match vocab_size {
        Some(v) if v < 2 => Err(format!("the vocabulary size must be at least 2, not {v}")),
        _ => Ok(()),
    }
}

/// Every run of `log` diagnosed, with the curves the charts draw thinned.
fn diagnose(files: &[String], log: &ReadLog, vocab_size: Option<usize>) -> LogDiagnosis {
    let runs = log
        .runs
        .iter()
        .map(|run| DiagnosedRun {
            name: run.name.clone(),
            report: diagnose_log(run, vocab_size),
            curves: run
                .series
                .iter()
                .filter(|s| is_charted(&s.signal))
                .map(|s| Series { signal: s.signal.clone(), points: thin(&s.points, CURVE_POINTS) })
                .collect(),
        })
        .collect();
    LogDiagnosis { format: log.format, files: files.to_vec(), runs }
}
