//! The run settings form as text, and its translation into a [`RunConfig`].
//!
//! The fields are the engine's settings table ([`SETTINGS`]) and fault table ([`FAULTS`]); each text
//! is parsed by [`RunConfig::set`] and [`Faults::set`](faultline_engine::Faults::set), so the page
//! says exactly what the command line and the URL say. Every field is checked on its own, so each
//! shows its own message.

use faultline_engine::config::CorpusSource;
use faultline_engine::data::MAX_TEXT_BYTES;
use faultline_engine::faults::{spec, FaultSpec, FAULTS};
use faultline_engine::settings::{SettingKind, SETTINGS};
use faultline_engine::{ConfigError, RunConfig};

/// The settings shown first; the rest sit under "More settings".
pub const MAIN_SETTINGS: [&str; 6] = ["config", "corpus", "lr", "steps", "seed", "optimizer"];

/// The `data-error-for` name of a fault's strength field.
pub fn fault_field(id: &str) -> String {
    format!("fault-{id}")
}

/// The corpus choice that trains on the learner's own text (the `corpus` field's value).
pub const OWN_TEXT: &str = "own-text";

/// The name of text typed or pasted rather than read from a file.
pub const PASTED: &str = "pasted text";

/// The key the learner's own text is kept under in `localStorage`, so it survives a reload; the version
/// changes when the stored shape does.
pub const OWN_TEXT_KEY: &str = "faultline.own-text.v1";

/// Below this many characters a text trains but is small: the `tiny-dataset` fault's 2,000 tokens
/// overfit within its scenario's 800 steps (`crates/engine/tests/symptoms.rs`).
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
}

/// One fault's switch and strength, as shown.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FaultToggle {
    pub id: &'static str,
    pub on: bool,
    /// The strength as typed; unused for faults without one.
    pub strength: String,
}

/// The form's fields exactly as typed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunForm {
    /// One text per [`SETTINGS`] key, in the table's order.
    values: Vec<(&'static str, String)>,
    /// One switch per [`FAULTS`] entry, in the table's order.
    faults: Vec<FaultToggle>,
    /// Used when `corpus` is [`OWN_TEXT`]; kept when another corpus is chosen.
    own: OwnText,
}

/// One message per bad field: settings in [`SETTINGS`] order, then faults (named `fault-<id>`).
pub type FieldErrors = Vec<ConfigError>;

impl Default for RunForm {
    fn default() -> Self {
        Self::from_config(&RunConfig::default())
    }
}

fn strength_text(spec: &FaultSpec, value: Option<f32>) -> String {
    value.or(spec.strength.map(|s| s.default)).map(|v| v.to_string()).unwrap_or_default()
}

impl RunForm {
    /// The fields that describe `config`.
    pub fn from_config(config: &RunConfig) -> Self {
        let active = config.faults.active();
        let own = match &config.corpus {
            CorpusSource::Text { name, text } => {
                Some(OwnText { name: name.clone(), text: text.clone(), file_problem: None })
            }
            CorpusSource::Builtin(_) => None,
        };
        let value = |key: &str| match key {
            "corpus" if own.is_some() => OWN_TEXT.to_string(),
            _ => config.get(key).unwrap_or_default(),
        };
        Self {
            values: SETTINGS.iter().map(|s| (s.key, value(s.key))).collect(),
            faults: FAULTS
                .iter()
                .map(|f| {
                    let on = active.iter().find(|(id, _)| *id == f.id);
                    FaultToggle { id: f.id, on: on.is_some(), strength: strength_text(f, on.and_then(|a| a.1)) }
                })
                .collect(),
            own: own.unwrap_or_default(),
        }
    }

    /// This form with `previous`'s own text when it has none of its own, so that a scenario or an
    /// exercise that sets the form up does not throw away the text the learner pasted.
    pub fn keeping_own_text(mut self, previous: &RunForm) -> Self {
        if self.own.text.is_empty() {
            self.own = previous.own.clone();
        }
        self
    }

    /// Whether the run trains on the learner's own text.
    pub fn uses_own_text(&self) -> bool {
        self.get("corpus") == OWN_TEXT
    }

    pub fn own_text(&self) -> &OwnText {
        &self.own
    }

    /// Puts back a text kept from an earlier visit.
    pub fn restore_own_text(&mut self, own: OwnText) {
        self.own = own;
    }

