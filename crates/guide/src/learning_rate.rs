//! Learning Rate Issues: steps that are too large, too small, and how to find the right size.

use super::{Cause, CauseId, EntryId, GuideEntry, Section, SectionId, Snippet};

pub(super) const SECTION: Section = Section { id: SectionId::LearningRateIssues, title: "Learning Rate Issues" };

pub(super) const LOSS_OSCILLATES_WILDLY: GuideEntry = GuideEntry {
    id: EntryId::LossOscillatesWildly,
    title: "Loss oscillates wildly",
    section: SECTION.id,
    summary: "The loss swings up and down from step to step and never settles into a downward \
              trend: each update is so large that it overshoots the low ground it was heading for.",
    symptoms: &[
        "The loss curve jumps up and down by large amounts.",
        "Averaged over many steps it does not go down, even though nothing has turned NaN.",
    ],
    causes: &[Cause {
        id: CauseId::OscillatingLrTooHigh,
        text: "The learning rate is too high. Along the steep directions of the loss surface each \
                  update overshoots the minimum, the next one overshoots back, and the model bounces \
                  from wall to wall instead of descending.",
    }],
    diagnosis: &[
        Snippet::with_code(
            "Smooth the curve over a window of, say, 50 steps. A flat average with large swings \
             around it points at the step size rather than at noisy batches.",
            r#"let window = &losses[losses.len().saturating_sub(50)..];
let mean = window.iter().sum::<f32>() / window.len() as f32;
let swing = window.iter().map(|l| (l - mean).abs()).fold(0.0, f32::max);
println!("last {} steps: mean {mean:.3}, largest swing {swing:.3}", window.len());"#,
        ),
        Snippet::plain(
            "Rerun the same seed with a tenth of the learning rate. If that curve is smooth, the \
             learning rate was the cause.",
        ),
    ],
    fixes: &[
        Snippet::with_code(
            "Lower the learning rate by a factor of 2 to 10, and keep lowering it until the curve \
             settles; then keep the largest value that stays stable.",
            "config.lr /= 3.0;",
        ),
        Snippet::plain(
            "To choose the new value instead of halving blindly, run the learning-rate range test. \
             Gradient clipping and warmup make a high rate better tolerated, but they do not \
             replace lowering it.",
        ),
    ],
    related: &[
        EntryId::FindingTheRightLearningRate,
        EntryId::LossDecreasesVerySlowly,
        EntryId::ExplodingGradients,
        EntryId::LossBecomesNan,
    ],
};

pub(super) const LOSS_DECREASES_VERY_SLOWLY: GuideEntry = GuideEntry {
    id: EntryId::LossDecreasesVerySlowly,
    title: "Loss decreases very slowly",
    section: SECTION.id,
    summary: "The loss does go down, but so slowly that after thousands of steps it has hardly \
              left its starting value: every update is too small to matter.",
    symptoms: &[
        "After thousands of steps the loss has barely changed.",
        "The curve is smooth, with no spikes; it is simply far too flat.",
    ],
    causes: &[Cause {
        id: CauseId::SlowLrTooLow,
        text: "The learning rate is too low, so each step moves the weights only a tiny distance and the \
                  model creeps toward the minimum.",
    }],
    diagnosis: &[
        Snippet::with_code(
            "Compare the loss now with the loss at step 1, which for a fresh model is close to \
             ln(vocab_size). A small, smooth drop points at the step size.",
            r#"let start = (vocab_size as f32).ln();
println!("step {step}: loss {loss:.3}, start was about {start:.3}");"#,
        ),
        Snippet::with_code(
            "Measure how far one update moves the weights relative to their size. Around 1e-3 per \
             step is typical; orders of magnitude less means the steps are too small.",
            r#"let l2 = |a: &Array2<f32>| a.iter().map(|v| v * v).sum::<f32>().sqrt();
let ratio = l2(&(&w_after - &w_before)) / l2(&w_before);
println!("update / weight: {ratio:.1e}"); // about 1e-3 is typical"#,
        ),
    ],
    fixes: &[
        Snippet::with_code(
            "Raise the learning rate by a factor of 2 to 10 and watch the first few hundred steps.",
            "config.lr *= 3.0;",
        ),
        Snippet::plain("Or run the learning-rate range test and use the value it suggests."),
    ],
    related: &[EntryId::FindingTheRightLearningRate, EntryId::LossOscillatesWildly, EntryId::LossStopsDecreasing],
};

pub(super) const FINDING_THE_RIGHT_LEARNING_RATE: GuideEntry = GuideEntry {
    id: EntryId::FindingTheRightLearningRate,
    title: "Finding the right learning rate",
    section: SECTION.id,
    summary: "The learning-rate range test: instead of guessing, sweep the learning rate from tiny \
              to huge in one short run, one step per value, and read a good value off the \
              resulting loss curve.",
    symptoms: &[
        "You do not know which learning rate to use, or both a higher and a lower guess have \
         failed.",
        "The model, the data or the batch size changed, so the old learning rate may no longer \
         fit.",
    ],
    causes: &[],
    diagnosis: &[
        Snippet::with_code(
            "Make 100 learning rates spaced evenly on a logarithmic scale, from 1e-7 up to 1.",
            "let lrs: Vec<f32> = (0..100).map(|i| 10f32.powf(-7.0 + 7.0 * i as f32 / \
             99.0)).collect();",
        ),
        Snippet::with_code(
            "Starting from a freshly initialised model, take exactly one training step at each \
             rate, smallest first, and record the loss of every step. Stop as soon as a loss is \
             more than four times the first one: the model has blown up, and larger rates add \
             nothing.",
            r#"let mut losses = Vec::with_capacity(lrs.len());
for &lr in &lrs {
    let loss = trainer.train_one_step(lr);
    losses.push(loss);
    if loss > 4.0 * losses[0] {
        break; // exploded
    }
}"#,
        ),
        Snippet::plain(
            "Plot the loss against the learning rate on a logarithmic axis. Find the stretch where \
             the loss falls most steeply, and the point where it stops falling and starts to \
             climb.",
        ),
    ],
    fixes: &[
        Snippet::with_code(
            "Pick a learning rate about ten times smaller than the point where the loss starts \
             rising. That lands in the steep downhill part of the curve, with a margin of safety.",
            r#"let lowest = losses
    .iter()
    .enumerate()
    .min_by(|a, b| a.1.total_cmp(b.1))
    .map(|(i, _)| i)
    .unwrap_or(0);
let lr = lrs[lowest] / 10.0; // the loss starts rising just after its lowest point"#,
        ),
        Snippet::plain(
            "The sweep changes the weights as it goes, so treat its answer as a starting point: \
             train from a fresh initialisation with the chosen rate, and repeat the test whenever \
             the model, the batch size or the optimiser changes.",
        ),
    ],
    related: &[
        EntryId::LossOscillatesWildly,
        EntryId::LossDecreasesVerySlowly,
        EntryId::LossStopsDecreasing,
        EntryId::LossBecomesNan,
    ],
};
