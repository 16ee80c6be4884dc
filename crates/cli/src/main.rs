//! `faultline`: the native command line (train, lr-find, faults, corpora, guide, bench). It trains on
//! the CPU backend; `bench --webgpu` also measures the GPU backend (Vulkan) beside it.
//!
//! Bad arguments print one line naming the argument and exit with code 2. A run that fails (out of
//! memory, or a NaN or Inf that stops it) prints one line saying why and exits with code 1.

use faultline_engine::backend::{Backend, CpuBackend};
use faultline_engine::bench::{run_training_bench, threaded_run};
use faultline_engine::config::{CorpusSource, Preset, RunConfig};
use faultline_engine::data::{CorpusId, Dataset};
use faultline_engine::diagnosis::diagnose;
use faultline_engine::faults::FAULTS;
use faultline_engine::guide::{self, EntryId};
use faultline_engine::lr_range::{self, RangeEnd, RangeResult, RangeSettings};
use faultline_engine::settings::{setting, SettingKind, SETTINGS};
use faultline_engine::telemetry::History;
use faultline_engine::trainer::{native_clock, Trainer};
use faultline_engine::{ConfigError, EngineError, Faults, RunSummary};
use faultline_gpu::bench::{run_gpu_bench, GpuBench};
use serde_json::{json, Value};
use std::io::{ErrorKind, Write};
use std::process::ExitCode;

const USAGE: &str = "usage:
  faultline train [--config tiny|small] [--fault ID[=VALUE]]... [--steps N] [--seed S]
                  [--corpus ID | --text-file F] [--lr X] [--optimizer adamw|sgd] [--json]
                  [--sample N] [--SETTING VALUE]...   (every setting: faultline settings)
                  [--save-checkpoint F]   (the run's state at its end, to resume later)
                  [--threads N]   (train and lr-find: products, attention and GELU on N threads)
  faultline train --resume F [--json] [--sample N] [--save-checkpoint F]
                  (continues a checkpoint with its own settings and faults)
  faultline lr-find [--config tiny|small] [--seed S] [--fault ID[=VALUE]]... [--json]
                  [--start-lr X] [--end-lr X] [--num-lrs N] [--SETTING VALUE]...
  faultline settings [--json]
  faultline faults  [--json]
  faultline corpora [--json]
  faultline guide   [--json]
  faultline bench   [--json] [--steps N] [--config tiny|small] [--threads N] [--webgpu [--sync-every-step]]
                  (--threads N: the CPU's training again, split across N threads;
                   --webgpu: the GPU backend too, with its dispatches, submissions and readbacks
                   per step; --sync-every-step: the GPU reads everything back after every step)";

/// A command-line mistake: the message names the argument.
struct ArgError(String);

impl From<ConfigError> for ArgError {
    fn from(e: ConfigError) -> Self {
        ArgError(format!("--{}: {}", e.field, e.message))
    }
}

/// Why a command did not succeed; `main` turns each kind into its exit code.
enum Failure {
    /// A command-line mistake: exit code 2.
    Arg(ArgError),
    /// A run that failed (out of memory, a NaN or Inf): exit code 1. The message says why, naming no
    /// argument unless one is the cause.
    Run(String),
    /// Standard output could not be written. A reader that went away (`| head`) ends the command
    /// quietly with exit code 0, as if it had printed everything; any other error exits with code 1.
    Output(std::io::Error),
}

impl From<ArgError> for Failure {
    fn from(e: ArgError) -> Self {
        Failure::Arg(e)
    }
}

impl From<ConfigError> for Failure {
    fn from(e: ConfigError) -> Self {
        Failure::Arg(e.into())
    }
}

/// `println!` that hands a failed write back as a [`Failure::Output`] instead of panicking.
macro_rules! out {
    ($($arg:tt)*) => {
        writeln!(std::io::stdout(), $($arg)*).map_err(Failure::Output)
    };
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((command, rest)) = args.split_first() else {
        eprintln!("faultline: missing command\n{USAGE}");
        return ExitCode::from(2);
    };
    let result = match command.as_str() {
        "train" => on_threads(rest, train),
        "lr-find" => on_threads(rest, lr_find),
        "faults" => faults(rest),
        "corpora" => corpora(rest),
        "guide" => guide_cmd(rest),
        "settings" => settings_cmd(rest),
        "bench" => bench(rest),
        "-h" | "--help" | "help" => out!("{USAGE}"),
        other => Err(Failure::Arg(ArgError(format!(
            "unknown command '{other}' (expected train, lr-find, faults, corpora, guide or bench)"
        )))),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Arg(ArgError(msg))) => {
            eprintln!("faultline: {msg}");
            ExitCode::from(2)
        }
        Err(Failure::Run(msg)) => {
            eprintln!("faultline: {msg}");
            ExitCode::from(1)
        }
        Err(Failure::Output(e)) if e.kind() == ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(Failure::Output(e)) => {
            eprintln!("faultline: cannot write the output: {e}");
            ExitCode::from(1)
        }
    }
}

