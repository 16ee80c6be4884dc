//! The troubleshooting guide as data: the product's content, and the ids everything else names it by.
//!
//! Every entry of the guide is a [`GuideEntry`] in [`ENTRIES`], in the guide's order, named by an
//! [`EntryId`] whose spelling is the GitHub-style slug of its heading (the app's URL for an entry is
//! `#/guide/<id>`). Entries are grouped into the guide's [`SECTIONS`] ([`SectionId`]); one file per
//! section holds them. The guide's two overview tables are here too: [`QUICK_DIAGNOSIS`] (symptom →
//! section) and [`CHECKLIST`] (what to verify before anything else, [`CheckId`]).
//!
//! The text is written for Faultline; code is shown in Rust against the small engine a learner
//! would write by hand (ndarray-style arrays, a `grads` list of named tensors). It is display
//! text, not compiled.
//!
//! This crate depends on nothing of the engine: the detector (`faultline-diagnosis`) names entries
//! through it without seeing the fault table or a run's settings.

mod alignment;
mod attention;
mod gradients;
pub mod ids;
mod learning_rate;
mod memory;
mod numerical;
mod output_quality;
mod overfitting;
mod performance;
mod plateau;
mod quick;
mod tokenization;

use serde::Serialize;

pub use ids::UnknownId;
pub use quick::{CHECKLIST, MORE_HELP, QUICK_DIAGNOSIS};

spelled_ids! {
    /// A guide entry, in the guide's order (the order of [`ENTRIES`]).
    pub enum EntryId {
        LossBecomesNan => "loss-becomes-nan",
        LossStopsDecreasing => "loss-stops-decreasing",
        LossOscillatesWildly => "loss-oscillates-wildly",
        LossDecreasesVerySlowly => "loss-decreases-very-slowly",
        FindingTheRightLearningRate => "finding-the-right-learning-rate",
        GradientsAreAllZero => "gradients-are-all-zero",
        VanishingGradients => "vanishing-gradients",
        ExplodingGradients => "exploding-gradients",
        ModelOutputsRepetitiveText => "model-outputs-repetitive-text",
        ModelOutputsNonsense => "model-outputs-nonsense",
        OutOfMemoryOom => "out-of-memory-oom",
        ValidationLossIncreasingWhileTrainingLossDecreases => "validation-loss-increasing-while-training-loss-decreases",
        TrainingIsVerySlow => "training-is-very-slow",
        ManyUnkTokens => "many-unk-tokens",
        TokenizationDoesntRoundtrip => "tokenization-doesnt-roundtrip",
        AttentionWeightsAreUniform => "attention-weights-are-uniform",
        AttentionLooksAtFutureInCausalModel => "attention-looks-at-future-in-causal-model",
        RewardIncreasesButQualityDecreases => "reward-increases-but-quality-decreases",
        DpoLossNotDecreasing => "dpo-loss-not-decreasing",
    }
}

spelled_ids! {
    /// A `##` section of the guide that holds entries, in the guide's order (the order of [`SECTIONS`]).
    pub enum SectionId {
        NumericalIssues => "numerical-issues",
        LossPlateau => "loss-plateau",
        LearningRateIssues => "learning-rate-issues",
        GradientIssues => "gradient-issues",
        OutputQualityIssues => "output-quality-issues",
        MemoryIssues => "memory-issues",
        Overfitting => "overfitting",
        PerformanceIssues => "performance-issues",
        TokenizationIssues => "tokenization-issues",
        AttentionIssues => "attention-issues",
        AlignmentIssues => "alignment-issues",
    }
}

spelled_ids! {
    /// An item of the Quick Checklist, in the guide's order (the order of [`CHECKLIST`]).
    pub enum CheckId {
        DataSample => "data-sample",
        Shapes => "shapes",
        LossVsLnV => "loss-vs-ln-v",
        NonzeroGradients => "nonzero-gradients",
        LrRange => "lr-range",
        ClippingOn => "clipping-on",
        TrainingMode => "training-mode",
        SeedSet => "seed-set",
    }
}

