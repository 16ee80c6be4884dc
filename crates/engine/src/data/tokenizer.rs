//! Tokenizers: how text becomes the integer ids a model reads, and back.
//!
//! Faultline keeps tokenization deliberately simple so that a learner can see every token:
//!
//! - **Character level** ([`Tokenizer::Char`]): one id per distinct character of the corpus, in
//!   sorted order. Used whenever the corpus has at most [`MAX_CHAR_VOCAB`] distinct characters,
//!   which keeps the embedding table and the output layer tiny.
//! - **Byte level** ([`Tokenizer::Byte`]): one id per UTF-8 byte, 256 ids. Used for richer text. It
//!   can encode anything, and decoding is lossless as long as the ids form valid UTF-8.
//!
//! Both tokenizers round-trip: `decode(encode(text)) == text` for every text they can encode. The
//! guide's entry `tokenization-doesnt-roundtrip` is about what goes wrong when that property is
//! lost.

use crate::error::EngineError;
use serde::{Deserialize, Serialize};

/// The largest number of distinct characters for which a character-level vocabulary is used.
pub const MAX_CHAR_VOCAB: usize = 96;

/// The unknown-word token of the word-level tokenizer (always id 0).
pub const UNK: &str = "<UNK>";

/// Maps text to token ids and back.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Tokenizer {
    /// One token per character; token `i` is `chars[i]`. `chars` is sorted and has no duplicates.
    Char { chars: Vec<char> },
    /// One token per UTF-8 byte; token `i` is the byte `i`.
    Byte,
    /// A character vocabulary that first lower-cases the text and folds every run of whitespace
    /// into one space: `decode(encode(x)) != x` whenever `x` had capitals, newlines or double spaces.
    /// This is the `lossy-normalization` fault.
    Normalizing { chars: Vec<char> },
    /// One token per word (a run of letters and digits) or other character, with a vocabulary taken
    /// from a sample text; everything else becomes `<UNK>` (id 0). This is the `word-level-vocab` fault.
    Word { pieces: Vec<String> },
}

/// Lower-cases `text` and folds each run of whitespace into a single space.
pub fn normalize_lossy(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut in_space = false;
    for c in text.chars() {
        if c.is_whitespace() {
            if !in_space {
                out.push(' ');
            }
            in_space = true;
        } else {
            out.extend(c.to_lowercase());
            in_space = false;
        }
    }
    out
}

/// Splits `text` into words (runs of alphanumeric characters) and single other characters.
fn word_pieces(text: &str) -> Vec<&str> {
    let mut pieces = Vec::new();
    let mut word_start: Option<usize> = None;
    for (i, c) in text.char_indices() {
        if c.is_alphanumeric() {
            word_start.get_or_insert(i);
        } else {
            if let Some(start) = word_start.take() {
                pieces.push(&text[start..i]);
            }
            pieces.push(&text[i..i + c.len_utf8()]);
        }
    }
    if let Some(start) = word_start {
        pieces.push(&text[start..]);
    }
    pieces
}

impl Tokenizer {
    /// The tokenizer Faultline uses for `text`: character level (sorted distinct characters) when
    /// the text has at most [`MAX_CHAR_VOCAB`] distinct characters, byte level otherwise.
    pub fn for_text(text: &str) -> Tokenizer {
        let mut chars: Vec<char> = text.chars().collect();
        chars.sort_unstable();
        chars.dedup();
        if chars.len() <= MAX_CHAR_VOCAB {
            Tokenizer::Char { chars }
        } else {
            Tokenizer::Byte
        }
    }

    /// A character vocabulary over the lossily normalised `text` (the `lossy-normalization` fault).
    pub fn normalizing_for(text: &str) -> Tokenizer {
        let mut chars: Vec<char> = normalize_lossy(text).chars().collect();
        chars.sort_unstable();
        chars.dedup();
        Tokenizer::Normalizing { chars }
    }

