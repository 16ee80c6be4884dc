//! Gradient Issues: gradients that are zero, that fade on the way down, or that blow up.

use super::{Cause, CauseId, EntryId, GuideEntry, Section, SectionId, Snippet};

pub(super) const SECTION: Section = Section { id: SectionId::GradientIssues, title: "Gradient Issues" };

pub(super) const GRADIENTS_ARE_ALL_ZERO: GuideEntry = GuideEntry {
    id: EntryId::GradientsAreAllZero,
    title: "Gradients are all zero",
    section: SECTION.id,
    summary: "The backward pass runs but hands the optimiser nothing useful: the weights do not \
              move and the loss stays where it started.",
    symptoms: &[
        "The parameters are identical from one step to the next.",
        "The loss is constant.",
        "The gradient norm is exactly zero, for the whole model or for some of its layers.",
    ],
    causes: &[
        Cause {
            id: CauseId::GradsNeverReset,
            text: "The gradients are never reset between steps (a forgotten `zero_grad()`), so they pile up \
                  across batches and the updates no longer describe the current batch.",
        },
        Cause {
            id: CauseId::LossDetached,
            text: "The loss was computed from a tensor cut off from the graph (detached), so nothing flows \
                  back to the weights.",
        },
        Cause {
            id: CauseId::DeadRelu,
            text: "Dead ReLU units: a unit whose input is negative for every example outputs 0 and passes \
                  back a gradient of 0, so it never recovers.",
        },
        Cause {
            id: CauseId::GraphBroken,
            text: "The computation graph is broken somewhere between the parameters and the loss, for \
                  example a value copied out and back in without its gradient path.",
        },
    ],
    diagnosis: &[
        Snippet::with_code(
            "Check whether any gradient holds a single non-zero value.",
            r#"let has_grad = grads.iter().any(|(_, g)| g.iter().any(|&v| v != 0.0));
println!("any non-zero gradient: {has_grad}");"#,
        ),
        Snippet::with_code(
            "Measure the share of dead units: run a layer forward on a batch and count the units \
             whose activation is exactly zero for every position.",
            r#"let act = block.mlp.hidden(&x); // [tokens, hidden], after the ReLU
let dead = act
    .axis_iter(Axis(1))
    .filter(|unit| unit.iter().all(|&v| v == 0.0))
    .count();
println!("dead units: {:.1}%", 100.0 * dead as f32 / act.ncols() as f32);"#,
        ),
        Snippet::with_code(
            "Print the gradient norm of every parameter. A tensor that is exactly zero while its \
             neighbours are not marks where the graph is detached or disconnected.",
            r#"for (name, g) in grads.iter() {
    let norm = g.iter().map(|v| v * v).sum::<f32>().sqrt();
    println!("{name:<28} {norm:.3e}");
}"#,
        ),
    ],
    fixes: &[
        Snippet::with_code(
            "Reset every gradient to zero before each backward pass.",
            r#"for (_, g) in grads.iter_mut() {
    g.fill(0.0);
}
model.backward(&cache, &dlogits, &mut grads);"#,
        ),
        Snippet::plain(
            "Follow the forward pass from each parameter to the loss and make sure the path is \
             connected: nothing detached, nothing copied without its gradient, no parameter left \
             out.",
        ),
        Snippet::with_code(
            "Swap ReLU for an activation whose gradient is never flat zero, such as GELU or \
             LeakyReLU.",
            "fn leaky_relu(x: f32) -> f32 { if x > 0.0 { x } else { 0.01 * x } }",
        ),
        Snippet::with_code(
            "Initialise better: He initialisation (standard deviation sqrt(2 / fan_in)) for ReLU \
             layers, and never all zeros, which leaves every unit identical to its neighbours.",
            r#"let std = (2.0 / fan_in as f32).sqrt();
let w = Array2::from_shape_fn((fan_in, fan_out), |_| rng.normal() * std);"#,
        ),
    ],
    related: &[EntryId::VanishingGradients, EntryId::LossStopsDecreasing, EntryId::ExplodingGradients],
};