/// `--threads N` (1 to 256), wherever it is among `rest`, and the other arguments.
fn threads_arg(rest: &[String]) -> Result<(usize, Vec<String>), ArgError> {
    let mut threads = 1;
    let mut others = Vec::new();
    let mut args = rest.iter();
    while let Some(arg) = args.next() {
        if arg != "--threads" {
            others.push(arg.clone());
            continue;
        }
        let value = args.next().ok_or_else(|| ArgError("--threads: needs a value".into()))?;
        threads = match value.parse() {
            Ok(n @ 1..=256) => n,
            _ => return Err(ArgError(format!("--threads: must be a whole number from 1 to 256, got '{value}'"))),
        };
    }
    Ok((threads, others))
}

/// Runs `command` with the engine's large kernels split across `--threads N` threads (results are
/// bit-identical to one thread); without the flag, on this thread.
fn on_threads(rest: &[String], command: fn(&[String]) -> Result<(), Failure>) -> Result<(), Failure> {
    let (threads, rest) = threads_arg(rest)?;
    if threads == 1 {
        return command(&rest);
    }
    pool(threads)?.install(|| command(&rest))
}

/// A pool of `threads` for `--threads`.
fn pool(threads: usize) -> Result<rayon::ThreadPool, ArgError> {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .map_err(|e| ArgError(format!("--threads: cannot start {threads} threads: {e}")))
}

/// Walks `--flag value` pairs and bare `--switch`es.
struct Args<'a> {
    rest: std::slice::Iter<'a, String>,
}

impl<'a> Args<'a> {
    fn new(rest: &'a [String]) -> Self {
        Self { rest: rest.iter() }
    }

    fn next_flag(&mut self) -> Option<&'a str> {
        self.rest.next().map(|s| s.as_str())
    }

    fn value(&mut self, flag: &str) -> Result<&'a str, ArgError> {
        self.rest.next().map(|s| s.as_str()).ok_or_else(|| ArgError(format!("{flag}: missing value")))
    }

    fn parse<T: std::str::FromStr>(&mut self, flag: &str, what: &str) -> Result<T, ArgError> {
        let v = self.value(flag)?;
        v.parse().map_err(|_| ArgError(format!("{flag}: '{v}' is not {what}")))
    }
}

fn only_json(rest: &[String], command: &str) -> Result<bool, ArgError> {
    let mut json = false;
    for a in rest {
        match a.as_str() {
            "--json" => json = true,
            other => return Err(ArgError(format!("{other}: unknown argument for '{command}'"))),
        }
    }
    Ok(json)
}

