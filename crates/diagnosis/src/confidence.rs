//! How far a finding is trusted: each rule's share of right findings on the tuning runs, and which
//! measurements another one explains.

use crate::Evidence;

/// How often a finding resting on this measurement named the right entry on the runs it was tuned on
/// (`faultline-evaluation --split tuning`, `retired-1` and `retired-2`, healthy and single-fault
/// runs, after explained measurements are set aside; for a rule that logs of another framework need,
/// also `cargo xtask peer-logs --tuning`), as (right + 1) / (fired + 2),
/// so that a rule seen a few times is not trusted fully and one never seen there sits at 0.5, the
/// reporting line. A run that stopped on a NaN or on memory is that entry by definition. A finding's
/// confidence is that of its strongest measurement; BENCHMARKS.md has how it held on held-out runs.
pub fn confidence(e: &Evidence) -> f32 {
    let laplace = |right: u16, fired: u16| f32::from(right + 1) / f32::from(fired + 2);
    match e {
        Evidence::NonFinite { .. } | Evidence::LoggedNonFinite { .. } | Evidence::OutOfMemory { .. } => 1.0,
        Evidence::SilentWeights { .. } => laplace(51, 51),
        // Engine: every init-zero run of the three splits (16); PyTorch tuning logs: 4.
        Evidence::GradNormZero { .. } => laplace(20, 20),
        Evidence::LayerGradients { .. } => laplace(46, 47),
        Evidence::ValidationRising { .. } => laplace(30, 30),
        Evidence::LossJumped { .. } => laplace(31, 34),
        Evidence::DeadUnits { .. } => laplace(20, 21),
        Evidence::SmallUpdates { .. } => laplace(20, 20),
        Evidence::FirstLossAboveLnV { .. } | Evidence::UnkTokens { .. } => laplace(19, 19),
        Evidence::CausalLeak { .. }
        | Evidence::Roundtrip { .. }
        | Evidence::SampleUnlikely { .. }
        | Evidence::SharperAttention { .. }
        | Evidence::UnscaledLogits { .. }
        | Evidence::SlowSteps { .. } => laplace(16, 16),
        // DPO tuning seeds 1-3 (`crates/evaluation/tests/dpo.rs`): every lr-too-low, live-reference
        // and inverted-mask run, 18 of 18, and no healthy, LoRA or β = 10 run.
        Evidence::DpoLossFlat { .. } => laplace(18, 18),
        Evidence::RewardHacking { .. } => laplace(1, 1),
        Evidence::GradientsPileUp { .. } => laplace(15, 15),
        Evidence::DecodingDiscardsEntropy { .. } => laplace(35, 36),
        Evidence::RepeatedNgrams { .. } => laplace(28, 29),
        Evidence::Plateau { .. } => laplace(15, 17),
        Evidence::UnseenBigrams { .. } => laplace(7, 7),
        Evidence::ExplodedBeforeNan { .. } => laplace(2, 2),
        Evidence::GradNormSpike { .. } => laplace(10, 13),
        Evidence::GradNormAboveGuide { .. } => laplace(7, 13),
        Evidence::LossAboveLnV { .. } => laplace(18, 31),
        // Below the reporting line since the first tuning round, so not counted since.
        Evidence::EarlySpike { .. } => laplace(10, 22),
        Evidence::SpikeThrewLoss { .. } => laplace(0, 0),
        Evidence::GradNormBeforeNan { .. } | Evidence::Oscillation { .. } => laplace(0, 2),
    }
}

/// A measurement another one explains weighs this much of its confidence, below
/// [`crate::REPORT_THRESHOLD`]: it is watched, not reported.
pub(crate) const EXPLAINED: f32 = 0.5;

/// Whether `e` is a consequence of something else the run shows (`all`), rather than a cause of its
/// own: samples from a model trained to read the future, or from a vocabulary that maps words to
/// `<UNK>`, say nothing about decoding; an `<UNK>` never round-trips; layers that get no gradient make
/// small updates; a loss thrown about by unstable steps stalls and jumps.
pub(crate) fn explained(e: &Evidence, all: &[&Evidence]) -> bool {
    let any = |test: fn(&Evidence) -> bool| all.iter().any(|o| test(o));
    let leak = any(|o| matches!(o, Evidence::CausalLeak { .. }));
    let unk = any(|o| matches!(o, Evidence::UnkTokens { .. }));
    let unstable = any(|o| {
        matches!(
            o,
            Evidence::GradNormAboveGuide { .. }
                | Evidence::GradNormSpike { .. }
                | Evidence::SpikeThrewLoss { .. }
                | Evidence::GradientsPileUp { .. }
                | Evidence::FirstLossAboveLnV { .. }
                | Evidence::LossAboveLnV { .. }
        )
    });
    let unlikely = any(|o| matches!(o, Evidence::SampleUnlikely { .. }));
    let cold = any(|o| matches!(o, Evidence::DecodingDiscardsEntropy { .. }));
    match e {
        // A shown sample the model itself finds unlikely is not what it writes: its repeats are not its own.
        Evidence::UnseenBigrams { .. } => leak || unk || unlikely,
        // Repeats drawn with the model's own entropy are the model's: a small model on repetitive
        // text (code) repeats 4-grams 30–60 points more than the text does (retired runs), as much
        // as greedy decoding. Only decoding that discards entropy makes them a finding.
        Evidence::RepeatedNgrams { .. } => leak || unk || unlikely || !cold,
        Evidence::SampleUnlikely { .. } => leak || unk,
        // Greedy decoding draws with no entropy at all, whatever the model learned.
        Evidence::DecodingDiscardsEntropy { sampler, .. } => leak && *sampler >= 0.005,
        Evidence::Roundtrip { .. } => unk,
        Evidence::SmallUpdates { .. } => {
            any(|o| matches!(o, Evidence::LayerGradients { .. } | Evidence::GradientsPileUp { .. }))
        }
        Evidence::EarlySpike { .. } | Evidence::Plateau { .. } | Evidence::Oscillation { .. } => unstable,
        // Steps too big to settle spike the gradient too: the rate, not clipping, is what to fix; and
        // weights replaced under the model spike it on the step the loss jumps.
        Evidence::GradNormSpike { step, .. } => all.iter().any(|o| match o {
            Evidence::LossAboveLnV { .. } => true,
            Evidence::LossJumped { step: jump, .. } => step.abs_diff(*jump) <= 1,
            _ => false,
        }),
        Evidence::LossJumped { .. } => any(|o| {
            matches!(
                o,
                Evidence::GradientsPileUp { .. } | Evidence::FirstLossAboveLnV { .. } | Evidence::LossAboveLnV { .. }
            )
        }),
        _ => false,
    }
}
