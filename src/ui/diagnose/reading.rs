//! The page's side of reading logs: the files go to the training worker a chunk at a time (each cut
//! with `Blob.slice`, the next sent once the worker has taken the last), so a large log is never
//! whole in the page and the progress line moves as it goes. The reading outlives the page, like a
//! run: the report is still there after a visit to the guide.

use crate::client::WorkerClient;
use crate::log_view::LogView;
use crate::protocol::{Bytes, LogEvent, LogPart, ToWorker, MAX_LOG_BYTES};
use faultline_logs::Format;
use leptos::prelude::*;
use web_sys::{Blob, File};

/// Bytes per chunk sent to the worker.
const CHUNK_BYTES: f64 = 2.0 * 1024.0 * 1024.0;

/// The files being sent, and how far.
struct Upload {
    request: u32,
    files: Vec<File>,
    /// The file being sent, whether the worker has its name, and the offset of its next chunk.
    file: usize,
    announced: bool,
    offset: f64,
    vocab_size: Option<usize>,
}

/// What to send next.
enum Next {
    Post(LogPart),
    /// A chunk to read first, of the named file.
    Read(Blob, String),
    End(LogPart),
}

impl Upload {
    fn next(&mut self) -> Result<Next, String> {
        while let Some(file) = self.files.get(self.file) {
            if !self.announced {
                self.announced = true;
                return Ok(Next::Post(LogPart::File { name: file.name() }));
            }
            if self.offset < file.size() {
                let end = (self.offset + CHUNK_BYTES).min(file.size());
                let chunk = file
                    .slice_with_f64_and_f64(self.offset, end)
                    .map_err(|_| format!("{}: the browser would not read the file", file.name()))?;
                self.offset = end;
                return Ok(Next::Read(chunk, file.name()));
            }
            self.file += 1;
            self.announced = false;
            self.offset = 0.0;
        }
        Ok(Next::End(LogPart::End { vocab_size: self.vocab_size }))
    }
}

/// Copyable handle on the log readings, shared by the controller (which hands it the worker's
/// answers) and the diagnose page.
#[derive(Clone, Copy)]
pub struct LogReader {
    pub view: RwSignal<LogView>,
    /// The format chosen (none: tell it from the files).
    pub format: RwSignal<Option<Format>>,
    /// The vocabulary-size field as typed.
    pub vocab_text: RwSignal<String>,
    /// The smoothing weight of the charts, in [0, 0.99].
    pub smoothing: RwSignal<f64>,
    /// The files chosen last, read again when the format changes.
    chosen: StoredValue<Vec<File>, LocalStorage>,
    upload: StoredValue<Option<Upload>, LocalStorage>,
    client: StoredValue<Option<WorkerClient>, LocalStorage>,
    next_request: StoredValue<u32>,
}

/// TensorBoard's default smoothing.
const DEFAULT_SMOOTHING: f64 = 0.6;

impl LogReader {
    /// A reader that posts through `client` once the controller has started the worker.
    pub fn new(client: StoredValue<Option<WorkerClient>, LocalStorage>) -> Self {
        Self {
            view: RwSignal::new(LogView::default()),
            format: RwSignal::new(None),
            vocab_text: RwSignal::new(String::new()),
            smoothing: RwSignal::new(DEFAULT_SMOOTHING),
            chosen: StoredValue::new_local(Vec::new()),
            upload: StoredValue::new_local(None),
            client,
            next_request: StoredValue::new(0),
        }
    }

    fn post(&self, request: u32, part: LogPart) {
        self.client.with_value(|c| {
            if let Some(c) = c {
                c.post(ToWorker::Log { request, part });
            }
        });
    }

    fn new_request(&self) -> u32 {
        let request = self.next_request.get_value().wrapping_add(1);
        self.next_request.set_value(request);
        request
    }

