//! The run settings form as text, and its translation into a [`RunConfig`].
//!
//! The fields are the engine's settings table ([`SettingKey`]) and fault table
//! ([`FAULTS`], by [`FaultId`]); each text is parsed by [`RunConfig::set`] and
//! [`Faults::set`](faultline_engine::Faults::set), and a link's query by the engine's one parser,
//! [`Change::parse`], so the page says exactly what the command line and the URL say. Every field is
//! checked on its own, so each shows its own message. The learner's own text is [`own_text`]. The
//! trainer's form and the alignment page's are two [`FormKind`]s: the same fields, other defaults.

mod own_text;

pub use own_text::{human_bytes, OwnText, OWN_TEXT, OWN_TEXT_KEY, PASTED, SMALL_TEXT_CHARS};

use faultline_engine::align::{DpoSettings, Method, RlSettings, DEFAULT_CORPUS, RL_DEFAULT_CORPUS};
use faultline_engine::config::CorpusSource;
use faultline_engine::faults::{FaultId, FaultSpec, Stage, FAULTS};
use faultline_engine::settings::{Change, SettingKey, SettingKind, FAULT_KEY};
use faultline_engine::{ConfigError, RunConfig};

/// The settings shown first; the rest sit under "More settings".
pub const MAIN_SETTINGS: [SettingKey; 6] = [
    SettingKey::Config,
    SettingKey::Corpus,
    SettingKey::Lr,
    SettingKey::Steps,
    SettingKey::Seed,
    SettingKey::Optimizer,
];

/// The `data-error-for` name of a fault's strength field.
pub fn fault_field(id: FaultId) -> String {
    format!("fault-{id}")
}

/// One fault's switch and strength, as shown.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FaultToggle {
    pub id: FaultId,
    pub on: bool,
    /// The strength as typed; unused for faults without one.
    pub strength: String,
}

/// Which page a form belongs to: its defaults, which its link leaves out.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum FormKind {
    /// The trainer, and every page that starts its runs: the engine's defaults.
    #[default]
    Trainer,
    /// The alignment page with a fine-tuning method: `steps` counts the method's steps that follow
    /// the base model's `pretrain-steps` (as `faultline align dpo|rl --steps` does), and the corpus is
    /// the method's own: sorting for DPO, where it measurably helps; toy English for the policy
    /// gradient, whose base model writes sentences the grammar mostly accepts.
    Alignment(Method),
}

impl FormKind {
    /// The settings a form of this kind starts from.
    pub fn defaults(self) -> RunConfig {
        match self {
            FormKind::Trainer => RunConfig::default(),
            FormKind::Alignment(Method::Dpo) => RunConfig {
                corpus: CorpusSource::Builtin(DEFAULT_CORPUS.id().to_string()),
                steps: DpoSettings::default().steps,
                ..RunConfig::default()
            },
            FormKind::Alignment(Method::Rl) => RunConfig {
                corpus: CorpusSource::Builtin(RL_DEFAULT_CORPUS.id().to_string()),
                steps: RlSettings::default().steps,
                ..RunConfig::default()
            },
        }
    }

    /// The page where fault `id` breaks the computation.
    pub fn of_fault(id: FaultId) -> FormKind {
        match id.spec().stage {
            Stage::Pretraining => FormKind::Trainer,
            Stage::FineTuning => FormKind::Alignment(Method::of(id.spec().guide_entry).unwrap_or(Method::Dpo)),
        }
    }
}

/// The form's fields exactly as typed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunForm {
    kind: FormKind,
    /// One text per setting, in the order of [`SettingKey::ALL`].
    values: Vec<String>,
    /// One switch per fault, in the order of [`FaultId::ALL`].
    faults: Vec<FaultToggle>,
    /// Used when `corpus` is [`OWN_TEXT`]; kept when another corpus is chosen.
    own: OwnText,
}

