//! What would settle a finding: the measurement that would confirm it or rule it out, for each entry.
//! The app shows it beside the finding's confidence, and beside what the detector is watching when it
//! abstains.

use faultline_guide::EntryId;

/// One sentence: what to watch for, or what to try, to confirm or rule out `entry`.
pub fn settles(entry: EntryId) -> &'static str {
    match entry {
        EntryId::LossBecomesNan => "The first tensor that held a NaN or Inf names the operation; the stable form of it should run past that step.",
        EntryId::LossStopsDecreasing => "A loss that stays flat for the rest of the run, with one head still attending to a single position; the same seed with warmup should fall further.",
        EntryId::LossOscillatesWildly => "The loss keeps jumping with no downward trend over the next evaluations; a lower learning rate on the same seed should settle it.",
        EntryId::LossDecreasesVerySlowly => "Updates stay under about 1e-3 of the weights while the loss barely moves; a learning-rate range test shows how far the rate is from its best.",
        EntryId::FindingTheRightLearningRate => "A learning-rate range test: the loss against the rate shows where it falls fastest.",
        EntryId::GradientsAreAllZero => "A weight whose gradient stays exactly zero, units that never fire, or a gradient norm that keeps growing in a straight line as if summed.",
        EntryId::VanishingGradients => "Block 0's gradient staying orders of magnitude below the last block's at every evaluation, with the loss stuck.",
        EntryId::ExplodingGradients => "Another spike that the loss follows upward within a few steps, or a gradient norm above 100; a clipped run whose loss keeps falling after spikes is healthy.",
        EntryId::ModelOutputsRepetitiveText => "Samples at temperature 1 without top-k: if the repetition goes away, decoding caused it, not the model.",
        EntryId::ModelOutputsNonsense => "The model's loss on its own shown sample: far above the validation loss means the text was decoded or loaded with the wrong tokenizer or weights.",
        EntryId::OutOfMemoryOom => "The same run at half the batch (or with gradient accumulation): if it fits, the batch's activations were the cause.",
        EntryId::ValidationLossIncreasingWhileTrainingLossDecreases => "Validation loss still rising at the next evaluations while the training loss falls; more data or regularisation should close the gap.",
        EntryId::TrainingIsVerySlow => "The step's phase times: a share outside forward and backward above about a third stays high at the next evaluations.",
        EntryId::ManyUnkTokens => "The share of <UNK> in the validation text; a character-level vocabulary brings it to zero.",
        EntryId::TokenizationDoesntRoundtrip => "decode(encode(text)) against the text on the shown example; a lossless tokenizer returns it unchanged.",
        EntryId::AttentionWeightsAreUniform => "The attention logits' spread against q·k/√d_k on the same rows at the next evaluation; with the scale restored the two agree.",
        EntryId::AttentionLooksAtFutureInCausalModel => "Any attention on positions after the query: a causal model puts exactly none there.",
        EntryId::RewardIncreasesButQualityDecreases => "The reward against a quality measure the policy was not trained on, and the KL to the reference, over the next evaluations.",
        EntryId::DpoLossNotDecreasing => "The DPO loss against ln 2 and the chosen-minus-rejected margin over the next evaluations.",
    }
}