pub(super) const VANISHING_GRADIENTS: GuideEntry = GuideEntry {
    id: EntryId::VanishingGradients,
    title: "Vanishing gradients",
    section: SECTION.id,
    summary: "The gradient shrinks as it travels backward, so the layers nearest the input receive \
              almost nothing and stop learning while the top layers still train.",
    symptoms: &[
        "The early layers' gradients are orders of magnitude smaller than the later layers'.",
        "The early layers barely change, so they learn nothing.",
    ],
    causes: &[
        Cause {
            id: CauseId::NoResiduals,
            text: "A deep stack with no residual connections: the gradient is multiplied by one layer's \
                  Jacobian after another and shrinks geometrically.",
        },
        Cause {
            id: CauseId::SaturatedActivations,
            text: "Saturated sigmoid or tanh units: in their flat tails the derivative is close to zero (and \
                  sigmoid's is at most 0.25 even at its steepest).",
        },
        Cause {
            id: CauseId::VanishingInit,
            text: "A poor initialisation that makes activations, and with them the gradients, shrink from \
                  layer to layer.",
        },
    ],
    diagnosis: &[
        Snippet::with_code(
            "Print the gradient norm of each parameter from the input side up. A steady fall of \
             several orders of magnitude toward the input is the signature.",
            r#"for (name, g) in grads.iter() {
    let norm = g.iter().map(|v| v * v).sum::<f32>().sqrt();
    println!("{name:<28} {norm:.2e}"); // look for norms that fall toward the input
}"#,
        ),
        Snippet::with_code(
            "With sigmoid or tanh, measure how many activations sit in the flat tails.",
            r#"let saturated = h.iter().filter(|v| v.abs() > 0.99).count() as f32 / h.len() as f32;
println!("saturated tanh units: {:.1}%", 100.0 * saturated);"#,
        ),
    ],
    fixes: &[
        Snippet::with_code(
            "Add residual connections, so each layer adds to its input instead of replacing it; \
             the identity path carries the gradient straight down.",
            "let output = &input + &layer.forward(&input);",
        ),
        Snippet::with_code(
            "Use the pre-norm layout: LayerNorm goes inside each residual branch, before attention \
             and before the MLP, and the identity path is left untouched.",
            r#"x = &x + &block.attn.forward(&block.ln1.forward(&x));
x = &x + &block.mlp.forward(&block.ln2.forward(&x));"#,
        ),
        Snippet::with_code(
            "Initialise with a scale that keeps the variance steady from layer to layer: Xavier \
             (Glorot) for tanh and sigmoid, He for ReLU.",
            r#"let xavier_std = (2.0 / (fan_in + fan_out) as f32).sqrt();
let he_std = (2.0 / fan_in as f32).sqrt();"#,
        ),
    ],
    related: &[EntryId::LossStopsDecreasing, EntryId::GradientsAreAllZero, EntryId::ExplodingGradients],
};

pub(super) const EXPLODING_GRADIENTS: GuideEntry = GuideEntry {
    id: EntryId::ExplodingGradients,
    title: "Exploding gradients",
    section: SECTION.id,
    summary: "The opposite failure: gradients grow as they travel backward, the gradient norm runs \
              into the hundreds, and single updates throw the loss upward.",
    symptoms: &[
        "The global gradient norm climbs past 100.",
        "The loss spikes, sometimes recovering and sometimes going on to NaN.",
    ],
    causes: &[
        Cause {
            id: CauseId::NoClipping,
            text: "There is no gradient clipping, so a rare huge gradient becomes a huge update.",
        },
        Cause {
            id: CauseId::ExplodingLr,
            text: "The learning rate is high enough that each update makes the next gradient larger.",
        },
        Cause {
            id: CauseId::InitTooLarge,
            text: "The weights were initialised too large, so activations and gradients grow from layer to \
                  layer.",
        },
    ],
    diagnosis: &[
        Snippet::with_code(
            "Log the global gradient norm every step, before clipping. A healthy transformer stays \
             roughly between 0.1 and 10; an exploding one shows spikes of 100 and more.",
            r#"let norm = clip_grad_norm(&mut grads, 1.0); // returns the norm before clipping
if norm > 100.0 {
    println!("step {step}: gradient norm {norm:.1}, exploding");
}"#,
        ),
        Snippet::plain(
            "On a spiking step, print the norm of each parameter's gradient to see which layer \
             dominates.",
        ),
    ],
    fixes: &[
        Snippet::with_code(
            "Clip the gradients' global norm. For transformers, always.",
            "let norm = clip_grad_norm(&mut grads, 1.0);",
        ),
        Snippet::plain("Lower the learning rate."),
        Snippet::plain(
            "Initialise better: small weights (a standard deviation of 0.02 in a GPT) keep \
             activations and gradients near unit scale.",
        ),
    ],
    related: &[EntryId::LossBecomesNan, EntryId::LossOscillatesWildly, EntryId::VanishingGradients],
};
