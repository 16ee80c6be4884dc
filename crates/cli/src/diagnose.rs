//! `faultline diagnose FILE...`: the detector on a training log another program wrote.

use crate::args::{ArgError, Args, Failure};
use crate::out;
use faultline_diagnosis::{diagnose_log, LogReport, Needed, Vocab};
use faultline_logs::{Format, ReadError, Reader};
use serde_json::json;
use std::fs::File;
use std::io::{ErrorKind, Read, Write};

/// How much of a log is read from disk at a time.
const CHUNK: usize = 1 << 20;

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
                        ArgError(format!("--format: '{v}' is not auto or one of {}", Format::spellings()))
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
    let cannot_read = |f: &str, e: std::io::Error| ArgError(format!("{f}: cannot read it: {e}"));
    let opened: Vec<File> =
        files.iter().map(|f| File::open(f).map_err(|e| cannot_read(f, e))).collect::<Result<_, _>>()?;
    let mut reader = Reader::new(format);
    let mut chunk = vec![0; CHUNK];
    for (name, mut file) in files.iter().zip(opened) {
        reader.begin_file(name).map_err(unreadable)?;
        loop {
            match file.read(&mut chunk) {
                Ok(0) => break,
                Ok(n) => reader.push(&chunk[..n]).map_err(unreadable)?,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(cannot_read(name, e).into()),
            }
        }
        reader.end_file().map_err(unreadable)?;
    }
    let log = reader.finish().map_err(unreadable)?;
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

/// A log that does not read, as the command line's error.
fn unreadable(e: ReadError) -> ArgError {
    ArgError(e.to_string())
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