    /// A word vocabulary built from `sample` alone (the `word-level-vocab` fault): `<UNK>`, then
    /// every distinct piece of the sample in sorted order.
    pub fn words_from(sample: &str) -> Tokenizer {
        let mut pieces: Vec<String> = word_pieces(sample).into_iter().map(str::to_string).collect();
        pieces.sort_unstable();
        pieces.dedup();
        pieces.insert(0, UNK.to_string());
        Tokenizer::Word { pieces }
    }

    /// How many distinct token ids there are (the size of the model's embedding table and output
    /// layer).
    pub fn vocab_size(&self) -> usize {
        match self {
            Tokenizer::Char { chars } | Tokenizer::Normalizing { chars } => chars.len(),
            Tokenizer::Byte => 256,
            Tokenizer::Word { pieces } => pieces.len(),
        }
    }

    /// A short name for reports: `"char"`, `"byte"`, `"char, normalising"` or `"word"`.
    pub fn kind(&self) -> &'static str {
        match self {
            Tokenizer::Char { .. } => "char",
            Tokenizer::Byte => "byte",
            Tokenizer::Normalizing { .. } => "char, normalising",
            Tokenizer::Word { .. } => "word",
        }
    }

    /// Id of the unknown-word token, for tokenizers that have one.
    pub fn unk_id(&self) -> Option<u32> {
        matches!(self, Tokenizer::Word { .. }).then_some(0)
    }

    /// Turns `text` into token ids.
    ///
    /// The byte tokenizer accepts every text. The character tokenizer fails with
    /// [`EngineError::Data`] on the first character outside its vocabulary, naming the character
    /// (escaped, so that a newline or a tab is visible) and its position, counted in characters
    /// from 0.
    pub fn encode(&self, text: &str) -> Result<Vec<u32>, EngineError> {
        match self {
            Tokenizer::Byte => Ok(text.bytes().map(u32::from).collect()),
            Tokenizer::Normalizing { chars } => {
                Tokenizer::Char { chars: chars.clone() }.encode(&normalize_lossy(text))
                // the original text is gone
            }
            Tokenizer::Word { pieces } => Ok(word_pieces(text)
                .into_iter()
                .map(|p| pieces[1..].binary_search_by(|q| q.as_str().cmp(p)).map_or(0, |i| i as u32 + 1))
                .collect()),
            Tokenizer::Char { chars } => text
                .chars()
                .enumerate()
                .map(|(position, c)| match chars.binary_search(&c) {
                    Ok(id) => Ok(id as u32),
                    Err(_) => Err(EngineError::Data(format!(
                        "character '{}' (U+{:04X}) at position {position} is not in the vocabulary \
                         of {} characters",
                        c.escape_debug(),
                        c as u32,
                        chars.len()
                    ))),
                })
                .collect(),
        }
    }

    /// Turns token ids back into text. Never panics: an id outside the vocabulary becomes the
    /// replacement character U+FFFD, and so do byte sequences that are not valid UTF-8.
    pub fn decode(&self, ids: &[u32]) -> String {
        match self {
            Tokenizer::Char { chars } | Tokenizer::Normalizing { chars } => {
                ids.iter().map(|&id| chars.get(id as usize).copied().unwrap_or(char::REPLACEMENT_CHARACTER)).collect()
            }
            Tokenizer::Word { pieces } => {
                ids.iter().map(|&id| pieces.get(id as usize).map_or("\u{FFFD}", String::as_str)).collect()
            }
            Tokenizer::Byte => {
                let mut bytes = Vec::with_capacity(ids.len());
                for &id in ids {
                    match u8::try_from(id) {
                        Ok(byte) => bytes.push(byte),
                        Err(_) => {
                            let mut buffer = [0u8; 4];
                            let replacement = char::REPLACEMENT_CHARACTER.encode_utf8(&mut buffer);
                            bytes.extend_from_slice(replacement.as_bytes());
                        }
                    }
                }
                String::from_utf8_lossy(&bytes).into_owned()
            }
        }
    }

    /// A short printable label for token `id`, for charts and token tables.
    ///
    /// Invisible characters get a visible stand-in: newline `⏎`, space `␠`, tab `⇥`, carriage
    /// return `␍`; other control characters are shown by code (`U+001B` for a character, `0x1B` for
    /// a byte), as are bytes that are not ASCII. An id outside the vocabulary is labelled `�`.
    pub fn token_label(&self, id: u32) -> String {
        let replacement = char::REPLACEMENT_CHARACTER.to_string();
        match self {
            Tokenizer::Word { pieces } => pieces.get(id as usize).map_or(replacement, |p| {
                let mut chars = p.chars();
                match (chars.next(), chars.next()) {
                    (Some(c), None) => char_label(c).unwrap_or_else(|| format!("U+{:04X}", c as u32)),
                    _ => p.clone(),
                }
            }),
            Tokenizer::Char { chars } | Tokenizer::Normalizing { chars } => match chars.get(id as usize) {
                Some(&c) => char_label(c).unwrap_or_else(|| format!("U+{:04X}", c as u32)),
                None => replacement,
            },
            Tokenizer::Byte => match u8::try_from(id) {
                Ok(byte) if byte.is_ascii() => char_label(char::from(byte)).unwrap_or_else(|| format!("0x{byte:02X}")),
                Ok(byte) => format!("0x{byte:02X}"),
                Err(_) => replacement,
            },
        }
    }
}

