//! The generation panel's fields as typed, and their translation into a [`SampleRequest`].
//!
//! The decoding fields are rows of the engine's settings table, parsed by [`RunConfig::set`], so they
//! take the same values and give the same messages as the run settings, the command line and the URL.

use crate::form::FieldErrors;
use crate::protocol::SampleRequest;
use faultline_engine::sampling::SamplingConfig;
use faultline_engine::settings::SettingKey;
use faultline_engine::settings::SettingKind;
use faultline_engine::telemetry::SampleStats;
use faultline_engine::{ConfigError, RunConfig};

/// The settings-table rows the panel shows, in order; `sample-tokens` is the length to generate.
pub const GENERATION_KEYS: [SettingKey; 6] = [
    SettingKey::SampleTokens,
    SettingKey::Temperature,
    SettingKey::TopK,
    SettingKey::TopP,
    SettingKey::RepetitionPenalty,
    SettingKey::Greedy,
];

/// Tokens generated unless the learner asks for another number.
pub const DEFAULT_LENGTH: usize = 200;

/// The longest prompt accepted, in characters.
pub const MAX_PROMPT_CHARS: usize = 2_000;

/// The element id of a generation field (`gen-temperature`), apart from the run settings' own.
pub fn field_id(key: &str) -> String {
    format!("gen-{key}")
}

/// The panel's fields exactly as typed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GenerateForm {
    pub prompt: String,
    values: Vec<(SettingKey, String)>,
}

impl Default for GenerateForm {
    fn default() -> Self {
        Self::with_decoding(&RunConfig::default().sampling)
    }
}

impl GenerateForm {
    /// The fields for decoding with `sampling`, no prompt and the default length.
    pub fn with_decoding(sampling: &SamplingConfig) -> Self {
        let config = RunConfig { sampling: sampling.clone(), ..RunConfig::default() };
        let values = GENERATION_KEYS
            .iter()
            .map(|&k| {
                let text = if k == SettingKey::SampleTokens { DEFAULT_LENGTH.to_string() } else { config.get(k) };
                (k, text)
            })
            .collect();
        Self { prompt: String::new(), values }
    }

    /// A field's current text; empty for a setting the panel does not show.
    pub fn get(&self, key: SettingKey) -> &str {
        self.values.iter().find(|(k, _)| *k == key).map_or("", |(_, v)| v.as_str())
    }

    /// Replaces one field's text; settings the panel does not show change nothing.
    pub fn set(&mut self, key: SettingKey, value: String) {
        if let Some((_, v)) = self.values.iter_mut().find(|(k, _)| *k == key) {
            *v = value;
        }
    }

    /// Greedy decoding is on (temperature, top-k and top-p are then unused).
    pub fn greedy(&self) -> bool {
        matches!(self.get(SettingKey::Greedy).trim(), "on" | "true" | "1")
    }

