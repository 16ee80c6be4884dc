//! Attention Issues: attention that does not select, or that sees what it must not.

use super::{Cause, CauseId, EntryId, GuideEntry, Section, SectionId, Snippet};

pub(super) const SECTION: Section = Section { id: SectionId::AttentionIssues, title: "Attention Issues" };

pub(super) const ATTENTION_WEIGHTS_ARE_UNIFORM: GuideEntry = GuideEntry {
    id: EntryId::AttentionWeightsAreUniform,
    title: "Attention weights are uniform",
    section: SECTION.id,
    summary: "Every query spreads its attention evenly over the positions it can see, so attention \
              only averages instead of picking out what matters.",
    symptoms: &[
        "Every attention weight is close to 1 / seq_len.",
        "The entropy of each attention row is near its maximum, the log of the number of visible \
         positions.",
    ],
    causes: &[
        Cause {
            id: CauseId::AttnScaleWrong,
            text: "The scores are not scaled correctly by √d_k. The scale keeps the softmax away from both \
                  extremes: scores made too small (dividing by d_k, say) flatten it toward uniform, while \
                  dropping the scale altogether makes the scores larger, which in Faultline's measurements \
                  turns attention sharper rather than flatter.",
        },
        Cause {
            id: CauseId::AttnInitTooSmall,
            text: "A poor initialisation, for instance query and key weights so small that every score is \
                  nearly zero, and the softmax of zeros is uniform.",
        },
        Cause {
            id: CauseId::AttnUndertrained,
            text: "The model is undertrained: attention starts out close to uniform and has not yet learned \
                  where to look.",
        },
    ],
    diagnosis: &[Snippet::with_code(
        "Measure the mean entropy of the attention rows and compare it with a uniform spread. In a \
         causal model, row i sees i + 1 positions, so uniform there means ln(i + 1).",
        r#"// weights: [t, t] for one head, every row sums to 1
let entropy = -weights.iter().filter(|&&p| p > 0.0).map(|&p| p * p.ln()).sum::<f32>() / t as f32;
let uniform = (1..=t).map(|n| (n as f32).ln()).sum::<f32>() / t as f32;
println!("attention entropy {entropy:.2} nats (uniform: {uniform:.2})");"#,
    )],
    fixes: &[
        Snippet::with_code(
            "Make sure the scores are scaled by the square root of the head dimension before the \
             softmax.",
            r#"let scores = q.dot(&k.t()) / (d_k as f32).sqrt();
let weights = softmax_rows(&(scores + causal_mask(t)));"#,
        ),
        Snippet::plain(
            "Initialise the query and key projections with small random weights (a standard \
             deviation around 0.02), never zero.",
        ),
        Snippet::plain("Train longer before judging the attention patterns."),
    ],
    related: &[EntryId::AttentionLooksAtFutureInCausalModel, EntryId::LossStopsDecreasing],
};

pub(super) const ATTENTION_LOOKS_AT_FUTURE: GuideEntry = GuideEntry {
    id: EntryId::AttentionLooksAtFutureInCausalModel,
    title: "Attention looks at future (in causal model)",
    section: SECTION.id,
    summary: "A causal language model must predict each token from the ones before it. If \
              attention can see later positions, the model copies the answer during training and \
              has nothing to copy when it generates.",
    symptoms: &[
        "The model cheats while training: the training loss is suspiciously low, because it can \
         read the very token it is asked to predict.",
        "Generation is poor, because at sampling time there is no future to read.",
    ],
    causes: &[Cause {
        id: CauseId::MaskMissing,
        text: "The causal mask is missing or wrong: not applied, off by one on the diagonal, or applied \
                  after the softmax instead of before it.",
    }],
    diagnosis: &[
        Snippet::with_code(
            "Look at the attention weights: every entry above the diagonal must be exactly zero.",
            r#"let leak: f32 = weights
    .indexed_iter()
    .filter(|((i, j), _)| j > i)
    .map(|(_, &w)| w)
    .sum();
println!("attention on future positions: {leak}"); // must be 0"#,
        ),
        Snippet::with_code(
            "Change the last token of an input and check that the logits at all earlier positions \
             stay exactly the same.",
            r#"let a = model.forward(&x);
let mut x2 = x.clone();
x2[t - 1] = (x2[t - 1] + 1) % vocab_size as u32;
let b = model.forward(&x2);
assert_eq!(a.slice(s![..t - 1, ..]), b.slice(s![..t - 1, ..]));"#,
        ),
    ],
    fixes: &[Snippet::with_code(
        "Add negative infinity to every score above the diagonal before the softmax, so each \
         position attends only to itself and to earlier positions.",
        r#"fn causal_mask(t: usize) -> Array2<f32> {
    Array2::from_shape_fn((t, t), |(i, j)| if j > i { f32::NEG_INFINITY } else { 0.0 })
}

let weights = softmax_rows(&(scores + causal_mask(t)));"#,
    )],
    related: &[EntryId::AttentionWeightsAreUniform, EntryId::ModelOutputsNonsense],
};
