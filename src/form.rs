//! The run settings form as text, and its translation into a [`RunConfig`].
//!
//! Every field is checked on its own, so each shows its own message; the range checks are the engine's
//! [`RunConfig::validate`], so the page says exactly what the command line says.

use faultline_engine::config::CorpusSource;
use faultline_engine::{ConfigError, Preset, RunConfig};

/// The form's fields exactly as typed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunForm {
    pub config: String,
    pub corpus: String,
    pub lr: String,
    pub steps: String,
    pub seed: String,
}

/// The fields, by the names the command line and the error messages use.
pub const FIELDS: [&str; 5] = ["config", "corpus", "lr", "steps", "seed"];

impl Default for RunForm {
    fn default() -> Self {
        let base = RunConfig::preset(Preset::Tiny);
        Self {
            config: Preset::Tiny.id().to_string(),
            corpus: base.corpus.name().to_string(),
            lr: base.lr.to_string(),
            steps: base.steps.to_string(),
            seed: base.seed.to_string(),
        }
    }
}

/// One message per bad field, in [`FIELDS`] order.
pub type FieldErrors = Vec<ConfigError>;

impl RunForm {
    /// The field's current text; empty for an unknown name.
    pub fn get(&self, field: &str) -> &str {
        match field {
            "config" => &self.config,
            "corpus" => &self.corpus,
            "lr" => &self.lr,
            "steps" => &self.steps,
            "seed" => &self.seed,
            _ => "",
        }
    }

    /// Replaces one field's text; unknown names change nothing.
    pub fn set(&mut self, field: &str, value: String) {
        match field {
            "config" => self.config = value,
            "corpus" => self.corpus = value,
            "lr" => self.lr = value,
            "steps" => self.steps = value,
            "seed" => self.seed = value,
            _ => {}
        }
    }

    /// The configuration these fields describe, or a message for every field that is wrong.
    pub fn to_config(&self) -> Result<RunConfig, FieldErrors> {
        let preset = Preset::parse(self.config.trim());
        let mut config = RunConfig::preset(*preset.as_ref().unwrap_or(&Preset::Tiny));
        let mut errors = Vec::new();
        if let Err(e) = preset {
            errors.push(e);
        }
        // Each field is applied to the preset's defaults alone and validated there, so one bad field
        // cannot hide (or be blamed for) another.
        for field in FIELDS.into_iter().filter(|&f| f != "config") {
            let mut alone = RunConfig::preset(config.preset);
            let checked = self.apply(field, &mut alone).and_then(|()| match alone.validate() {
                Err(e) if e.field == field => Err(e),
                _ => Ok(()),
            });
            if let Err(e) = checked.and_then(|()| self.apply(field, &mut config)) {
                errors.push(e);
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        config.validate().map_err(|e| vec![e])?;
        Ok(config)
    }

    /// Parses one field into `config` (the preset is chosen before the others are applied).
    fn apply(&self, field: &str, config: &mut RunConfig) -> Result<(), ConfigError> {
        match field {
            "corpus" => config.corpus = CorpusSource::Builtin(self.corpus.trim().to_string()),
            "lr" => config.lr = parse_number("lr", &self.lr)?,
            "steps" => config.steps = parse_whole("steps", &self.steps)?,
            "seed" => config.seed = parse_whole("seed", &self.seed)?,
            _ => {}
        }
        Ok(())
    }
}

fn parse_number(field: &str, text: &str) -> Result<f32, ConfigError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(ConfigError::new(field, "needs a value"));
    }
    text.parse::<f32>().map_err(|_| ConfigError::new(field, format!("must be a number, got '{text}'")))
}

fn parse_whole<T: std::str::FromStr>(field: &str, text: &str) -> Result<T, ConfigError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(ConfigError::new(field, "needs a value"));
    }
    text.parse::<T>().map_err(|_| ConfigError::new(field, format!("must be a whole number, got '{text}'")))
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;

    fn form(lr: &str, steps: &str, seed: &str) -> RunForm {
        RunForm { lr: lr.into(), steps: steps.into(), seed: seed.into(), ..RunForm::default() }
    }

    fn fields(errors: &FieldErrors) -> Vec<&str> {
        errors.iter().map(|e| e.field.as_str()).collect()
    }

    #[test]
    fn defaults_make_the_tiny_preset() {
        let config = RunForm::default().to_config().unwrap();
        assert_eq!(config, RunConfig::preset(Preset::Tiny));
    }

    #[test]
    fn values_reach_the_config() {
        let f = RunForm { config: "small".into(), ..form("0.01", "300", "7") };
        let config = f.to_config().unwrap();
        assert_eq!((config.preset, config.lr, config.steps, config.seed), (Preset::Small, 0.01, 300, 7));
        assert_eq!(config.batch_size, Preset::Small.batch_size());
    }

    #[test]
    fn every_bad_field_gets_its_own_message() {
        let errors = form("abc", "", "-1").to_config().unwrap_err();
        assert_eq!(fields(&errors), ["lr", "steps", "seed"]);
        assert!(errors[0].message.contains("'abc'"), "{}", errors[0].message);
        assert_eq!(errors[1].message, "needs a value");
    }

    #[test]
    fn range_checks_use_the_engine_messages() {
        for (lr, steps) in [("NaN", "10"), ("-0.1", "10"), ("inf", "10"), ("0", "10"), ("1e9", "10")] {
            let errors = form(lr, steps, "1").to_config().unwrap_err();
            assert_eq!(fields(&errors), ["lr"], "lr = {lr}");
        }
        let errors = form("0.001", "0", "1").to_config().unwrap_err();
        let expected = RunConfig { steps: 0, ..RunConfig::default() }.validate().unwrap_err();
        assert_eq!(errors, vec![expected]);
        assert_eq!(fields(&form("0.001", "1.5", "1").to_config().unwrap_err()), ["steps"]);
    }

    #[test]
    fn unknown_config_and_corpus_are_named() {
        let f = RunForm { config: "huge".into(), corpus: "nope".into(), ..RunForm::default() };
        assert_eq!(fields(&f.to_config().unwrap_err()), ["config", "corpus"]);
    }

    #[test]
    fn get_and_set_address_the_same_field() {
        let mut f = RunForm::default();
        for field in FIELDS {
            f.set(field, format!("{field}!"));
            assert_eq!(f.get(field), format!("{field}!"));
        }
    }
}
