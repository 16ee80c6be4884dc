//! What a sweep measured: false alarms, top-1 accuracy, pairs, the confusion matrix with precision and
//! recall per entry, and the reliability of the findings' confidence.

use crate::{Case, Kind, Outcome};
use faultline_engine::diagnosis::Finding;
use std::collections::BTreeMap;
use std::fmt::Write;

/// One case's result: what was expected, what the detector said.
pub struct Scored<'a> {
    pub case: &'a Case,
    pub findings: &'a [Finding],
}

impl Scored<'_> {
    pub fn first(&self) -> &'static str {
        crate::first_entry(self.findings)
    }

    /// Healthy: no finding. One fault: its entry first. A pair: both entries in the first two.
    pub fn passed(&self) -> bool {
        match self.case.kind {
            Kind::Healthy => self.findings.is_empty(),
            Kind::Fault => self.findings.first().is_some_and(|f| f.entry == self.case.expected[0]),
            Kind::Pair => {
                let top: Vec<_> = self.findings.iter().take(2).map(|f| f.entry).collect();
                self.case.expected.iter().all(|e| top.contains(e))
            }
        }
    }
}

/// The results of a sweep.
pub struct Report<'a> {
    pub scored: Vec<Scored<'a>>,
}

/// Passed of total.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tally {
    pub passed: usize,
    pub total: usize,
}

impl Tally {
    pub fn share(self) -> f64 {
        self.passed as f64 / self.total.max(1) as f64
    }
}

impl std::fmt::Display for Tally {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{} ({:.1} %)", self.passed, self.total, 100.0 * self.share())
    }
}

/// Confidence bins of the reliability table: [0.5, 0.6), … [0.9, 1.0].
const BINS: [f32; 5] = [0.5, 0.6, 0.7, 0.8, 0.9];

