//! `faultline train`: a fresh or resumed run, its per-step JSON lines and its summary, which a run that
//! fails still prints.

use crate::args::{ArgError, Args, Failure};
use crate::out;
use faultline_engine::backend::{Backend, CpuBackend};
use faultline_engine::config::{CorpusSource, RunConfig};
use faultline_engine::data::Dataset;
use faultline_engine::diagnosis::diagnose;
use faultline_engine::faults::Stage;
use faultline_engine::guide::EntryId;
use faultline_engine::settings::{setting, SettingKind};
use faultline_engine::telemetry::History;
use faultline_engine::trainer::{native_clock, Trainer};
use faultline_engine::{EngineError, RunSummary};
use serde_json::{json, Value};
use std::io::Write;

pub(crate) fn train(rest: &[String]) -> Result<(), Failure> {
    let mut pairs: Vec<(&str, &str)> = Vec::new();
    let mut json = false;
    let mut text_file: Option<&str> = None;
    let mut sample_len = 0usize;
    let mut save_to: Option<&str> = None;
    let mut resume: Option<&str> = None;
    let mut args = Args::new(rest);
    while let Some(flag) = args.next_flag() {
        let key = flag.strip_prefix("--").unwrap_or(flag);
        match key {
            "json" => json = true,
            "sample" => sample_len = args.parse(flag, "a whole number")?,
            "save-checkpoint" => save_to = Some(args.value(flag)?),
            "resume" => resume = Some(args.value(flag)?),
            "text-file" => text_file = Some(args.value(flag)?),
            "fault" => pairs.push(("fault", args.value(flag)?)),
            _ => match setting(key) {
                Some(s) if flag.starts_with("--") && s.stage == Stage::FineTuning => {
                    return Err(ArgError(format!(
                        "{flag}: a fine-tuning setting; it applies to `faultline align dpo`, not to pretraining"
                    ))
                    .into());
                }
                Some(s) if flag.starts_with("--") => {
                    let value = if s.kind == SettingKind::Flag { "on" } else { args.value(flag)? };
                    pairs.push((s.key.as_str(), value));
                }
                _ => return Err(ArgError(format!("{flag}: unknown argument for 'train'")).into()),
            },
        }
    }
    let mut trainer = match resume {
        Some(path) => resumed(path, &pairs, text_file)?,
        None => fresh(&pairs, text_file, json)?,
    };
    if !json {
        if resume.is_some() {
            out!("faultline: resumed from step {} of {}", trainer.steps_done(), trainer.config().steps)?;
        }
        let info = &trainer.dataset().info;
        out!(
            "faultline: {} on '{}' ({} tokenizer, vocab {}, {} parameters, backend {}){}",
            trainer.config().preset.id(),
            info.id,
            info.tokenizer,
            info.vocab_size,
            trainer.param_count(),
            trainer.backend_name(),
            info.entropy_rate.map(|h| format!(", entropy rate {h:.4} nats/char")).unwrap_or_default()
        )?;
    }
    let mut stopped = None;
    while !trainer.is_done() {
        let step = match trainer.step() {
            Ok(rec) => rec,
            Err(e) => {
                stopped = Some(e);
                break;
            }
        };
        if trainer.should_evaluate() {
            let ev = trainer.evaluate();
            if json {
                let mut line = serde_json::to_value(&ev).expect("eval record serialises");
                line["attention"]["probs"] = json!(null);
                line["event"] = json!("eval");
                line["loss"] = json!(step.loss);
                line["lr"] = json!(step.lr);
                out!("{line}")?;
            } else {
                out!(
                    "step {:>6} | batch loss {:.4} | train {:.4} | val {} | grad norm {:.3e} | lr {:.2e} | {:.1} ms/step",
                    ev.step,
                    step.loss,
                    ev.train_loss,
                    ev.val_loss.map(|v| format!("{v:.4}")).unwrap_or_else(|| "-".into()),
                    step.grad_norm,
                    step.lr,
                    step.times.total_ms()
                )?;
            }
        }
    }
    if let Some(path) = save_to {
        let bytes = trainer.checkpoint().map_err(|e| ArgError(format!("--save-checkpoint: {e}")))?;
        std::fs::write(path, bytes).map_err(|e| ArgError(format!("--save-checkpoint: cannot write '{path}': {e}")))?;
        if !json {
            out!("checkpoint of step {} written to {path}", trainer.steps_done())?;
        }
    }
    let mut summary = serde_json::to_value(trainer.summary()).expect("summary serialises");
    if sample_len > 0 && trainer.stopped().is_none() {
        let text = trainer
            .sample("", sample_len, &Default::default(), trainer.config().seed)
            .map_err(|e| ArgError(format!("--sample: {e}")))?;
        if json {
            summary["sample"] = json!(text);
        } else {
            out!("sample:\n{text}")?;
        }
    }
    if json {
        summary["event"] = json!("summary");
        out!("{summary}")?;
    } else {
        let s = trainer.summary();
        out!(
            "done: {} steps, train {}, val {}, {:.0} tokens/s{}",
            s.steps_run,
            s.train_loss.map(|v| format!("{v:.4}")).unwrap_or_else(|| "-".into()),
            s.val_loss.map(|v| format!("{v:.4}")).unwrap_or_else(|| "-".into()),
            s.tokens_per_s,
            s.diverged_at.map(|st| format!(", diverged at step {st}")).unwrap_or_default()
        )?;
    }
    match stopped {
        Some(e) => Err(Failure::Run(format!("run stopped: {e}"))),
        None => Ok(()),
    }
}

