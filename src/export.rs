//! A run's telemetry as files the learner can keep: every step as CSV (with the validation loss on the
//! evaluation steps), and the whole run as JSON (settings as link pairs, every step, every evaluation,
//! the detector's findings and where the run stopped); a kept run as JSON, as the Runs panel keeps it;
//! and the names of those files and of the run's checkpoint.

use crate::kept_runs::RunRecord;
use crate::run_view::RunView;
use faultline_engine::settings::SettingKey;
use faultline_engine::RunConfig;
use serde::Serialize;

/// Every step of the run, one CSV row each: the batch's loss, the gradient norm before clipping, the
/// learning rate, the tokens, and the validation loss where an evaluation measured one.
pub fn steps_csv(view: &RunView) -> String {
    let mut out = String::from("step,train_loss,grad_norm,lr,tokens,val_loss\n");
    for s in &view.steps {
        let val = view.evals.iter().find(|e| e.step == s.step).and_then(|e| e.val_loss);
        out.push_str(&format!(
            "{},{},{},{},{},{}\n",
            s.step,
            s.loss,
            s.grad_norm,
            s.lr,
            s.tokens,
            val.map(|v| v.to_string()).unwrap_or_default()
        ));
    }
    out
}

#[derive(Serialize)]
struct RunFile<'a> {
    format: &'static str,
    /// The settings as a link carries them (`key`, `value`), faults included.
    settings: Vec<(String, String)>,
    steps_done: usize,
    steps: &'a [faultline_engine::StepRecord],
    evals: &'a [faultline_engine::EvalRecord],
    findings: &'a [faultline_engine::diagnosis::Finding],
    stopped: Option<String>,
}

/// The whole run as JSON, for reading elsewhere (`format` names this layout).
pub fn run_json(view: &RunView) -> String {
    let file = RunFile {
        format: "faultline-run-v1",
        settings: view.config.as_ref().map(|c| c.to_pairs()).unwrap_or_default(),
        steps_done: view.steps_done,
        steps: &view.steps,
        evals: &view.evals,
        findings: view.findings(),
        stopped: view.stop.as_ref().map(|s| format!("NaN/Inf in {} at step {}", s.tensor, s.step)),
    };
    serde_json::to_string_pretty(&file).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
}

#[derive(Serialize)]
struct KeptRunFile<'a> {
    format: &'static str,
    #[serde(flatten)]
    run: &'a RunRecord,
}

/// A kept run as JSON: its label, how it ended, its final losses and finding, and its curves as kept
/// (thinned to at most [`crate::kept_runs::CURVE_POINTS`] points each); `format` names this layout.
pub fn kept_run_json(record: &RunRecord) -> String {
    let file = KeptRunFile { format: "faultline-kept-run-v1", run: record };
    serde_json::to_string_pretty(&file).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
}

/// A file name for this run's exports: its model, corpus and seed, e.g. `faultline-tiny-toy-english-seed1`.
pub fn file_stem(view: &RunView) -> String {
    match &view.config {
        Some(c) => format!("faultline-{}-{}-seed{}", c.get(SettingKey::Config), corpus_name(c), c.seed),
        None => "faultline-run".to_string(),
    }
}

/// A file name for this run's checkpoint at its current step, e.g. `faultline-toy-english-step120.flckpt`.
pub fn checkpoint_file_name(view: &RunView) -> String {
    let corpus = view.config.as_ref().map(corpus_name).unwrap_or_else(|| "run".to_string());
    format!("faultline-{corpus}-step{}.flckpt", view.steps_done)
}

