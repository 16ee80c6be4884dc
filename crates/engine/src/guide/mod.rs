//! The troubleshooting guide as data: the product's content.
//!
//! Every entry of the guide is a [`GuideEntry`] in [`ENTRIES`], in the guide's order, identified
//! by the GitHub-style slug of its heading (the app's URL for an entry is `#/guide/<id>`). Entries
//! are grouped into the guide's [`SECTIONS`]; one file per section holds them. The guide's two
//! overview tables are here too: [`QUICK_DIAGNOSIS`] (symptom → section) and [`CHECKLIST`] (what
//! to verify before anything else, with the way the app checks each item from telemetry).
//!
//! The text is written for Faultline; code is shown in Rust against the small engine a learner
//! would write by hand (ndarray-style arrays, a `grads` list of named tensors). It is display
//! text, not compiled.

mod alignment;
mod attention;
mod gradients;
mod learning_rate;
pub mod measured;
mod memory;
mod numerical;
mod output_quality;
mod overfitting;
mod performance;
mod plateau;
mod quick;
mod tokenization;

use serde::Serialize;

pub use quick::{CHECKLIST, QUICK_DIAGNOSIS};

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

/// One `###` entry of the guide.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct GuideEntry {
    /// The GitHub-style slug of the heading, e.g. `loss-becomes-nan`.
    pub id: &'static str,
    /// The heading, e.g. "Loss becomes NaN".
    pub title: &'static str,
    /// The title of the `##` section the entry belongs to.
    pub section: &'static str,
    /// The slug of that section.
    pub section_id: &'static str,
    /// One or two sentences: what goes wrong.
    pub summary: &'static str,
    /// What the learner sees.
    pub symptoms: &'static [&'static str],
    /// Why it happens, most common first (the guide's order).
    pub causes: &'static [&'static str],
    /// How to confirm which cause is at work.
    pub diagnosis: &'static [Snippet],
    /// What to change.
    pub fixes: &'static [Snippet],
    /// Ids of entries worth reading next.
    pub related: &'static [&'static str],
}

/// A `##` section of the guide that holds entries.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct Section {
    pub id: &'static str,
    pub title: &'static str,
}

/// One row of the Quick Diagnosis table: a symptom, where in a project it usually starts, and the
/// section (and its entries) to read.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct QuickDiagnosisRow {
    pub symptom: &'static str,
    pub stage: &'static str,
    pub section_id: &'static str,
    /// The entries of that section, the one closest to the symptom first.
    pub entries: &'static [&'static str],
}

/// One item of the Quick Checklist.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct ChecklistItem {
    pub id: &'static str,
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

/// The entry with this id.
pub fn entry(id: &str) -> Option<&'static GuideEntry> {
    ENTRIES.iter().find(|e| e.id == id)
}

/// The section with this id.
pub fn section(id: &str) -> Option<&'static Section> {
    SECTIONS.iter().find(|s| s.id == id)
}

