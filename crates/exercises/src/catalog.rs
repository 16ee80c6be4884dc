//! The exercises, ordered by difficulty: the first run and overfitting first, numerics and attention
//! last: their content (goal, prediction, setups) and the one change each fix teaches ([`Lesson`]). Each breaking setup starts from the fault table's
//! scenario for its fault (the settings under which `crates/evaluation/tests/symptoms.rs` shows the
//! symptom), shortened where the symptom appears sooner. A fix setup is a change on top of the learner's
//! reproduce run: the guide's own remedy where it names one (dropout, warmup, clipping, micro-batches, a
//! repetition penalty), else the fault switched off, which is the guide's fix already in the defaults.

use super::{Answer, Exercise, ExerciseId, Lesson, Prediction, Setup, Stage};
use faultline_engine::faults::FaultId;
use faultline_engine::guide::{EntryId, SectionId};
use faultline_engine::settings::{Change, Knob, SettingKey};

const fn setup(label: &'static str, show_me: Option<FaultId>, changes: &'static [Change<'static>]) -> Setup {
    Setup { label, show_me, changes, off: &[] }
}

/// A fix setup: `changes` on top of the reproduce run.
const fn fix(label: &'static str, changes: &'static [Change<'static>]) -> Setup {
    Setup { label, show_me: None, changes, off: &[] }
}

/// A fix setup that switches `faults` off and keeps the rest of the reproduce run.
const fn fix_off(label: &'static str, faults: &'static [FaultId]) -> Setup {
    Setup { label, show_me: None, changes: &[], off: faults }
}

const fn steps(n: &'static str) -> Change<'static> {
    Change::Setting(SettingKey::Steps, n)
}

pub const EXERCISES: &[Exercise] = &[
    Exercise {
        id: ExerciseId::FirstRun,
        title: "Your first run, read against ln V",
        section: SectionId::LossPlateau,
        goal: "Train the healthy model once and read its loss against the one number that needs no training: ln V, the loss of a uniform guess over V tokens.",
        prediction: Prediction {
            question: "The healthy model reads toy-English, whose vocabulary is V = 29 characters. What loss will it have at step 1, before any training? (nats per token)",
            answer: Answer::Number { unit: "nats", scale: 1.0 },
            why: "Small random weights give nearly equal probability 1/V to every token, and the loss of that guess is ln V: ln 29 ≈ 3.37.",
        },
        entries: &[EntryId::LossStopsDecreasing, EntryId::LossDecreasesVerySlowly],
        reproduce: Stage {
            title: "Start at ln V",
            instructions: "Apply the healthy setup (60 steps, no fault), start it, and watch the first loss.",
            setups: &[setup("Healthy run, 60 steps", None, &[steps("60")])],
        },
        fix: Stage {
            title: "Learn well below it",
            instructions: "The same run should end more than 1 nat below ln V. A run that stays at ln V has learned nothing.",
            setups: &[fix("The same healthy run", &[])],
        },
        lesson: Lesson::SameRun,
    },
    Exercise {
        id: ExerciseId::Overfit,
        title: "Overfitting a tiny corpus, and dropout",
        section: SectionId::Overfitting,
        goal: "Train long on a few thousand tokens until validation loss turns up; then apply the guide's remedy, dropout, to the same run.",
        prediction: Prediction {
            question: "800 steps on the first 2,000 tokens of the corpus: at the end, how far above the training loss will the validation loss be? (nats)",
            answer: Answer::Number { unit: "nats", scale: 1.0 },
            why: "The model memorises the few sequences it sees, so its training loss keeps falling while what it learns stops transferring to unseen text: the validation loss turns up, and the gap between the two is what was memorised.",
        },
        entries: &[EntryId::ValidationLossIncreasingWhileTrainingLossDecreases],
        reproduce: Stage {
            title: "Memorise",
            instructions: "Apply the setup (800 steps: a few minutes) and start; watch the validation curve.",
            setups: &[setup("Tiny dataset, 800 steps", Some(FaultId::TinyDataset), &[])],
        },
        fix: Stage {
            title: "Regularise",
            instructions: "Keep the tiny corpus and the steps, and add dropout: units dropped at random while training cannot memorise together. More data cures it too, and so does stopping where validation was lowest (a shorter run also shortens its learning-rate schedule, so it is close to, not exactly, the long run stopped early).",
            setups: &[
                fix("Dropout 0.3 on the same run", &[Change::Setting(SettingKey::Dropout, "0.3")]),
                fix_off("Variation: the whole corpus", &[FaultId::TinyDataset]),
                fix("Variation: stop early, at step 300", &[steps("300")]),
            ],
        },
        lesson: Lesson::Change {
            ways: &[&[Knob::Setting(SettingKey::Dropout)], &[Knob::Setting(SettingKey::WeightDecay)], &[Knob::Fault(FaultId::TinyDataset)], &[Knob::Setting(SettingKey::Steps)]],
            what: "regularise (dropout or weight decay), give it more data, or stop early",
        },
    },
    Exercise {
        id: ExerciseId::Explode,
        title: "Make the loss swing, then lower the rate",
        section: SectionId::LearningRateIssues,
        goal: "Multiply the learning rate by 300 and watch the loss climb above ln V; then train the same run at the normal rate.",
        prediction: Prediction {
            question: "With AdamW and clipping on (the defaults), what does a 300× learning rate do?",
            answer: Answer::Choice { options: &["The loss spikes above ln V and stays high, but finite", "The loss becomes NaN within a few steps", "Nothing: AdamW normalises every step, so the rate barely matters", "The loss falls faster, then levels off where a normal rate would"], right: 0 },
            why: "AdamW's normalised steps and clipping bound every update, so Faultline measures a spike far above ln V and a high plateau, not NaN.",
        },
        entries: &[EntryId::LossOscillatesWildly],
        reproduce: Stage {
            title: "Swing it",
            instructions: "Apply the setup (learning rate ×300) and start. Watch the loss chart against ln V.",
            setups: &[setup("Learning rate ×300, 60 steps", Some(FaultId::LrTooHigh), &[steps("60")])],
        },
        fix: Stage {
            title: "Lower the rate",
            instructions: "Keep everything else, and bring the learning rate back down: switch the ×300 off, or lower lr.",
            setups: &[fix_off("The normal rate, same run", &[FaultId::LrTooHigh])],
        },
        lesson: Lesson::Change {
            ways: &[&[Knob::Fault(FaultId::LrTooHigh)], &[Knob::Setting(SettingKey::Lr)], &[Knob::Setting(SettingKey::Warmup)]],
            what: "a lower learning rate (or a longer warmup)",
        },
    },
    Exercise {
        id: ExerciseId::FindLr,
        title: "Find the learning rate with the range test",
        section: SectionId::LearningRateIssues,
        goal: "Train with a rate a hundred times too small and watch the loss crawl; then let the range test pick the rate instead of guessing.",
        prediction: Prediction {
            question: "The range test raises the rate a little at every step and records the loss. Which rate does the guide tell you to train with?",
            answer: Answer::Choice { options: &["The rate where the loss was lowest", "The largest rate that did not give NaN", "The rate where the loss began to fall", "A tenth of the rate where the loss was lowest"], right: 3 },
            why: "At the lowest point the loss is about to turn upward, so that rate is already at the edge of stability; a tenth of it trains fast with room to spare.",
        },
        entries: &[EntryId::LossDecreasesVerySlowly, EntryId::FindingTheRightLearningRate],
        reproduce: Stage {
            title: "Crawl with a tiny rate",
            instructions: "Apply the setup (learning rate ÷100) and start. Compare the loss at the end with where it began.",
            setups: &[setup("Learning rate ÷100, 100 steps", Some(FaultId::LrTooLow), &[steps("100")])],
        },
        fix: Stage {
            title: "Let the range test choose",
            instructions: "Apply the setup (the ÷100 off, the rest of your run kept), run the learning-rate range test on the trainer page, press Use on its suggestion, then Start.",
            setups: &[fix_off("The ÷100 off, same run", &[FaultId::LrTooLow])],
        },
        lesson: Lesson::Change {
            ways: &[&[Knob::Fault(FaultId::LrTooLow), Knob::Setting(SettingKey::Lr)]],
            what: "the range test's learning rate",
        },
    },
    Exercise {
        id: ExerciseId::Warmup,
        title: "Full speed from step one: warmup",
        section: SectionId::LossPlateau,
        goal: "Start a high learning rate at full strength on the first step and watch the loss stall; then ramp it up over the first steps instead.",
        prediction: Prediction {
            question: "lr 0.05 with AdamW from the very first step, no warmup: what does the loss do?",
            answer: Answer::Choice { options: &["Falls fastest of all, since the rate is high from the start", "Falls at first, then stalls far above where a warmed-up run gets", "Becomes NaN at once", "Stays exactly at ln V"], right: 1 },
            why: "AdamW's first steps are full-size in every direction, before its moment estimates mean anything; at a high rate they throw the weights somewhere the loss stalls. Warmup keeps those first steps small.",
        },
        entries: &[EntryId::LossStopsDecreasing],
        reproduce: Stage {
            title: "No warmup",
            instructions: "Apply the setup (lr 0.05, no warmup, 150 steps) and start; watch the loss level off.",
            setups: &[setup("No warmup at lr 0.05, 150 steps", Some(FaultId::NoWarmup), &[steps("150")])],
        },
        fix: Stage {
            title: "Warm up",
            instructions: "Keep the rate and the steps; let the rate ramp up over the first 50 steps (the default warmup).",
            setups: &[fix_off("Warmup back, same run", &[FaultId::NoWarmup])],
        },
        lesson: Lesson::Change {
            ways: &[&[Knob::Fault(FaultId::NoWarmup), Knob::Setting(SettingKey::Warmup)], &[Knob::Setting(SettingKey::Lr)]],
            what: "a warmup (or a lower rate)",
        },
    },
    Exercise {
        id: ExerciseId::Temperature,
        title: "Sampling temperature and repetition",
        section: SectionId::OutputQualityIssues,
        goal: "Sample at a very low temperature and see the text repeat itself; then sample the same trained model again, decoded another way.",
        prediction: Prediction {
            question: "What does a very low sampling temperature do to the generated text?",
            answer: Answer::Choice { options: &["It becomes more varied and creative", "Nothing: temperature only matters in training", "It repeats the same phrases", "It turns into random characters"], right: 2 },
            why: "Dividing the logits by a small temperature makes the distribution nearly one-hot: the sampler always picks the top token and loops.",
        },
        entries: &[EntryId::ModelOutputsRepetitiveText],
        reproduce: Stage {
            title: "Freeze the sampler",
            instructions: "Apply the setup and start; read the sample beside the charts.",
            setups: &[
                setup("Temperature 0.1, 150 steps", Some(FaultId::TemperatureTooLow), &[steps("150")]),
                setup("Variation: greedy decoding", Some(FaultId::GreedyDecoding), &[steps("150")]),
            ],
        },
        fix: Stage {
            title: "Sample the same model again",
            instructions: "No new run: the model your reproduce run trained is still in the trainer. In its Generate panel, change only how it decodes (the guide's repetition penalty, or a warmer temperature) and press Generate. It passes when no more than 15 points more of the text's 4-grams repeat than of the validation text's own.",
            setups: &[
                fix("Repetition penalty 1.3, still cold", &[Change::Setting(SettingKey::RepetitionPenalty, "1.3")]),
                fix(
                    "Temperature 0.8, greedy off",
                    &[Change::Setting(SettingKey::Temperature, "0.8"), Change::Setting(SettingKey::Greedy, "off")],
                ),
            ],
        },
        lesson: Lesson::Resample { what: "a repetition penalty, a warmer temperature, top-k or top-p" },
    },
    Exercise {
        id: ExerciseId::Tokenization,
        title: "A word vocabulary and its <UNK> tokens",
        section: SectionId::TokenizationIssues,
        goal: "Build a word vocabulary from a small sample and count the <UNK> tokens; then go back to characters.",
        prediction: Prediction {
            question: "A word vocabulary built from a small sample meets new text. What happens to unseen words?",
            answer: Answer::Choice { options: &["They are spelled out letter by letter", "They all become <UNK>, and the text cannot be decoded back", "The tokenizer adds them to its vocabulary on the fly", "They are split into the longest pieces it knows"], right: 1 },
            why: "A closed word vocabulary maps every unseen word to one <UNK> id, so decode(encode(text)) loses them.",
        },
        entries: &[EntryId::ManyUnkTokens],
        reproduce: Stage {
            title: "Word vocabulary",
            instructions: "Apply the setup and start; the tokenizer's statistics show the <UNK> rate.",
            setups: &[setup("Word vocabulary, 60 steps", Some(FaultId::WordLevelVocab), &[steps("60")])],
        },
        fix: Stage {
            title: "Characters again",
            instructions: "Keep the rest of the run and tokenize by character: every character of the corpus is in the vocabulary.",
            setups: &[fix_off("Character tokenizer, same run", &[FaultId::WordLevelVocab])],
        },
        lesson: Lesson::Change { ways: &[&[Knob::Fault(FaultId::WordLevelVocab)]], what: "a tokenizer that covers the text" },
    },
    Exercise {
        id: ExerciseId::Roundtrip,
        title: "Text that does not come back",
        section: SectionId::TokenizationIssues,
        goal: "Lower-case and fold whitespace before tokenizing, then decode what you encoded and compare it with the original.",
        prediction: Prediction {
            question: "The tokenizer lower-cases the text first. What does decode(encode(text)) give back?",
            answer: Answer::Choice { options: &["The text lower-cased, with its line breaks folded: not the original", "Nothing: the ids cannot be decoded", "A random string of the same length", "The original text, exactly"], right: 0 },
            why: "Normalisation throws information away before the ids are made; no decoder can restore the capitals and the line breaks it never saw.",
        },
        entries: &[EntryId::TokenizationDoesntRoundtrip],
        reproduce: Stage {
            title: "Normalise",
            instructions: "Apply the setup and start; the tokenizer's statistics show the roundtrip.",
            setups: &[setup("Lossy normalisation, 60 steps", Some(FaultId::LossyNormalization), &[steps("60")])],
        },
        fix: Stage {
            title: "Keep every character",
            instructions: "Keep the rest of the run and tokenize the text as it is.",
            setups: &[fix_off("No normalisation, same run", &[FaultId::LossyNormalization])],
        },
        lesson: Lesson::Change { ways: &[&[Knob::Fault(FaultId::LossyNormalization)]], what: "a tokenizer that keeps the text as it is" },
    },
    Exercise {
        id: ExerciseId::Nonsense,
        title: "Nonsense from a model that learned",
        section: SectionId::OutputQualityIssues,
        goal: "Decode a well-trained model's output with the wrong vocabulary and read the gibberish; then decode with the vocabulary it was trained on.",
        prediction: Prediction {
            question: "The loss is low, yet the samples are gibberish. Where is the fault most likely?",
            answer: Answer::Choice { options: &["The model did not train long enough", "The learning rate is too high", "Between the model and the text: decoding ids with a different vocabulary", "The sampling temperature is too low"], right: 2 },
            why: "A low loss says the model predicts its ids well; if the text is still nonsense, the ids are being turned into text wrongly.",
        },
        entries: &[EntryId::ModelOutputsNonsense],
        reproduce: Stage {
            title: "The wrong vocabulary",
            instructions: "Apply the setup and start; compare the loss with the sample beside the charts.",
            setups: &[setup("Tokenizer mismatch, 60 steps", Some(FaultId::TokenizerMismatch), &[steps("60")])],
        },
        fix: Stage {
            title: "The model's own vocabulary",
            instructions: "Keep the run and decode with the vocabulary the model was trained on.",
            setups: &[fix_off("Matching tokenizer, same run", &[FaultId::TokenizerMismatch])],
        },
        lesson: Lesson::Change {
            ways: &[&[Knob::Fault(FaultId::TokenizerMismatch)], &[Knob::Fault(FaultId::CorruptEmbeddings)], &[Knob::Fault(FaultId::WrongCheckpoint)]],
            what: "decode with the model's own vocabulary and weights",
        },
    },
    Exercise {
        id: ExerciseId::Oom,
        title: "Out of memory, and gradient accumulation",
        section: SectionId::MemoryIssues,
        goal: "Ask for a batch beyond the memory budget; then reach the same effective batch by accumulating micro-batches that fit.",
        prediction: Prediction {
            question: "How do you train with a large batch that does not fit in memory?",
            answer: Answer::Choice { options: &["Lower the learning rate", "Keep the batch and shorten the context instead", "Turn on gradient clipping", "Sum the gradients of several small micro-batches before each update"], right: 3 },
            why: "Gradient accumulation keeps one micro-batch's activations in memory at a time and steps once per several of them.",
        },
        entries: &[EntryId::OutOfMemoryOom],
        reproduce: Stage {
            title: "Run out of memory",
            instructions: "Apply the setup (a batch ×16 under a 64 MiB budget) and start: the run fails before its first step.",
            setups: &[setup(
                "Batch ×16 in 64 MiB, 20 steps",
                None,
                &[Change::Fault(FaultId::BatchTooLarge, Some(16.0)), Change::Setting(SettingKey::MemoryBudget, "64"), steps("20")],
            )],
        },
        fix: Stage {
            title: "Accumulate",
            instructions: "Keep the budget: train micro-batches of the normal size and accumulate 16 of them per update, the same effective batch.",
            setups: &[fix("16 micro-batches per update", &[Change::Setting(SettingKey::GradAccum, "16")]).turning_off(&[FaultId::BatchTooLarge])],
        },
        lesson: Lesson::Change {
            ways: &[&[Knob::Fault(FaultId::BatchTooLarge), Knob::Setting(SettingKey::Batch), Knob::Setting(SettingKey::GradAccum)]],
            what: "micro-batches that fit, accumulated to the same effective batch",
        },
    },
    Exercise {
        id: ExerciseId::Slow,
        title: "A slow run and its timing breakdown",
        section: SectionId::PerformanceIssues,
        goal: "Read every weight back after every step, as heavy logging does, and find the cost in the phase chart.",
        prediction: Prediction {
            question: "Which phase of the step grows when every statistic is read back each step?",
            answer: Answer::Choice { options: &["Telemetry: copying and summarising what was computed", "The forward pass", "The backward pass", "The optimizer"], right: 0 },
            why: "The math is unchanged; the extra time is spent reading values back, which the phase chart shows as telemetry.",
        },
        entries: &[EntryId::TrainingIsVerySlow],
        reproduce: Stage {
            title: "Sync every step",
            instructions: "Apply the setup and start; compare the phases in the timing chart.",
            setups: &[setup("Sync every step, 40 steps", Some(FaultId::SyncEveryStep), &[steps("40")])],
        },
        fix: Stage {
            title: "Read back only at evaluations",
            instructions: "Keep the run; read statistics back only when it evaluates.",
            setups: &[fix_off("Normal telemetry, same run", &[FaultId::SyncEveryStep])],
        },
        lesson: Lesson::Change { ways: &[&[Knob::Fault(FaultId::SyncEveryStep)]], what: "read back only at evaluations" },
    },
    Exercise {
        id: ExerciseId::Clip,
        title: "Exploding gradients and clipping",
        section: SectionId::GradientIssues,
        goal: "Train with plain SGD at a high rate and no clipping, and watch the gradient norm spike; then clip it.",
        prediction: Prediction {
            question: "SGD at lr 0.35, no clipping: a step's gradient norm jumps a hundredfold. What does clipping at 1 change?",
            answer: Answer::Choice { options: &["It stops the gradients from being large", "Nothing: SGD ignores the gradient's size", "It lowers the learning rate for the rest of the run", "It shrinks that step's update to norm 1, so one bad batch cannot throw the weights far"], right: 3 },
            why: "Clipping rescales the gradient before the update; the gradient itself is as large as ever, so the spikes stay on the chart while the loss stops paying for them.",
        },
        entries: &[EntryId::ExplodingGradients],
        reproduce: Stage {
            title: "No clipping",
            instructions: "Apply the setup (SGD, lr 0.35, clipping off, 150 steps) and start; watch the gradient-norm chart and the loss.",
            setups: &[setup("SGD without clipping, 150 steps", Some(FaultId::NoGradClip), &[steps("150")])],
        },
        fix: Stage {
            title: "Clip",
            instructions: "Keep SGD, the rate and the steps; clip the global gradient norm at 1.",
            setups: &[fix_off("Clipping at 1, same run", &[FaultId::NoGradClip])],
        },
        lesson: Lesson::Change {
            ways: &[&[Knob::Fault(FaultId::NoGradClip), Knob::Setting(SettingKey::GradClip)]],
            what: "clip the gradient norm",
        },
    },
    Exercise {
        id: ExerciseId::ZeroGrad,
        title: "The forgotten zero_grad",
        section: SectionId::GradientIssues,
        goal: "Never clear the gradients (with clipping off, so it shows) and watch the gradient norm pile up.",
        prediction: Prediction {
            question: "With clipping off and zero_grad forgotten, what does the gradient norm do?",
            answer: Answer::Choice { options: &["Stays about the same: each step's gradient is alike", "Keeps growing: every step adds onto all earlier gradients", "Drops to zero as the sums cancel out", "Swings between two values"], right: 1 },
            why: "The stored gradient is the sum of every step's so far. Faultline also measured that clipping hides this: with clip 1 only the loss shows it.",
        },
        entries: &[EntryId::GradientsAreAllZero, EntryId::ExplodingGradients],
        reproduce: Stage {
            title: "Forget to clear",
            instructions: "Apply the setup (clipping off too) and start; watch the gradient-norm chart.",
            setups: &[setup("No zero_grad, no clipping, 150 steps", Some(FaultId::NoZeroGrad), &[steps("150")])],
        },
        fix: Stage {
            title: "Clear every step",
            instructions: "Turn only no-zero-grad off; clipping stays off.",
            setups: &[fix_off("zero_grad back, same run", &[FaultId::NoZeroGrad])],
        },
        lesson: Lesson::Change { ways: &[&[Knob::Fault(FaultId::NoZeroGrad)]], what: "clear the gradients every step" },
    },
    Exercise {
        id: ExerciseId::DeadRelu,
        title: "Dead ReLUs",
        section: SectionId::GradientIssues,
        goal: "Use ReLU with a negative starting bias and count the units that never fire.",
        prediction: Prediction {
            question: "ReLU with a starting bias of −1: what share of one block's MLP units will never fire? (%)",
            answer: Answer::Number { unit: "%", scale: 100.0 },
            why: "ReLU's slope is 0 for negative inputs, so a unit that starts below zero gets no gradient and never gets the update that could revive it.",
        },
        entries: &[EntryId::GradientsAreAllZero],
        reproduce: Stage {
            title: "Kill the units",
            instructions: "Apply the setup and start; read the dead-unit fraction.",
            setups: &[setup("Dead ReLUs, 60 steps", Some(FaultId::DeadRelu), &[steps("60")])],
        },
        fix: Stage {
            title: "GELU again",
            instructions: "Keep the run and use GELU, whose slope is never exactly zero: the defaults already are the guide's fix.",
            setups: &[fix_off("GELU, same run", &[FaultId::DeadRelu])],
        },
        lesson: Lesson::Change { ways: &[&[Knob::Fault(FaultId::DeadRelu)]], what: "GELU instead of the biased ReLU" },
    },
    Exercise {
        id: ExerciseId::Stuck,
        title: "Gradients that never arrive",
        section: SectionId::GradientIssues,
        goal: "Start every weight at zero, or cut the graph below the last block, and find the layers that get no gradient; then give them one.",
        prediction: Prediction {
            question: "Every weight starts at exactly zero. What does training do?",
            answer: Answer::Choice { options: &["Trains normally: the first update breaks the tie", "Every unit in a layer gets the same gradient, so they stay identical and the loss barely moves", "The loss becomes NaN from dividing by zero", "Only the biases learn, which is enough"], right: 1 },
            why: "With identical weights every unit computes the same thing and receives the same update, so they never become different; most products with zero weights pass no gradient at all.",
        },
        entries: &[EntryId::GradientsAreAllZero],
        reproduce: Stage {
            title: "No gradient",
            instructions: "Apply a setup and start; the gradient norm per block shows which layers get nothing.",
            setups: &[
                setup("All weights zero, 60 steps", Some(FaultId::InitZero), &[steps("60")]),
                setup("Variation: graph cut below the last block", Some(FaultId::DetachedBlock), &[steps("60")]),
            ],
        },
        fix: Stage {
            title: "Random init, connected graph",
            instructions: "Keep the run; start from small random weights and keep the graph whole (the defaults).",
            setups: &[fix_off("Random init and the whole graph, same run", &[FaultId::InitZero, FaultId::DetachedBlock])],
        },
        lesson: Lesson::Change {
            ways: &[&[Knob::Fault(FaultId::InitZero)], &[Knob::Fault(FaultId::DetachedBlock)]],
            what: "random initial weights and a connected graph",
        },
    },
    Exercise {
        id: ExerciseId::Vanishing,
        title: "Vanishing gradients without residuals",
        section: SectionId::GradientIssues,
        goal: "Remove the residual connections and compare the gradient reaching the first block with the last.",
        prediction: Prediction {
            question: "Without residual connections, which layers get the smallest gradients?",
            answer: Answer::Choice { options: &["The last ones, next to the loss", "The middle ones", "All get about the same", "The first ones, far from the loss"], right: 3 },
            why: "Each block multiplies the gradient on its way down; the residual path is what carries it to the early layers unshrunk.",
        },
        entries: &[EntryId::VanishingGradients],
        reproduce: Stage {
            title: "Cut the residuals",
            instructions: "Apply the setup and start; compare block 0's gradient norm with the last block's.",
            setups: &[setup("No residuals, 150 steps", Some(FaultId::NoResidual), &[steps("150")])],
        },
        fix: Stage {
            title: "Residuals back",
            instructions: "Keep the run and put the residual connections back.",
            setups: &[fix_off("Residuals on, same run", &[FaultId::NoResidual])],
        },
        lesson: Lesson::Change { ways: &[&[Knob::Fault(FaultId::NoResidual)]], what: "the residual connections back" },
    },
    Exercise {
        id: ExerciseId::PostNorm,
        title: "Post-norm needs a warmup",
        section: SectionId::GradientIssues,
        goal: "Normalise after each residual addition, as the original transformer did, at a rate with no warmup; then give the same model a warmup.",
        prediction: Prediction {
            question: "A post-norm transformer starts at lr 0.01 with no warmup. What happens to the gradients of the early layers?",
            answer: Answer::Choice { options: &["They grow until the loss is NaN", "Nothing: normalisation keeps every gradient the same size", "They shrink far below the last layer's and the loss stalls", "Only the last layer's gradient shrinks"], right: 2 },
            why: "In post-norm the gradient reaches early layers only through every LayerNorm on the main path; untrained, they shrink it. A warmup lets the model settle before full-size steps.",
        },
        entries: &[EntryId::VanishingGradients],
        reproduce: Stage {
            title: "Post-norm, no warmup",
            instructions: "Apply the setup (small model, post-norm, lr 0.01, no warmup, 150 steps) and start.",
            setups: &[setup("Post-norm without warmup, 150 steps", Some(FaultId::PostNorm), &[steps("150")])],
        },
        fix: Stage {
            title: "Warm up",
            instructions: "Keep post-norm and the rate; ramp the rate up over the first 100 steps, the guide's remedy. (Pre-norm, the default, fixes it too.)",
            setups: &[
                fix("Warmup 100, same run", &[Change::Setting(SettingKey::Warmup, "100")]),
                fix_off("Variation: pre-norm", &[FaultId::PostNorm]),
            ],
        },
        lesson: Lesson::Change {
            ways: &[&[Knob::Setting(SettingKey::Warmup)], &[Knob::Fault(FaultId::PostNorm)], &[Knob::Setting(SettingKey::Lr)]],
            what: "a warmup (or pre-norm)",
        },
    },
    Exercise {
        id: ExerciseId::Nan,
        title: "The three ways to get NaN",
        section: SectionId::NumericalIssues,
        goal: "Break the numerics three ways: softmax without the max shift, log(softmax(x)), LayerNorm without epsilon. See where the run stops, then use the stable form.",
        prediction: Prediction {
            question: "Softmax without the max shift, at the scenario's ×300 learning rate: at which step will the run stop on a NaN?",
            answer: Answer::Number { unit: "step", scale: 1.0 },
            why: "exp(x) overflows to Inf for x above about 88 in f32, and Inf/Inf is NaN; how soon the scores get there depends on how fast the learning rate grows them. The run stops at the first tensor holding a NaN and names it.",
        },
        entries: &[EntryId::LossBecomesNan],
        reproduce: Stage {
            title: "Overflow",
            instructions: "Apply a setup and start; the run stops at the first non-finite value and names the tensor. Try all three.",
            setups: &[
                setup("Softmax without the max shift", Some(FaultId::SoftmaxNoMaxShift), &[steps("60")]),
                setup("log(softmax(x))", Some(FaultId::NaiveLogSoftmax), &[steps("60")]),
                setup("LayerNorm without epsilon", Some(FaultId::LayernormNoEps), &[steps("60")]),
            ],
        },
        fix: Stage {
            title: "The stable forms",
            instructions: "Keep the rest of your run but turn the unstable formula off: the defaults already use the stable forms.",
            setups: &[fix_off("The stable form, same run", &[FaultId::SoftmaxNoMaxShift, FaultId::NaiveLogSoftmax, FaultId::LayernormNoEps])],
        },
        lesson: Lesson::Change {
            ways: &[&[Knob::Fault(FaultId::SoftmaxNoMaxShift)], &[Knob::Fault(FaultId::NaiveLogSoftmax)], &[Knob::Fault(FaultId::LayernormNoEps)]],
            what: "the stable formula",
        },
    },
    Exercise {
        id: ExerciseId::Cheating,
        title: "The cheating model: no causal mask",
        section: SectionId::AttentionIssues,
        goal: "Let every position see the future and find the cheat in the attention maps, then put the mask back.",
        prediction: Prediction {
            question: "Without the causal mask, what share of one head's attention will go to later positions, the very tokens it must predict? (%)",
            answer: Answer::Number { unit: "%", scale: 100.0 },
            why: "The next token is right there to copy, so heads learn to look above the diagonal of the attention map.",
        },
        entries: &[EntryId::AttentionLooksAtFutureInCausalModel],
        reproduce: Stage {
            title: "Remove the mask",
            instructions: "Apply the setup and start; look at the attention maps above their diagonal.",
            setups: &[setup("No causal mask, 60 steps", Some(FaultId::NoCausalMask), &[steps("60")])],
        },
        fix: Stage {
            title: "Mask it again",
            instructions: "Keep the run and put the mask back: nothing may lie above the diagonal.",
            setups: &[fix_off("Causal mask on, same run", &[FaultId::NoCausalMask])],
        },
        lesson: Lesson::Change { ways: &[&[Knob::Fault(FaultId::NoCausalMask)]], what: "the causal mask back" },
    },
    Exercise {
        id: ExerciseId::AttnScale,
        title: "What 1/√d_k really does",
        section: SectionId::AttentionIssues,
        goal: "Leave the attention scores unscaled and measure the attention entropy against the scaled model's.",
        prediction: Prediction {
            question: "Attention spread evenly over a 64-token sequence averages about 3.2 nats of entropy per row. Without dividing the scores by √d_k, what mean attention entropy will the trained model have? (nats)",
            answer: Answer::Number { unit: "nats", scale: 1.0 },
            why: "The guide's text says uniform, but Faultline measured the opposite: the scores reach the softmax √d_k times larger, so attention turns sharper (see the measured note on the guide entry).",
        },
        entries: &[EntryId::AttentionWeightsAreUniform],
        reproduce: Stage {
            title: "Unscaled scores",
            instructions: "Apply the setup and start; note the attention entropy.",
            setups: &[setup("No 1/√d_k, 150 steps", Some(FaultId::NoAttnScale), &[steps("150")])],
        },
        fix: Stage {
            title: "Scaled scores",
            instructions: "Keep the run and divide the scores by √d_k again: compare the entropy.",
            setups: &[fix_off("With 1/√d_k, same run", &[FaultId::NoAttnScale])],
        },
        lesson: Lesson::Change { ways: &[&[Knob::Fault(FaultId::NoAttnScale)]], what: "the scores divided by √d_k" },
    },
    Exercise {
        id: ExerciseId::Dpo,
        title: "DPO that learns nothing: the reference that moves",
        section: SectionId::AlignmentIssues,
        goal: "Fine-tune with DPO against a reference that is the live policy itself, and watch the loss sit at ln 2; then freeze the reference.",
        prediction: Prediction {
            question: "DPO's reference model is the policy being trained, not a frozen copy. What does the DPO loss do?",
            answer: Answer::Choice { options: &["Falls faster, since the reference keeps up", "Stays at ln 2 ≈ 0.693: the policy and its reference are always equal, so every margin is zero", "Becomes NaN", "Falls, then rises once the reference catches up"], right: 1 },
            why: "DPO's margin compares the policy's log-probabilities with the reference's; when the reference is the policy, the margin is 0 for every pair, the loss is ln 2 and its gradient vanishes.",
        },
        entries: &[EntryId::DpoLossNotDecreasing],
        reproduce: Stage {
            title: "A moving reference",
            instructions: "Apply the setup: the alignment page pretrains a base model, then fine-tunes it with DPO. Start it and watch the DPO loss against its ln 2 line.",
            setups: &[setup("Reference not frozen", Some(FaultId::DpoReferenceNotFrozen), &[])],
        },
        fix: Stage {
            title: "Freeze the reference",
            instructions: "Keep the run and compare against a frozen copy of the starting weights.",
            setups: &[fix_off("Frozen reference, same run", &[FaultId::DpoReferenceNotFrozen])],
        },
        lesson: Lesson::Change {
            ways: &[&[Knob::Fault(FaultId::DpoReferenceNotFrozen)], &[Knob::Fault(FaultId::DpoLrTooLow), Knob::Setting(SettingKey::FineTuneLr)], &[Knob::Fault(FaultId::DpoBetaTooHigh), Knob::Setting(SettingKey::Beta)], &[Knob::Fault(FaultId::DpoLogprobBug)]],
            what: "a frozen reference (or another of the guide's DPO fixes: β, the learning rate, the response mask)",
        },
    },
    Exercise {
        id: ExerciseId::RewardHacking,
        title: "Reward hacking without a KL penalty",
        section: SectionId::AlignmentIssues,
        goal: "Let a policy climb learned reward models with nothing holding it near where it started, and watch the reward rise while the text falls apart; then put the KL penalty back.",
        prediction: Prediction {
            question: "Policy-gradient fine-tuning against bigram reward models, without the KL penalty. What happens to the share of samples the grammar accepts?",
            answer: Answer::Choice { options: &["It rises with the reward, since the reward models were trained on preferences", "It stays where it started", "It collapses while the proxy reward keeps rising: the policy finds what the reward models cannot see", "The run stops on a NaN"], right: 2 },
            why: "The reward models see only bigrams, so text that repeats fragments they like scores high; without the KL penalty nothing keeps the policy near the base model's grammatical text.",
        },
        entries: &[EntryId::RewardIncreasesButQualityDecreases],
        reproduce: Stage {
            title: "No KL penalty",
            instructions: "Apply the setup: the alignment page pretrains a base model, trains the reward models, then runs the policy gradient. Start it and compare the proxy reward with the true quality.",
            setups: &[setup("No KL penalty", Some(FaultId::NoKlPenalty), &[])],
        },
        fix: Stage {
            title: "Penalise the drift",
            instructions: "Keep the run and charge the reward for the drift from the frozen reference again (kl-coef 1).",
            setups: &[fix_off("KL penalty back, same run", &[FaultId::NoKlPenalty])],
        },
        lesson: Lesson::Change {
            ways: &[&[Knob::Fault(FaultId::NoKlPenalty), Knob::Setting(SettingKey::KlCoef)], &[Knob::Setting(SettingKey::RewardModels)], &[Knob::Setting(SettingKey::RewardPairs)], &[Knob::Setting(SettingKey::EntropyBonus)]],
            what: "a KL penalty (or another of the guide's fixes: more or better reward models, an entropy bonus)",
        },
    },
];
