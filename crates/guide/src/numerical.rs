//! Numerical Issues: the loss stops being a number.

use super::{Cause, CauseId, EntryId, GuideEntry, Section, SectionId, Snippet};

pub(super) const SECTION: Section = Section { id: SectionId::NumericalIssues, title: "Numerical Issues" };

pub(super) const LOSS_BECOMES_NAN: GuideEntry = GuideEntry {
    id: EntryId::LossBecomesNan,
    title: "Loss becomes NaN",
    section: SECTION.id,
    summary: "One step the loss is an ordinary number, the next it is NaN or infinite. A single \
              non-finite value in one update is written into the weights, so from then on every \
              step stays broken.",
    symptoms: &[
        "The loss jumps, usually without warning, to `NaN` or `inf`.",
        "It never comes back: every later step is non-finite too, because the bad value has \
         reached the weights.",
    ],
    causes: &[
        Cause {
            id: CauseId::NanLrTooHigh,
            text: "The learning rate is too high. Each oversized update makes the next gradient larger until \
                  the gradients explode beyond what f32 can represent.",
        },
        Cause {
            id: CauseId::DivideByZero,
            text: "Something divides by zero, typically a normalisation that divides by a standard deviation \
                  (or variance) that is exactly zero.",
        },
        Cause {
            id: CauseId::LogOfZero,
            text: "A logarithm receives zero or a negative number, for example the log of a probability that \
                  underflowed to 0.",
        },
        Cause {
            id: CauseId::SoftmaxOverflow,
            text: "Softmax overflows: with large logits `exp(x)` passes the f32 limit (around e^88), and \
                  infinity divided by infinity is NaN.",
        },
    ],
    diagnosis: &[
        Snippet::with_code(
            "After the backward pass, look through the gradients and report every tensor holding a \
             NaN or an infinity. The first one in backward order is usually the closest to the \
             source.",
            r#"for (name, g) in grads.iter() {
    if g.iter().any(|v| !v.is_finite()) {
        println!("non-finite gradient in {name}");
    }
}"#,
        ),
        Snippet::with_code(
            "Print the largest and smallest logit. Magnitudes in the hundreds mean `exp` and \
             softmax are close to overflowing.",
            r#"let max = logits.fold(f32::NEG_INFINITY, |m, &v| m.max(v));
let min = logits.fold(f32::INFINITY, |m, &v| m.min(v));
println!("logits: max {max:.2}, min {min:.2}");"#,
        ),
    ],
    fixes: &[
        Snippet::with_code("Divide the learning rate by ten and rerun with the same seed.", "config.lr /= 10.0;"),
        Snippet::with_code(
            "Clip the gradients by their global norm before the optimiser step; a threshold of 1.0 \
             is a good default.",
            r#"fn clip_grad_norm(grads: &mut Grads, max_norm: f32) -> f32 {
    let norm = grads
        .iter()
        .map(|(_, g)| g.iter().map(|v| v * v).sum::<f32>())
        .sum::<f32>()
        .sqrt();
    if norm > max_norm {
        let scale = max_norm / (norm + 1e-6);
        for (_, g) in grads.iter_mut() {
            g.mapv_inplace(|v| v * scale);
        }
    }
    norm // the norm before clipping, for the logs
}"#,
        ),
        Snippet::with_code(
            "Use the numerically stable forms. Do not take the log of a softmax in two steps (a \
             probability that underflows to 0 becomes -inf); compute log-probabilities directly as \
             `x - logsumexp(x)`, shifting out the row maximum first so `exp` cannot overflow.",
            r#"// Fragile: softmax can round to 0, and ln(0) = -inf.
// let log_probs = softmax(&x).mapv(f32::ln);

// Stable: log_softmax(x) = x - logsumexp(x).
fn log_softmax(x: ArrayView1<f32>) -> Array1<f32> {
    let m = x.fold(f32::NEG_INFINITY, |m, &v| m.max(v));
    let lse = m + x.mapv(|v| (v - m).exp()).sum().ln();
    x.mapv(|v| v - lse)
}"#,
        ),
        Snippet::with_code(
            "Add a small epsilon to every denominator that could reach zero.",
            "let normed = (&x - mean) / (std + 1e-8);",
        ),
    ],
    related: &[EntryId::ExplodingGradients, EntryId::LossOscillatesWildly, EntryId::FindingTheRightLearningRate],
};
