//! The detector on a sample of the held-out sweep ([`Split::HeldOut`]: seeds, a user text, lengths,
//! strengths and pairs that no threshold or confidence was tuned on). The whole sweep is a benchmark,
//! `cargo run --release -p faultline-evaluation -- --split held-out` (BENCHMARKS.md); CI runs this
//! sample of it ([`cases::sample`], also `-- --split held-out --sample`): the trainer's defaults on
//! every corpus, a quarter of the healthy variations, a fifth of the faulty runs and a third of the
//! pairs.

use faultline_evaluation::logs::{tally, Export};
use faultline_evaluation::report::Report;
use faultline_evaluation::{cases, par_map, run, Case, Kind, Outcome, Split};

/// The same runs written as each format's log, read back and diagnosed from the log alone.
fn as_logs(chosen: &[Case], outcomes: &[Outcome]) -> Vec<(Export, faultline_evaluation::logs::Tally)> {
    let labels: Vec<String> = chosen.iter().map(|c| c.label()).collect();
    Export::ALL.into_iter().map(|f| (f, tally(&labels, outcomes, f))).collect()
}

fn of_kind(kind: Kind) -> Vec<Case> {
    cases::sample(Split::HeldOut).into_iter().filter(|c| c.kind == kind).collect()
}

#[test]
fn held_out_healthy_runs_get_no_diagnosis_including_the_trainers_defaults_on_every_corpus() {
    let chosen = of_kind(Kind::Healthy);
    let defaults = chosen.iter().filter(|c| c.changes.is_empty()).count();
    assert_eq!(defaults, Split::HeldOut.corpora().len(), "the defaults on every corpus");
    let outcomes = par_map(&chosen, run);
    let report = Report::new(&chosen, &outcomes);
    let noisy: Vec<String> = report
        .misses()
        .map(|s| format!("{}: {:?}", s.case.label(), s.findings.iter().map(|f| f.entry).collect::<Vec<_>>()))
        .collect();
    eprintln!("held-out healthy sample: {}", report.tally(Kind::Healthy));
    assert!(noisy.is_empty(), "healthy held-out runs were diagnosed:\n{}", noisy.join("\n"));
    for (format, t) in as_logs(&chosen, &outcomes) {
        assert_eq!(t.quiet, chosen.len(), "{format:?}: healthy runs' logs were diagnosed or unread: {:?}", t.misses);
    }
}

#[test]
fn held_out_faulty_runs_get_their_entry_first_and_pairs_both_entries() {
    let mut chosen = of_kind(Kind::Fault);
    chosen.extend(of_kind(Kind::Pair));
    let outcomes = par_map(&chosen, run);
    let report = Report::new(&chosen, &outcomes);
    for s in report.misses() {
        eprintln!("MISS {}: expected {:?}, got {:?}", s.case.label(), s.case.expected, s.findings);
    }
    let (faults, pairs) = (report.tally(Kind::Fault), report.tally(Kind::Pair));
    eprintln!("held-out faulty sample: right entry first {faults}; pairs with both entries in the first two {pairs}");
    assert!(faults.share() >= 0.95, "top-1 on held-out faulty runs {faults}, below 95%");
    assert!(pairs.share() >= 0.8, "pairs with both entries in the first two {pairs}, below 80%");
    let (mut agree, mut judged) = (0, 0);
    for (format, t) in as_logs(&chosen, &outcomes) {
        eprintln!(
            "{format:?} logs: {}/{} agree, {}/{} unshowable listed, {:?}",
            t.agree, t.judged, t.listed, t.unjudged, t.misses
        );
        (agree, judged) = (agree + t.agree, judged + t.judged);
        assert!(t.judged > 0, "{format:?}: no run's entry was one its log can show");
        assert!(t.misses.iter().all(|m| !m.contains("did not read back")), "{format:?}: {:?}", t.misses);
    }
    assert!(agree * 10 >= judged * 9, "logs name the engine's own entry first in {agree}/{judged}, below 90%");
}
