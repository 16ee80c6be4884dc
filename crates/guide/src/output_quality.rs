//! Output Quality Issues: what the model writes is wrong.

use super::{Cause, CauseId, EntryId, GuideEntry, Section, SectionId, Snippet};

pub(super) const SECTION: Section = Section { id: SectionId::OutputQualityIssues, title: "Output Quality Issues" };

pub(super) const MODEL_OUTPUTS_REPETITIVE_TEXT: GuideEntry = GuideEntry {
    id: EntryId::ModelOutputsRepetitiveText,
    title: "Model outputs repetitive text",
    section: SECTION.id,
    summary: "Generation gets stuck: the same word, phrase or short cycle comes out again and \
              again.",
    symptoms: &[
        "The generated text repeats a phrase over and over.",
        "A sample falls into a loop that it never leaves.",
    ],
    causes: &[
        Cause {
            id: CauseId::TemperatureTooLow,
            text: "The sampling temperature is too low: it sharpens the distribution until one continuation \
                  takes almost all the probability.",
        },
        Cause {
            id: CauseId::NoSampling,
            text: "There is no sampling at all: decoding always takes the most likely token (argmax), so \
                  once a cycle starts it repeats deterministically.",
        },
        Cause {
            id: CauseId::TrainingCollapsed,
            text: "Training collapsed, and the model only ever predicts a handful of frequent tokens.",
        },
    ],
    diagnosis: &[
        Snippet::with_code(
            "Count repeated n-grams in a sample. In healthy text only a small share of the 4-grams \
             occur more than once.",
            r#"let grams: Vec<&[u32]> = tokens.windows(4).collect();
let distinct: HashSet<&[u32]> = grams.iter().copied().collect();
let repeated = 1.0 - distinct.len() as f32 / grams.len() as f32;
println!("repeated 4-grams: {:.0}%", 100.0 * repeated);"#,
        ),
        Snippet::plain(
            "Sample the same prompt at temperature 1.0. If the loop goes away, the decoding \
             settings are to blame; if it stays, look at training.",
        ),
    ],
    fixes: &[
        Snippet::with_code(
            "Raise the temperature; values from 0.7 to 1.0 are a good range to try.",
            "let probs = softmax(&(&logits / temperature));",
        ),
        Snippet::with_code(
            "Sample from the nucleus (top-p): keep the smallest set of most likely tokens whose \
             probabilities add up to p, and sample among those only.",
            r#"let mut order: Vec<usize> = (0..probs.len()).collect();
order.sort_by(|&a, &b| probs[b].total_cmp(&probs[a]));
let mut mass = 0.0;
let nucleus: Vec<usize> = order
    .into_iter()
    .take_while(|&i| {
        let before = mass;
        mass += probs[i];
        before < top_p
    })
    .collect();"#,
        ),
        Snippet::with_code(
            "Add a repetition penalty: before sampling, push down the logits of tokens that were \
             already generated.",
            r#"for &t in &generated {
    let l = &mut logits[t as usize];
    *l = if *l > 0.0 { *l / penalty } else { *l * penalty };
}"#,
        ),
        Snippet::plain(
            "Make sure training itself was not corrupted: look at the loss curve for a collapse, \
             and sample from an earlier checkpoint.",
        ),
    ],
    related: &[EntryId::ModelOutputsNonsense],
};

pub(super) const MODEL_OUTPUTS_NONSENSE: GuideEntry = GuideEntry {
    id: EntryId::ModelOutputsNonsense,
    title: "Model outputs nonsense",
    section: SECTION.id,
    summary: "The samples are not stuck, just incoherent: tokens strung together with no \
              resemblance to the language the model was trained on.",
    symptoms: &["The generated text makes no sense.", "It reads like tokens drawn at random from the vocabulary."],
    causes: &[
        Cause { id: CauseId::Undertrained, text: "The model is undertrained and has not learned the data yet." },
        Cause {
            id: CauseId::TokenizerMismatch,
            text: "Tokenization does not match: the text is decoded with a different vocabulary than the one \
                  the model was trained with, or encoding and decoding disagree.",
        },
        Cause {
            id: CauseId::WrongWeights,
            text: "The wrong weights were loaded, for instance another run's checkpoint.",
        },
        Cause { id: CauseId::CorruptEmbeddings, text: "The embedding table is corrupted." },
    ],
    diagnosis: &[
        Snippet::with_code(
            "Check that the loss is sensible. A model that guesses uniformly scores \
             ln(vocab_size): about 10.8 for a 50 000-token vocabulary, 5.5 for 256 bytes, 4.6 for \
             96 characters. A loss near that value means the model has learned nothing.",
            r#"let uniform = (vocab_size as f32).ln();
println!("loss {loss:.3} (uniform guessing: {uniform:.1})");"#,
        ),
        Snippet::with_code(
            "Check that tokenization round-trips a simple string.",
            r#"let text = "Hello world";
assert_eq!(tokenizer.decode(&tokenizer.encode(text)), text);"#,
        ),
    ],
    fixes: &[
        Snippet::plain("Train longer, until the loss is well below ln(vocab_size)."),
        Snippet::plain(
            "Decode with the very tokenizer, and vocabulary, that the model was trained \
                        with.",
        ),
        Snippet::plain(
            "Load the checkpoint that belongs to this model and configuration, and check that its \
             loss matches what the run reported.",
        ),
        Snippet::with_code(
            "Inspect the embedding table for non-finite or unusually large rows, and reload or \
             retrain it if it is damaged.",
            r#"for (t, row) in wte.outer_iter().enumerate() {
    let norm = row.iter().map(|v| v * v).sum::<f32>().sqrt();
    if !norm.is_finite() || norm > 10.0 {
        println!("embedding of token {t} looks damaged: norm {norm}");
    }
}"#,
        ),
    ],
    related: &[EntryId::TokenizationDoesntRoundtrip, EntryId::ModelOutputsRepetitiveText, EntryId::ManyUnkTokens],
};