/// A new run from the settings on the command line. Under `--json`, one refused for memory prints its
/// summary line before failing, as a run that stops does.
pub(crate) fn fresh(pairs: &[(&str, &str)], text_file: Option<&str>, json: bool) -> Result<Trainer, Failure> {
    let mut cfg = RunConfig::from_pairs(pairs.iter().copied())?;
    if let Some(path) = text_file {
        if pairs.iter().any(|(k, _)| *k == "corpus") {
            return Err(ArgError("--text-file: give either --corpus or --text-file, not both".into()).into());
        }
        let text =
            std::fs::read_to_string(path).map_err(|e| ArgError(format!("--text-file: cannot read '{path}': {e}")))?;
        cfg.corpus = CorpusSource::Text { name: path.to_string(), text };
    }
    cfg.validate()?;
    match Trainer::cpu(cfg.clone(), native_clock) {
        Ok(trainer) => Ok(trainer),
        Err(e) => {
            if json && matches!(e, EngineError::OutOfMemory { .. }) {
                out!("{}", refused_summary(&cfg, e.clone())?)?;
            }
            Err(refusal(e, &cfg))
        }
    }
}

/// The detector's reading of a run refused before its first step: a history that holds nothing but
/// `error`, with the vocabulary of the corpus `cfg` loads (returned with it).
pub(crate) fn diagnose_refused(cfg: &RunConfig, error: EngineError) -> Result<(Dataset, Vec<EntryId>), Failure> {
    let dataset =
        Dataset::load_with(&cfg.corpus, cfg.seed, cfg.model(0).context, &cfg.faults).map_err(|e| refusal(e, cfg))?;
    let history = History { vocab_size: dataset.tokenizer.vocab_size(), stopped: Some(error), ..History::default() };
    let diagnosis = diagnose(&history).into_iter().map(|f| f.entry).collect();
    Ok((dataset, diagnosis))
}

/// The summary line of a run refused for memory, with the keys of a finished run's: the corpus and
/// vocabulary its settings give, the detector's reading of `error`, and null for what no step measured.
pub(crate) fn refused_summary(cfg: &RunConfig, error: EngineError) -> Result<Value, Failure> {
    let (dataset, diagnosis) = diagnose_refused(cfg, error)?;
    let summary = RunSummary {
        steps_run: 0,
        vocab_size: dataset.tokenizer.vocab_size(),
        corpus: dataset.info.id,
        train_loss: None,
        val_loss: None,
        diverged_at: None,
        first_bad_tensor: None,
        tokens_per_s: 0.0,
        entropy_rate: dataset.info.entropy_rate,
        diagnosis,
        backend: CpuBackend::<f32>::new().name(),
    };
    let mut line = serde_json::to_value(summary).expect("summary serialises");
    // No step was timed: the run has no throughput.
    line["tokens_per_s"] = json!(null);
    line["event"] = json!("summary");
    Ok(line)
}

/// Why the engine would not start a run with `cfg`, as the command line reports it: a setting's
/// error names the setting, a text that cannot be a corpus names where it came from, and anything
/// else is a run that failed, not a bad argument (out of memory names the config and the batch).
pub(crate) fn refusal(e: EngineError, cfg: &RunConfig) -> Failure {
    match e {
        EngineError::Config(e) => e.into(),
        EngineError::Data(message) => {
            let flag = match cfg.corpus {
                CorpusSource::Builtin(_) => "--corpus",
                CorpusSource::Text { .. } => "--text-file",
            };
            ArgError(format!("{flag}: {message}")).into()
        }
        e @ EngineError::OutOfMemory { .. } => {
            let batch = match cfg.faults.batch_too_large {
                Some(factor) => {
                    format!(
                        "{}: --batch {} × {factor} from --fault batch-too-large",
                        cfg.effective_batch(),
                        cfg.batch_size
                    )
                }
                None => cfg.batch_size.to_string(),
            };
            Failure::Run(format!("{e} (config {}, batch {batch})", cfg.preset.id()))
        }
        e => Failure::Run(e.to_string()),
    }
}

/// The run saved in checkpoint file `path`, which brings its own settings: none may be given.
pub(crate) fn resumed(path: &str, pairs: &[(&str, &str)], text_file: Option<&str>) -> Result<Trainer, ArgError> {
    if let Some(key) = pairs.first().map(|(k, _)| *k).or(text_file.map(|_| "text-file")) {
        return Err(ArgError(format!("--{key}: a resumed run keeps the checkpoint's settings; drop --{key}")));
    }
    let bytes = std::fs::read(path).map_err(|e| ArgError(format!("--resume: cannot read '{path}': {e}")))?;
    Trainer::from_checkpoint(&bytes, CpuBackend::new(), native_clock).map_err(|e| ArgError(format!("--resume: {e}")))
}