/// The entries of one section, in the guide's order.
pub fn entries_in(section_id: &str) -> impl Iterator<Item = &'static GuideEntry> + '_ {
    ENTRIES.iter().filter(move |e| e.section_id == section_id)
}

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

    const IDS: [&str; 19] = [
        "loss-becomes-nan",
        "loss-stops-decreasing",
        "loss-oscillates-wildly",
        "loss-decreases-very-slowly",
        "finding-the-right-learning-rate",
        "gradients-are-all-zero",
        "vanishing-gradients",
        "exploding-gradients",
        "model-outputs-repetitive-text",
        "model-outputs-nonsense",
        "out-of-memory-oom",
        "validation-loss-increasing-while-training-loss-decreases",
        "training-is-very-slow",
        "many-unk-tokens",
        "tokenization-doesnt-roundtrip",
        "attention-weights-are-uniform",
        "attention-looks-at-future-in-causal-model",
        "reward-increases-but-quality-decreases",
        "dpo-loss-not-decreasing",
    ];

    #[test]
    fn slug_follows_github() {
        assert_eq!(slug("Out of memory (OOM)"), "out-of-memory-oom");
        assert_eq!(slug("Tokenization doesn't roundtrip"), "tokenization-doesnt-roundtrip");
        assert_eq!(slug("Many `<UNK>` tokens"), "many-unk-tokens");
        assert_eq!(slug("Loss becomes NaN"), "loss-becomes-nan");
    }

    #[test]
    fn all_entries_in_the_guides_order() {
        let ids: Vec<&str> = ENTRIES.iter().map(|e| e.id).collect();
        assert_eq!(ids, IDS);
        let unique: HashSet<&str> = ids.iter().copied().collect();
        assert_eq!(unique.len(), ENTRIES.len());
    }

    #[test]
    fn ids_are_slugs_of_titles() {
        for e in ENTRIES {
            assert_eq!(e.id, slug(e.title), "entry title {:?}", e.title);
            assert_eq!(e.section_id, slug(e.section), "section of {}", e.id);
        }
        for s in SECTIONS {
            assert_eq!(s.id, slug(s.title));
        }
    }

    #[test]
    fn every_entry_has_content() {
        for e in ENTRIES {
            assert!(!e.summary.is_empty(), "{} has no summary", e.id);
            assert!(!e.symptoms.is_empty(), "{} has no symptom", e.id);
            assert!(!e.causes.is_empty() || e.id == "finding-the-right-learning-rate", "{} has no cause", e.id);
            assert!(!e.diagnosis.is_empty(), "{} has no diagnosis step", e.id);
            assert!(!e.fixes.is_empty(), "{} has no fix", e.id);
            let texts = e.symptoms.iter().chain(e.causes).copied();
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
    fn related_ids_exist_and_differ_from_their_entry() {
        for e in ENTRIES {
            for r in e.related {
                assert!(entry(r).is_some(), "{} names unknown related entry {r}", e.id);
                assert_ne!(*r, e.id, "{} is related to itself", e.id);
            }
        }
    }

    #[test]
    fn sections_are_contiguous_and_in_order() {
        let mut seen: Vec<&str> = Vec::new();
        for e in ENTRIES {
            assert!(section(e.section_id).is_some(), "{}: unknown section {}", e.id, e.section_id);
            assert_eq!(section(e.section_id).map(|s| s.title), Some(e.section));
            if seen.last() != Some(&e.section_id) {
                assert!(!seen.contains(&e.section_id), "section {} is split", e.section_id);
                seen.push(e.section_id);
            }
        }
        let ids: Vec<&str> = SECTIONS.iter().map(|s| s.id).collect();
        assert_eq!(seen, ids, "every section holds entries, in order");
    }

    #[test]
    fn quick_diagnosis_points_at_real_entries() {
        assert_eq!(QUICK_DIAGNOSIS.len(), 8);
        for row in QUICK_DIAGNOSIS {
            assert!(section(row.section_id).is_some(), "unknown section {}", row.section_id);
            let mut listed: Vec<&str> = row.entries.to_vec();
            for id in &listed {
                let e = entry(id).unwrap_or_else(|| panic!("unknown entry {id}"));
                assert_eq!(e.section_id, row.section_id, "{id} is not in {}", row.section_id);
            }
            listed.sort_unstable();
            let mut all: Vec<&str> = entries_in(row.section_id).map(|e| e.id).collect();
            all.sort_unstable();
            assert_eq!(listed, all, "row {:?} lists every entry of its section", row.symptom);
        }
    }

    #[test]
    fn checklist_has_the_eight_items() {
        let ids: Vec<&str> = CHECKLIST.iter().map(|c| c.id).collect();
        assert_eq!(
            ids,
            [
                "data-sample",
                "shapes",
                "loss-vs-ln-v",
                "nonzero-gradients",
                "lr-range",
                "clipping-on",
                "training-mode",
                "seed-set"
            ]
        );
        for c in CHECKLIST {
            assert!(!c.text.is_empty() && !c.how_checked.is_empty() && !c.how_checked.contains('\n'));
        }
    }

    #[test]
    fn lookup() {
        assert_eq!(entry("out-of-memory-oom").map(|e| e.title), Some("Out of memory (OOM)"));
        assert!(entry("no-such-entry").is_none());
        assert_eq!(entries_in("learning-rate-issues").count(), 3);
    }

    #[test]
    fn serialises_to_json() {
        let json = serde_json::to_value(ENTRIES).unwrap();
        assert_eq!(json.as_array().map(Vec::len), Some(19));
        assert_eq!(json[0]["id"], "loss-becomes-nan");
        assert!(json[0]["diagnosis"][0]["code"].is_string());
        let rows = serde_json::to_value(QUICK_DIAGNOSIS).unwrap();
        assert_eq!(rows[0]["section_id"], "numerical-issues");
        assert!(serde_json::to_string(CHECKLIST).is_ok() && serde_json::to_string(SECTIONS).is_ok());
    }
}
