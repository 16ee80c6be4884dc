//! `cargo xtask peer-logs [--tuning]`: the detector on logs another framework wrote. PyTorch trains
//! the bench peer's `tiny` GPT on the standard library's docstrings, healthy and broken
//! (`xtask/peers/pytorch_logs.py`, which fixes each scenario's expected entry before anything is
//! diagnosed; its tuning and held-out splits differ in text, seeds and strengths), and writes each run
//! in five formats; `faultline diagnose --json` reads every log, and its first entry is compared with
//! the expected one (none for a healthy run). A broken run whose entry needs a signal the format lacks
//! counts as a miss, and apart as "lacks" when the report names that signal. Prints one line per log
//! and a table per format: a benchmark, reported in BENCHMARKS.md, not a test.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

use crate::measure::json_values;
use crate::peers::ensure_torch;
use crate::project::{self, Project};
use crate::Result;

/// The held-out split, or with `tuning` the split the detector may be changed after reading.
pub fn run(project: &Project, tuning: bool) -> Result {
    let split = if tuning { "tuning" } else { "held-out" };
    let python = ensure_torch(project)?;
    let out = project.target_dir().join(format!("peers/logs-{split}"));
    if out.exists() {
        std::fs::remove_dir_all(&out)?;
    }
    let mut train = project.command(&python.to_string_lossy());
    train.arg(project.root.join("xtask/peers/pytorch_logs.py")).arg(split).arg(&out);
    project::run(&mut train)?;
    project::run(project.cargo().args(["build", "--release", "-p", "faultline-cli", "--bin", "faultline"]))?;
    let faultline = project.target_dir().join("release/faultline");
    let manifest: Value = serde_json::from_str(&std::fs::read_to_string(out.join("manifest.json"))?)?;
    let vocab = manifest["vocab_size"].as_u64().ok_or("manifest.json has no vocab_size")?;
    let runs = manifest["runs"].as_array().ok_or("manifest.json has no runs")?;
    let mut tallies: BTreeMap<String, Tally> = BTreeMap::new();
    for run in runs {
        let (scenario, format) = (text(run, "scenario")?, text(run, "format")?);
        let expect = run["expect"].as_str();
        let files: Vec<&str> =
            run["files"].as_array().ok_or("a run without files")?.iter().filter_map(Value::as_str).collect();
        let report = diagnose(project, &faultline, &files, vocab)?;
        let verdict = match expect {
            None if report.named.is_empty() => "ok",
            None => "MISS",
            Some(entry) if report.named.first().map(String::as_str) == Some(entry) => "ok",
            Some(entry) if report.missing.iter().any(|m| m == entry) => "lacks",
            Some(_) => "MISS",
        };
        println!(
            "{verdict:<5} {scenario:<20} {format:<10} expected {:<58} named {:?}",
            expect.unwrap_or("(none)"),
            report.named
        );
        let tally = tallies.entry(format.to_string()).or_default();
        match expect {
            None => tally.healthy.count(verdict == "ok"),
            Some(_) => {
                tally.faulty.count(verdict == "ok");
                tally.lacking += usize::from(verdict == "lacks");
            }
        }
    }
    println!(
        "\n| Format | Healthy PyTorch runs: log quiet | Broken runs: first entry right | Not right, but the report names the signal it lacks |\n|---|---|---|---|"
    );
    let mut all = Tally::default();
    for (format, t) in &tallies {
        println!("| {format} | {} | {} | {} |", t.healthy, t.faulty, t.lacking);
        all.add(t);
    }
    println!("| all | {} | {} | {} |", all.healthy, all.faulty, all.lacking);
    println!(
        "({split} split; torch {}, {} characters of text, V = {vocab})",
        manifest["torch"], manifest["corpus_chars"]
    );
    Ok(())
}

/// Right answers out of runs.
#[derive(Clone, Copy, Default)]
struct Score {
    right: usize,
    runs: usize,
}

impl Score {
    fn count(&mut self, right: bool) {
        self.right += usize::from(right);
        self.runs += 1;
    }
}

impl std::fmt::Display for Score {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.right, self.runs)
    }
}

/// One format's logs: healthy ones left quiet, broken ones named right, and broken ones whose report
/// lists their entry among those it lacks a signal for.
#[derive(Default)]
struct Tally {
    healthy: Score,
    faulty: Score,
    lacking: usize,
}

impl Tally {
    fn add(&mut self, other: &Tally) {
        for (mine, theirs) in [(&mut self.healthy, other.healthy), (&mut self.faulty, other.faulty)] {
            mine.right += theirs.right;
            mine.runs += theirs.runs;
        }
        self.lacking += other.lacking;
    }
}

fn text<'a>(run: &'a Value, key: &str) -> Result<&'a str> {
    run[key].as_str().ok_or_else(|| format!("a run in manifest.json without `{key}`").into())
}

/// What `faultline diagnose` said of a log's first run: the entries it names, best first, and the
/// entries it says the log lacks a signal for.
struct Report {
    named: Vec<String>,
    missing: Vec<String>,
}

fn diagnose(project: &Project, faultline: &Path, files: &[&str], vocab: u64) -> Result<Report> {
    let mut command = project.command(&faultline.to_string_lossy());
    command.args(["diagnose", "--json", "--vocab-size", &vocab.to_string()]).args(files);
    let stdout = project::output(&mut command)?;
    let report = json_values(&stdout)?.into_iter().next().ok_or("faultline diagnose printed no report")?;
    let strings = |list: &Value, key: Option<&str>| -> Vec<String> {
        let items = list.as_array().map(Vec::as_slice).unwrap_or_default();
        items.iter().filter_map(|v| key.map_or(v, |k| &v[k]).as_str().map(str::to_string)).collect()
    };
    Ok(Report { named: strings(&report["diagnosis"], None), missing: strings(&report["missing"], Some("entry")) })
}