fn train(rest: &[String]) -> Result<(), Failure> {
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
fn fresh(pairs: &[(&str, &str)], text_file: Option<&str>, json: bool) -> Result<Trainer, Failure> {
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
fn diagnose_refused(cfg: &RunConfig, error: EngineError) -> Result<(Dataset, Vec<EntryId>), Failure> {
    let dataset =
        Dataset::load_with(&cfg.corpus, cfg.seed, cfg.model(0).context, &cfg.faults).map_err(|e| refusal(e, cfg))?;
    let history = History { vocab_size: dataset.tokenizer.vocab_size(), stopped: Some(error), ..History::default() };
    let diagnosis = diagnose(&history).into_iter().map(|f| f.entry).collect();
    Ok((dataset, diagnosis))
}

/// The summary line of a run refused for memory, with the keys of a finished run's: the corpus and
/// vocabulary its settings give, the detector's reading of `error`, and null for what no step measured.
fn refused_summary(cfg: &RunConfig, error: EngineError) -> Result<Value, Failure> {
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
fn refusal(e: EngineError, cfg: &RunConfig) -> Failure {
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
fn resumed(path: &str, pairs: &[(&str, &str)], text_file: Option<&str>) -> Result<Trainer, ArgError> {
    if let Some(key) = pairs.first().map(|(k, _)| *k).or(text_file.map(|_| "text-file")) {
        return Err(ArgError(format!("--{key}: a resumed run keeps the checkpoint's settings; drop --{key}")));
    }
    let bytes = std::fs::read(path).map_err(|e| ArgError(format!("--resume: cannot read '{path}': {e}")))?;
    Trainer::from_checkpoint(&bytes, CpuBackend::new(), native_clock).map_err(|e| ArgError(format!("--resume: {e}")))
}

/// The guide's learning-rate range test: one step per rate from a fresh model, and the suggested rate.
fn lr_find(rest: &[String]) -> Result<(), Failure> {
    let mut pairs: Vec<(&str, &str)> = Vec::new();
    let mut json = false;
    let mut sweep = RangeSettings::default();
    let mut args = Args::new(rest);
    while let Some(flag) = args.next_flag() {
        let key = flag.strip_prefix("--").unwrap_or(flag);
        match key {
            "json" => json = true,
            "start-lr" => sweep.start_lr = args.parse(flag, "a number")?,
            "end-lr" => sweep.end_lr = args.parse(flag, "a number")?,
            "num-lrs" => sweep.num_lrs = args.parse(flag, "a whole number")?,
            "fault" => pairs.push(("fault", args.value(flag)?)),
            _ => match setting(key) {
                Some(s) if flag.starts_with("--") => {
                    let value = if s.kind == SettingKind::Flag { "on" } else { args.value(flag)? };
                    pairs.push((s.key.as_str(), value));
                }
                _ => return Err(ArgError(format!("{flag}: unknown argument for 'lr-find'")).into()),
            },
        }
    }
    let cfg = RunConfig::from_pairs(pairs.iter().copied())?;
    cfg.validate()?;
    sweep.validate()?;
    let result = match lr_range::run(&cfg, sweep, native_clock) {
        Ok(result) => result,
        Err(e) => {
            if json && matches!(e, EngineError::OutOfMemory { .. }) {
                let (_, diagnosis) = diagnose_refused(&cfg, e.clone())?;
                let never_ran =
                    RangeResult { settings: sweep, points: Vec::new(), end: RangeEnd::Completed, suggestion: None };
                let mut doc = sweep_doc(&never_ran, Some(diagnosis));
                // The sweep never began: it has no end.
                doc["end"] = json!(null);
                out!("{doc}")?;
            }
            return Err(refusal(e, &cfg));
        }
    };
    if json {
        return out!("{}", sweep_doc(&result, None));
    }
    out!(
        "faultline: learning-rate range test ({}), {} rates from {:e} to {:e}, one step each from a fresh model",
        lr_range::GUIDE_ENTRY,
        sweep.num_lrs,
        sweep.start_lr,
        sweep.end_lr
    )?;
    for p in &result.points {
        out!("step {:>5} | lr {:.3e} | loss {:.4}", p.step, p.lr, p.loss)?;
    }
    match &result.end {
        RangeEnd::Completed => out!("every rate tried")?,
        RangeEnd::Exploded { step, lr, loss } => {
            out!("stopped at step {step} (lr {lr:.3e}): loss {loss:.4} is more than 4x the first")?
        }
        RangeEnd::NonFinite { step, lr, tensor } => {
            out!("stopped at step {step} (lr {lr:.3e}): NaN or Inf in {tensor}")?
        }
    }
    match result.suggestion {
        Some(s) => out!(
            "suggested lr {:.3e}: a tenth of {:.3e}, where the loss was lowest ({:.4})",
            s.lr,
            s.lowest_lr,
            s.lowest_loss
        ),
        None => out!("no suggestion: the loss never fell below its first value"),
    }
}

/// `lr-find --json`'s document: the sweep, the guide entry it follows and the detector's `diagnosis`
/// of a sweep refused before its first step (null for one that ran: the detector reads training runs).
fn sweep_doc(result: &RangeResult, diagnosis: Option<Vec<EntryId>>) -> Value {
    let mut doc = serde_json::to_value(result).expect("the sweep serialises");
    doc["guide_entry"] = json!(lr_range::GUIDE_ENTRY);
    doc["diagnosis"] = json!(diagnosis);
    doc
}

fn faults(rest: &[String]) -> Result<(), Failure> {
    if only_json(rest, "faults")? {
        out!("{}", serde_json::to_string_pretty(FAULTS).expect("fault table serialises"))?;
        return Ok(());
    }
    for f in FAULTS {
        let strength = f
            .strength
            .map(|s| format!(" [={} {}..{}, default {}]", s.unit, s.min, s.max, s.default))
            .unwrap_or_default();
        out!("{:<16} {:<44} {}{}", f.id, f.guide_entry, f.summary, strength)?;
    }
    Ok(())
}

fn settings_cmd(rest: &[String]) -> Result<(), Failure> {
    if only_json(rest, "settings")? {
        out!("{}", serde_json::to_string_pretty(SETTINGS).expect("settings serialise"))?;
        return Ok(());
    }
    let defaults = RunConfig::default();
    for s in SETTINGS {
        out!("--{:<20} {:<12} {}", s.key, defaults.get(s.key), s.help)?;
    }
    Ok(())
}

fn corpora(rest: &[String]) -> Result<(), Failure> {
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

fn guide_cmd(rest: &[String]) -> Result<(), Failure> {
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

fn bench(rest: &[String]) -> Result<(), Failure> {
    let (threads, rest) = threads_arg(rest)?;
    let mut args = Args::new(&rest);
    let mut json = false;
    let mut steps = 20usize;
    let mut presets = Preset::ALL.to_vec();
    let mut webgpu = false;
    let mut gpu_faults = Faults::default();
    while let Some(flag) = args.next_flag() {
        match flag {
            "--json" => json = true,
            "--steps" => {
                steps = args.parse(flag, "a whole number")?;
                if steps == 0 {
                    return Err(ArgError("--steps: must be at least 1".into()).into());
                }
            }
            "--config" => presets = vec![Preset::parse(args.value(flag)?)?],
            "--webgpu" => webgpu = true,
            "--sync-every-step" => gpu_faults.sync_every_step = true,
            other => return Err(ArgError(format!("{other}: unknown argument for 'bench'")).into()),
        }
    }
    if gpu_faults.sync_every_step && !webgpu {
        return Err(ArgError("--sync-every-step: only with --webgpu (the CPU's readback is a copy)".into()).into());
    }
    let mut training: Vec<_> = presets.iter().map(|&p| run_training_bench(p, steps, 1, native_clock)).collect();
    if threads > 1 {
        let pool = pool(threads)?;
        for (result, &preset) in training.iter_mut().zip(&presets) {
            if result.error.is_none() {
                result.threaded = Some(pool.install(|| threaded_run(preset, steps, 1, native_clock, result)));
            }
        }
    }
    let gpu: Vec<GpuBench> = if webgpu {
        presets.iter().map(|&p| run_gpu_bench(p, &gpu_faults, steps, 1, native_clock)).collect()
    } else {
        Vec::new()
    };
    if json {
        let mut out = json!({ "training": training });
        if webgpu {
            out["webgpu"] = json!(gpu);
        }
        out!("{out}")?;
        return Ok(());
    }
    for t in &training {
        out!(
            "train {:<6} {:>8.2} steps/s ({:.2}x the reference kernels' {:.2}) {:>10.0} tokens/s  first loss {:.4}  backend {}",
            t.config,
            t.steps_per_s,
            t.steps_per_s / t.reference_steps_per_s.unwrap_or(f64::NAN),
            t.reference_steps_per_s.unwrap_or(f64::NAN),
            t.tokens_per_s,
            t.first_loss.unwrap_or(f32::NAN),
            t.backend_name
        )?;
        if let Some(r) = &t.threaded {
            out!("  on {} threads {:>8.2} steps/s ({:.2}x one thread)", r.threads, r.steps_per_s, r.speedup)?;
        }
        let Some(k) = &t.kernels else { continue };
        out!("  multiply-add ceiling (f32x4, 1 thread) {:>8.2} GFLOP/s", k.simd_ceiling_gflops)?;
        for m in &k.matmul {
            out!("  matmul {:<38} {:>8.2} GFLOP/s", m.name, m.gflops)?;
        }
        out!("  256x256x256 backend at {:.0} % of the ceiling", 100.0 * k.matmul_256_of_ceiling)?;
        for r in &k.rows {
            out!(
                "  {:<38} {:>8.3} ms fast, {:>8.3} ms reference ({:.2}x)",
                r.name,
                r.fast_ms,
                r.reference_ms,
                r.speedup
            )?;
        }
    }
    for (b, cpu) in gpu.iter().zip(&training) {
        print_gpu_bench(b, cpu.steps_per_s)?;
    }
    Ok(())
}

/// One GPU bench as text, with its speed against the CPU's (`cpu_steps_per_s`) in the same run.
fn print_gpu_bench(b: &GpuBench, cpu_steps_per_s: f64) -> Result<(), Failure> {
    let r = &b.result;
    if let Some(e) = &r.error {
        return out!("webgpu {:<6} {e}", r.config);
    }
    out!(
        "webgpu {:<6} {:>7.2} steps/s ({:.2}x the CPU's) {:>9.0} tokens/s  first step {:.0} ms  backend {}",
        r.config,
        r.steps_per_s,
        r.steps_per_s / cpu_steps_per_s,
        r.tokens_per_s,
        b.first_step_ms,
        r.backend_name
    )?;
    out!(
        "  per step: {:.0} dispatches, {:.2} submissions, {:.2} readbacks ({:.0} B), {:.0} B uploaded",
        b.dispatches_per_step,
        b.submissions_per_step,
        b.readbacks_per_step,
        b.bytes_read_back_per_step,
        b.bytes_uploaded_per_step
    )?;
    out!(
        "  {} steps per readback; the {} steps no evaluation follows: {:.3} submissions, {:.0} B read back each",
        b.steps_per_readback,
        b.plain_steps,
        b.submissions_per_plain_step,
        b.bytes_read_back_per_plain_step
    )?;
    out!(
        "  one dispatch: {:.1} µs to record, {:.1} µs recorded and run",
        b.record_us_per_dispatch,
        b.run_us_per_dispatch
    )
}
