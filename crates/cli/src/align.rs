//! `faultline align dpo|rl|sft`: DPO or policy-gradient fine-tuning of a pretrained model (pretrained
//! here first, or restored with `--base F`), or supervised fine-tuning on a small text; their JSON lines and summaries, which a
//! run that fails still prints.

use crate::args::{ArgError, Args, Failure};
use crate::out;
use crate::train::refusal;
use faultline_engine::align::sft::{SftRun, SftSettings};
use faultline_engine::align::{pretrain, DpoRun, DpoSettings, Method, DEFAULT_CORPUS};
use faultline_engine::backend::CpuBackend;
use faultline_engine::config::{CorpusSource, RunConfig};
use faultline_engine::data::corpus::CorpusId;
use faultline_engine::diagnosis::diagnose_dpo;
use faultline_engine::faults::Stage;
use faultline_engine::settings::{setting, SettingKey, SettingKind};
use faultline_engine::trainer::{native_clock, Trainer};
use serde_json::json;
use std::io::Write;

mod rl;

pub(crate) fn align(rest: &[String]) -> Result<(), Failure> {
    match rest.split_first() {
        Some((method, rest)) if method == "dpo" => dpo(rest),
        Some((method, rest)) if method == "rl" => rl::rl(rest),
        Some((method, rest)) if method == "sft" => sft(rest),
        Some((method, _)) => {
            Err(ArgError(format!("align: unknown method '{method}' (expected dpo, rl or sft)")).into())
        }
        None => Err(ArgError("align: missing method (expected dpo, rl or sft)".into()).into()),
    }
}

/// The flags both methods take: settings-table flags and faults (as `key=value` pairs), `--json`,
/// the fine-tuning's `--steps` and `--eval-every`, `--base F`, and the method's own `extra` flags
/// (each with a value).
struct FineTuneArgs<'a> {
    pairs: Vec<(&'a str, &'a str)>,
    json: bool,
    steps: Option<usize>,
    eval_every: Option<usize>,
    base_file: Option<&'a str>,
    extra: Vec<(&'a str, &'a str)>,
}

impl<'a> FineTuneArgs<'a> {
    fn parse(rest: &'a [String], method: &str, extra: &[&str]) -> Result<Self, Failure> {
        let mut parsed = FineTuneArgs {
            pairs: Vec::new(),
            json: false,
            steps: None,
            eval_every: None,
            base_file: None,
            extra: Vec::new(),
        };
        let mut args = Args::new(rest);
        while let Some(flag) = args.next_flag() {
            let key = flag.strip_prefix("--").unwrap_or(flag);
            match key {
                "json" => parsed.json = true,
                "steps" => parsed.steps = Some(args.parse(flag, "a whole number")?),
                "eval-every" => parsed.eval_every = Some(args.parse(flag, "a whole number")?),
                "base" => parsed.base_file = Some(args.value(flag)?),
                "fault" => parsed.pairs.push(("fault", args.value(flag)?)),
                _ if extra.contains(&key) => parsed.extra.push((key, args.value(flag)?)),
                _ => match setting(key) {
                    Some(s) if flag.starts_with("--") => {
                        let value = if s.kind == SettingKind::Flag { "on" } else { args.value(flag)? };
                        parsed.pairs.push((s.key.as_str(), value));
                    }
                    _ => return Err(ArgError(format!("{flag}: unknown argument for 'align {method}'")).into()),
                },
            }
        }
        Ok(parsed)
    }

    /// The value of the method's own flag `key`, the last one given.
    fn extra(&self, key: &str) -> Option<&'a str> {
        self.extra.iter().rev().find(|(k, _)| *k == key).map(|(_, v)| *v)
    }
}

impl FineTuneArgs<'_> {
    /// The base model of a DPO or policy-gradient run, pretrained here or restored, once `check`
    /// has accepted the run's configuration: the settings and faults given, on `corpus` when
    /// neither a corpus, a text nor a base checkpoint is.
    fn prepare(
        &self,
        method: Method,
        corpus: CorpusId,
        check: impl FnOnce(&RunConfig) -> Result<(), Failure>,
    ) -> Result<Trainer<CpuBackend<f32>>, Failure> {
        let mut pairs = self.pairs.clone();
        let unread = pairs.iter().filter_map(|(k, _)| k.parse::<SettingKey>().ok()).find(|&k| !method.takes(k));
        if let Some(key) = unread {
            let other = if method == Method::Dpo { Method::Rl } else { Method::Dpo };
            return Err(ArgError(format!(
                "--{key}: a {} setting, which `align {}` does not read (it belongs to `align {}`)",
                other.name(),
                method.command(),
                other.command()
            ))
            .into());
        }
        let text = own_text(self.extra("text-file"), &pairs, self.base_file)?;
        if self.base_file.is_none() && text.is_none() && !pairs.iter().any(|(k, _)| *k == SettingKey::Corpus.as_str()) {
            pairs.insert(0, (SettingKey::Corpus.as_str(), corpus.id()));
        }
        let mut cfg = RunConfig::from_pairs(pairs.iter().copied())?;
        if let Some(text) = text {
            cfg.corpus = text;
        }
        cfg.validate()?;
        check(&cfg)?;
        Ok(match self.base_file {
            Some(path) => base_checkpoint(path, &pairs)?,
            None => pretrain(cfg.clone(), CpuBackend::<f32>::new(), native_clock).map_err(|e| refusal(e, &cfg))?,
        })
    }

    /// `--pairs N`-like flags: the method's own whole-number flag `key`.
    fn count(&self, key: &str) -> Result<Option<usize>, Failure> {
        match self.extra(key) {
            Some(v) => {
                Ok(Some(v.parse::<usize>().map_err(|_| ArgError(format!("--{key}: '{v}' is not a whole number")))?))
            }
            None => Ok(None),
        }
    }
}

