//! The exercises, in order from the first run to the hardest: their content (goal, prediction, setups)
//! and which check of [`super::checks`] each stage uses. Each breaking setup starts from the fault
//! table's scenario for its fault (the settings under which `crates/evaluation/tests/symptoms.rs` shows the
//! symptom), shortened where the symptom appears sooner.

use super::checks::*;
use super::{Exercise, Prediction, Setup, Stage};
use faultline_engine::faults::FaultId;
use faultline_engine::guide::{EntryId, SectionId};
use faultline_engine::settings::{Change, SettingKey};

const fn setup(label: &'static str, show_me: Option<FaultId>, changes: &'static [Change<'static>]) -> Setup {
    Setup { label, show_me, changes, off: &[] }
}

pub const EXERCISES: &[Exercise] = &[
    Exercise {
        id: "first-run",
        title: "Your first run, read against ln V",
        section: SectionId::LossPlateau,
        goal: "Train the healthy model once and read its loss against the one number that needs no training: ln V, the loss of a uniform guess over V tokens.",
        prediction: Prediction {
            question: "Before any training, what loss will the model have at step 1?",
            options: &["About 0.1: the weights start small, so the outputs are small", "About 1: one nat per token is a typical loss", "About ln V: it guesses every token equally", "About ln(context): it averages over the positions it sees"],
            answer: 2,
            why: "Small random weights give nearly equal probability 1/V to every token, and the loss of that guess is ln V.",
        },
        entries: &[EntryId::LossStopsDecreasing, EntryId::LossDecreasesVerySlowly],
        reproduce: Stage {
            title: "Start at ln V",
            instructions: "Apply the healthy setup (60 steps, no fault), start it, and watch the first loss.",
            setups: &[setup("Healthy run, 60 steps", None, &[Change::Setting(SettingKey::Steps, "60")])],
            check: first_run_starts_at_ln_v,
        },
        fix: Stage {
            title: "Learn well below it",
            instructions: "The same run should end more than 1 nat below ln V. A run that stays at ln V has learned nothing.",
            setups: &[setup("Healthy run, 60 steps", None, &[Change::Setting(SettingKey::Steps, "60")])],
            check: first_run_learns,
        },
    },
    Exercise {
        id: "explode",
        title: "Make it explode, then calm it down",
        section: SectionId::LearningRateIssues,
        goal: "Multiply the learning rate by 300 and watch the loss climb above ln V; then train with a sane rate and clipping.",
        prediction: Prediction {
            question: "With AdamW and clipping on (the defaults), what does a 300× learning rate do?",
            options: &["The loss spikes above ln V and stays high, but finite", "The loss becomes NaN within a few steps", "Nothing: AdamW normalises every step, so the rate barely matters", "The loss falls faster, then levels off where a normal rate would"],
            answer: 0,
            why: "AdamW's normalised steps and clipping bound every update, so Faultline measures a spike far above ln V and a high plateau, not NaN.",
        },
        entries: &[EntryId::LossOscillatesWildly, EntryId::ExplodingGradients],
        reproduce: Stage {
            title: "Explode it",
            instructions: "Apply the setup (learning rate ×300) and start. Watch the loss chart against ln V.",
            setups: &[setup("Learning rate ×300, 60 steps", Some(FaultId::LrTooHigh), &[Change::Setting(SettingKey::Steps, "60")])],
            check: explodes,
        },
        fix: Stage {
            title: "Lower rate, clipping on",
            instructions: "Turn the fault off, keep lr at 0.003 or lower and grad-clip above 0, and run again.",
            setups: &[setup("lr 0.003, clip 1, 60 steps", None, &[Change::Setting(SettingKey::Steps, "60"), Change::Setting(SettingKey::Lr, "0.003"), Change::Setting(SettingKey::GradClip, "1")])],
            check: calmed,
        },
    },
    Exercise {
        id: "find-lr",
        title: "Find the learning rate with the range test",
        section: SectionId::LearningRateIssues,
        goal: "Train with a rate a hundred times too small and watch the loss crawl; then let the range test pick the rate instead of guessing.",
        prediction: Prediction {
            question: "The range test raises the rate a little at every step and records the loss. Which rate does the guide tell you to train with?",
            options: &["The rate where the loss was lowest", "The largest rate that did not give NaN", "The rate where the loss began to fall", "A tenth of the rate where the loss was lowest"],
            answer: 3,
            why: "At the lowest point the loss is about to turn upward, so that rate is already at the edge of stability; a tenth of it trains fast with room to spare.",
        },
        entries: &[EntryId::FindingTheRightLearningRate, EntryId::LossDecreasesVerySlowly],
        reproduce: Stage {
            title: "Crawl with a tiny rate",
            instructions: "Apply the setup (learning rate ÷100) and start. Compare the loss at the end with where it began.",
            setups: &[setup("Learning rate ÷100, 60 steps", Some(FaultId::LrTooLow), &[Change::Setting(SettingKey::Steps, "60")])],
            check: crawls,
        },
        fix: Stage {
            title: "Let the range test choose",
            instructions: "Apply the setup (fault off), run the learning-rate range test on the trainer page, press Use on its suggestion, then Start.",
            setups: &[setup("Fault off, 60 steps", None, &[Change::Setting(SettingKey::Steps, "60")])],
            check: found_by_range_test,
        },
    },
    Exercise {
        id: "cheating",
        title: "The cheating model: no causal mask",
        section: SectionId::AttentionIssues,
        goal: "Let every position see the future and find the cheat in the attention maps, then put the mask back.",
        prediction: Prediction {
            question: "Without the causal mask, where does some of the attention go?",
            options: &["To later positions, the very tokens it must predict", "Nowhere different: the mask only matters when generating", "Evenly to every position, past and future", "Onto the first token of the sequence"],
            answer: 0,
            why: "The next token is right there to copy, so heads learn to look above the diagonal of the attention map.",
        },
        entries: &[EntryId::AttentionLooksAtFutureInCausalModel],
        reproduce: Stage {
            title: "Remove the mask",
            instructions: "Apply the setup and start; look at the attention maps above their diagonal.",
            setups: &[setup("No causal mask, 60 steps", Some(FaultId::NoCausalMask), &[Change::Setting(SettingKey::Steps, "60")])],
            check: cheats,
        },
        fix: Stage {
            title: "Mask it again",
            instructions: "Turn the fault off and train again: nothing may lie above the diagonal.",
            setups: &[setup("Causal mask on, 60 steps", None, &[Change::Setting(SettingKey::Steps, "60")])],
            check: masked,
        },
    },
    Exercise {
        id: "temperature",
        title: "Sampling temperature and repetition",
        section: SectionId::OutputQualityIssues,
        goal: "Sample at a very low temperature and see the text repeat itself; then sample at the default temperature.",
        prediction: Prediction {
            question: "What does a very low sampling temperature do to the generated text?",
            options: &["It becomes more varied and creative", "Nothing: temperature only matters in training", "It repeats the same phrases", "It turns into random characters"],
            answer: 2,
            why: "Dividing the logits by a small temperature makes the distribution nearly one-hot: the sampler always picks the top token and loops.",
        },
        entries: &[EntryId::ModelOutputsRepetitiveText],
        reproduce: Stage {
            title: "Freeze the sampler",
            instructions: "Apply the setup and start; read the sample beside the charts.",
            setups: &[setup("Temperature too low, 60 steps", Some(FaultId::TemperatureTooLow), &[Change::Setting(SettingKey::Steps, "60")])],
            check: repeats,
        },
        fix: Stage {
            title: "Sample at the default temperature",
            instructions: "Turn the fault off and train again.",
            setups: &[setup("Default temperature 0.8, 60 steps", None, &[Change::Setting(SettingKey::Steps, "60")])],
            check: varied,
        },
    },
    Exercise {
        id: "tokenization",
        title: "Tokenization: <UNK> and the roundtrip",
        section: SectionId::TokenizationIssues,
        goal: "Build a word vocabulary from a small sample and count the <UNK> tokens; then go back to characters.",
        prediction: Prediction {
            question: "A word vocabulary built from a small sample meets new text. What happens to unseen words?",
            options: &["They are spelled out letter by letter", "They all become <UNK>, and the text cannot be decoded back", "The tokenizer adds them to its vocabulary on the fly", "They are split into the longest pieces it knows"],
            answer: 1,
            why: "A closed word vocabulary maps every unseen word to one <UNK> id, so decode(encode(text)) loses them.",
        },
        entries: &[EntryId::ManyUnkTokens, EntryId::TokenizationDoesntRoundtrip],
        reproduce: Stage {
            title: "Word vocabulary",
            instructions: "Apply the setup and start; the tokenizer's statistics show the <UNK> rate.",
            setups: &[
                setup("Word vocabulary, 60 steps", Some(FaultId::WordLevelVocab), &[Change::Setting(SettingKey::Steps, "60")]),
                setup("Variation: lossy normalisation", Some(FaultId::LossyNormalization), &[Change::Setting(SettingKey::Steps, "60")]),
            ],
            check: unknowns,
        },
        fix: Stage {
            title: "Characters again",
            instructions: "Turn the fault off: every character of the corpus is in the vocabulary.",
            setups: &[setup("Character tokenizer, 60 steps", None, &[Change::Setting(SettingKey::Steps, "60")])],
            check: all_known,
        },
    },
    Exercise {
        id: "oom",
        title: "Out of memory, and gradient accumulation",
        section: SectionId::MemoryIssues,
        goal: "Ask for a batch far beyond the memory budget; then get a large effective batch by accumulating small ones.",
        prediction: Prediction {
            question: "How do you train with a large batch that does not fit in memory?",
            options: &["Lower the learning rate", "Keep the batch and shorten the context instead", "Turn on gradient clipping", "Sum the gradients of several small micro-batches before each update"],
            answer: 3,
            why: "Gradient accumulation keeps one micro-batch's activations in memory at a time and steps once per several of them.",
        },
        entries: &[EntryId::OutOfMemoryOom],
        reproduce: Stage {
            title: "Run out of memory",
            instructions: "Apply the setup and start: the run fails before its first step.",
            setups: &[setup("Batch ×4096", Some(FaultId::BatchTooLarge), &[])],
            check: out_of_memory,
        },
        fix: Stage {
            title: "Accumulate",
            instructions: "Turn the fault off and accumulate 4 micro-batches per update.",
            setups: &[setup("grad-accum 4, 20 steps", None, &[Change::Setting(SettingKey::Steps, "20"), Change::Setting(SettingKey::GradAccum, "4")])],
            check: accumulated,
        },
    },
    Exercise {
        id: "slow",
        title: "A slow run and its timing breakdown",
        section: SectionId::PerformanceIssues,
        goal: "Read every weight back after every step, as heavy logging does, and find the cost in the phase chart.",
        prediction: Prediction {
            question: "Which phase of the step grows when every statistic is read back each step?",
            options: &["Telemetry: copying and summarising what was computed", "The forward pass", "The backward pass", "The optimizer"],
            answer: 0,
            why: "The math is unchanged; the extra time is spent reading values back, which the phase chart shows as telemetry.",
        },
        entries: &[EntryId::TrainingIsVerySlow],
        reproduce: Stage {
            title: "Sync every step",
            instructions: "Apply the setup and start; compare the phases in the timing chart.",
            setups: &[setup("Sync every step, 40 steps", Some(FaultId::SyncEveryStep), &[Change::Setting(SettingKey::Steps, "40")])],
            check: slow,
        },
        fix: Stage {
            title: "Read back only at evaluations",
            instructions: "Turn the fault off and run again.",
            setups: &[setup("Normal telemetry, 40 steps", None, &[Change::Setting(SettingKey::Steps, "40")])],
            check: fast,
        },
    },
    Exercise {
        id: "nan",
        title: "The three ways to get NaN",
        section: SectionId::NumericalIssues,
        goal: "Break the numerics three ways: softmax without the max shift, log(softmax(x)), LayerNorm without epsilon. See where the run stops, then use the stable form.",
        prediction: Prediction {
            question: "Where does a NaN first appear when softmax skips subtracting the row maximum?",
            options: &["In the optimizer state", "In the loss, as the log of 0", "In the attention probabilities: exp of a large score overflows", "In the token embeddings"],
            answer: 2,
            why: "exp(x) overflows to Inf for x above about 88 in f32; Inf/Inf is NaN, and the run stops at the first tensor holding it.",
        },
        entries: &[EntryId::LossBecomesNan],
        reproduce: Stage {
            title: "Overflow",
            instructions: "Apply a setup and start; the run stops at the first non-finite value and names the tensor. Try all three.",
            setups: &[
                setup("Softmax without the max shift", Some(FaultId::SoftmaxNoMaxShift), &[Change::Setting(SettingKey::Steps, "60")]),
                setup("log(softmax(x))", Some(FaultId::NaiveLogSoftmax), &[Change::Setting(SettingKey::Steps, "60")]),
                setup("LayerNorm without epsilon", Some(FaultId::LayernormNoEps), &[Change::Setting(SettingKey::Steps, "60")]),
            ],
            check: nan,
        },
        fix: Stage {
            title: "The stable forms",
            instructions: "Keep the rest of the scenario but turn the unstable formula off.",
            setups: &[
                setup("Max-shifted softmax", Some(FaultId::SoftmaxNoMaxShift), &[Change::Setting(SettingKey::Steps, "60")]).turning_off(&[FaultId::SoftmaxNoMaxShift]),
                setup("x − logsumexp(x)", Some(FaultId::NaiveLogSoftmax), &[Change::Setting(SettingKey::Steps, "60")]).turning_off(&[FaultId::NaiveLogSoftmax]),
                setup("LayerNorm with epsilon", Some(FaultId::LayernormNoEps), &[Change::Setting(SettingKey::Steps, "60")]).turning_off(&[FaultId::LayernormNoEps]),
            ],
            check: stable,
        },
    },
    Exercise {
        id: "zero-grad",
        title: "The forgotten zero_grad",
        section: SectionId::GradientIssues,
        goal: "Never clear the gradients (with clipping off, so it shows) and watch the gradient norm pile up.",
        prediction: Prediction {
            question: "With clipping off and zero_grad forgotten, what does the gradient norm do?",
            options: &["Stays about the same: each step's gradient is alike", "Keeps growing: every step adds onto all earlier gradients", "Drops to zero as the sums cancel out", "Swings between two values"],
            answer: 1,
            why: "The stored gradient is the sum of every step's so far. Faultline also measured that clipping hides this: with clip 1 only the loss shows it.",
        },
        entries: &[EntryId::GradientsAreAllZero, EntryId::ExplodingGradients],
        reproduce: Stage {
            title: "Forget to clear",
            instructions: "Apply the setup (clipping off too) and start; watch the gradient-norm chart.",
            setups: &[setup("No zero_grad, no clipping, 150 steps", Some(FaultId::NoZeroGrad), &[Change::Setting(SettingKey::Steps, "150")])],
            check: piles_up,
        },
        fix: Stage {
            title: "Clear every step",
            instructions: "Turn only no-zero-grad off; clipping may stay off.",
            setups: &[setup("zero_grad back, 150 steps", Some(FaultId::NoZeroGrad), &[Change::Setting(SettingKey::Steps, "150")]).turning_off(&[FaultId::NoZeroGrad])],
            check: cleared,
        },
    },
    Exercise {
        id: "dead-relu",
        title: "Dead ReLUs",
        section: SectionId::GradientIssues,
        goal: "Use ReLU with a negative starting bias and count the units that never fire.",
        prediction: Prediction {
            question: "A ReLU unit whose input is always negative: what gradient does it pass back?",
            options: &["Exactly zero, so it can never recover", "A small one, as a leaky unit does", "A large one, to push it back above zero", "The same as an active unit's"],
            answer: 0,
            why: "ReLU's slope is 0 for negative inputs, so a unit that never fires never gets the update that could revive it.",
        },
        entries: &[EntryId::GradientsAreAllZero],
        reproduce: Stage {
            title: "Kill the units",
            instructions: "Apply the setup and start; read the dead-unit fraction.",
            setups: &[setup("Dead ReLUs, 60 steps", Some(FaultId::DeadRelu), &[Change::Setting(SettingKey::Steps, "60")])],
            check: dead,
        },
        fix: Stage {
            title: "GELU again",
            instructions: "Turn the fault off and train again.",
            setups: &[setup("GELU, 60 steps", None, &[Change::Setting(SettingKey::Steps, "60")])],
            check: alive,
        },
    },
    Exercise {
        id: "vanishing",
        title: "Vanishing gradients without residuals",
        section: SectionId::GradientIssues,
        goal: "Remove the residual connections and compare the gradient reaching the first block with the last.",
        prediction: Prediction {
            question: "Without residual connections, which layers get the smallest gradients?",
            options: &["The last ones, next to the loss", "The middle ones", "All get about the same", "The first ones, far from the loss"],
            answer: 3,
            why: "Each block multiplies the gradient on its way down; the residual path is what carries it to the early layers unshrunk.",
        },
        entries: &[EntryId::VanishingGradients],
        reproduce: Stage {
            title: "Cut the residuals",
            instructions: "Apply the setup and start; compare block 0's gradient norm with the last block's.",
            setups: &[setup("No residuals, 150 steps", Some(FaultId::NoResidual), &[Change::Setting(SettingKey::Steps, "150")])],
            check: vanishing,
        },
        fix: Stage {
            title: "Residuals back",
            instructions: "Turn the fault off and train again.",
            setups: &[setup("Residuals on, 150 steps", None, &[Change::Setting(SettingKey::Steps, "150")])],
            check: flowing,
        },
    },
    Exercise {
        id: "attn-scale",
        title: "What 1/√d_k really does",
        section: SectionId::AttentionIssues,
        goal: "Leave the attention scores unscaled and measure the attention entropy against the scaled model's.",
        prediction: Prediction {
            question: "Without dividing the scores by √d_k, attention becomes…",
            options: &["more uniform (higher entropy)", "sharper (lower entropy)", "exactly the same", "NaN, from overflowing scores"],
            answer: 1,
            why: "The guide's text says uniform, but Faultline measured the opposite: the scores reach the softmax √d_k times larger, so attention turns sharper (see the measured note on the guide entry).",
        },
        entries: &[EntryId::AttentionWeightsAreUniform],
        reproduce: Stage {
            title: "Unscaled scores",
            instructions: "Apply the setup and start; note the attention entropy.",
            setups: &[setup("No 1/√d_k, 150 steps", Some(FaultId::NoAttnScale), &[Change::Setting(SettingKey::Steps, "150")])],
            check: unscaled,
        },
        fix: Stage {
            title: "Scaled scores",
            instructions: "Turn the fault off and train the same steps: compare the entropy.",
            setups: &[setup("With 1/√d_k, 150 steps", None, &[Change::Setting(SettingKey::Steps, "150")])],
            check: scaled,
        },
    },
    Exercise {
        id: "overfit",
        title: "Overfitting a tiny corpus, and the cure",
        section: SectionId::Overfitting,
        goal: "Train long on a few thousand tokens until validation loss turns up; then give the model the whole corpus.",
        prediction: Prediction {
            question: "Training long on a tiny corpus: what does the validation loss do?",
            options: &["Falls with the training loss all the way", "Stays at ln V", "Falls, then rises while the training loss keeps falling", "Rises from the first step"],
            answer: 2,
            why: "The model memorises the few sequences it sees; what it learns stops transferring to unseen text.",
        },
        entries: &[EntryId::ValidationLossIncreasingWhileTrainingLossDecreases],
        reproduce: Stage {
            title: "Memorise",
            instructions: "Apply the setup (800 steps: a few minutes) and start; watch the validation curve.",
            setups: &[setup("Tiny dataset, 800 steps", Some(FaultId::TinyDataset), &[])],
            check: overfits,
        },
        fix: Stage {
            title: "More data",
            instructions: "Turn the fault off: the same steps on the whole corpus.",
            setups: &[setup("Whole corpus, 800 steps", Some(FaultId::TinyDataset), &[]).turning_off(&[FaultId::TinyDataset])],
            check: generalises,
        },
    },
];
