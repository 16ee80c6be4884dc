//! Where Faultline's own measurements disagree with the guide's one-line story, or add the condition
//! under which it holds. Each note says what the guide claims, what the engine measured, and the
//! command that reproduces it. `crates/evaluation/tests/measured.rs` measures each note's figures again
//! and fails when the text no longer says what the runs measure, so an engine change that moves a
//! number fails CI until the note is updated; `tests/symptoms.rs` (`tests/dpo.rs` and `tests/rl.rs` for
//! the fine-tuning faults) checks each fault's side against the healthy run of the same seed.

use super::FaultId;
use faultline_guide::EntryId;
use serde::Serialize;

/// One measurement set beside the guide's text.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Measured {
    /// The guide entry it belongs to.
    pub entry: EntryId,
    /// The fault that was measured.
    pub fault: FaultId,
    /// What the guide's text leads a reader to expect.
    pub guide_says: &'static str,
    /// What the engine measured (tiny unless stated, seed 1; pretraining: toy-English, 200 steps;
    /// fine-tuning: `faultline align dpo`'s or `align rl`'s defaults).
    pub measured: &'static str,
    /// A command line that reproduces it.
    pub reproduce: &'static str,
}

pub const MEASURED: &[Measured] = &[
    Measured {
        entry: EntryId::AttentionWeightsAreUniform,
        fault: FaultId::NoAttnScale,
        guide_says: "without the 1/√d_k scale, attention weights become uniform",
        measured: "the opposite: the scores reach the softmax √d_k times larger and attention turns sharper. With \
                   d_k = 16 the mean attention entropy at step 200 is 2.3 nats against 2.9 for the healthy run \
                   (uniform: 3.2); with one head (d_k = 64) 1.4 against 2.8. The unscaled model even reached a \
                   lower training loss in this budget (0.83 against 1.15).",
        reproduce: "faultline train --steps 200 --fault no-attn-scale --json (add --heads 1 for d_k = 64)",
    },
    Measured {
        entry: EntryId::LossStopsDecreasing,
        fault: FaultId::NoWarmup,
        guide_says: "no warmup at a high learning rate shows as an early loss spike",
        measured: "no spike: at lr 0.05 the first full-size steps lock some attention heads onto a single position \
                   (entropy 0.01 nats) and the loss settles on a plateau, 2.04 at step 200 against 0.78 with 50 \
                   warmup steps.",
        reproduce: "faultline train --steps 200 --lr 0.05 --fault no-warmup",
    },
    Measured {
        entry: EntryId::GradientsAreAllZero,
        fault: FaultId::NoZeroGrad,
        guide_says: "gradients that are never cleared pile up, so the gradient norm keeps growing",
        measured: "only without clipping. Clipping rescales the summed gradient in place, so with the default clip \
                   of 1 the norm stays between 1.2 and 3.6 and only the loss shows it (1.51 against 1.15). With \
                   clipping off the norm climbs steadily, from 3 to 80 in 200 steps.",
        reproduce: "faultline train --steps 200 --fault no-zero-grad --fault no-grad-clip",
    },
    Measured {
        entry: EntryId::VanishingGradients,
        fault: FaultId::PostNorm,
        guide_says: "post-norm networks train unstably or slowly at the same learning rate",
        measured: "with 50 warmup steps post-norm trains as well as pre-norm at both sizes (small: 0.63 against \
                   0.70). Without warmup at lr 0.01 the small post-norm model's first block gets gradients 10⁴ \
                   times smaller than its last and the loss stays at 2.91, where pre-norm reaches 1.85.",
        reproduce: "faultline train --steps 200 --config small --warmup 0 --lr 0.01 --fault post-norm",
    },
    Measured {
        entry: EntryId::LossOscillatesWildly,
        fault: FaultId::LrTooHigh,
        guide_says: "a learning rate far too high makes the loss NaN",
        measured: "with AdamW and clipping (the defaults) a 300× learning rate does not reach NaN: the loss spikes \
                   far above ln V, then wanders on a high plateau. AdamW's normalised steps and clipping, two of \
                   the guide's own fixes, bound every update. SGD without clipping reaches NaN within tens of \
                   steps.",
        reproduce: "faultline train --steps 200 --fault lr-too-high=300",
    },
    Measured {
        entry: EntryId::LossBecomesNan,
        fault: FaultId::NaiveLogSoftmax,
        guide_says: "log(softmax(x)) overflows once the learning rate is high",
        measured: "at a 300× learning rate with AdamW and clipping the largest |logit| stays below 20, where \
                   log(softmax) is still finite. It needs logit gaps above ~100: with weights initialised at \
                   std 3 the naive form is Inf at the first step while the stable form stays finite.",
        reproduce: "faultline train --steps 200 --fault naive-log-softmax --fault init-too-large=3",
    },
    Measured {
        entry: EntryId::AttentionLooksAtFutureInCausalModel,
        fault: FaultId::NoCausalMask,
        guide_says: "a model that sees the future cheats, so its training loss is suspiciously low",
        measured: "not at first, and then very much so. At step 200 half of some heads' attention already goes \
                   to later positions (50% on toy-English, 56% on arithmetic; a causal model: exactly 0), yet the \
                   training loss is 1.48 against 1.15 for the masked model: the leak shows in the attention map \
                   before it shows in the loss. By step 500 the cheating pays: the training loss is 0.029 against \
                   0.58 (the validation loss too, read with the same leak), the suspiciously low loss of the \
                   guide, well inside the default run of 2,000 steps.",
        reproduce: "faultline train --steps 500 --fault no-causal-mask (and --steps 200, --corpus arithmetic)",
    },
    Measured {
        entry: EntryId::ExplodingGradients,
        fault: FaultId::InitTooLarge,
        guide_says: "weights initialised far too large make the gradient norm explode",
        measured: "with std 1.0 instead of 0.02 the largest gradient norm is 28 against 6.4 for the healthy run (4×, \
                   not orders of magnitude: clipping and LayerNorm hold it), while the first loss is far above \
                   ln V and the loss stays stuck near 2.7 against 1.15.",
        reproduce: "faultline train --steps 200 --fault init-too-large=1",
    },
    Measured {
        entry: EntryId::DpoLossNotDecreasing,
        fault: FaultId::DpoBetaTooHigh,
        guide_says: "a β that is too high keeps the DPO loss from decreasing",
        measured: "the opposite: at β = 10 most batches' loss falls to about 0 within 75 steps (each margin is \
                   multiplied by 10 before σ), and a batch holding a mis-ordered pair costs β × its margin, up to \
                   several nats. What a large β really does is keep the policy near its reference: after 150 \
                   steps the KL is 1.7 nats against 4.8 at β = 0.1 on sorting (0.5 against 8.1 on toy-English), so \
                   the true quality moves less: sorting 3% → 5% instead of 3% → 22%, and toy-English stays at 89% (from \
                   88%) where β = 0.1 drifts far enough to drop it to 14%.",
        reproduce:
            "faultline align dpo --fault dpo-beta-too-high (and --corpus toy-english; without the fault for β = 0.1)",
    },
    Measured {
        entry: EntryId::OutOfMemoryOom,
        fault: FaultId::BatchTooLarge,
        guide_says: "parameter-efficient fine-tuning (LoRA) is a fix for running out of memory",
        measured: "not for this app's out-of-memory, which comes from activations: at 128× the batch, tiny \
                   needs 2245.2 MiB against a 1024 MiB budget, 2243.6 MiB of it the activations a forward pass \
                   saves. Rank-4 LoRA adapters shrink what the optimiser keeps (0.8 MiB of AdamW moments → 0.1 \
                   MiB), but the activations stay, and with the frozen copy of the adapted matrices the run \
                   still needs 2244.9 MiB. Gradient accumulation does shrink them: 128 micro-batches of 16 reach \
                   the same effective batch in 20.3 MiB. LoRA saves memory where the weights and their \
                   optimiser state dominate, in models far larger than this one.",
        reproduce: "faultline train --fault batch-too-large (then --grad-accum 128); the LoRA figures are \
                    memory::with_lora, checked by its test",
    },
    Measured {
        entry: EntryId::ValidationLossIncreasingWhileTrainingLossDecreases,
        fault: FaultId::TinyDataset,
        guide_says: "fine-tuning with a parameter-efficient method (LoRA) reduces overfitting",
        measured: "it slows it, and early stopping does as well. Fine-tuning the pretrained toy-English model on a \
                   1,219-character text (915 tokens trained on, 304 held out) at lr 1e-3: with every weight \
                   trained the held-out loss is best at step 25 (2.31) and climbs to 4.60 by step 300 while the \
                   training loss falls to 0.12 (a gap of 4.48). Rank-4 LoRA (8,192 of 107,904 numbers) reaches \
                   its best held-out loss at step 125 (2.35) and ends at 2.53 against 1.19 (a gap of 1.34). The \
                   adapters overfit more slowly, not better: the full model stopped at its best step is as good.",
        reproduce: "faultline align sft --text-file crates/evaluation/data/small-text.txt --fine-tune-lr 1e-3 \
                    [--lora-rank 4]",
    },
    Measured {
        entry: EntryId::RewardIncreasesButQualityDecreases,
        fault: FaultId::NoKlPenalty,
        guide_says: "a larger KL penalty, an ensemble of reward models, a diversity bonus and a reward model \
                     trained on more data each fix reward hacking",
        measured: "only the KL penalty did, here. Policy-gradient fine-tuning of the toy-English model for 150 \
                   steps against three bigram reward models (64 pairs each, 65% held-out pair accuracy): without \
                   the penalty the proxy reward climbs from 0.10 to 0.70 while the share of grammatical answers \
                   falls from 92% to 0% and the policy drifts 43 nats from its reference, writing 'runrunrunrs.' \
                   after any subject. With kl-coef 1 (the default) the quality stays at 89% and the drift at 0.08 \
                   nats. Without the penalty, each other fix alone: eight reward models scored by their minimum \
                   still fall to 0% (they share the blind spot, so the minimum is exploited as well); reward \
                   models trained on 1,024 pairs (81% accuracy) fall to 45%; an entropy bonus of 0.01 falls to \
                   44%, and at 0.03 the bonus itself is what the policy climbs (0%, 241 nats, answers of 52 \
                   tokens).",
        reproduce: "faultline align rl --steps 150 --fault no-kl-penalty [--reward-models 8 | --reward-pairs 1024 | \
                    --entropy-bonus 0.01]; without the fault for kl-coef 1",
    },
];

/// The measurements beside one entry.
pub fn for_entry(entry: EntryId) -> impl Iterator<Item = &'static Measured> {
    MEASURED.iter().filter(move |m| m.entry == entry)
}