    /// Reads `files` with the format and vocabulary size chosen, replacing any reading under way; the
    /// last logs read stay on show until this one succeeds.
    pub fn read(&self, files: Vec<File>, vocab_size: Option<usize>) {
        if files.is_empty() {
            return;
        }
        self.chosen.set_value(files.clone());
        let names: Vec<String> = files.iter().map(File::name).collect();
        let total: f64 = files.iter().map(|f| f.size()).sum();
        let request = self.new_request();
        self.view.update(|v| v.begin(request, names.clone(), total as u64));
        if total > MAX_LOG_BYTES as f64 {
            let message = format!(
                "{}: {:.0} MB all together, more than the {} MB the page reads at once",
                names.join(", "),
                total / 1e6,
                MAX_LOG_BYTES >> 20
            );
            self.upload.set_value(None);
            self.view.update(|v| v.fail(message));
            return;
        }
        self.post(request, LogPart::Begin { format: self.format.get_untracked() });
        let upload = Upload { request, files, file: 0, announced: false, offset: 0.0, vocab_size };
        self.upload.set_value(Some(upload));
        self.send_next();
    }

    /// Reads the files chosen last again (after the format changed), if there are any.
    pub fn read_again(&self, vocab_size: Option<usize>) {
        self.read(self.chosen.get_value(), vocab_size);
    }

    /// Diagnoses the logs read last again with another vocabulary size, if they are on show and no
    /// reading is under way.
    pub fn rediagnose(&self, vocab_size: Option<usize>) {
        let idle = self.view.with_untracked(|v| v.read.is_some() && !v.state.is_busy());
        if idle {
            let request = self.new_request();
            self.view.update(|v| v.rediagnose(request));
            self.post(request, LogPart::Rediagnose { vocab_size });
        }
    }

    /// Sends what comes next of the upload: names and the end at once, a chunk once it is read.
    fn send_next(self) {
        loop {
            let step = self.upload.try_update_value(|u| u.as_mut().map(|u| (u.request, u.next()))).flatten();
            let Some((request, next)) = step else { return };
            match next {
                Ok(Next::Post(part)) => self.post(request, part),
                Ok(Next::End(part)) => {
                    self.upload.set_value(None);
                    self.post(request, part);
                    self.view.update(LogView::sent);
                    return;
                }
                Ok(Next::Read(chunk, name)) => {
                    let reading = wasm_bindgen_futures::JsFuture::from(chunk.array_buffer());
                    leptos::task::spawn_local(async move {
                        let bytes = reading.await.map(|buffer| js_sys::Uint8Array::new(&buffer).to_vec());
                        if !self.is_sending(request) {
                            return;
                        }
                        match bytes {
                            Ok(bytes) => self.post(request, LogPart::Chunk(Bytes(bytes))),
                            Err(_) => self.stop(format!("{name}: the browser could not read the file")),
                        }
                    });
                    return;
                }
                Err(message) => return self.stop(message),
            }
        }
    }

    fn is_sending(&self, request: u32) -> bool {
        self.upload.with_value(|u| u.as_ref().is_some_and(|u| u.request == request))
    }

    /// Ends the upload under way as failed.
    fn stop(&self, message: String) {
        self.upload.set_value(None);
        self.view.update(|v| v.fail(message));
    }

    /// Takes the worker's answer about reading `request`: the next chunk goes once the last was taken.
    pub fn receive(self, request: u32, event: LogEvent) {
        let taken = matches!(event, LogEvent::Received { .. });
        let failed = matches!(event, LogEvent::Failed { .. });
        let current = self.view.try_update(|v| v.apply(request, event)).unwrap_or(false);
        if current && failed {
            self.upload.set_value(None);
        }
        if current && taken && self.is_sending(request) {
            self.send_next();
        }
    }

    /// The worker crashed: a reading under way will get no answer.
    pub fn worker_failed(&self, message: &str) {
        self.upload.set_value(None);
        self.view.update(|v| {
            if v.state.is_busy() {
                v.fail(format!("The logs were not read: {message}"));
            }
        });
    }
}