/// How a fine-tuning command ends once its summary is out: a failure when an error stopped the run.
fn ended(stopped: Option<faultline_engine::EngineError>) -> Result<(), Failure> {
    match stopped {
        Some(e) => Err(Failure::Run(format!("run stopped: {e}"))),
        None => Ok(()),
    }
}

/// A run that could not start: a setting it refused, named, or what stopped it.
fn start_failure(e: faultline_engine::EngineError) -> Failure {
    match e {
        faultline_engine::EngineError::Config(e) => Failure::from(e),
        e => Failure::Run(e.to_string()),
    }
}

fn dpo(rest: &[String]) -> Result<(), Failure> {
    let args = FineTuneArgs::parse(rest, "dpo", &["pairs", "text-file", "prefer-word"])?;
    let json = args.json;
    let pairs_per_step = args.count("pairs")?;
    let mut settings = None;
    let base = args.prepare(Method::Dpo, DEFAULT_CORPUS, |cfg| {
        let mut s = DpoSettings::from_config(cfg);
        s.prefer_word = args.extra("prefer-word").map(String::from);
        s.steps = args.steps.unwrap_or(s.steps);
        s.pairs_per_step = pairs_per_step.unwrap_or(s.pairs_per_step);
        s.eval_every = args.eval_every.unwrap_or(s.eval_every);
        s.validate()?;
        settings = Some(s);
        Ok(())
    })?;
    let settings = settings.expect("prepare checks the settings before it pretrains");
    let pretrained = base.steps_done();
    let mut run = DpoRun::new(base, settings).map_err(start_failure)?;
    if !json {
        out!(
            "faultline: DPO on '{}' from a base model of {pretrained} steps ({} trainable parameters, β {}, lr {:.1e})",
            run.source().name(),
            run.trainable_params(),
            run.settings().effective_beta(),
            run.settings().effective_lr()
        )?;
    }
    let mut stopped = None;
    let mut evals_seen = 0;
    while !run.is_done() {
        let step = match run.step() {
            Ok(step) => step,
            Err(e) => {
                stopped = Some(e);
                break;
            }
        };
        if json {
            event_line("step", &step)?;
        }
        for eval in &run.history().evals[evals_seen..] {
            if json {
                event_line("eval", eval)?;
            } else {
                out!(
                    "step {:>5} | DPO loss {:.4} | margin {:+.3} | accuracy {:.2} | KL {:.3} | held-out loss {:.4}, accuracy {:.2} | quality {:.3}",
                    eval.step,
                    step.loss,
                    step.margin,
                    step.accuracy,
                    step.kl,
                    eval.loss,
                    eval.accuracy,
                    eval.quality
                )?;
            }
        }
        evals_seen = run.history().evals.len();
    }
    let h = run.history();
    let diagnosis: Vec<_> = diagnose_dpo(h).into_iter().map(|f| f.entry).collect();
    let summary = json!({
        "event": "summary",
        "method": "dpo",
        "steps_run": run.steps_done(),
        "first_loss": h.steps.first().map(|s| s.loss),
        "last_loss": h.steps.last().map(|s| s.loss),
        "pref_accuracy": h.evals.last().map(|e| e.accuracy),
        "kl_last": h.steps.last().map(|s| s.kl),
        "quality_first": h.evals.first().map(|e| e.quality),
        "quality_last": h.evals.last().map(|e| e.quality),
        "trainable_params": run.trainable_params(),
        "diagnosis": diagnosis,
        "backend": run.backend_name(),
    });
    if json {
        out!("{summary}")?;
    } else {
        let samples = h.evals.last().map(|e| e.samples.clone()).unwrap_or_default();
        for (prompt, completion) in samples {
            out!("sample: {prompt:?} → {completion:?}")?;
        }
        out!(
            "done: {} steps, DPO loss {} → {}, held-out preference accuracy {}, true quality {} → {}{}",
            summary["steps_run"],
            summary["first_loss"],
            summary["last_loss"],
            summary["pref_accuracy"],
            summary["quality_first"],
            summary["quality_last"],
            if diagnosis.is_empty() { String::new() } else { format!(", diagnosis: {diagnosis:?}") }
        )?;
    }
    ended(stopped)
}