    /// The text as typed or pasted into the text box; it keeps its name unless it is emptied.
    pub fn set_own_text(&mut self, text: String) {
        if text.is_empty() {
            self.own.name = PASTED.to_string();
        }
        self.own.text = text;
        self.own.file_problem = None;
    }

    /// Checks a chosen file's size before it is read: false (and a message, the text unchanged) when it
    /// is over the limit.
    pub fn accept_file_size(&mut self, name: &str, bytes: u64) -> bool {
        let fits = bytes <= MAX_TEXT_BYTES as u64;
        if !fits {
            self.own.file_problem = Some(format!(
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
            Ok(text) => {
                self.own = OwnText { name: name.to_string(), text, file_problem: None };
            }
            Err(e) => {
                self.own.file_problem = Some(format!(
                    "'{name}' is not UTF-8 text (byte {} is not valid UTF-8); your text is unchanged",
                    e.utf8_error().valid_up_to()
                ));
            }
        }
    }

    /// The browser could not read the file at all; the text stays as it was.
    pub fn file_unreadable(&mut self, name: &str) {
        self.own.file_problem = Some(format!("the browser could not read '{name}'; your text is unchanged"));
    }

    /// A message for the own-text field: the last file's problem, else what is wrong with the text.
    pub fn own_text_message(&self) -> Option<String> {
        self.own.file_problem.clone().or_else(|| self.own.error())
    }

    /// The form a link's query describes: `config` first, then every setting it names and every
    /// `fault=ID[=VALUE]`. A parameter the form cannot take (an unknown key or fault, a value out of
    /// range) keeps its default and gets a notice saying so; nothing else is lost.
    pub fn from_query(pairs: &[(String, String)]) -> (Self, Vec<String>) {
        let mut form = Self::default();
        let mut notices = Vec::new();
        let mut notice = |k: &str, v: &str, why: String| notices.push(format!("The link's {k}={v}: {why}."));
        for (k, v) in pairs.iter().filter(|(k, _)| k == "config") {
            match set_checked(&mut RunConfig::default(), k, v) {
                Ok(()) => form.set(k, v.clone()),
                Err(e) => notice(k, v, format!("{}; using {}", e.message, form.get(k))),
            }
        }
        let base = form.to_config().unwrap_or_default();
        for (k, v) in pairs.iter().filter(|(k, _)| k != "config") {
            if k == "fault" {
                let (id, value) = v.split_once('=').map_or((v.as_str(), None), |(id, x)| (id, Some(x)));
                let Some(spec) = spec(id.trim()) else {
                    notice(k, v, format!("there is no fault called '{}'; ignored", id.trim()));
                    continue;
                };
                let mut trial = form.clone();
                trial.turn_on_from_arg(v);
                match trial.fault(spec.id).map(|t| trial.apply_fault(t, &mut base.clone())) {
                    Some(Err(why)) if value.is_some() => {
                        form.set_fault(spec.id, true);
                        notice(k, v, format!("{why}; using the default {}", strength_text(spec, None)));
                    }
                    _ => form = trial,
                }
            } else if SETTINGS.iter().any(|s| s.key == k) {
                match field_error(&base, k, v) {
                    None => form.set(k, v.clone()),
                    Some(e) => notice(k, v, format!("{}; using the default {}", e.message, form.get(k))),
                }
            } else {
                notice(k, v, format!("'{k}' is not a setting; ignored"));
            }
        }
        (form, notices)
    }

    /// The query that describes this form in a link: the model, every setting that differs from the
    /// model's default (as typed), the seed, and every fault that is on (with its strength when it is
    /// not the default). [`RunForm::from_query`] reads it back. The learner's own text is too big for
    /// a link: with it chosen, the link names no corpus (and so opens on the default one).
    pub fn to_query(&self) -> Vec<(String, String)> {
        let mut pairs = vec![("config".to_string(), self.get("config").trim().to_string())];
        let in_link = |key: &str| key != "config" && !(key == "corpus" && self.uses_own_text());
        for s in SETTINGS.iter().filter(|s| in_link(s.key)) {
            if s.key == "seed" || self.differs_from_default(s.key) {
                pairs.push((s.key.to_string(), self.get(s.key).trim().to_string()));
            }
        }
        for toggle in self.faults.iter().filter(|t| t.on) {
            let spec = spec(toggle.id);
            let default = spec.map(|s| strength_text(s, None)).unwrap_or_default();
            let strength = toggle.strength.trim();
            let arg = if strength.is_empty() || strength == default {
                toggle.id.to_string()
            } else {
                format!("{}={strength}", toggle.id)
            };
            pairs.push(("fault".to_string(), arg));
        }
        pairs
    }

    /// A setting's current text; empty for an unknown key.
    pub fn get(&self, key: &str) -> &str {
        self.values.iter().find(|(k, _)| *k == key).map_or("", |(_, v)| v.as_str())
    }

    /// Replaces one setting's text; unknown keys change nothing. Choosing another model also moves
    /// the batch size to that model's, unless the learner has changed it.
    pub fn set(&mut self, key: &str, value: String) {
        if key == "config" {
            let batch_of = |preset: &str| {
                let mut c = RunConfig::default();
                c.set("config", preset).ok().map(|()| c.batch_size.to_string())
            };
            let (old, new) = (batch_of(self.get("config")), batch_of(value.trim()));
            if let (Some(old), Some(new)) = (old, new) {
                if self.get("batch") == old {
                    self.set("batch", new);
                }
            }
        }
        if let Some((_, v)) = self.values.iter_mut().find(|(k, _)| *k == key) {
            *v = value;
        }
    }

    /// Whether a setting differs from the chosen model's default.
    pub fn differs_from_default(&self, key: &str) -> bool {
        let mut base = RunConfig::default();
        if base.set("config", self.get("config")).is_err() {
            return false;
        }
        base.get(key).is_some_and(|d| d != self.get(key).trim())
    }

    pub fn fault(&self, id: &str) -> Option<&FaultToggle> {
        self.faults.iter().find(|f| f.id == id)
    }

    pub fn set_fault(&mut self, id: &str, on: bool) {
        if let Some(f) = self.faults.iter_mut().find(|f| f.id == id) {
            f.on = on;
        }
    }

    pub fn set_strength(&mut self, id: &str, text: String) {
        if let Some(f) = self.faults.iter_mut().find(|f| f.id == id) {
            f.strength = text;
        }
    }

    /// Turns on `ID` or `ID=VALUE` (the command line's and the URL's form); unknown ids are ignored.
    fn turn_on_from_arg(&mut self, arg: &str) {
        let (id, value) = arg.split_once('=').map_or((arg, None), |(id, v)| (id, Some(v)));
        self.set_fault(id.trim(), true);
        if let Some(v) = value {
            self.set_strength(id.trim(), v.trim().to_string());
        }
    }

    /// Sets the form up to show fault `id`'s symptom: the defaults, the fault on, and the settings (and
    /// other faults) of its scenario.
    pub fn show_me(id: &str) -> Self {
        let mut form = Self::default();
        form.add_scenario(id);
        form
    }

    /// Turns fault `id` on with the settings (and other faults) of its scenario, over what the fields
    /// already hold.
    pub fn add_scenario(&mut self, id: &str) {
        let Some(spec) = spec(id) else { return };
        for (k, v) in spec.scenario_pairs().into_iter().filter(|(k, _)| *k == "config") {
            self.set(k, v.to_string());
        }
        for (k, v) in spec.scenario_pairs() {
            match k {
                "config" => {}
                "fault" => self.turn_on_from_arg(v),
                _ => self.set(k, v.to_string()),
            }
        }
        self.set_fault(id, true);
    }

    /// The configuration these fields describe, or a message for every field that is wrong.
    pub fn to_config(&self) -> Result<RunConfig, FieldErrors> {
        let mut errors = Vec::new();
        let mut config = RunConfig::default();
        if let Err(e) = set_checked(&mut config, "config", self.get("config")) {
            errors.push(e);
        }
        let base = config.clone();
        for s in SETTINGS.iter().filter(|s| s.key != "config") {
            let text = self.get(s.key);
            if s.key == "corpus" && self.uses_own_text() {
                match self.own.error() {
                    Some(message) => errors.push(ConfigError::new(OWN_TEXT, message)),
                    None => {
                        config.corpus = CorpusSource::Text { name: self.own.name.clone(), text: self.own.text.clone() }
                    }
                }
            } else if let Some(e) = field_error(&base, s.key, text) {
                errors.push(e);
            } else if let Err(e) = set_checked(&mut config, s.key, text) {
                errors.push(e);
            }
        }
        for toggle in self.faults.iter().filter(|t| t.on) {
            if let Err(message) = self.apply_fault(toggle, &mut config) {
                errors.push(ConfigError::new(&fault_field(toggle.id), message));
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        config.validate().map_err(|e| vec![e])?;
        Ok(config)
    }

    fn apply_fault(&self, toggle: &FaultToggle, config: &mut RunConfig) -> Result<(), String> {
        let spec = spec(toggle.id).ok_or_else(|| format!("unknown fault '{}'", toggle.id))?;
        let value = match spec.strength {
            None => None,
            Some(s) => {
                let text = toggle.strength.trim();
                if text.is_empty() {
                    return Err(format!("{} needs a value", s.unit));
                }
                Some(text.parse::<f32>().map_err(|_| format!("{}: '{text}' is not a number", s.unit))?)
            }
        };
        config.faults.set(toggle.id, value).map_err(|e| e.message)
    }
}

/// What is wrong with `text` for setting `key`, judged on its own on top of `base` (the model's
/// defaults), so one bad field cannot hide, or be blamed for, another.
fn field_error(base: &RunConfig, key: &str, text: &str) -> Option<ConfigError> {
    let mut alone = base.clone();
    set_checked(&mut alone, key, text)
        .and_then(|()| match alone.validate() {
            Err(e) if e.field == key => Err(e),
            _ => Ok(()),
        })
        .err()
}

/// [`RunConfig::set`], with an empty field reported as such rather than as a malformed value.
fn set_checked(config: &mut RunConfig, key: &str, text: &str) -> Result<(), ConfigError> {
    let flag = SETTINGS.iter().any(|s| s.key == key && s.kind == SettingKind::Flag);
    if text.trim().is_empty() && !flag {
        return Err(ConfigError::new(key, "needs a value"));
    }
    config.set(key, text)
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use faultline_engine::{OptimizerKind, Preset};

    fn form(lr: &str, steps: &str, seed: &str) -> RunForm {
        let mut f = RunForm::default();
        f.set("lr", lr.into());
        f.set("steps", steps.into());
        f.set("seed", seed.into());
        f
    }

    fn fields(errors: &FieldErrors) -> Vec<&str> {
        errors.iter().map(|e| e.field.as_str()).collect()
    }

    fn pairs(query: &[(&str, &str)]) -> Vec<(String, String)> {
        query.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn defaults_make_the_tiny_preset() {
        let config = RunForm::default().to_config().unwrap();
        assert_eq!(config, RunConfig::preset(Preset::Tiny));
        assert!(FAULTS.iter().all(|spec| RunForm::default().fault(spec.id).is_some_and(|f| !f.on)));
    }

    #[test]
    fn values_reach_the_config() {
        let mut f = form("0.01", "300", "7");
        f.set("config", "small".into());
        f.set("optimizer", "sgd".into());
        f.set("grad-clip", "0".into());
        let config = f.to_config().unwrap();
        assert_eq!((config.preset, config.lr, config.steps, config.seed), (Preset::Small, 0.01, 300, 7));
        assert_eq!((config.optimizer, config.grad_clip), (OptimizerKind::Sgd, 0.0));
        assert_eq!(config.batch_size, Preset::Small.batch_size(), "the batch follows the model");
    }

    #[test]
    fn a_batch_the_learner_chose_stays_when_the_model_changes() {
        let mut f = RunForm::default();
        f.set("batch", "4".into());
        f.set("config", "small".into());
        assert_eq!(f.to_config().unwrap().batch_size, 4);
        assert!(f.differs_from_default("batch") && !f.differs_from_default("lr"));
    }

    #[test]
    fn every_bad_field_gets_its_own_message() {
        let errors = form("abc", "", "-1").to_config().unwrap_err();
        assert_eq!(fields(&errors), ["steps", "seed", "lr"]);
        assert_eq!(errors[0].message, "needs a value");
        assert!(errors[2].message.contains("'abc'"), "{}", errors[2].message);
    }

    #[test]
    fn messages_are_the_settings_tables() {
        for (lr, steps) in [("NaN", "10"), ("-0.1", "10"), ("inf", "10"), ("0", "10"), ("1e9", "10")] {
            let errors = form(lr, steps, "1").to_config().unwrap_err();
            assert_eq!(fields(&errors), ["lr"], "lr = {lr}");
            let mut direct = RunConfig::default();
            assert_eq!(errors[0], direct.set("lr", lr).unwrap_err());
        }
        assert_eq!(fields(&form("0.001", "0", "1").to_config().unwrap_err()), ["steps"]);
        assert_eq!(fields(&form("0.001", "1.5", "1").to_config().unwrap_err()), ["steps"]);
    }

    #[test]
    fn unknown_config_and_corpus_are_named() {
        let mut f = RunForm::default();
        f.set("config", "huge".into());
        f.set("corpus", "nope".into());
        assert_eq!(fields(&f.to_config().unwrap_err()), ["config", "corpus"]);
    }

    #[test]
    fn get_and_set_address_the_same_field() {
        let mut f = RunForm::default();
        for s in SETTINGS {
            f.set(s.key, format!("{}!", s.key));
            assert_eq!(f.get(s.key), format!("{}!", s.key));
        }
        assert_eq!(f.get("nope"), "");
    }

    #[test]
    fn faults_turn_on_with_checked_strengths() {
        let mut f = RunForm::default();
        f.set_fault("no-causal-mask", true);
        f.set_fault("lr-too-high", true);
        assert_eq!(f.fault("lr-too-high").unwrap().strength, "300");
        let config = f.to_config().unwrap();
        assert_eq!(config.faults.active(), [("lr-too-high", Some(300.0)), ("no-causal-mask", None)]);
        f.set_strength("lr-too-high", "0.5".into());
        let errors = f.to_config().unwrap_err();
        assert_eq!(fields(&errors), ["fault-lr-too-high"]);
        assert!(errors[0].message.contains("between 1 and 10000"), "{}", errors[0].message);
        f.set_strength("lr-too-high", "x".into());
        assert_eq!(f.to_config().unwrap_err()[0].message, "factor: 'x' is not a number");
        f.set_fault("lr-too-high", false);
        assert!(f.to_config().is_ok(), "a fault that is off is not checked");
    }

    #[test]
    fn a_config_round_trips_through_the_form() {
        let mut config = RunConfig::preset(Preset::Small);
        config.lr = 0.02;
        config.faults.set("tiny-dataset", Some(500.0)).unwrap();
        config.faults.set("no-warmup", None).unwrap();
        assert_eq!(RunForm::from_config(&config).to_config().unwrap(), config);
    }

    #[test]
    fn show_me_applies_the_faults_scenario() {
        for spec in FAULTS {
            let config = RunForm::show_me(spec.id).to_config().unwrap_or_else(|e| panic!("{}: {e:?}", spec.id));
            let mut pairs = spec.scenario_pairs();
            if !pairs.iter().any(|&(k, v)| k == "fault" && v.split('=').next() == Some(spec.id)) {
                pairs.push(("fault", spec.id));
            }
            assert_eq!(config, RunConfig::from_pairs(pairs).unwrap(), "{}", spec.id);
            assert!(config.faults.active().iter().any(|(id, _)| *id == spec.id), "{}", spec.id);
        }
        let config = RunForm::show_me("no-grad-clip").to_config().unwrap();
        assert_eq!(config.optimizer, OptimizerKind::Sgd, "{}", spec("no-grad-clip").unwrap().scenario);
    }

    #[test]
    fn a_query_fills_the_form() {
        let (f, notices) = RunForm::from_query(&pairs(&[
            ("lr", "0.01"),
            ("fault", "lr-too-high=30"),
            ("config", "small"),
            ("fault", "no-causal-mask"),
        ]));
        assert_eq!(notices, Vec::<String>::new());
        let config = f.to_config().unwrap();
        let expected = RunConfig::from_pairs([
            ("lr", "0.01"),
            ("fault", "lr-too-high=30"),
            ("config", "small"),
            ("fault", "no-causal-mask"),
        ])
        .unwrap();
        assert_eq!(config, expected);
        let back: Vec<(String, String)> = config.to_pairs();
        assert_eq!(RunForm::from_query(&back).0.to_config().unwrap(), config);
    }

    #[test]
    fn a_bad_link_parameter_gets_a_notice_and_its_default() {
        let (f, notices) = RunForm::from_query(&pairs(&[
            ("config", "huge"),
            ("steps", "many"),
            ("lr", "-1"),
            ("seed", "9"),
            ("fault", "nope"),
            ("fault", "lr-too-high=0.5"),
            ("colour", "red"),
        ]));
        let config = f.to_config().expect("every bad parameter fell back to its default");
        let tiny = RunConfig::default();
        assert_eq!((config.preset, config.steps, config.lr, config.seed), (tiny.preset, tiny.steps, tiny.lr, 9));
        assert_eq!(config.faults.active(), [("lr-too-high", Some(300.0))]);
        assert_eq!(notices.len(), 6, "{notices:#?}");
        for (notice, needle) in notices.iter().zip([
            "config=huge",
            "steps=many: 'many' is not a whole number; using the default",
            "lr=-1",
            "no fault called 'nope'",
            "lr-too-high=0.5",
            "'colour' is not a setting",
        ]) {
            assert!(notice.contains(needle), "{notice:?} should mention {needle:?}");
        }
    }

    #[test]
    fn every_form_round_trips_through_its_link() {
        let mut typed = RunForm::default();
        typed.set("config", "small".into());
        typed.set("lr", "0.02".into());
        typed.set("seed", "1234567".into());
        typed.set("greedy", "on".into());
        typed.set_fault("tiny-dataset", true);
        typed.set_strength("tiny-dataset", "500".into());
        let forms = FAULTS.iter().map(|f| RunForm::show_me(f.id)).chain([RunForm::default(), typed]);
        for form in forms {
            let query = form.to_query();
            assert!(query.iter().any(|(k, _)| k == "seed"), "the seed is always in the link");
            let (back, notices) = RunForm::from_query(&query);
            assert_eq!(notices, Vec::<String>::new(), "{query:?}");
            assert_eq!(back.to_config(), form.to_config(), "{query:?}");
        }
    }

    fn own_text_form(text: &str) -> RunForm {
        let mut f = RunForm::default();
        f.set("corpus", OWN_TEXT.into());
        f.set_own_text(text.into());
        f
    }

    #[test]
    fn own_text_reaches_the_config() {
        let mut f = own_text_form("to be or not to be\n");
        f.set("lr", "0.01".into());
        let config = f.to_config().unwrap();
        let pasted = CorpusSource::Text { name: PASTED.into(), text: "to be or not to be\n".into() };
        assert_eq!((&config.corpus, config.lr), (&pasted, 0.01));
        f.read_file("notes.txt", "line one\nline two\n".as_bytes().to_vec());
        let read = CorpusSource::Text { name: "notes.txt".into(), text: "line one\nline two\n".into() };
        assert_eq!(f.to_config().unwrap().corpus, read);
        assert_eq!(RunForm::from_config(&f.to_config().unwrap()), f, "a run's own text comes back to the form");
        f.set("corpus", "arithmetic".into());
        assert_eq!(f.to_config().unwrap().corpus, CorpusSource::Builtin("arithmetic".into()));
        assert_eq!(f.own_text().text, "line one\nline two\n", "another corpus keeps the text for later");
    }

    #[test]
    fn empty_and_oversized_text_get_their_messages_and_keep_the_text() {
        let errors = own_text_form("").to_config().unwrap_err();
        assert_eq!(fields(&errors), [OWN_TEXT]);
        assert!(errors[0].message.contains("paste some text"), "{}", errors[0].message);

        let big = "abc\n".repeat(MAX_TEXT_BYTES / 4 + 1);
        let mut f = own_text_form(&big);
        let errors = f.to_config().unwrap_err();
        assert_eq!(fields(&errors), [OWN_TEXT]);
        assert!(errors[0].message.contains("2 MB (2000004 bytes)"), "{}", errors[0].message);
        assert!(errors[0].message.contains("at most 2 MB (2000000 bytes)"), "{}", errors[0].message);
        assert_eq!(f.own_text().text, big, "the text stays to be shortened");
        f.set_own_text(big[..MAX_TEXT_BYTES].to_string());
        assert!(f.to_config().is_ok(), "exactly the limit is accepted");
    }

    #[test]
    fn a_bad_file_leaves_the_text_as_it_was() {
        let mut f = own_text_form("my pasted words\n");
        assert!(!f.accept_file_size("big.txt", MAX_TEXT_BYTES as u64 + 1));
        let message = f.own_text_message().unwrap();
        assert!(message.contains("'big.txt' is 2 MB (2000001 bytes)") && message.contains("unchanged"), "{message}");
        f.read_file("huge.txt", vec![b'a'; MAX_TEXT_BYTES + 10]);
        assert!(f.own_text_message().unwrap().contains("'huge.txt'"));
        f.read_file("image.png", vec![b'o', b'k', 0xff, 0xfe]);
        let message = f.own_text_message().unwrap();
        assert!(message.contains("'image.png' is not UTF-8 text (byte 2"), "{message}");
        assert_eq!((f.own_text().name.as_str(), f.own_text().text.as_str()), (PASTED, "my pasted words\n"));
        assert_eq!(f.to_config().unwrap().corpus.name(), PASTED, "a refused file does not stop the pasted text");
        f.set_own_text("my pasted words, edited\n".into());
        assert_eq!(f.own_text_message(), None, "the message goes with the next text");
    }

    #[test]
    fn a_scenario_keeps_the_pasted_text_but_not_its_choice() {
        let pasted = own_text_form("words I pasted\n");
        let shown = RunForm::show_me("no-causal-mask").keeping_own_text(&pasted);
        assert!(!shown.uses_own_text(), "the scenario's own corpus is chosen");
        assert_eq!(shown.own_text().text, "words I pasted\n");
        assert_eq!(shown.to_config(), RunForm::show_me("no-causal-mask").to_config());
        let mine = CorpusSource::Text { name: "mine".into(), text: "my run's text\n".into() };
        let run = RunForm::from_config(&RunConfig { corpus: mine.clone(), ..RunConfig::default() });
        assert_eq!(run.keeping_own_text(&pasted).to_config().unwrap().corpus, mine, "a run's own text wins");
    }

    #[test]
    fn the_link_leaves_the_own_text_out() {
        let mut f = own_text_form("a secret diary that must not travel in a link\n");
        f.set("lr", "0.02".into());
        let query = f.to_query();
        assert!(!query.iter().any(|(k, v)| k == "corpus" || v.contains("diary")), "{query:?}");
        assert!(query.contains(&("lr".to_string(), "0.02".to_string())), "the rest is still there: {query:?}");
        let (back, notices) = RunForm::from_query(&query);
        assert_eq!(notices, Vec::<String>::new());
        let config = back.to_config().unwrap();
        assert_eq!((config.corpus, config.lr), (RunConfig::default().corpus, 0.02));
    }

    #[test]
    fn sizes_are_in_decimal_units() {
        assert_eq!(human_bytes(812), "812 bytes");
        assert_eq!(human_bytes(12_345), "12.3 KB");
        assert_eq!(human_bytes(MAX_TEXT_BYTES as u64), "2 MB");
        assert_eq!(human_bytes(2_100_000), "2.1 MB");
        assert_eq!(own_text_form("héllo").own_text().size_line(), "5 characters, 6 bytes of at most 2 MB");
    }

    #[test]
    fn own_text_is_kept_and_bad_stored_text_is_refused_with_a_reason() {
        let mut f = RunForm::default();
        f.read_file("poems.txt", "Roses are red. ".repeat(1000).into_bytes());
        let kept = OwnText::from_stored(&f.own_text().to_stored()).unwrap();
        assert_eq!(&kept, f.own_text());
        let mut restored = RunForm::default();
        restored.restore_own_text(kept);
        assert_eq!(restored.own_text().name, "poems.txt");
        for (bad, why) in [
            ("{", "could not be read"),
            (r#"{"version":2,"name":"x","text":"y"}"#, "newer version"),
            (r#"{"name":"x"}"#, "could not be read"),
        ] {
            let err = OwnText::from_stored(bad).unwrap_err();
            assert!(err.contains(why), "{bad}: {err}");
        }
        let huge = OwnText { name: PASTED.into(), text: "a".repeat(MAX_TEXT_BYTES + 1), file_problem: None };
        assert!(OwnText::from_stored(&huge.to_stored()).unwrap_err().contains("at most"));
    }

    #[test]
    fn a_short_text_gets_a_warning_not_an_error() {
        let mut f = RunForm::default();
        f.set_own_text("to be or not to be ".repeat(100));
        assert!(f.own_text().error().is_none());
        let warning = f.own_text().warning().expect("1,900 characters is short");
        assert!(warning.starts_with("1900 characters") && warning.contains("10000"), "{warning}");
        f.set_own_text("x".repeat(SMALL_TEXT_CHARS));
        assert_eq!(f.own_text().warning(), None);
        f.set_own_text(String::new());
        assert_eq!(f.own_text().warning(), None, "an empty text gets its error instead");
    }
}
