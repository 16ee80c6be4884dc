//! `cargo run --release -p faultline-evaluation -- [--split tuning|retired-1|retired-2|retired-3|held-out] [--kind healthy|fault|pair]
//! [--only TEXT] [--sample] [--keep DIR] [--logs]`: trains a sweep on every core, prints each run's result as it is scored, then the
//! report (Markdown, as BENCHMARKS.md quotes it) and how each rule fared. `--sample` takes the sample
//! CI runs instead of the whole split. With `--keep DIR`, each run's
//! telemetry is kept in DIR and a later sweep diagnoses it again without training. `--logs` also writes
//! each run as the logs of other programs would carry it, diagnoses those, and compares.

use faultline_evaluation::report::Report;
use faultline_evaluation::{cases, par_map, run, run_kept, Kind, Split};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

const USAGE: &str =
    "usage: faultline-evaluation [--split tuning|retired-1|retired-2|retired-3|held-out] [--kind healthy|fault|pair] [--only TEXT] [--sample] [--keep DIR] [--logs]";

fn main() -> ExitCode {
    let mut split = Split::HeldOut;
    let mut kind: Option<Kind> = None;
    let mut only: Option<String> = None;
    let mut keep: Option<PathBuf> = None;
    let mut sample = false;
    let mut logs = false;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        if flag == "--sample" || flag == "--logs" {
            sample |= flag == "--sample";
            logs |= flag == "--logs";
            continue;
        }
        let value = args.next();
        match (flag.as_str(), value.as_deref()) {
            ("--split", Some(v)) if Split::parse(v).is_some() => split = Split::parse(v).expect("checked"),
            ("--kind", Some("healthy")) => kind = Some(Kind::Healthy),
            ("--kind", Some("fault")) => kind = Some(Kind::Fault),
            ("--kind", Some("pair")) => kind = Some(Kind::Pair),
            ("--only", Some(v)) => only = Some(v.to_string()),
            ("--keep", Some(v)) => keep = Some(PathBuf::from(v)),
            _ => {
                eprintln!("faultline-evaluation: {flag}: not understood\n{USAGE}");
                return ExitCode::from(2);
            }
        }
    }
    let pool = if sample { cases::sample(split) } else { cases::all(split) };
    let chosen: Vec<_> = pool
        .into_iter()
        .filter(|c| kind.is_none_or(|k| c.kind == k))
        .filter(|c| only.as_ref().is_none_or(|o| c.label().contains(o.as_str())))
        .collect();
    if let Some(dir) = &keep {
        if let Err(e) = std::fs::create_dir_all(dir) {
            eprintln!("faultline-evaluation: {}: {e}", dir.display());
            return ExitCode::FAILURE;
        }
    }
    eprintln!("{} runs, {:?} split", chosen.len(), split);
    let start = Instant::now();
    let outcomes = par_map(&chosen, |case| {
        let o = match &keep {
            Some(dir) => run_kept(case, dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())),
            None => run(case),
        };
        let findings: Vec<String> = o
            .findings
            .iter()
            .map(|f| format!("{} {:.2} @{}", f.entry, f.confidence, f.first_step.map_or("-".into(), |s| s.to_string())))
            .collect();
        eprintln!("[{:>5.0} s] {:<60} -> {}", start.elapsed().as_secs_f64(), case.label(), findings.join(", "));
        o
    });
    let report = Report::new(&chosen, &outcomes);
    println!("\n## Misses\n");
    for s in report.misses() {
        let got: Vec<String> = s.findings.iter().map(|f| format!("{} {:.2}", f.entry, f.confidence)).collect();
        let expected: Vec<&str> = s.case.expected.iter().map(|e| e.as_str()).collect();
        println!("- {}: expected {:?}, got [{}]", s.case.label(), expected, got.join(", "));
        for f in s.findings {
            for e in &f.evidence {
                println!("    {}: {e}", f.entry);
            }
        }
    }
    println!("\n## Report ({split:?} split, {} runs, {:.0} s)\n", chosen.len(), start.elapsed().as_secs_f64());
    println!("{}", report.markdown());
    println!("| Rule | Fired | In a right finding |\n|---|---|---|");
    for (rule, t) in report.rules() {
        println!("| {rule} | {} | {t} |", t.total);
    }
    if logs {
        let labels: Vec<String> = chosen.iter().map(|c| c.label()).collect();
        println!("\n## The same runs as logs of other programs\n");
        println!("{}", faultline_evaluation::logs::markdown(&labels, &outcomes));
    }
    ExitCode::SUCCESS
}
