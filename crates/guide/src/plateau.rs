//! Loss Plateau: progress stops early.

use super::{Cause, CauseId, EntryId, GuideEntry, Section, SectionId, Snippet};

pub(super) const SECTION: Section = Section { id: SectionId::LossPlateau, title: "Loss Plateau" };

pub(super) const LOSS_STOPS_DECREASING: GuideEntry = GuideEntry {
    id: EntryId::LossStopsDecreasing,
    title: "Loss stops decreasing",
    section: SECTION.id,
    summary: "Training starts well, then the loss curve goes flat and stays there, well above \
              where the model ought to end up.",
    symptoms: &[
        "The loss falls at first, then levels off into a flat line.",
        "The plateau sits clearly above what the data allows (for Faultline's built-in corpora, \
         above their known entropy rate).",
    ],
    causes: &[
        Cause {
            id: CauseId::PlateauLrTooLow,
            text: "The learning rate is too low to make further progress in any reasonable number of steps.",
        },
        Cause {
            id: CauseId::LocalMinimum,
            text: "The optimiser has settled in a local minimum, or a flat region, that it cannot leave.",
        },
        Cause {
            id: CauseId::PlateauVanishingGradients,
            text: "The gradients vanish on their way down, so most of the network has stopped learning.",
        },
        Cause { id: CauseId::ModelTooSmall, text: "The model is too small to fit the data any better." },
        Cause {
            id: CauseId::DataExhausted,
            text: "The data is exhausted: the model has taken what the training set can teach and needs more \
                  of it.",
        },
    ],
    diagnosis: &[
        Snippet::with_code(
            "Measure the global gradient norm, the square root of the sum of squares of every \
             gradient entry. In a healthy run it stays roughly between 0.1 and 10.",
            r#"let grad_norm = grads
    .iter()
    .map(|(_, g)| g.iter().map(|v| v * v).sum::<f32>())
    .sum::<f32>()
    .sqrt();
println!("gradient norm: {grad_norm:.3e}"); // healthy: about 0.1 to 10"#,
        ),
        Snippet::with_code(
            "If the norm has fallen below about 1e-7, the gradients have vanished and the weights \
             are no longer moving.",
            r#"if grad_norm < 1e-7 {
    println!("vanishing gradients: the weights have stopped moving");
}"#,
        ),
    ],
    fixes: &[
        Snippet::plain(
            "Raise the learning rate. Rather than guessing, run the learning-rate range test and \
             take its suggestion.",
        ),
        Snippet::with_code(
            "Warm the learning rate up: ramp it linearly from near zero over the first steps, so \
             the early, badly-informed updates cannot throw the model somewhere it never recovers \
             from.",
            r#"let lr = if step < warmup_steps {
    peak_lr * (step + 1) as f32 / warmup_steps as f32
} else {
    peak_lr
};"#,
        ),
        Snippet::with_code(
            "Make sure every block keeps its residual connections. Without them the gradient must \
             pass through every layer in turn instead of taking the direct path.",
            "x = &x + &block.attn.forward(&block.ln1.forward(&x));",
        ),
        Snippet::plain(
            "Check the initialisation: small random weights (a standard deviation around 0.02 is \
             usual for a GPT), no tensor left at zero, no two units starting identical.",
        ),
        Snippet::plain("Give the model more capacity: more layers, or a wider `d_model`."),
    ],
    related: &[
        EntryId::FindingTheRightLearningRate,
        EntryId::LossDecreasesVerySlowly,
        EntryId::VanishingGradients,
        EntryId::ValidationLossIncreasingWhileTrainingLossDecreases,
    ],
};
