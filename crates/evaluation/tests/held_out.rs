//! The detector on a sample of the held-out sweep ([`Split::HeldOut`]: seeds, the user text, lengths,
//! strengths and pairs that no threshold or confidence was tuned on). The whole sweep is a benchmark,
//! `cargo run --release -p faultline-evaluation -- --split held-out` (BENCHMARKS.md); CI runs this
//! sample of it: the trainer's defaults on every corpus, a quarter of the healthy variations, a fifth
//! of the faulty runs and a third of the pairs, chosen by position so that every kind of case is in it.

use faultline_evaluation::report::Report;
use faultline_evaluation::{cases, par_map, run, Case, Kind, Split};

/// Every `every`-th case, starting at `from`.
fn every(cases: Vec<Case>, from: usize, every: usize) -> Vec<Case> {
    cases.into_iter().skip(from).step_by(every).collect()
}

#[test]
fn held_out_healthy_runs_get_no_diagnosis_including_the_trainers_defaults_on_every_corpus() {
    let healthy = cases::healthy(Split::HeldOut);
    let seeds = Split::HeldOut.seeds().len();
    let (defaults, variations): (Vec<Case>, Vec<Case>) = healthy.into_iter().partition(|c| c.changes.is_empty());
    // One seed of the defaults per corpus (a different one each), then every fourth variation.
    let mut chosen: Vec<Case> =
        defaults.into_iter().enumerate().filter(|(i, _)| i % seeds == i / seeds).map(|(_, c)| c).collect();
    assert_eq!(chosen.len(), Split::HeldOut.corpora().len(), "the defaults on every corpus");
    chosen.extend(every(variations, 1, 4));
    let outcomes = par_map(&chosen, run);
    let report = Report::new(&chosen, &outcomes);
    let noisy: Vec<String> = report
        .misses()
        .map(|s| format!("{}: {:?}", s.case.label(), s.findings.iter().map(|f| f.entry).collect::<Vec<_>>()))
        .collect();
    eprintln!("held-out healthy sample: {}", report.tally(Kind::Healthy));
    assert!(noisy.is_empty(), "healthy held-out runs were diagnosed:\n{}", noisy.join("\n"));
}

#[test]
fn held_out_faulty_runs_get_their_entry_first_and_pairs_both_entries() {
    let mut chosen = every(cases::faulty(Split::HeldOut), 2, 5);
    chosen.extend(every(cases::pairs_of_faults(Split::HeldOut), 0, 3));
    let outcomes = par_map(&chosen, run);
    let report = Report::new(&chosen, &outcomes);
    for s in report.misses() {
        eprintln!("MISS {}: expected {:?}, got {:?}", s.case.label(), s.case.expected, s.findings);
    }
    let (faults, pairs) = (report.tally(Kind::Fault), report.tally(Kind::Pair));
    eprintln!("held-out faulty sample: right entry first {faults}; pairs with both entries in the first two {pairs}");
    assert!(faults.share() >= 0.95, "top-1 on held-out faulty runs {faults}, below 95%");
    assert!(pairs.share() >= 0.8, "pairs with both entries in the first two {pairs}, below 80%");
}
