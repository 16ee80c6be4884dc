//! The detector on logs: each run's telemetry written out as another program's log would carry it
//! (only the signals that format has, at its logging interval), read back by `faultline-logs`, and
//! diagnosed from the log alone; the log's diagnosis is compared with the engine's own of the same run.

use crate::Outcome;
use faultline_diagnosis::{confidence, diagnose_log, needs, Evidence, LogReport, Needed, REPORT_THRESHOLD};
use faultline_engine::guide::EntryId;
use faultline_engine::telemetry::error::EngineError;
use faultline_engine::telemetry::History;
use faultline_logs::{read, EventWriter, Format, Input};
use std::fmt::Write;

/// The formats a run is exported to, each as a common trainer writes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Export {
    /// A Trainer with `logging_steps=10`: the loss averaged over the 10 steps, the last step's
    /// gradient norm and rate, `eval_loss` at each evaluation.
    Hf,
    /// TensorBoard CSV downloads of `train/loss`, `train/grad_norm` and `val/loss`, every step.
    TbCsv,
    /// A TensorBoard event file of the same scalars, as PyTorch's `SummaryWriter` writes them.
    TbEvents,
    /// A W&B export of the same scalars, with its `__MIN`/`__MAX` columns and empty cells.
    WandbCsv,
    /// nanoGPT's printout: the loss and time every step, train and val loss at each evaluation.
    Nanogpt,
    /// JSONL every step (loss, gradient norm, rate, time), with the validation loss and the first and
    /// last block's gradient norms at each evaluation.
    Jsonl,
}

impl Export {
    pub const ALL: [Export; 6] =
        [Export::Hf, Export::TbCsv, Export::TbEvents, Export::WandbCsv, Export::Nanogpt, Export::Jsonl];

    pub fn format(self) -> Format {
        match self {
            Export::Hf => Format::Hf,
            Export::TbCsv => Format::TbCsv,
            Export::TbEvents => Format::TbEvents,
            Export::WandbCsv => Format::WandbCsv,
            Export::Nanogpt => Format::Nanogpt,
            Export::Jsonl => Format::Jsonl,
        }
    }

    /// Whether the moment `e` measured is in the log: a Trainer logs the gradient norm of every
    /// tenth step only, so a spike between two records is not there to see.
    fn shows(self, e: &Evidence) -> bool {
        let step = match e {
            Evidence::GradNormAboveGuide { step, .. }
            | Evidence::GradNormSpike { step, .. }
            | Evidence::SpikeThrewLoss { step, .. } => *step,
            _ => return true,
        };
        self != Export::Hf || step % LOGGING_STEPS == 0
    }

    /// What the format carries of the signals the detector reads beyond the loss.
    fn has(self, n: Needed) -> bool {
        match n {
            Needed::GradNorm => self != Export::Nanogpt,
            Needed::ValLoss | Needed::VocabSize => true,
            Needed::LayerGradNorms => self == Export::Jsonl,
            _ => false,
        }
    }
}

/// Steps a Trainer's loss record averages over.
const LOGGING_STEPS: usize = 10;

/// A number as Python's `json.dumps` and `print` write it: `NaN`, `Infinity`, `-Infinity` included.
fn py(x: f32) -> String {
    match x {
        x if x.is_nan() => "NaN".into(),
        x if x == f32::INFINITY => "Infinity".into(),
        x if x == f32::NEG_INFINITY => "-Infinity".into(),
        x => format!("{x}"),
    }
}

/// The step at which the run's values turned non-finite: a real trainer logs a NaN loss there.
fn nan_step(h: &History) -> Option<usize> {
    match &h.stopped {
        Some(EngineError::NonFinite { step, .. }) => Some(*step),
        _ => None,
    }
}

