//! `faultline faults | settings | corpora | guide | exercises`: the tables the app is built from, as text
//! or JSON.

use crate::args::{only_json, Failure};
use crate::out;
use faultline_engine::config::RunConfig;
use faultline_engine::data::CorpusId;
use faultline_engine::faults::{Stage, FAULTS};
use faultline_engine::guide::{self};
use faultline_engine::settings::SETTINGS;
use faultline_exercises::{Answer, EXERCISES};
use serde_json::json;
use std::io::Write;

pub(crate) fn faults(rest: &[String]) -> Result<(), Failure> {
    if only_json(rest, "faults")? {
        out!("{}", serde_json::to_string_pretty(FAULTS).expect("fault table serialises"))?;
        return Ok(());
    }
    for (stage, heading) in [
        (Stage::Pretraining, "pretraining (faultline train)"),
        (Stage::FineTuning, "fine-tuning (faultline align dpo|rl)"),
    ] {
        out!("{heading}:")?;
        for f in stage.faults() {
            let strength = f
                .strength
                .map(|s| format!(" [={} {}..{}, default {}]", s.unit, s.min, s.max, s.default))
                .unwrap_or_default();
            out!("  {:<24} {:<44} {}{}", f.id.as_str(), f.guide_entry.as_str(), f.summary, strength)?;
        }
    }
    Ok(())
}

pub(crate) fn settings_cmd(rest: &[String]) -> Result<(), Failure> {
    if only_json(rest, "settings")? {
        out!("{}", serde_json::to_string_pretty(SETTINGS).expect("settings serialise"))?;
        return Ok(());
    }
    let defaults = RunConfig::default();
    for (stage, heading) in
        [(Stage::Pretraining, "pretraining"), (Stage::FineTuning, "fine-tuning (faultline align dpo|rl)")]
    {
        out!("{heading}:")?;
        for s in SETTINGS.iter().filter(|s| s.stage == stage) {
            out!("  --{:<20} {:<12} {}", s.key.as_str(), defaults.get(s.key), s.help)?;
        }
    }
    Ok(())
}

pub(crate) fn corpora(rest: &[String]) -> Result<(), Failure> {
    let json = only_json(rest, "corpora")?;
    let rows: Vec<_> = CorpusId::ALL
        .iter()
        .map(|&id| {
            let g = id.generate();
            let vocab = faultline_engine::data::Tokenizer::for_text(&g.text).vocab_size();
            json!({"id": id.id(), "description": id.description(), "chars": g.text.chars().count(),
                   "vocab_size": vocab, "entropy_rate": g.entropy_rate})
        })
        .collect();
    if json {
        out!("{}", serde_json::to_string_pretty(&rows).expect("rows serialise"))?;
    } else {
        for r in &rows {
            out!(
                "{:<12} {:>8} chars  vocab {:>3}  entropy rate {:.4} nats/char  {}",
                r["id"].as_str().unwrap_or_default(),
                r["chars"],
                r["vocab_size"],
                r["entropy_rate"].as_f64().unwrap_or(f64::NAN),
                r["description"].as_str().unwrap_or_default()
            )?;
        }
    }
    Ok(())
}

pub(crate) fn guide_cmd(rest: &[String]) -> Result<(), Failure> {
    if only_json(rest, "guide")? {
        let doc = json!({
            "entries": guide::ENTRIES,
            "quick_diagnosis": guide::QUICK_DIAGNOSIS,
            "checklist": guide::CHECKLIST,
            "measured": faultline_engine::faults::measured::MEASURED,
        });
        out!("{}", serde_json::to_string_pretty(&doc).expect("guide serialises"))?;
        return Ok(());
    }
    for e in guide::ENTRIES {
        out!("{:<58} {} — {}", e.id, e.section, e.title)?;
    }
    Ok(())
}

/// The exercises as the app lists them: for each its id, title, guide entries and prediction (the
/// options and the right one's index for a choice; `numeric` and the unit for a typed number).
pub(crate) fn exercises(rest: &[String]) -> Result<(), Failure> {
    let json = only_json(rest, "exercises")?;
    let rows: Vec<_> = EXERCISES
        .iter()
        .map(|e| {
            let unit = match e.prediction.answer {
                Answer::Number { unit, .. } => Some(unit),
                Answer::Choice { .. } => None,
            };
            json!({
                "id": e.id,
                "title": e.title,
                "section": e.section,
                "entries": e.entries,
                "prediction": {
                    "question": e.prediction.question,
                    "options": e.prediction.options(),
                    "answer": e.prediction.right(),
                    "numeric": e.prediction.is_numeric(),
                    "unit": unit,
                },
            })
        })
        .collect();
    if json {
        out!("{}", serde_json::to_string_pretty(&rows).expect("rows serialise"))?;
        return Ok(());
    }
    for e in EXERCISES {
        let entries: Vec<&str> = e.entries.iter().map(|id| id.as_str()).collect();
        out!("{:<14} {:<48} {}", e.id.as_str(), e.title, entries.join(", "))?;
    }
    Ok(())
}
