//! The guide's two overview tables: Quick Diagnosis and the Quick Checklist.

use super::{ChecklistItem, QuickDiagnosisRow};

/// From a symptom to the section to read, with its entries (the closest one first).
pub const QUICK_DIAGNOSIS: &[QuickDiagnosisRow] = &[
    QuickDiagnosisRow {
        symptom: "The loss is NaN or infinite",
        stage: "Training",
        section_id: "numerical-issues",
        entries: &["loss-becomes-nan"],
    },
    QuickDiagnosisRow {
        symptom: "The loss has stopped going down",
        stage: "Training",
        section_id: "loss-plateau",
        entries: &["loss-stops-decreasing"],
    },
    QuickDiagnosisRow {
        symptom: "The loss swings up and down",
        stage: "Optimization",
        section_id: "learning-rate-issues",
        entries: &["loss-oscillates-wildly", "finding-the-right-learning-rate", "loss-decreases-very-slowly"],
    },
    QuickDiagnosisRow {
        symptom: "The model writes garbage",
        stage: "Multiple",
        section_id: "output-quality-issues",
        entries: &["model-outputs-nonsense", "model-outputs-repetitive-text"],
    },
    QuickDiagnosisRow {
        symptom: "Memory runs out",
        stage: "Architecture",
        section_id: "memory-issues",
        entries: &["out-of-memory-oom"],
    },
    QuickDiagnosisRow {
        symptom: "The gradients are zero",
        stage: "Backprop",
        section_id: "gradient-issues",
        entries: &["gradients-are-all-zero", "vanishing-gradients", "exploding-gradients"],
    },
    QuickDiagnosisRow {
        symptom: "Training takes very long",
        stage: "Multiple",
        section_id: "performance-issues",
        entries: &["training-is-very-slow"],
    },
    QuickDiagnosisRow {
        symptom: "Error on held-out data is far above training error",
        stage: "Training",
        section_id: "overfitting",
        entries: &["validation-loss-increasing-while-training-loss-decreases"],
    },
];

/// What to verify before anything else, and how the app verifies it on a live run.
pub const CHECKLIST: &[ChecklistItem] = &[
    ChecklistItem {
        id: "data-sample",
        text: "The data is loaded correctly: decode a sample batch and read it.",
        how_checked: "The first training batch is decoded back to text and shown before step 1.",
    },
    ChecklistItem {
        id: "shapes",
        text: "Every layer produces the shape you expect.",
        how_checked: "Each activation's shape is checked against the config (tokens × d_model, \
                      logits × vocab) and a mismatch stops the run naming the tensor.",
    },
    ChecklistItem {
        id: "loss-vs-ln-v",
        text: "The loss is the right one (next-token cross-entropy for a language model), so a \
               fresh model starts near ln(vocab_size).",
        how_checked: "The first step's loss is compared with ln(vocab_size); a gap of more than \
                      about 0.5 nats is flagged.",
    },
    ChecklistItem {
        id: "nonzero-gradients",
        text: "Gradients exist and are not zero.",
        how_checked: "Every step's global gradient norm is watched for exact zeros and non-finite \
                      values.",
    },
    ChecklistItem {
        id: "lr-range",
        text: "The learning rate is reasonable; 1e-4 is a safe first guess.",
        how_checked: "The scheduled learning rate in each step record is compared with the usual \
                      AdamW band, 1e-5 to 1e-2.",
    },
    ChecklistItem {
        id: "clipping-on",
        text: "Gradient clipping is on, at a maximum norm of 1.0.",
        how_checked: "The run's clip threshold is shown, with a count of steps whose pre-clip \
                      gradient norm exceeded it.",
    },
    ChecklistItem {
        id: "training-mode",
        text: "The model is in training mode while it trains (dropout active) and in evaluation \
               mode while it is evaluated.",
        how_checked: "Step records come from training-mode passes and evaluation records from \
                      passes with dropout off, and each record says which.",
    },
    ChecklistItem {
        id: "seed-set",
        text: "Random seeds are fixed, so a run can be reproduced exactly.",
        how_checked: "Every run records its seed, and a restart with the same seed must reproduce \
                      the first loss bit for bit.",
    },
];