spelled_ids! {
    /// One of the causes the guide lists for an entry, in the guide's order.
    pub enum CauseId {
        NanLrTooHigh => "nan-lr-too-high",
        DivideByZero => "divide-by-zero",
        LogOfZero => "log-of-zero",
        SoftmaxOverflow => "softmax-overflow",
        PlateauLrTooLow => "plateau-lr-too-low",
        LocalMinimum => "local-minimum",
        PlateauVanishingGradients => "plateau-vanishing-gradients",
        ModelTooSmall => "model-too-small",
        DataExhausted => "data-exhausted",
        OscillatingLrTooHigh => "oscillating-lr-too-high",
        SlowLrTooLow => "slow-lr-too-low",
        GradsNeverReset => "grads-never-reset",
        LossDetached => "loss-detached",
        DeadRelu => "dead-relu",
        GraphBroken => "graph-broken",
        NoResiduals => "no-residuals",
        SaturatedActivations => "saturated-activations",
        VanishingInit => "vanishing-init",
        NoClipping => "no-clipping",
        ExplodingLr => "exploding-lr",
        InitTooLarge => "init-too-large",
        TemperatureTooLow => "temperature-too-low",
        NoSampling => "no-sampling",
        TrainingCollapsed => "training-collapsed",
        Undertrained => "undertrained",
        TokenizerMismatch => "tokenizer-mismatch",
        WrongWeights => "wrong-weights",
        CorruptEmbeddings => "corrupt-embeddings",
        BatchTooLarge => "batch-too-large",
        SequencesTooLong => "sequences-too-long",
        ModelTooLarge => "model-too-large",
        TensorsKeptAlive => "tensors-kept-alive",
        TooMuchCapacity => "too-much-capacity",
        TooLittleData => "too-little-data",
        NoRegularization => "no-regularization",
        TrainedTooLong => "trained-too-long",
        GpuUnused => "gpu-unused",
        DataBottleneck => "data-bottleneck",
        LoggingTooOften => "logging-too-often",
        InefficientOps => "inefficient-ops",
        VocabularyMismatch => "vocabulary-mismatch",
        NormalizationDiffers => "normalization-differs",
        LossyWhitespace => "lossy-whitespace",
        SpecialTokens => "special-tokens",
        AttnScaleWrong => "attn-scale-wrong",
        AttnInitTooSmall => "attn-init-too-small",
        AttnUndertrained => "attn-undertrained",
        MaskMissing => "mask-missing",
        ProxyRewardExploited => "proxy-reward-exploited",
        KlPenaltyTooWeak => "kl-penalty-too-weak",
        DpoLrTooLow => "dpo-lr-too-low",
        DpoBetaTooHigh => "dpo-beta-too-high",
        DpoReferenceNotFrozen => "dpo-reference-not-frozen",
        DpoLogprobBug => "dpo-logprob-bug",
    }
}

impl EntryId {
    /// The entry's content.
    pub fn entry(self) -> &'static GuideEntry {
        &ENTRIES[self.index()]
    }

    /// The section the entry belongs to.
    pub fn section(self) -> SectionId {
        self.entry().section
    }

    /// The entry's heading.
    pub fn title(self) -> &'static str {
        self.entry().title
    }
}

impl SectionId {
    /// The section's heading.
    pub fn title(self) -> &'static str {
        SECTIONS[self.index()].title
    }

    /// The section's entries, in the guide's order.
    pub fn entries(self) -> impl Iterator<Item = &'static GuideEntry> {
        ENTRIES.iter().filter(move |e| e.section == self)
    }
}

/// One diagnosis step or one fix: a sentence or two, with optional Rust code.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct Snippet {
    pub text: &'static str,
    pub code: Option<&'static str>,
}

impl Snippet {
    /// A step that needs no code.
    pub const fn plain(text: &'static str) -> Self {
        Self { text, code: None }
    }

    /// A step shown with a piece of Rust.
    pub const fn with_code(text: &'static str, code: &'static str) -> Self {
        Self { text, code: Some(code) }
    }
}

/// One cause the guide gives for an entry's symptom.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct Cause {
    pub id: CauseId,
    pub text: &'static str,
}

/// One `###` entry of the guide.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct GuideEntry {
    /// The GitHub-style slug of the heading, e.g. `loss-becomes-nan`.
    pub id: EntryId,
    /// The heading, e.g. "Loss becomes NaN".
    pub title: &'static str,
    /// The `##` section the entry belongs to.
    pub section: SectionId,
    /// One or two sentences: what goes wrong.
    pub summary: &'static str,
    /// What the learner sees.
    pub symptoms: &'static [&'static str],
    /// Why it happens, most common first (the guide's order).
    pub causes: &'static [Cause],
    /// How to confirm which cause is at work.
    pub diagnosis: &'static [Snippet],
    /// What to change.
    pub fixes: &'static [Snippet],
    /// Entries worth reading next.
    pub related: &'static [EntryId],
}

