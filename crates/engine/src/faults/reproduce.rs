//! Which fault reproduces a guide entry: what the engine's own symptom matrix measured. Every fault
//! ran in its scenario on seeds 1–3 of toy-English and arithmetic (200 steps); a row counts the runs
//! of one fault whose detector named one entry first (counted 2026-12-06 on an Intel Xeon). The page that diagnoses an imported log offers
//! the best row of the log's entry as "reproduce this in Faultline".
//!
//! `crates/evaluation/tests/symptoms.rs` recounts the matrix: in full
//! (`cargo test --release -p faultline-evaluation --test symptoms -- confusion_matrix`) it must equal
//! [`REPRODUCTIONS`] and prints the rows to paste when the engine moves them; CI's sample, a subset of
//! the same runs, must not contradict them.

use super::{FaultId, Stage};
use crate::align::Method;
use faultline_guide::EntryId;
use serde::Serialize;

/// The runs of one fault whose detector named one entry first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Reproduction {
    pub entry: EntryId,
    pub fault: FaultId,
    /// Runs whose first entry was `entry`.
    pub named: u32,
    /// The fault's runs in the matrix.
    pub runs: u32,
}

const fn row(entry: EntryId, fault: FaultId, named: u32) -> Reproduction {
    Reproduction { entry, fault, named, runs: RUNS }
}

/// Runs of each fault in the full matrix: 3 seeds × 2 corpora.
pub const RUNS: u32 = 6;

/// The command that checks fault `id`'s symptom against real runs, as a guide entry page quotes it: the
/// symptom test narrowed to the fault for a pretraining fault (its criterion against the healthy run
/// on the same seed, and the detector's top finding), the held-out DPO or policy-gradient test for a
/// fine-tuning fault.
pub fn symptom_test(id: FaultId) -> String {
    match Method::of(id.spec().guide_entry).filter(|_| id.spec().stage == Stage::FineTuning) {
        Some(method) => format!("cargo test --release -p faultline-evaluation --test {}", method.command()),
        None => format!("FAULTLINE_MATRIX_FAULTS={id} cargo test --release -p faultline-evaluation --test symptoms"),
    }
}

/// Every (entry, fault) pair the matrix produced, in the fault table's order.
pub const REPRODUCTIONS: &[Reproduction] = &[
    row(EntryId::LossOscillatesWildly, FaultId::LrTooHigh, 6),
    row(EntryId::LossDecreasesVerySlowly, FaultId::LrTooLow, 6),
    row(EntryId::LossStopsDecreasing, FaultId::NoWarmup, 6),
    row(EntryId::ExplodingGradients, FaultId::NoGradClip, 5),
    row(EntryId::ModelOutputsNonsense, FaultId::NoGradClip, 1),
    row(EntryId::ExplodingGradients, FaultId::InitTooLarge, 6),
    row(EntryId::GradientsAreAllZero, FaultId::InitZero, 6),
    row(EntryId::GradientsAreAllZero, FaultId::NoZeroGrad, 6),
    row(EntryId::GradientsAreAllZero, FaultId::DetachedBlock, 6),
    row(EntryId::GradientsAreAllZero, FaultId::DeadRelu, 6),
    row(EntryId::VanishingGradients, FaultId::SigmoidActivation, 6),
    row(EntryId::VanishingGradients, FaultId::NoResidual, 6),
    row(EntryId::VanishingGradients, FaultId::PostNorm, 6),
    row(EntryId::LossBecomesNan, FaultId::NaiveLogSoftmax, 6),
    row(EntryId::LossBecomesNan, FaultId::SoftmaxNoMaxShift, 6),
    row(EntryId::LossBecomesNan, FaultId::LayernormNoEps, 6),
    row(EntryId::AttentionWeightsAreUniform, FaultId::NoAttnScale, 6),
    row(EntryId::AttentionLooksAtFutureInCausalModel, FaultId::NoCausalMask, 6),
    row(EntryId::ValidationLossIncreasingWhileTrainingLossDecreases, FaultId::TinyDataset, 6),
    row(EntryId::ValidationLossIncreasingWhileTrainingLossDecreases, FaultId::NoRegularization, 6),
    row(EntryId::ModelOutputsRepetitiveText, FaultId::GreedyDecoding, 6),
    row(EntryId::ModelOutputsRepetitiveText, FaultId::TemperatureTooLow, 6),
    row(EntryId::ModelOutputsNonsense, FaultId::TokenizerMismatch, 6),
    row(EntryId::ModelOutputsNonsense, FaultId::CorruptEmbeddings, 6),
    row(EntryId::ModelOutputsNonsense, FaultId::WrongCheckpoint, 6),
    row(EntryId::OutOfMemoryOom, FaultId::BatchTooLarge, 6),
    row(EntryId::TrainingIsVerySlow, FaultId::SyncEveryStep, 6),
    row(EntryId::ManyUnkTokens, FaultId::WordLevelVocab, 6),
    row(EntryId::TokenizationDoesntRoundtrip, FaultId::LossyNormalization, 6),
];

/// The faults that reproduce `entry`, the most reliable first (ties in the fault table's order).
pub fn for_entry(entry: EntryId) -> impl Iterator<Item = &'static Reproduction> {
    let mut rows: Vec<&Reproduction> = REPRODUCTIONS.iter().filter(|r| r.entry == entry).collect();
    rows.sort_by_key(|r| std::cmp::Reverse(r.named));
    rows.into_iter()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    /// Every fault's test command names a test file of the evaluation crate and, for a pretraining
    /// fault, the filter that narrows the symptom test to it.
    #[test]
    fn every_fault_names_a_symptom_test_that_exists() {
        let tests = Path::new(env!("CARGO_MANIFEST_DIR")).join("../evaluation/tests");
        for &id in FaultId::ALL {
            let command = symptom_test(id);
            let file = command.rsplit(' ').next().unwrap();
            assert!(tests.join(format!("{file}.rs")).is_file(), "{id}: {command}");
            if id.spec().stage == Stage::Pretraining {
                assert!(command.starts_with(&format!("FAULTLINE_MATRIX_FAULTS={id} ")), "{command}");
            }
        }
    }

    #[test]
    fn every_fault_has_its_runs_and_reproduces_its_own_entry_best() {
        for spec in Stage::Pretraining.faults() {
            let rows: Vec<_> = REPRODUCTIONS.iter().filter(|r| r.fault == spec.id).collect();
            assert!(rows.iter().map(|r| r.named).sum::<u32>() <= RUNS, "{}: more rows than runs", spec.id);
            let best = for_entry(spec.guide_entry).next().expect("every entry of the table is reproduced");
            assert_eq!(best.entry, spec.guide_entry);
            assert!(best.named * 2 > RUNS, "{}: its entry's best fault names it in most runs", spec.id);
        }
        let ranked: Vec<_> = for_entry(EntryId::ModelOutputsNonsense).map(|r| (r.fault, r.named)).collect();
        assert_eq!(ranked.last(), Some(&(FaultId::NoGradClip, 1)), "the fault that names it once comes last");
    }
}
