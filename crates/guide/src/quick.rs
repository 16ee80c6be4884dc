//! The guide's two overview tables: Quick Diagnosis and the Quick Checklist.

use super::{CheckId, ChecklistItem, EntryId, QuickDiagnosisRow, SectionId};

/// From a symptom to the section to read, with its entries (the closest one first).
pub const QUICK_DIAGNOSIS: &[QuickDiagnosisRow] = &[
    QuickDiagnosisRow {
        symptom: "The loss is NaN or infinite",
        stage: "Training",
        section: SectionId::NumericalIssues,
        entries: &[EntryId::LossBecomesNan],
    },
    QuickDiagnosisRow {
        symptom: "The loss has stopped going down",
        stage: "Training",
        section: SectionId::LossPlateau,
        entries: &[EntryId::LossStopsDecreasing],
    },
    QuickDiagnosisRow {
        symptom: "The loss swings up and down",
        stage: "Optimization",
        section: SectionId::LearningRateIssues,
        entries: &[
            EntryId::LossOscillatesWildly,
            EntryId::FindingTheRightLearningRate,
            EntryId::LossDecreasesVerySlowly,
        ],
    },
    QuickDiagnosisRow {
        symptom: "The model writes garbage",
        stage: "Multiple",
        section: SectionId::OutputQualityIssues,
        entries: &[EntryId::ModelOutputsNonsense, EntryId::ModelOutputsRepetitiveText],
    },
    QuickDiagnosisRow {
        symptom: "Memory runs out",
        stage: "Architecture",
        section: SectionId::MemoryIssues,
        entries: &[EntryId::OutOfMemoryOom],
    },
    QuickDiagnosisRow {
        symptom: "The gradients are zero",
        stage: "Backprop",
        section: SectionId::GradientIssues,
        entries: &[EntryId::GradientsAreAllZero, EntryId::VanishingGradients, EntryId::ExplodingGradients],
    },
    QuickDiagnosisRow {
        symptom: "Training takes very long",
        stage: "Multiple",
        section: SectionId::PerformanceIssues,
        entries: &[EntryId::TrainingIsVerySlow],
    },
    QuickDiagnosisRow {
        symptom: "Error on held-out data is far above training error",
        stage: "Training",
        section: SectionId::Overfitting,
        entries: &[EntryId::ValidationLossIncreasingWhileTrainingLossDecreases],
    },
];

/// What to verify before anything else, and how the app verifies it on a live run.
pub const CHECKLIST: &[ChecklistItem] = &[
    ChecklistItem {
        id: CheckId::DataSample,
        text: "The data is loaded correctly: decode a sample batch and read it.",
        how_checked: "The first training batch is decoded back to text and shown before step 1.",
    },
    ChecklistItem {
        id: CheckId::Shapes,
        text: "Every layer produces the shape you expect.",
        how_checked: "Every parameter tensor's shape, as the model holds it, is compared layer by \
                      layer with what the config implies (embedding [vocab, d_model], each block's \
                      attention and MLP matrices, the head [d_model, vocab]) and with the data's \
                      vocabulary. A checkpoint whose tensors do not fit is refused, naming the tensor \
                      and both shapes.",
    },
    ChecklistItem {
        id: CheckId::LossVsLnV,
        text: "The loss is the right one (next-token cross-entropy for a language model), so a \
               fresh model starts near ln(vocab_size).",
        how_checked: "The first step's loss is compared with ln(vocab_size); a gap of more than \
                      about 0.5 nats is flagged.",
    },
    ChecklistItem {
        id: CheckId::NonzeroGradients,
        text: "Gradients exist and are not zero.",
        how_checked: "Each tensor's gradient norm at the latest evaluation is read: one tensor with \
                      exactly zero (a detached block) fails the item even when the global norm looks \
                      healthy; a non-finite value anywhere fails it too.",
    },
    ChecklistItem {
        id: CheckId::LrRange,
        text: "The learning rate is reasonable; 1e-4 is a safe first guess.",
        how_checked: "The scheduled learning rate in each step record is compared with the usual \
                      AdamW band, 1e-5 to 1e-2.",
    },
    ChecklistItem {
        id: CheckId::ClippingOn,
        text: "Gradient clipping is on, at a maximum norm of 1.0.",
        how_checked: "The run's clip threshold is shown, with a count of steps whose pre-clip \
                      gradient norm exceeded it.",
    },
    ChecklistItem {
        id: CheckId::TrainingMode,
        text: "The model is in training mode while it trains (dropout active) and in evaluation \
               mode while it is evaluated.",
        how_checked: "Every step record says the mode its forward passes ran in, and so does every \
                      evaluation: each training step must say training (dropout on), each evaluation \
                      evaluation (dropout off).",
    },
    ChecklistItem {
        id: CheckId::SeedSet,
        text: "Random seeds are fixed, so a run can be reproduced exactly.",
        how_checked: "Compares this run's first loss with that of another kept run with the same \
                      seed, settings and backend kind (a GPU is not bit-identical to the CPU); not \
                      measured until there is one.",
    },
];

/// When the guide's entries do not settle it: the guide's closing advice, each step with what the
/// app offers for it.
pub const MORE_HELP: &[(&str, &str)] = &[
    (
        "Check the stage's own mistakes",
        "Each section of this guide gathers what goes wrong at one stage of training; read the whole \
         section of your symptom, not only the closest entry.",
    ),
    (
        "Read the tests",
        "A test states what correct behaviour is. Every fault here has one that measures its symptom \
         against a healthy run of the same seed, in Faultline's evaluation tests.",
    ),
    (
        "Simplify",
        "Reproduce the problem on the smallest run that still shows it: fewer steps, the tiny model, a \
         built-in corpus. A run that cannot even overfit one batch has a bug, not a tuning problem.",
    ),
    (
        "Bisect",
        "Put changed settings back to their defaults half at a time until the symptom goes away; the last \
         change you undid is the cause.",
    ),
    (
        "Ask with details",
        "Give the loss values, the shapes, the seed and the smallest setup that reproduces it. The report \
         below writes them from your current run.",
    ),
];
