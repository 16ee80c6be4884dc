//! `faultline diagnose FILE...`: the detector on a training log another program wrote.

use crate::args::{ArgError, Args, Failure};
use crate::out;
use faultline_diagnosis::{diagnose_log, LogReport, Needed, Vocab};
use faultline_logs::{read, Format, Input};
use serde_json::json;
use std::io::Write;

pub(crate) fn diagnose(rest: &[String]) -> Result<(), Failure> {
    let mut files: Vec<&str> = Vec::new();
    let (mut format, mut vocab, mut json) = (None, None, false);
    let mut args = Args::new(rest);
    while let Some(flag) = args.next_flag() {
        match flag {
            "--format" => {
                let v = args.value(flag)?;
                format = match v {
                    "auto" => None,
                    _ => Some(v.parse::<Format>().map_err(|_| {
                        let known: Vec<&str> = Format::ALL.iter().map(|f| f.as_str()).collect();
                        ArgError(format!("--format: '{v}' is not auto or one of {}", known.join(", ")))
                    })?),
                };
            }
            "--vocab-size" => {
                vocab = match args.parse::<usize>(flag, "a whole number")? {
                    v @ 2.. => Some(v),
                    v => return Err(ArgError(format!("--vocab-size: must be at least 2, got {v}")).into()),
                };
            }
            "--json" => json = true,
            other if other.starts_with("--") => {
                return Err(ArgError(format!("{other}: unknown argument for 'diagnose'")).into());
            }
            file => files.push(file),
        }
    }
    if files.is_empty() {
        return Err(ArgError("diagnose: name at least one log file".into()).into());
    }
    let contents: Vec<Vec<u8>> = files
        .iter()
        .map(|f| std::fs::read(f).map_err(|e| ArgError(format!("{f}: cannot read it: {e}"))))
        .collect::<Result<_, _>>()?;
    let inputs: Vec<Input> = files.iter().zip(&contents).map(|(name, bytes)| Input { name, bytes }).collect();
    let log = read(&inputs, format).map_err(|e| ArgError(e.to_string()))?;
    if !json {
        let runs = log.runs.len();
        out!("{}: {} log, {runs} run{}", files.join(", "), log.format, if runs == 1 { "" } else { "s" })?;
    }
    for run in &log.runs {
        let report = diagnose_log(run, vocab);
        if json {
            out!("{}", summary(log.format, &run.name, &report))?;
        } else {
            write_report(&run.name, &report)?;
        }
    }
    Ok(())
}

/// The JSON line of one run.
fn summary(format: Format, run: &str, r: &LogReport) -> serde_json::Value {
    let findings: Vec<_> = r
        .findings
        .iter()
        .map(|f| {
            let evidence: Vec<String> = f.evidence.iter().map(|e| e.to_string()).collect();
            json!({"entry": f.entry, "confidence": f.confidence, "first_step": f.first_step, "evidence": evidence})
        })
        .collect();
    let missing: Vec<_> = r.missing.iter().map(|m| json!({"entry": m.entry, "signal": m.signal})).collect();
    json!({
        "event": "diagnosis",
        "format": format,
        "run": run,
        "steps": r.steps,
        "stride": r.stride,
        "signals": r.signals,
        "vocab": r.vocab,
        "diagnosis": r.findings.iter().map(|f| f.entry).collect::<Vec<_>>(),
        "findings": findings,
        "missing": missing,
    })
}

fn write_report(run: &str, r: &LogReport) -> Result<(), Failure> {
    out!("\nrun '{run}': {} steps, a loss record every {} step(s)", r.steps, r.stride)?;
    out!("  signals: {}", r.signals.join(", "))?;
    match &r.vocab {
        Vocab::Given { size } => out!("  ln V = {:.2} (vocabulary of {size}, as given)", (*size as f32).ln())?,
        Vocab::Estimated { size, first_loss, step } => out!(
            "  ln V ≈ {first_loss:.2}: estimated from the first loss (step {step}), taking the run to start from \
             scratch (a vocabulary of about {size}); pass --vocab-size if it did not"
        )?,
        Vocab::Unknown => out!("  ln V unknown: the rules that compare the loss with it abstain (pass --vocab-size)")?,
    }
    if r.findings.is_empty() {
        out!("  no diagnosis: nothing these signals show points to a guide entry")?;
    }
    for f in &r.findings {
        let when = f.first_step.map(|s| format!(", first seen at step {s}")).unwrap_or_default();
        out!("  {} ({:.0}% confidence{when})", f.entry, f.confidence * 100.0)?;
        for e in &f.evidence {
            out!("    - {e}")?;
        }
    }
    for w in &r.watching {
        out!("  watching, not named: {} ({:.0}%)", w.entry, w.confidence * 100.0)?;
    }
    let needed: Vec<Needed> = Needed::ALL.into_iter().filter(|n| r.missing.iter().any(|m| m.signal == *n)).collect();
    if !needed.is_empty() {
        out!("  what this log cannot tell, and what to log to tell it:")?;
    }
    for n in needed {
        let entries: Vec<String> =
            r.missing.iter().filter(|m| m.signal == n).map(|m| m.entry.as_str().to_string()).collect();
        out!("  - {} → log {}:", entries.join(", "), n.what())?;
        for line in n.snippet().lines() {
            out!("        {line}")?;
        }
    }
    Ok(())
}
