//! The learner's own text as a corpus: what the text box holds, files read into it, and how it is
//! kept in the browser between visits.

use faultline_engine::data::MAX_TEXT_BYTES;

/// The corpus choice that trains on the learner's own text (the `corpus` field's value).
pub const OWN_TEXT: &str = "own-text";

/// The name of text typed or pasted rather than read from a file.
pub const PASTED: &str = "pasted text";

/// The key the learner's own text is kept under in `localStorage`, so it survives a reload; the version
/// changes when the stored shape does.
pub const OWN_TEXT_KEY: &str = "faultline.own-text.v1";

/// Below this many characters a text trains but is small: the `tiny-dataset` fault's 2,000 tokens
/// overfit within its scenario's 800 steps (`crates/evaluation/tests/symptoms.rs`).
pub const SMALL_TEXT_CHARS: usize = 10_000;

/// The own text as stored.
#[derive(serde::Serialize, serde::Deserialize)]
struct StoredText {
    version: u32,
    name: String,
    text: String,
}

/// A size in bytes in decimal units, as the engine's limit is written: `812 bytes`, `12.3 KB`, `2 MB`.
pub fn human_bytes(bytes: u64) -> String {
    let b = bytes as f64;
    if bytes < 1000 {
        format!("{bytes} bytes")
    } else if bytes < 1_000_000 {
        format!("{:.1} KB", b / 1e3)
    } else {
        let mb = format!("{:.2}", b / 1e6);
        format!("{} MB", mb.trim_end_matches('0').trim_end_matches('.'))
    }
}

/// The learner's own text: what the text box holds, its name, and what went wrong with the last file
/// (shown until the next text arrives; the text itself is never replaced by a failed file).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OwnText {
    /// The file's name, or [`PASTED`].
    pub name: String,
    pub text: String,
    pub file_problem: Option<String>,
}

impl Default for OwnText {
    fn default() -> Self {
        Self { name: PASTED.to_string(), text: String::new(), file_problem: None }
    }
}

impl OwnText {
    /// Its size against the limit, e.g. `12,000 characters, 12 KB of at most 2 MB`.
    pub fn size_line(&self) -> String {
        format!(
            "{} characters, {} of at most {}",
            self.text.chars().count(),
            human_bytes(self.text.len() as u64),
            human_bytes(MAX_TEXT_BYTES as u64)
        )
    }

    /// A caution for a usable text that is short enough to be memorised.
    pub fn warning(&self) -> Option<String> {
        let chars = self.text.chars().count();
        (chars > 0 && chars < SMALL_TEXT_CHARS && self.error().is_none()).then(|| {
            format!(
                "{chars} characters is little to learn from: the model can memorise it, and its validation loss \
                 will turn upward (the tiny-dataset fault shows this with 2,000 tokens). {} characters or more \
                 train better.",
                SMALL_TEXT_CHARS
            )
        })
    }

    /// The text as kept in the browser.
    pub fn to_stored(&self) -> String {
        let stored = StoredText { version: 1, name: self.name.clone(), text: self.text.clone() };
        serde_json::to_string(&stored).unwrap_or_default()
    }

    /// The text kept as `stored`, or why it cannot be used (the caller keeps the unreadable data aside).
    pub fn from_stored(stored: &str) -> Result<OwnText, String> {
        let unreadable = "Your saved text could not be read, so the text box starts empty";
        let kept: StoredText = serde_json::from_str(stored).map_err(|_| unreadable.to_string())?;
        if kept.version != 1 {
            return Err(format!("{unreadable} (it was saved by a newer version of Faultline)"));
        }
        let own = OwnText { name: kept.name, text: kept.text, file_problem: None };
        match own.error() {
            Some(why) if !own.text.is_empty() => Err(format!("{unreadable}: {why}")),
            _ => Ok(own),
        }
    }

    /// What is wrong with the text as a corpus: empty or over the limit.
    pub fn error(&self) -> Option<String> {
        if self.text.is_empty() {
            return Some("paste some text here or choose a text file".to_string());
        }
        (self.text.len() > MAX_TEXT_BYTES).then(|| {
            format!(
                "this text is {} ({} bytes) but a corpus can be at most {} ({MAX_TEXT_BYTES} bytes): shorten it",
                human_bytes(self.text.len() as u64),
                self.text.len(),
                human_bytes(MAX_TEXT_BYTES as u64)
            )
        })
    }

    /// The text as typed or pasted into the text box; it keeps its name unless it is emptied.
    pub fn set_text(&mut self, text: String) {
        if text.is_empty() {
            self.name = PASTED.to_string();
        }
        self.text = text;
        self.file_problem = None;
    }

    /// Checks a chosen file's size before it is read: false (and a message, the text unchanged) when it
    /// is over the limit.
    pub fn accept_file_size(&mut self, name: &str, bytes: u64) -> bool {
        let fits = bytes <= MAX_TEXT_BYTES as u64;
        if !fits {
            self.file_problem = Some(format!(
                "'{name}' is {} ({bytes} bytes) but a corpus can be at most {} ({MAX_TEXT_BYTES} bytes); \
                 your text is unchanged",
                human_bytes(bytes),
                human_bytes(MAX_TEXT_BYTES as u64)
            ));
        }
        fits
    }

    /// A file's contents: they become the text when they are UTF-8 text within the limit; otherwise the
    /// text stays as it was and the message says why.
    pub fn read_file(&mut self, name: &str, bytes: Vec<u8>) {
        if !self.accept_file_size(name, bytes.len() as u64) {
            return;
        }
        match String::from_utf8(bytes) {
            Ok(text) => *self = OwnText { name: name.to_string(), text, file_problem: None },
            Err(e) => {
                self.file_problem = Some(format!(
                    "'{name}' is not UTF-8 text (byte {} is not valid UTF-8); your text is unchanged",
                    e.utf8_error().valid_up_to()
                ));
            }
        }
    }

    /// The browser could not read the file at all; the text stays as it was.
    pub fn file_unreadable(&mut self, name: &str) {
        self.file_problem = Some(format!("the browser could not read '{name}'; your text is unchanged"));
    }

    /// A message for the own-text field: the last file's problem, else what is wrong with the text.
    pub fn message(&self) -> Option<String> {
        self.file_problem.clone().or_else(|| self.error())
    }
}