    /// The request these fields describe, or one message per bad field (named by its settings key, or
    /// `prompt`).
    pub fn to_request(&self, seed: u64) -> Result<SampleRequest, FieldErrors> {
        let mut errors = Vec::new();
        let mut config = RunConfig::default();
        for key in GENERATION_KEYS {
            let text = self.get(key);
            let flag = key.setting().kind == SettingKind::Flag;
            let checked = if text.trim().is_empty() && !flag {
                Err(ConfigError::new(key.as_str(), "needs a value"))
            } else {
                config.set(key, text)
            };
            if let Err(e) = checked {
                errors.push(e);
            }
        }
        let length = SettingKey::SampleTokens.as_str();
        if config.sample_tokens == 0 && !errors.iter().any(|e| e.field == length) {
            errors.push(ConfigError::new(length, "must be at least 1 to generate anything"));
        }
        if self.prompt.chars().count() > MAX_PROMPT_CHARS {
            errors.push(ConfigError::new("prompt", format!("must be at most {MAX_PROMPT_CHARS} characters")));
        }
        if errors.is_empty() {
            if let Err(e) = config.sampling.validate() {
                errors.push(e);
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(SampleRequest {
            prompt: self.prompt.clone(),
            max_new_tokens: config.sample_tokens,
            sampling: config.sampling,
            seed,
        })
    }
}

/// A rate in [0, 1] as the meter's percentage, one decimal.
pub fn percent(rate: f32) -> String {
    format!("{:.1} %", 100.0 * rate.clamp(0.0, 1.0))
}

/// What the decoding kept of the model's uncertainty, in words.
pub fn entropy_text(stats: &SampleStats) -> String {
    format!(
        "The sampler drew from {:.2} nats per token of the model's {:.2}.",
        stats.sampler_entropy, stats.model_entropy
    )
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;

    fn fields(errors: &FieldErrors) -> Vec<&str> {
        errors.iter().map(|e| e.field.as_str()).collect()
    }

    #[test]
    fn the_defaults_make_the_runs_own_decoding() {
        let form = GenerateForm { prompt: "the ".into(), ..GenerateForm::default() };
        let request = form.to_request(7).unwrap();
        assert_eq!(request.sampling, SamplingConfig::default());
        assert_eq!((request.prompt.as_str(), request.max_new_tokens, request.seed), ("the ", DEFAULT_LENGTH, 7));
        assert!(!form.greedy());
        let cold =
            SamplingConfig { greedy: true, temperature: 0.1, repetition_penalty: 1.3, ..SamplingConfig::default() };
        assert_eq!(
            GenerateForm::with_decoding(&cold).to_request(7).unwrap().sampling,
            cold,
            "a run's decoding, as fields"
        );
    }

    #[test]
    fn every_field_reaches_the_request() {
        let mut form = GenerateForm::default();
        let values = [
            (SettingKey::SampleTokens, "40"),
            (SettingKey::Temperature, "1.5"),
            (SettingKey::TopK, "5"),
            (SettingKey::TopP, "0.9"),
        ];
        for (k, v) in values {
            form.set(k, v.into());
        }
        form.set(SettingKey::RepetitionPenalty, "1.3".into());
        form.set(SettingKey::Greedy, "on".into());
        let r = form.to_request(1).unwrap();
        let expected = SamplingConfig { greedy: true, temperature: 1.5, top_k: 5, top_p: 0.9, repetition_penalty: 1.3 };
        assert_eq!((r.max_new_tokens, r.sampling), (40, expected));
        assert!(form.greedy());
    }

    #[test]
    fn bad_fields_get_the_settings_tables_messages_and_keep_their_text() {
        let mut form = GenerateForm::default();
        form.set(SettingKey::Temperature, "hot".into());
        form.set(SettingKey::TopP, "0".into());
        form.set(SettingKey::SampleTokens, "".into());
        form.set(SettingKey::RepetitionPenalty, "NaN".into());
        let errors = form.to_request(1).unwrap_err();
        assert_eq!(fields(&errors), ["sample-tokens", "temperature", "top-p", "repetition-penalty"]);
        let mut direct = RunConfig::default();
        assert_eq!(errors[1], direct.set(SettingKey::Temperature, "hot").unwrap_err());
        assert_eq!(errors[2], direct.set(SettingKey::TopP, "0").unwrap_err());
        assert_eq!(errors[0].message, "needs a value");
        assert_eq!(form.get(SettingKey::Temperature), "hot", "the typed text stays");
        form.set(SettingKey::SampleTokens, "0".into());
        form.set(SettingKey::Temperature, "1".into());
        form.set(SettingKey::TopP, "1".into());
        form.set(SettingKey::RepetitionPenalty, "1".into());
        assert_eq!(fields(&form.to_request(1).unwrap_err()), ["sample-tokens"]);
        form.set(SettingKey::SampleTokens, "10".into());
        form.prompt = "x".repeat(MAX_PROMPT_CHARS + 1);
        assert_eq!(fields(&form.to_request(1).unwrap_err()), ["prompt"]);
    }

    #[test]
    fn the_meter_reads_as_a_percentage() {
        assert_eq!(percent(0.1234), "12.3 %");
        assert_eq!(percent(0.0), "0.0 %");
        assert_eq!(percent(1.0), "100.0 %");
    }
}
