//! The detector measured against real runs, with held-out data.
//!
//! A [`Case`] is one run to train: settings and faults, a corpus, a seed, and the guide entries its
//! faults are known to produce (none for a healthy run). [`cases`] writes the sweeps: healthy runs,
//! each fault alone, faults at other strengths, pairs of faults, each for a [`Split`]. The detector's
//! thresholds and confidences were tuned on [`Split::Tuning`] and the retired splits (held-out splits
//! that had reported once); [`Split::HeldOut`] has its own seeds, its own user text, other lengths,
//! strengths and pairs, and reports the figures ([`report`]).
//!
//! The detector sees each run's telemetry only ([`faultline_engine::diagnosis::diagnose`]); the case's
//! expected entries are compared with its findings afterwards, here.
//!
//! `cargo run --release -p faultline-evaluation -- --split held-out` runs a whole sweep (BENCHMARKS.md);
//! the tests run samples of it.

pub mod cases;
pub mod logs;
pub mod report;

pub use cases::{Case, Corpus, Kind, Split};

use faultline_engine::config::{CorpusSource, RunConfig};
use faultline_engine::diagnosis::{diagnose, Finding};
use faultline_engine::error::ConfigError;
use faultline_engine::telemetry::History;
use faultline_engine::trainer::{native_clock, Trainer};
use std::path::Path;
use std::sync::Mutex;

/// One finished run: its telemetry and what the detector made of it.
pub struct Outcome {
    pub history: History,
    pub findings: Vec<Finding>,
}

impl Outcome {
    /// The detector's first entry, `(none)` for no finding.
    pub fn first(&self) -> &'static str {
        first_entry(&self.findings)
    }
}

/// The first entry of `findings`, `(none)` for none.
pub fn first_entry(findings: &[Finding]) -> &'static str {
    findings.first().map_or("(none)", |f| f.entry.as_str())
}

/// The run's set-up: its settings and faults, then its corpus.
pub fn config(case: &Case) -> Result<RunConfig, ConfigError> {
    let seed = case.seed.to_string();
    let mut pairs: Vec<(&str, &str)> = vec![("seed", &seed)];
    pairs.extend(case.changes.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    let mut cfg = RunConfig::from_pairs(pairs)?;
    let text = |text: &str| CorpusSource::Text { name: case.corpus.to_string(), text: text.to_string() };
    cfg.corpus = match case.corpus {
        Corpus::Builtin(id) => CorpusSource::Builtin(id.to_string()),
        Corpus::Notes => text(cases::NOTES),
        Corpus::Code => text(cases::CODE),
        Corpus::AppCode => text(cases::APP_CODE),
        Corpus::GpuCode => text(cases::GPU_CODE),
    };
    Ok(cfg)
}

/// Trains `cfg` as the app does: every step, an evaluation when one is due, and one at the end if the
/// run stopped before its first. A run that cannot start (out of memory) has only its error.
pub fn train(cfg: RunConfig) -> History {
    match Trainer::cpu(cfg, native_clock) {
        Ok(mut t) => {
            while !t.is_done() {
                if t.step().is_err() {
                    break;
                }
                if t.should_evaluate() {
                    t.evaluate();
                }
            }
            if t.history().evals.is_empty() && t.steps_done() > 0 {
                t.evaluate();
            }
            t.history().clone()
        }
        Err(e) => History { stopped: Some(e), ..History::default() },
    }
}

/// Trains the case and asks the detector.
pub fn run(case: &Case) -> Outcome {
    let cfg = config(case).unwrap_or_else(|e| panic!("{}: the case's settings do not parse: {e}", case.label()));
    let history = train(cfg);
    let findings = diagnose(&history);
    Outcome { history, findings }
}

/// [`run`], keeping each run's telemetry as JSON in `dir`: a case whose file is there is not trained
/// again, only diagnosed. The detector is a function of the telemetry, so a change to a rule can be
/// measured on a whole sweep in seconds.
pub fn run_kept(case: &Case, dir: &Path) -> std::io::Result<Outcome> {
    let slug: String =
        case.label().chars().map(|c| if c.is_ascii_alphanumeric() || c == '.' { c } else { '-' }).collect();
    let path = dir.join(format!("{slug}.json"));
    // JSON has no NaN: a run that stopped on one is kept with nulls, cannot be read back, and is
    // trained again (it stopped within a few steps).
    let kept = std::fs::read(&path).ok().and_then(|bytes| serde_json::from_slice::<History>(&bytes).ok());
    let Some(history) = kept else {
        let o = run(case);
        std::fs::write(&path, serde_json::to_vec(&o.history).map_err(std::io::Error::other)?)?;
        return Ok(o);
    };
    let findings = diagnose(&history);
    Ok(Outcome { history, findings })
}

/// `f` over `items` on every core, in order.
pub fn par_map<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let next = Mutex::new(0usize);
    let done: Mutex<Vec<Option<R>>> = Mutex::new(items.iter().map(|_| None).collect());
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| loop {
                let i = {
                    let mut n = next.lock().unwrap();
                    *n += 1;
                    *n - 1
                };
                let Some(item) = items.get(i) else { break };
                let r = f(item);
                done.lock().unwrap()[i] = Some(r);
            });
        }
    });
    done.into_inner().unwrap().into_iter().map(|r| r.expect("every item was mapped")).collect()
}