/// The visible label of a character, or `None` for a control character without a symbol of its own.
fn char_label(c: char) -> Option<String> {
    match c {
        '\n' => Some("⏎".to_string()),
        ' ' => Some("␠".to_string()),
        '\t' => Some("⇥".to_string()),
        '\r' => Some("␍".to_string()),
        c if c.is_control() => None,
        c => Some(c.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A string made of characters drawn from a small alphabet, so that it always has few distinct
    /// ones.
    fn small_alphabet_string() -> impl Strategy<Value = String> {
        let alphabet: Vec<char> = "ab cé\n\t.🙂Z0".chars().collect();
        proptest::collection::vec(proptest::sample::select(alphabet), 0..200)
            .prop_map(|chars| chars.into_iter().collect())
    }

    /// A string of arbitrary Unicode scalar values, long enough to often exceed 96 distinct
    /// characters.
    fn wide_string() -> impl Strategy<Value = String> {
        proptest::collection::vec(any::<char>(), 0..300).prop_map(|chars| chars.into_iter().collect())
    }

    fn distinct_chars(s: &str) -> usize {
        let mut chars: Vec<char> = s.chars().collect();
        chars.sort_unstable();
        chars.dedup();
        chars.len()
    }

    /// Checks that the tokenizer chosen for `s` is the documented one and round-trips `s`.
    fn check_for_text_roundtrip(s: &str) -> Result<(), TestCaseError> {
        let tokenizer = Tokenizer::for_text(s);
        let distinct = distinct_chars(s);
        if distinct <= MAX_CHAR_VOCAB {
            prop_assert_eq!(tokenizer.kind(), "char");
            prop_assert_eq!(tokenizer.vocab_size(), distinct);
        } else {
            prop_assert_eq!(&tokenizer, &Tokenizer::Byte);
        }
        let ids = tokenizer.encode(s).expect("a tokenizer built for a text encodes that text");
        prop_assert!(ids.iter().all(|&id| (id as usize) < tokenizer.vocab_size()));
        prop_assert_eq!(tokenizer.decode(&ids), s);
        Ok(())
    }

    proptest! {
        #[test]
        fn byte_tokenizer_roundtrips_any_string(s in any::<String>()) {
            let ids = Tokenizer::Byte.encode(&s).unwrap();
            prop_assert_eq!(ids.len(), s.len());
            prop_assert_eq!(Tokenizer::Byte.decode(&ids), s);
        }

        #[test]
        fn char_tokenizer_roundtrips_its_own_text(s in small_alphabet_string()) {
            prop_assert_eq!(Tokenizer::for_text(&s).kind(), "char");
            check_for_text_roundtrip(&s)?;
        }

        #[test]
        fn for_text_picks_the_right_tokenizer_and_roundtrips(s in wide_string()) {
            check_for_text_roundtrip(&s)?;
        }

        #[test]
        fn decode_never_panics_on_arbitrary_ids(
            ids in proptest::collection::vec(any::<u32>(), 0..50),
        ) {
            for tokenizer in [Tokenizer::for_text("hello world"), Tokenizer::Byte] {
                let text = tokenizer.decode(&ids);
                prop_assert!(text.chars().count() <= ids.len());
            }
        }
    }

    #[test]
    fn more_than_96_distinct_chars_gives_bytes() {
        let text: String = (0..97u8).map(|i| char::from(b' ' + i % 95)).chain(['é', 'ß']).collect();
        assert_eq!(Tokenizer::for_text(&text), Tokenizer::Byte);
        let text: String = (0..96u8).map(|i| char::from(b' ' + i % 95)).chain(['é']).collect();
        assert_eq!(Tokenizer::for_text(&text).vocab_size(), 96);
    }

    #[test]
    fn char_vocabulary_is_sorted_and_distinct() {
        let tokenizer = Tokenizer::for_text("banana\n");
        assert_eq!(tokenizer, Tokenizer::Char { chars: vec!['\n', 'a', 'b', 'n'] });
        assert_eq!(tokenizer.encode("nab\n").unwrap(), vec![3, 1, 2, 0]);
    }

    #[test]
    fn unknown_char_is_an_error_naming_it_and_its_position() {
        let tokenizer = Tokenizer::for_text("abc");
        let error = tokenizer.encode("ab\tc").unwrap_err();
        let EngineError::Data(message) = error else { panic!("expected a data error, got {error:?}") };
        assert!(message.contains("'\\t'"), "{message}");
        assert!(message.contains("U+0009"), "{message}");
        assert!(message.contains("position 2"), "{message}");
        let EngineError::Data(message) = tokenizer.encode("abcé").unwrap_err() else { unreachable!() };
        assert!(message.contains("'é'") && message.contains("position 3"), "{message}");
    }

    #[test]
    fn out_of_range_ids_decode_to_the_replacement_character() {
        let tokenizer = Tokenizer::for_text("ab");
        assert_eq!(tokenizer.decode(&[0, 7, 1]), "a\u{FFFD}b");
        assert_eq!(Tokenizer::Byte.decode(&[104, 300, 105]), "h\u{FFFD}i");
        // A lone continuation byte is not UTF-8: decoded lossily, not a panic.
        assert_eq!(Tokenizer::Byte.decode(&[0x80, 104]), "\u{FFFD}h");
    }

    #[test]
    fn labels_make_invisible_tokens_visible() {
        let tokenizer = Tokenizer::for_text("a \n\u{1b}");
        let labels: Vec<String> = (0..5).map(|id| tokenizer.token_label(id)).collect();
        assert_eq!(labels, ["⏎", "U+001B", "␠", "a", "�"]);
        assert_eq!(Tokenizer::Byte.token_label(b' ' as u32), "␠");
        assert_eq!(Tokenizer::Byte.token_label(b'\n' as u32), "⏎");
        assert_eq!(Tokenizer::Byte.token_label(b'x' as u32), "x");
        assert_eq!(Tokenizer::Byte.token_label(0xC3), "0xC3");
        assert_eq!(Tokenizer::Byte.token_label(0x07), "0x07");
        assert_eq!(Tokenizer::Byte.token_label(256), "�");
    }

    #[test]
    fn tokenizer_survives_serde() {
        let tokenizer = Tokenizer::for_text("xyz");
        let json = serde_json::to_string(&tokenizer).unwrap();
        assert_eq!(serde_json::from_str::<Tokenizer>(&json).unwrap(), tokenizer);
    }
}
