//! Tokenization Issues: text that does not survive the trip into tokens and back.

use super::{Cause, CauseId, EntryId, GuideEntry, Section, SectionId, Snippet};

pub(super) const SECTION: Section = Section { id: SectionId::TokenizationIssues, title: "Tokenization Issues" };

pub(super) const MANY_UNK_TOKENS: GuideEntry = GuideEntry {
    id: EntryId::ManyUnkTokens,
    title: "Many `<UNK>` tokens",
    section: SECTION.id,
    summary: "The tokenizer maps a large share of the input to its unknown token, so the model \
              sees a blank wherever those pieces of text were.",
    symptoms: &["Encoded input is full of `<UNK>` tokens."],
    causes: &[Cause {
        id: CauseId::VocabularyMismatch,
        text: "The vocabulary does not cover the text being encoded: it was built from different text \
                  (another language or domain, or a corpus too small to contain the words).",
    }],
    diagnosis: &[Snippet::with_code(
        "Measure the share of unknown tokens on a sample of the text the model will really see.",
        r#"let ids = tokenizer.encode(text);
let unk = ids.iter().filter(|&&id| id == tokenizer.unk_id()).count();
println!("<UNK>: {:.1}% of {} tokens", 100.0 * unk as f32 / ids.len() as f32, ids.len());"#,
    )],
    fixes: &[
        Snippet::plain("Retrain the tokenizer on data that represents what it will have to encode."),
        Snippet::plain(
            "Tokenize at the byte level: the 256 byte values cover any input, so nothing is ever \
             unknown.",
        ),
        Snippet::plain("Make the vocabulary larger."),
    ],
    related: &[EntryId::TokenizationDoesntRoundtrip, EntryId::ModelOutputsNonsense],
};

pub(super) const TOKENIZATION_DOESNT_ROUNDTRIP: GuideEntry = GuideEntry {
    id: EntryId::TokenizationDoesntRoundtrip,
    title: "Tokenization doesn't roundtrip",
    section: SECTION.id,
    summary: "Encoding a string and decoding the tokens again gives back a different string: the \
              tokenizer loses information somewhere on the way.",
    symptoms: &["`tokenizer.decode(&tokenizer.encode(text))` is not equal to `text`."],
    causes: &[
        Cause {
            id: CauseId::NormalizationDiffers,
            text: "Normalisation differs: Unicode normal forms, or case folding, applied on one side only.",
        },
        Cause {
            id: CauseId::LossyWhitespace,
            text: "Whitespace is handled lossily: spaces collapsed or stripped, newlines or tabs dropped.",
        },
        Cause {
            id: CauseId::SpecialTokens,
            text: "Special tokens: dropped or inserted when decoding, or ordinary text mistaken for a \
                  special token.",
        },
    ],
    diagnosis: &[Snippet::with_code(
        "Round-trip a sample and report the first character that comes back different.",
        r#"let back = tokenizer.decode(&tokenizer.encode(text));
match text.chars().zip(back.chars()).position(|(a, b)| a != b) {
    Some(i) => println!("first difference at character {i}"),
    None if back != text => println!("one is a prefix of the other"),
    None => println!("round trip is exact"),
}"#,
    )],
    fixes: &[
        Snippet::plain(
            "Normalise consistently: apply the same normalisation when training the tokenizer, \
             when encoding and when comparing, or none at all.",
        ),
        Snippet::plain(
            "Check how whitespace is handled and make sure every space, tab and newline is kept as \
             a token or a byte.",
        ),
        Snippet::plain(
            "Handle special tokens explicitly: add and strip them on purpose, and never let \
             ordinary text be parsed as one.",
        ),
    ],
    related: &[EntryId::ManyUnkTokens, EntryId::ModelOutputsNonsense],
};