/// One message per bad field: settings in [`SettingKey::ALL`] order, then faults (named `fault-<id>`).
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
    /// A form of `kind` at its defaults.
    pub fn new(kind: FormKind) -> Self {
        Self { kind, ..Self::from_config(&kind.defaults()) }
    }

    /// The fields of a form of `kind` that describe `config` (an alignment run kept by an exercise).
    pub fn from_config_in(kind: FormKind, config: &RunConfig) -> Self {
        Self { kind, ..Self::from_config(config) }
    }

    /// Which page the form belongs to.
    pub fn kind(&self) -> FormKind {
        self.kind
    }

    /// The fine-tuning method of an alignment page's form; none for the trainer's.
    pub fn method(&self) -> Option<Method> {
        match self.kind {
            FormKind::Trainer => None,
            FormKind::Alignment(method) => Some(method),
        }
    }

    /// Moves an alignment page's form to `method`: every setting still at the old method's default
    /// (the corpus, the steps) takes the new one's, and the other method's faults go off, since a
    /// run of `method` refuses them. The trainer's form stays as it is.
    pub fn switch_method(&mut self, method: Method) {
        let Some(old) = self.method().filter(|&old| old != method) else { return };
        let kind = FormKind::Alignment(method);
        let mut defaults = kind.defaults();
        if defaults.set(SettingKey::Config, self.get(SettingKey::Config)).is_ok() {
            let kept: Vec<SettingKey> =
                SettingKey::ALL.iter().copied().filter(|&key| !self.differs_from_default(key)).collect();
            for key in kept {
                self.values[key.index()] = defaults.get(key);
            }
        }
        for spec in old.faults() {
            self.set_fault(spec.id, false);
        }
        self.kind = kind;
    }

    /// The trainer's fields that describe `config`.
    pub fn from_config(config: &RunConfig) -> Self {
        let active = config.faults.active();
        let own = match &config.corpus {
            CorpusSource::Text { name, text } => {
                Some(OwnText { name: name.clone(), text: text.clone(), file_problem: None })
            }
            CorpusSource::Builtin(_) => None,
        };
        let value = |key: SettingKey| match key {
            SettingKey::Corpus if own.is_some() => OWN_TEXT.to_string(),
            _ => config.get(key),
        };
        Self {
            kind: FormKind::Trainer,
            values: SettingKey::ALL.iter().map(|&key| value(key)).collect(),
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
        self.get(SettingKey::Corpus) == OWN_TEXT
    }

    pub fn own_text(&self) -> &OwnText {
        &self.own
    }

    /// The own text, to type into or read a file into.
    pub fn own_text_mut(&mut self) -> &mut OwnText {
        &mut self.own
    }

    /// Puts back a text kept from an earlier visit.
    pub fn restore_own_text(&mut self, own: OwnText) {
        self.own = own;
    }

    /// The trainer's form a link's query describes: see [`RunForm::from_query_in`].
    pub fn from_query(pairs: &[(String, String)]) -> (Self, Vec<String>) {
        Self::from_query_in(FormKind::Trainer, pairs)
    }

    /// The form of `kind` a link's query describes: its defaults, then `config`, then every setting it
    /// names and every `fault=ID[=VALUE]`, read by [`Change::parse`]. A parameter the form cannot take
    /// (an unknown key or fault, a value out of range) keeps its default and gets a notice saying so;
    /// nothing else is lost.
    pub fn from_query_in(kind: FormKind, pairs: &[(String, String)]) -> (Self, Vec<String>) {
        let mut form = Self::new(kind);
        let mut notices = Vec::new();
        let mut notice = |k: &str, v: &str, why: String| notices.push(format!("The link's {k}={v}: {why}."));
        let config = SettingKey::Config.as_str();
        for (k, v) in pairs.iter().filter(|(k, _)| k == config) {
            match set_checked(&mut RunConfig::default(), SettingKey::Config, v) {
                Ok(()) => form.set(SettingKey::Config, v.clone()),
                Err(e) => notice(k, v, format!("{}; using {}", e.message, form.get(SettingKey::Config))),
            }
        }
        let base = form.to_config().unwrap_or_default();
        for (k, v) in pairs.iter().filter(|(k, _)| k != config) {
            match Change::parse(k, v) {
                Ok(Change::Setting(key, value)) => match field_error(&base, key, value) {
                    None => form.set(key, value.to_string()),
                    Some(e) => notice(k, v, format!("{}; using the default {}", e.message, form.get(key))),
                },
                Ok(Change::Fault(id, strength)) => {
                    let mut trial = form.clone();
                    trial.turn_on(id, strength);
                    match trial.apply_fault(trial.fault(id), &mut base.clone()) {
                        Err(why) if strength.is_some() => {
                            form.set_fault(id, true);
                            notice(k, v, format!("{why}; using the default {}", strength_text(id.spec(), None)));
                        }
                        _ => form = trial,
                    }
                }
                Err(e) if k == FAULT_KEY => {
                    match v.split_once('=').and_then(|(id, _)| id.trim().parse::<FaultId>().ok()) {
                        Some(id) => {
                            form.set_fault(id, true);
                            let default = strength_text(FaultId::spec(id), None);
                            notice(k, v, format!("{}; using the default {default}", e.message));
                        }
                        None => {
                            let id = v.split('=').next().unwrap_or(v).trim();
                            notice(k, v, format!("there is no fault called '{id}'; ignored"))
                        }
                    }
                }
                Err(_) => notice(k, v, format!("'{k}' is not a setting; ignored")),
            }
        }
        (form, notices)
    }

    /// The query that describes this form in a link: the model, every setting that differs from the
    /// default of its kind with that model (as typed), the seed, and every fault that is on (with its strength when it is
    /// not the default). [`RunForm::from_query`] reads it back. The learner's own text is too big for
    /// a link: with it chosen, the link names no corpus (and so opens on the default one).
    pub fn to_query(&self) -> Vec<(String, String)> {
        let pair = |key: SettingKey| (key.to_string(), self.get(key).trim().to_string());
        let mut pairs = vec![pair(SettingKey::Config)];
        let in_link =
            |key: SettingKey| key != SettingKey::Config && !(key == SettingKey::Corpus && self.uses_own_text());
        for &key in SettingKey::ALL.iter().filter(|&&key| in_link(key)) {
            if key == SettingKey::Seed || self.differs_from_default(key) {
                pairs.push(pair(key));
            }
        }
        for toggle in self.faults.iter().filter(|t| t.on) {
            let default = strength_text(toggle.id.spec(), None);
            let strength = toggle.strength.trim();
            let arg = if strength.is_empty() || strength == default {
                toggle.id.to_string()
            } else {
                format!("{}={strength}", toggle.id)
            };
            pairs.push((FAULT_KEY.to_string(), arg));
        }
        pairs
    }

    /// A setting's current text.
    pub fn get(&self, key: SettingKey) -> &str {
        &self.values[key.index()]
    }

    /// Replaces one setting's text. Choosing another model also moves the batch size to that model's,
    /// unless the learner has changed it.
    pub fn set(&mut self, key: SettingKey, value: String) {
        if key == SettingKey::Config {
            let batch_of = |preset: &str| {
                let mut c = RunConfig::default();
                c.set(SettingKey::Config, preset).ok().map(|()| c.batch_size.to_string())
            };
            let (old, new) = (batch_of(self.get(SettingKey::Config)), batch_of(value.trim()));
            if let (Some(old), Some(new)) = (old, new) {
                if self.get(SettingKey::Batch) == old {
                    self.set(SettingKey::Batch, new);
                }
            }
        }
        self.values[key.index()] = value;
    }

    /// Whether a setting differs from its default for the form's kind and the chosen model.
    pub fn differs_from_default(&self, key: SettingKey) -> bool {
        let mut base = self.kind.defaults();
        if base.set(SettingKey::Config, self.get(SettingKey::Config)).is_err() {
            return false;
        }
        base.get(key) != self.get(key).trim()
    }

    pub fn fault(&self, id: FaultId) -> &FaultToggle {
        &self.faults[id.index()]
    }

    pub fn set_fault(&mut self, id: FaultId, on: bool) {
        self.faults[id.index()].on = on;
    }

    pub fn set_strength(&mut self, id: FaultId, text: String) {
        self.faults[id.index()].strength = text;
    }

    /// Turns fault `id` on, at `strength` or the strength already typed.
    fn turn_on(&mut self, id: FaultId, strength: Option<f32>) {
        self.set_fault(id, true);
        if let Some(v) = strength {
            self.set_strength(id, v.to_string());
        }
    }

    /// Applies one change (a setting's text, or a fault switched on) to the fields.
    pub fn apply(&mut self, change: Change<'_>) {
        match change {
            Change::Setting(key, value) => self.set(key, value.to_string()),
            Change::Fault(id, strength) => self.turn_on(id, strength),
        }
    }

    /// Sets the form up to show fault `id`'s symptom: the defaults of the page where the fault lives
    /// (the trainer, or the alignment page for a fine-tuning fault), the fault on, and the settings
    /// (and other faults) of its scenario.
    pub fn show_me(id: FaultId) -> Self {
        let mut form = Self::new(FormKind::of_fault(id));
        form.add_scenario(id);
        form
    }

    /// Turns fault `id` on with the settings (and other faults) of its scenario, over what the fields
    /// already hold; the scenario's model first, since choosing a model moves the batch size.
    pub fn add_scenario(&mut self, id: FaultId) {
        let scenario = id.spec().scenario;
        let is_model = |c: &Change| matches!(c, Change::Setting(SettingKey::Config, _));
        for change in scenario.changes().filter(is_model).chain(scenario.changes().filter(|c| !is_model(c))) {
            self.apply(change);
        }
        self.set_fault(id, true);
    }

    /// The configuration these fields describe, or a message for every field that is wrong.
    pub fn to_config(&self) -> Result<RunConfig, FieldErrors> {
        let mut errors = Vec::new();
        let mut config = RunConfig::default();
        if let Err(e) = set_checked(&mut config, SettingKey::Config, self.get(SettingKey::Config)) {
            errors.push(e);
        }
        let base = config.clone();
        for &key in SettingKey::ALL.iter().filter(|&&key| key != SettingKey::Config) {
            let text = self.get(key);
            if key == SettingKey::Corpus && self.uses_own_text() {
                match self.own.error() {
                    Some(message) => errors.push(ConfigError::new(OWN_TEXT, message)),
                    None => {
                        config.corpus = CorpusSource::Text { name: self.own.name.clone(), text: self.own.text.clone() }
                    }
                }
            } else if let Some(e) = field_error(&base, key, text) {
                errors.push(e);
            } else if let Err(e) = set_checked(&mut config, key, text) {
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
        let value = match toggle.id.spec().strength {
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
fn field_error(base: &RunConfig, key: SettingKey, text: &str) -> Option<ConfigError> {
    let mut alone = base.clone();
    set_checked(&mut alone, key, text)
        .and_then(|()| match alone.validate() {
            Err(e) if e.field == key.as_str() => Err(e),
            _ => Ok(()),
        })
        .err()
}

/// [`RunConfig::set`], with an empty field reported as such rather than as a malformed value.
fn set_checked(config: &mut RunConfig, key: SettingKey, text: &str) -> Result<(), ConfigError> {
    if text.trim().is_empty() && key.setting().kind != SettingKind::Flag {
        return Err(ConfigError::new(key.as_str(), "needs a value"));
    }
    config.set(key, text)
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests;