/// `align sft`: a base model trained further on the learner's small text, every weight or LoRA
/// adapters, with the loss on the text and on its held-out end at each evaluation.
fn sft(rest: &[String]) -> Result<(), Failure> {
    let args = FineTuneArgs::parse(rest, "sft", &["text-file"])?;
    let (pairs, json, base_file, text_file) = (&args.pairs, args.json, args.base_file, args.extra("text-file"));
    let (steps, eval_every) = (args.steps, args.eval_every);
    let path = text_file.ok_or_else(|| ArgError("--text-file: align sft needs the text to fine-tune on".into()))?;
    let text =
        std::fs::read_to_string(path).map_err(|e| ArgError(format!("--text-file: cannot read '{path}': {e}")))?;
    let cfg = RunConfig::from_pairs(pairs.iter().copied())?;
    cfg.validate()?;
    cfg.faults.only_for(Stage::Pretraining)?;
    let mut settings = SftSettings::from_config(&cfg);
    settings.steps = steps.unwrap_or(settings.steps);
    settings.eval_every = eval_every.unwrap_or(settings.eval_every);
    settings.validate()?;
    let base = match base_file {
        Some(path) => base_checkpoint(path, pairs)?,
        None => pretrain(cfg.clone(), CpuBackend::<f32>::new(), native_clock).map_err(|e| refusal(e, &cfg))?,
    };
    let pretrained = base.steps_done();
    let mut run = SftRun::new(base, &text, settings).map_err(start_failure)?;
    if !json {
        let (train, val) = run.split_tokens();
        out!(
            "faultline: fine-tuning a base model of {pretrained} steps on '{path}' ({train} tokens, {val} held out; {} trainable parameters)",
            run.trainable_params()
        )?;
    }
    let mut stopped = None;
    let mut evals_seen = 0;
    let print_evals = |run: &SftRun<CpuBackend<f32>>, seen: usize| -> Result<(), Failure> {
        for eval in &run.history().evals[seen..] {
            if json {
                event_line("eval", eval)?;
            } else {
                out!(
                    "step {:>5} | train {:.4} | held out {:.4} | gap {:+.4}",
                    eval.step,
                    eval.train_loss,
                    eval.val_loss,
                    eval.val_loss - eval.train_loss
                )?;
            }
        }
        Ok(())
    };
    print_evals(&run, 0)?;
    evals_seen += run.history().evals.len();
    while !run.is_done() {
        if let Err(e) = run.step() {
            stopped = Some(e);
            break;
        }
        print_evals(&run, evals_seen)?;
        evals_seen = run.history().evals.len();
    }
    let last = run.history().evals.last().cloned();
    let summary = json!({
        "event": "summary",
        "method": "sft",
        "steps_run": run.steps_done(),
        "train_loss": last.as_ref().map(|e| e.train_loss),
        "val_loss": last.as_ref().map(|e| e.val_loss),
        "gap": last.as_ref().map(|e| e.val_loss - e.train_loss),
        "trainable_params": run.trainable_params(),
    });
    if json {
        out!("{summary}")?;
    } else {
        out!(
            "done: {} steps, train {}, held out {}, gap {}",
            summary["steps_run"],
            summary["train_loss"],
            summary["val_loss"],
            summary["gap"]
        )?;
    }
    ended(stopped)
}

/// The base model saved in checkpoint `path`, which brings its own model, corpus and training: no
/// pretraining setting may be given beside it.
fn base_checkpoint(path: &str, pairs: &[(&str, &str)]) -> Result<Trainer<CpuBackend<f32>>, Failure> {
    let pretraining = |k: &str| setting(k).is_some_and(|s| s.stage == Stage::Pretraining && s.key != SettingKey::Seed);
    if let Some((key, _)) = pairs.iter().find(|(k, _)| pretraining(k)) {
        return Err(ArgError(format!(
            "--{key}: a --base checkpoint brings its own model, corpus and training; drop --{key}"
        ))
        .into());
    }
    let bytes = std::fs::read(path).map_err(|e| ArgError(format!("--base: cannot read '{path}': {e}")))?;
    Ok(Trainer::from_checkpoint(&bytes, CpuBackend::<f32>::new(), native_clock)
        .map_err(|e| ArgError(format!("--base: {e}")))?)
}

/// One `--json` line: `record`'s fields and `"event": event`.
fn event_line(event: &str, record: &impl serde::Serialize) -> Result<(), Failure> {
    let mut line = serde_json::to_value(record).expect("a run's records serialise");
    line["event"] = json!(event);
    out!("{line}")
}

/// The learner's text to pretrain the base model on (`--text-file F`), which `--corpus` and `--base`
/// would contradict.
fn own_text(
    path: Option<&str>,
    pairs: &[(&str, &str)],
    base_file: Option<&str>,
) -> Result<Option<CorpusSource>, Failure> {
    let Some(path) = path else { return Ok(None) };
    if pairs.iter().any(|(k, _)| *k == SettingKey::Corpus.as_str()) || base_file.is_some() {
        return Err(ArgError("--text-file: give one of --text-file, --corpus or --base".into()).into());
    }
    let text =
        std::fs::read_to_string(path).map_err(|e| ArgError(format!("--text-file: cannot read '{path}': {e}")))?;
    Ok(Some(CorpusSource::Text { name: path.to_string(), text }))
}