/// `(step, loss, grad_norm, lr, time_ms)` of every step, a NaN loss last where the run stopped on one.
fn steps(h: &History) -> Vec<(usize, f32, f32, f32, f64)> {
    let mut rows: Vec<_> = h.steps.iter().map(|s| (s.step, s.loss, s.grad_norm, s.lr, s.times.total_ms())).collect();
    if let Some(step) = nan_step(h) {
        let lr = rows.last().map_or(0.0, |r| r.3);
        rows.push((step, f32::NAN, f32::NAN, lr, 0.0));
    }
    rows
}

/// The run written as `format` writes it: the files, by name.
pub fn export(h: &History, format: Export) -> Vec<(String, Vec<u8>)> {
    let rows = steps(h);
    let vals: Vec<(usize, f32, f32)> =
        h.evals.iter().filter_map(|e| e.val_loss.map(|v| (e.step, v, e.train_loss))).collect();
    let mut out = String::new();
    match format {
        Export::Hf => {
            let mut entries: Vec<(usize, String)> = rows
                .chunks(LOGGING_STEPS)
                .map(|c| {
                    let (step, _, norm, lr, _) = c[c.len() - 1];
                    let mean = c.iter().map(|r| r.1).sum::<f32>() / c.len() as f32;
                    let epoch = step as f32 / 1000.0;
                    let entry = format!(
                        r#"{{"epoch": {epoch}, "grad_norm": {}, "learning_rate": {}, "loss": {}, "step": {step}}}"#,
                        py(norm),
                        py(lr),
                        py(mean)
                    );
                    (step, entry)
                })
                .collect();
            for &(step, v, _) in &vals {
                let epoch = step as f32 / 1000.0;
                entries.push((step, format!(r#"{{"epoch": {epoch}, "eval_loss": {}, "step": {step}}}"#, py(v))));
            }
            entries.sort_by_key(|e| e.0);
            if let Some(&(last, ..)) = rows.last() {
                let mean = rows.iter().map(|r| r.1).sum::<f32>() / rows.len() as f32;
                entries
                    .push((last, format!(r#"{{"step": {last}, "train_loss": {}, "train_runtime": 12.5}}"#, py(mean))));
            }
            let body: Vec<String> = entries.into_iter().map(|(_, e)| format!("    {e}")).collect();
            let last = rows.last().map_or(0, |r| r.0);
            let out = format!("{{\n  \"global_step\": {last},\n  \"log_history\": [\n{}\n  ]\n}}\n", body.join(",\n"));
            vec![("trainer_state.json".into(), out.into_bytes())]
        }
        Export::TbCsv => {
            let file = |tag: &str, points: &mut dyn Iterator<Item = (usize, f32)>| {
                let mut text = String::from("Wall time,Step,Value\n");
                for (step, v) in points {
                    let _ = writeln!(text, "{},{step},{}", 1.7e9 + step as f64 * 0.05, py(v));
                }
                (format!("run-.-tag-{tag}.csv"), text.into_bytes())
            };
            let mut files = vec![
                file("train_loss", &mut rows.iter().map(|r| (r.0, r.1))),
                file("train_grad_norm", &mut rows.iter().map(|r| (r.0, r.2))),
            ];
            if !vals.is_empty() {
                files.push(file("val_loss", &mut vals.iter().map(|v| (v.0, v.1))));
            }
            files
        }
        Export::TbEvents => {
            let wall = |step: usize| 1.7e9 + step as f64 * 0.05;
            let mut file = EventWriter::new(wall(0));
            for &(step, loss, norm, ..) in &rows {
                file.scalars(wall(step), step as i64, &[("train/loss", loss), ("train/grad_norm", norm)]);
                if let Some(&(_, val, _)) = vals.iter().find(|v| v.0 == step) {
                    file.scalars(wall(step), step as i64, &[("val/loss", val)]);
                }
            }
            vec![("runs/tiny/events.out.tfevents.1700000000.host.1.0".into(), file.finish())]
        }
        Export::WandbCsv => {
            let r = "tiny-gpt-1";
            let _ = writeln!(
                out,
                "\"Step\",\"{r} - train/loss\",\"{r} - train/loss__MIN\",\"{r} - train/loss__MAX\",\"{r} - train/grad_norm\",\"{r} - val/loss\""
            );
            for &(step, loss, norm, ..) in &rows {
                let val = vals.iter().find(|v| v.0 == step).map_or(String::new(), |v| py(v.1));
                let _ = writeln!(out, "{step},{},{},{},{},{val}", py(loss), py(loss), py(loss), py(norm));
            }
            vec![("wandb_export.csv".into(), out.into_bytes())]
        }
        Export::Nanogpt => {
            let _ = writeln!(out, "number of parameters: 0.10M\ncompiling the model... (takes a ~minute)");
            for &(step, loss, _, _, ms) in &rows {
                if let Some(v) = vals.iter().find(|v| v.0 == step) {
                    let _ = writeln!(out, "step {step}: train loss {:.4}, val loss {:.4}", v.2, v.1);
                }
                let _ = writeln!(out, "iter {step}: loss {:.4}, time {ms:.2}ms, mfu -100.00%", loss);
            }
            vec![("train.log".into(), out.into_bytes())]
        }
        Export::Jsonl => {
            for &(step, loss, norm, lr, ms) in &rows {
                let _ = writeln!(
                    out,
                    r#"{{"step": {step}, "loss": {}, "grad_norm": {}, "lr": {}, "time_ms": {ms:.3}}}"#,
                    py(loss),
                    py(norm),
                    py(lr)
                );
                let Some(e) = h.evals.iter().find(|e| e.step == step) else { continue };
                let (Some(first), Some(last)) = (e.blocks.first(), e.blocks.last()) else { continue };
                let val = e.val_loss.map(|v| format!(r#", "val_loss": {}"#, py(v))).unwrap_or_default();
                let _ = writeln!(
                    out,
                    r#"{{"step": {step}{val}, "grad_norm/h.{}": {}, "grad_norm/h.{}": {}}}"#,
                    first.block,
                    py(first.grad_norm),
                    last.block,
                    py(last.grad_norm)
                );
            }
            vec![("metrics.jsonl".into(), out.into_bytes())]
        }
    }
}

/// How the log of one run fared against the engine's own diagnosis of it.
#[derive(Clone, Debug, PartialEq)]
pub enum Verdict {
    /// The run stopped before its first step (out of memory): there is no log to read.
    NoLog,
    /// The engine named nothing, and neither did the log.
    Quiet,
    /// The engine named nothing; the log named these.
    FalseAlarm(Vec<EntryId>),
    /// The engine's first entry rests on signals the format has: the log named it first, or not.
    Judged { engine: EntryId, log: Option<EntryId> },
    /// The engine's first entry needs signals the format lacks; whether the log's report lists it
    /// as missing, and what the log named instead.
    Unjudgeable { engine: EntryId, listed: bool, log: Option<EntryId> },
}

/// The run exported as `format`, read back, and diagnosed (with the vocabulary size the user would
/// pass); the report, or the reader's error.
pub fn diagnose_exported(h: &History, format: Export) -> Result<LogReport, String> {
    let files = export(h, format);
    let inputs: Vec<Input> = files.iter().map(|(name, bytes)| Input { name, bytes }).collect();
    let log = read(&inputs, None).map_err(|e| e.to_string())?;
    if log.format != format.format() {
        return Err(format!("read as {}, written as {}", log.format, format.format()));
    }
    let run = log.runs.first().ok_or("no run in the log")?;
    Ok(diagnose_log(run, Some(h.vocab_size)))
}

/// Compares the log's diagnosis of `o`'s run in `format` with the engine's.
pub fn verdict(o: &Outcome, format: Export) -> Result<Verdict, String> {
    if o.history.steps.is_empty() {
        return Ok(Verdict::NoLog);
    }
    let report = diagnose_exported(&o.history, format)?;
    let log = report.findings.first().map(|f| f.entry);
    Ok(match o.findings.first() {
        None if report.findings.is_empty() => Verdict::Quiet,
        None => Verdict::FalseAlarm(report.findings.iter().map(|f| f.entry).collect()),
        Some(f) => {
            // The log can name the entry where a measurement that would report it needs only signals
            // the format carries.
            let judgeable = f.evidence.iter().any(|e| {
                confidence(e) >= REPORT_THRESHOLD && needs(e).iter().all(|&n| format.has(n)) && format.shows(e)
            });
            if judgeable {
                Verdict::Judged { engine: f.entry, log }
            } else {
                let listed = report.missing.iter().any(|m| m.entry == f.entry);
                Verdict::Unjudgeable { engine: f.entry, listed, log }
            }
        }
    })
}

/// How the logs of a set of runs fared in one format.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Tally {
    /// Runs the engine found healthy, and those whose log the detector left quiet too.
    pub healthy: usize,
    pub quiet: usize,
    /// Runs whose engine entry the format can show, and those where the log named it first.
    pub judged: usize,
    pub agree: usize,
    /// Runs whose engine entry the format cannot show, and those whose report lists it as missing.
    pub unjudged: usize,
    pub listed: usize,
    /// Runs that stopped before their first step.
    pub no_log: usize,
    /// Each disagreement or unreadable log, described.
    pub misses: Vec<String>,
}

/// The verdicts of `outcomes` (labelled) exported as `format`.
pub fn tally(labels: &[String], outcomes: &[Outcome], format: Export) -> Tally {
    let mut t = Tally::default();
    let name = format.format();
    for (label, o) in labels.iter().zip(outcomes) {
        match verdict(o, format) {
            Ok(Verdict::NoLog) => t.no_log += 1,
            Ok(Verdict::Quiet) => {
                t.healthy += 1;
                t.quiet += 1;
            }
            Ok(Verdict::FalseAlarm(named)) => {
                t.healthy += 1;
                t.misses.push(format!("{name} {label}: healthy, the log named {named:?}"));
            }
            Ok(Verdict::Judged { engine, log }) => {
                t.judged += 1;
                if log == Some(engine) {
                    t.agree += 1;
                } else {
                    t.misses.push(format!("{name} {label}: engine {engine}, log {log:?}"));
                }
            }
            Ok(Verdict::Unjudgeable { listed, .. }) => {
                t.unjudged += 1;
                t.listed += usize::from(listed);
            }
            Err(e) => t.misses.push(format!("{name} {label}: the log did not read back: {e}")),
        }
    }
    t
}

/// The tallies of every format, as a Markdown table and a list of the disagreements.
pub fn markdown(labels: &[String], outcomes: &[Outcome]) -> String {
    let mut table = String::from(
        "| Format | Runs the engine finds healthy: log quiet | Entry the format can show: log's first = engine's | \
         Entry it cannot show: listed as missing | No log (stopped before step 1) |\n|---|---|---|---|---|\n",
    );
    let mut misses = String::new();
    let mut all = (0, 0);
    for format in Export::ALL {
        let t = tally(labels, outcomes, format);
        all = (all.0 + t.agree, all.1 + t.judged);
        let pct = 100.0 * t.agree as f64 / t.judged.max(1) as f64;
        let _ = writeln!(
            table,
            "| {} | {}/{} | {}/{} ({pct:.1} %) | {}/{} | {} |",
            format.format(),
            t.quiet,
            t.healthy,
            t.agree,
            t.judged,
            t.listed,
            t.unjudged,
            t.no_log
        );
        for m in t.misses {
            let _ = writeln!(misses, "- {m}");
        }
    }
    let pct = 100.0 * all.0 as f64 / all.1.max(1) as f64;
    let _ = writeln!(table, "| all formats | | {}/{} ({pct:.1} %) | | |", all.0, all.1);
    format!("{table}\n{misses}")
}