/// The corpus's name fit for a file name: anything but letters, digits, `-` and `_` (a pasted text's
/// "pasted text", an uploaded file's name) becomes `-`.
fn corpus_name(config: &RunConfig) -> String {
    config
        .get(SettingKey::Corpus)
        .chars()
        .map(|ch| if ch.is_ascii_alphanumeric() || ch == '-' || ch == '_' { ch } else { '-' })
        .collect()
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use crate::run_view::trained;
    use faultline_engine::RunConfig;

    /// A short real run, through the worker's own session code, into a page's run view.
    fn real_run() -> RunView {
        trained(RunConfig::from_pairs([("steps", "12"), ("eval-every", "5"), ("seed", "3")]).unwrap())
    }

    #[test]
    fn csv_has_a_row_per_step_and_the_validation_loss_on_evaluation_steps() {
        let view = real_run();
        let csv = steps_csv(&view);
        let rows: Vec<Vec<&str>> = csv.lines().skip(1).map(|l| l.split(',').collect()).collect();
        assert_eq!(rows.len(), 12);
        for (i, row) in rows.iter().enumerate() {
            assert_eq!(row.len(), 6, "{row:?}");
            assert_eq!(row[0], (i + 1).to_string());
            let loss: f32 = row[1].parse().unwrap();
            assert_eq!(loss, view.steps[i].loss, "the CSV carries the measured loss exactly");
        }
        let with_val: Vec<&str> = rows.iter().filter(|r| !r[5].is_empty()).map(|r| r[0]).collect();
        let evals: Vec<String> =
            view.evals.iter().filter(|e| e.val_loss.is_some()).map(|e| e.step.to_string()).collect();
        assert_eq!(with_val, evals);
        assert!(!with_val.is_empty(), "the run evaluated");
    }

    #[test]
    fn json_round_trips_the_measurements_and_the_settings() {
        let view = real_run();
        let parsed: serde_json::Value = serde_json::from_str(&run_json(&view)).unwrap();
        assert_eq!(parsed["format"], "faultline-run-v1");
        assert_eq!(parsed["steps"].as_array().unwrap().len(), view.steps.len());
        let back: Vec<faultline_engine::StepRecord> = serde_json::from_value(parsed["steps"].clone()).unwrap();
        // The f32 measurements come back exactly (the f64 phase times only to serde_json's parsing).
        let key = |s: &faultline_engine::StepRecord| (s.step, s.loss, s.grad_norm, s.lr, s.tokens);
        assert_eq!(back.iter().map(key).collect::<Vec<_>>(), view.steps.iter().map(key).collect::<Vec<_>>());
        let pairs: Vec<(String, String)> = serde_json::from_value(parsed["settings"].clone()).unwrap();
        let config = RunConfig::from_pairs(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str()))).unwrap();
        assert_eq!(Some(config), view.config);
        assert_eq!(file_stem(&view), "faultline-tiny-toy-english-seed3");
        let mut own = view.clone();
        if let Some(c) = own.config.as_mut() {
            c.corpus = faultline_engine::config::CorpusSource::Text { name: "my notes.txt".into(), text: "x".into() };
        }
        assert_eq!(file_stem(&own), "faultline-tiny-my-notes-txt-seed3");
        assert_eq!(checkpoint_file_name(&own), "faultline-my-notes-txt-step12.flckpt");
        assert_eq!(checkpoint_file_name(&view), "faultline-toy-english-step12.flckpt");
    }

    #[test]
    fn a_kept_run_exports_as_it_is_kept() {
        let view = real_run();
        let mut history = crate::kept_runs::KeptRuns::default();
        history.add(&view, None).expect("12 steps are kept");
        let record = &history.runs[0];
        let parsed: serde_json::Value = serde_json::from_str(&kept_run_json(record)).unwrap();
        assert_eq!(parsed["format"], "faultline-kept-run-v1");
        assert_eq!(parsed["label"], record.label.as_str());
        assert_eq!(parsed["end"]["state"], "finished");
        let train: Vec<(u32, f32)> = serde_json::from_value(parsed["curves"]["train"].clone()).unwrap();
        let measured: Vec<(u32, f32)> = view.steps.iter().map(|s| (s.step as u32, s.loss)).collect();
        assert_eq!(train, measured, "the measured losses, exactly");
    }
}