/// A `##` section of the guide that holds entries.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct Section {
    pub id: SectionId,
    pub title: &'static str,
}

/// One row of the Quick Diagnosis table: a symptom, where in a project it usually starts, and the
/// section (and its entries) to read.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct QuickDiagnosisRow {
    pub symptom: &'static str,
    pub stage: &'static str,
    pub section: SectionId,
    /// The entries of that section, the one closest to the symptom first.
    pub entries: &'static [EntryId],
}

/// One item of the Quick Checklist.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct ChecklistItem {
    pub id: CheckId,
    pub text: &'static str,
    /// How the app checks the item live, from telemetry.
    pub how_checked: &'static str,
}

/// The sections with entries, in the guide's order.
pub const SECTIONS: &[Section] = &[
    numerical::SECTION,
    plateau::SECTION,
    learning_rate::SECTION,
    gradients::SECTION,
    output_quality::SECTION,
    memory::SECTION,
    overfitting::SECTION,
    performance::SECTION,
    tokenization::SECTION,
    attention::SECTION,
    alignment::SECTION,
];

/// Every entry, in the guide's order.
pub const ENTRIES: &[GuideEntry] = &[
    numerical::LOSS_BECOMES_NAN,
    plateau::LOSS_STOPS_DECREASING,
    learning_rate::LOSS_OSCILLATES_WILDLY,
    learning_rate::LOSS_DECREASES_VERY_SLOWLY,
    learning_rate::FINDING_THE_RIGHT_LEARNING_RATE,
    gradients::GRADIENTS_ARE_ALL_ZERO,
    gradients::VANISHING_GRADIENTS,
    gradients::EXPLODING_GRADIENTS,
    output_quality::MODEL_OUTPUTS_REPETITIVE_TEXT,
    output_quality::MODEL_OUTPUTS_NONSENSE,
    memory::OUT_OF_MEMORY_OOM,
    overfitting::VALIDATION_LOSS_INCREASING,
    performance::TRAINING_IS_VERY_SLOW,
    tokenization::MANY_UNK_TOKENS,
    tokenization::TOKENIZATION_DOESNT_ROUNDTRIP,
    attention::ATTENTION_WEIGHTS_ARE_UNIFORM,
    attention::ATTENTION_LOOKS_AT_FUTURE,
    alignment::REWARD_INCREASES_BUT_QUALITY_DECREASES,
    alignment::DPO_LOSS_NOT_DECREASING,
];

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    /// GitHub's heading anchors: lower case; keep letters, digits, spaces, hyphens; spaces → hyphens.
    fn slug(heading: &str) -> String {
        heading
            .to_lowercase()
            .chars()
            .filter(|c| c.is_alphanumeric() || *c == ' ' || *c == '-')
            .map(|c| if c == ' ' { '-' } else { c })
            .collect()
    }

    #[test]
    fn slug_follows_github() {
        assert_eq!(slug("Out of memory (OOM)"), "out-of-memory-oom");
        assert_eq!(slug("Tokenization doesn't roundtrip"), "tokenization-doesnt-roundtrip");
        assert_eq!(slug("Many `<UNK>` tokens"), "many-unk-tokens");
        assert_eq!(slug("Loss becomes NaN"), "loss-becomes-nan");
    }

    #[test]
    fn every_table_is_in_the_order_of_its_ids() {
        let ids: Vec<EntryId> = ENTRIES.iter().map(|e| e.id).collect();
        assert_eq!(ids, EntryId::ALL);
        assert_eq!(ENTRIES.len(), 19);
        let sections: Vec<SectionId> = SECTIONS.iter().map(|s| s.id).collect();
        assert_eq!(sections, SectionId::ALL);
        let checks: Vec<CheckId> = CHECKLIST.iter().map(|c| c.id).collect();
        assert_eq!(checks, CheckId::ALL);
    }

    #[test]
    fn spellings_are_slugs_of_titles() {
        for e in ENTRIES {
            assert_eq!(e.id.as_str(), slug(e.title), "entry title {:?}", e.title);
        }
        for s in SECTIONS {
            assert_eq!(s.id.as_str(), slug(s.title));
        }
        let unique: HashSet<&str> = EntryId::ALL.iter().map(|e| e.as_str()).collect();
        assert_eq!(unique.len(), ENTRIES.len());
    }

    #[test]
    fn every_entry_has_content() {
        for e in ENTRIES {
            assert!(!e.summary.is_empty(), "{} has no summary", e.id);
            assert!(!e.symptoms.is_empty(), "{} has no symptom", e.id);
            assert!(!e.causes.is_empty() || e.id == EntryId::FindingTheRightLearningRate, "{} has no cause", e.id);
            assert!(!e.diagnosis.is_empty(), "{} has no diagnosis step", e.id);
            assert!(!e.fixes.is_empty(), "{} has no fix", e.id);
            let texts = e.symptoms.iter().copied().chain(e.causes.iter().map(|c| c.text));
            let snippets = e.diagnosis.iter().chain(e.fixes).map(|s| s.text);
            for t in texts.chain(snippets) {
                assert!(!t.trim().is_empty(), "{} has an empty line", e.id);
            }
        }
    }

    #[test]
    fn code_is_rust_not_python() {
        for e in ENTRIES {
            for code in e.diagnosis.iter().chain(e.fixes).filter_map(|s| s.code) {
                for python in ["np.", "def ", "print(", "import ", "**", "elif ", "lambda"] {
                    assert!(!code.contains(python), "{}: {python:?} in {code}", e.id);
                }
                assert!(!code.trim().is_empty() && code == code.trim_end(), "{}: untidy code {code:?}", e.id);
            }
        }
    }

    #[test]
    fn every_cause_is_listed_once_in_the_order_of_its_ids() {
        let listed: Vec<CauseId> = ENTRIES.iter().flat_map(|e| e.causes.iter().map(|c| c.id)).collect();
        assert_eq!(listed, CauseId::ALL);
        let mask = EntryId::AttentionLooksAtFutureInCausalModel.entry();
        assert!(mask.causes.iter().any(|c| c.id == CauseId::MaskMissing));
    }

    #[test]
    fn no_entry_is_related_to_itself() {
        for e in ENTRIES {
            assert!(!e.related.contains(&e.id), "{} is related to itself", e.id);
        }
    }

    #[test]
    fn sections_are_contiguous_and_in_order() {
        let mut seen: Vec<SectionId> = Vec::new();
        for e in ENTRIES {
            if seen.last() != Some(&e.section) {
                assert!(!seen.contains(&e.section), "section {} is split", e.section);
                seen.push(e.section);
            }
        }
        assert_eq!(seen, SectionId::ALL, "every section holds entries, in order");
    }

    #[test]
    fn quick_diagnosis_lists_every_entry_of_its_section() {
        assert_eq!(QUICK_DIAGNOSIS.len(), 8);
        for row in QUICK_DIAGNOSIS {
            let mut listed: Vec<EntryId> = row.entries.to_vec();
            for id in &listed {
                assert_eq!(id.section(), row.section, "{id} is not in {}", row.section);
            }
            listed.sort_unstable();
            let mut all: Vec<EntryId> = row.section.entries().map(|e| e.id).collect();
            all.sort_unstable();
            assert_eq!(listed, all, "row {:?} lists every entry of its section", row.symptom);
        }
    }

    #[test]
    fn checklist_items_have_text() {
        for c in CHECKLIST {
            assert!(!c.text.is_empty() && !c.how_checked.is_empty() && !c.how_checked.contains('\n'));
        }
    }

    #[test]
    fn lookup() {
        let oom: EntryId = "out-of-memory-oom".parse().unwrap();
        assert_eq!(oom.title(), "Out of memory (OOM)");
        assert!("no-such-entry".parse::<EntryId>().is_err());
        assert_eq!(SectionId::LearningRateIssues.entries().count(), 3);
        assert_eq!(EntryId::LossBecomesNan.section().title(), "Numerical Issues");
    }

    #[test]
    fn serialises_ids_by_their_spelling() {
        let json = serde_json::to_value(ENTRIES).unwrap();
        assert_eq!(json.as_array().map(Vec::len), Some(19));
        assert_eq!(json[0]["id"], "loss-becomes-nan");
        assert_eq!(json[0]["section"], "numerical-issues");
        assert!(json[0]["diagnosis"][0]["code"].is_string());
        let rows = serde_json::to_value(QUICK_DIAGNOSIS).unwrap();
        assert_eq!(rows[0]["section"], "numerical-issues");
        assert_eq!(rows[0]["entries"][0], "loss-becomes-nan");
        assert!(serde_json::to_string(CHECKLIST).is_ok() && serde_json::to_string(SECTIONS).is_ok());
    }
}