impl<'a> Report<'a> {
    pub fn new(cases: &'a [Case], outcomes: &'a [Outcome]) -> Report<'a> {
        let scored = cases.iter().zip(outcomes).map(|(case, o)| Scored { case, findings: &o.findings }).collect();
        Report { scored }
    }

    pub fn tally(&self, kind: Kind) -> Tally {
        let of_kind: Vec<_> = self.scored.iter().filter(|s| s.case.kind == kind).collect();
        Tally { passed: of_kind.iter().filter(|s| s.passed()).count(), total: of_kind.len() }
    }

    /// The cases that did not pass.
    pub fn misses(&self) -> impl Iterator<Item = &Scored<'a>> {
        self.scored.iter().filter(|s| !s.passed())
    }

    /// Expected entry (`(healthy)` for none) → the detector's first entry → runs, over healthy and
    /// single-fault cases.
    pub fn confusion(&self) -> BTreeMap<&'static str, BTreeMap<&'static str, usize>> {
        let mut table: BTreeMap<&str, BTreeMap<&str, usize>> = BTreeMap::new();
        for s in self.scored.iter().filter(|s| s.case.kind != Kind::Pair) {
            let expected = s.case.expected.first().map_or("(healthy)", |e| e.as_str());
            *table.entry(expected).or_default().entry(s.first()).or_default() += 1;
        }
        table
    }

    /// Per entry: (precision, recall) of the first finding, over healthy and single-fault cases.
    /// Precision is `None` where the detector never named the entry first.
    pub fn precision_recall(&self) -> BTreeMap<&'static str, (Option<Tally>, Tally)> {
        let confusion = self.confusion();
        let mut named: BTreeMap<&str, usize> = BTreeMap::new();
        for row in confusion.values() {
            for (&got, &n) in row {
                *named.entry(got).or_default() += n;
            }
        }
        confusion
            .iter()
            .filter(|(&expected, _)| expected != "(healthy)")
            .map(|(&expected, row)| {
                let right = row.get(expected).copied().unwrap_or(0);
                let recall = Tally { passed: right, total: row.values().sum() };
                let precision = named.get(expected).map(|&total| Tally { passed: right, total });
                (expected, (precision, recall))
            })
            .collect()
    }

    /// Every finding of healthy and single-fault cases by confidence bin: (bin's lower edge, right of
    /// all). A finding is right when it names the case's fault's entry; every finding on a healthy
    /// run is wrong.
    pub fn reliability(&self) -> Vec<(f32, Tally)> {
        let mut bins: Vec<(f32, Tally)> = BINS.iter().map(|&b| (b, Tally { passed: 0, total: 0 })).collect();
        for s in self.scored.iter().filter(|s| s.case.kind != Kind::Pair) {
            for f in s.findings {
                let Some(bin) = bins.iter_mut().rev().find(|(edge, _)| f.confidence >= *edge) else { continue };
                bin.1.total += 1;
                bin.1.passed += usize::from(s.case.expected.contains(&f.entry));
            }
        }
        bins
    }

    /// Findings at confidence ≥ `at`: right of all.
    pub fn right_at_or_above(&self, at: f32) -> Tally {
        self.reliability().iter().filter(|(edge, _)| *edge >= at).fold(Tally { passed: 0, total: 0 }, |a, (_, t)| {
            Tally { passed: a.passed + t.passed, total: a.total + t.total }
        })
    }

    /// Per rule (the evidence's kind): how often it fired in a finding, and how often that finding
    /// named the case's entry. The confidences in the detector come from this table on the tuning split.
    pub fn rules(&self) -> BTreeMap<String, Tally> {
        let mut rules: BTreeMap<String, Tally> = BTreeMap::new();
        for s in self.scored.iter().filter(|s| s.case.kind != Kind::Pair) {
            for f in s.findings {
                for e in &f.evidence {
                    let t = rules.entry(e.rule().to_string()).or_insert(Tally { passed: 0, total: 0 });
                    t.total += 1;
                    t.passed += usize::from(s.case.expected.contains(&f.entry));
                }
            }
        }
        rules
    }

    /// The report as Markdown, for BENCHMARKS.md.
    pub fn markdown(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "| Measure | Result |\n|---|---|");
        let _ = writeln!(out, "| Healthy runs with no diagnosis | {} |", self.tally(Kind::Healthy));
        let _ = writeln!(out, "| Faulty runs, right entry first | {} |", self.tally(Kind::Fault));
        let _ = writeln!(out, "| Pairs of faults, both entries in the first two | {} |", self.tally(Kind::Pair));
        let _ = writeln!(out, "| Findings at confidence ≥ 0.8 that are right | {} |", self.right_at_or_above(0.8));
        let _ = writeln!(out, "\n| Entry | Precision | Recall | Named first instead |\n|---|---|---|---|");
        let confusion = self.confusion();
        for (entry, (precision, recall)) in self.precision_recall() {
            let others: Vec<String> = confusion[entry]
                .iter()
                .filter(|(&got, _)| got != entry)
                .map(|(got, n)| format!("{got} ×{n}"))
                .collect();
            let precision = precision.map_or("—".to_string(), |p| p.to_string());
            let _ = writeln!(out, "| {entry} | {precision} | {recall} | {} |", others.join(", "));
        }
        if let Some(row) = confusion.get("(healthy)") {
            let named: Vec<String> = row.iter().map(|(got, n)| format!("{got} ×{n}")).collect();
            let _ = writeln!(out, "| (healthy runs) | | | {} |", named.join(", "));
        }
        let _ = writeln!(out, "\n| Confidence | Findings | Right |\n|---|---|---|");
        for (i, (edge, t)) in self.reliability().iter().enumerate() {
            let upper = BINS.get(i + 1).map_or("1.0]".to_string(), |u| format!("{u:.1})"));
            let _ = writeln!(out, "| [{edge:.1}, {upper} | {} | {} |", t.total, t);
        }
        out
    }
}
