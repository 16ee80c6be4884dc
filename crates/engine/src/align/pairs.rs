//! Where a fine-tuning run's preference pairs and its true quality come from: a built-in corpus,
//! whose generator knows the grammar, or the learner's own text with a rule they chose ("prefer
//! continuations that contain word W"), which is then the truth the run is scored by.

use super::preference::{completion_is_valid, preference_pairs, quality_prompts, PreferencePair};
use crate::data::corpus::CorpusId;
use crate::error::ConfigError;
use crate::rng::Rng;

/// The source of a run's pairs, and the judge of its completions.
#[derive(Clone, Debug, PartialEq)]
pub enum PairSource {
    Corpus(CorpusId),
    /// The learner's text, cut into lines; a continuation is preferred when it contains `word`.
    Text {
        name: String,
        lines: Vec<String>,
        word: String,
    },
}

impl PairSource {
    /// The learner's `text` under the rule "prefer continuations that contain `word`". Refused, naming
    /// the setting, when no line or every line continues with the word (there would be nothing to
    /// prefer).
    pub fn own_text(name: &str, text: &str, word: &str) -> Result<PairSource, ConfigError> {
        let word = word.trim();
        if word.is_empty() || word.contains(char::is_whitespace) {
            return Err(ConfigError::new("prefer-word", format!("must be one word, got '{word}'")));
        }
        let lines = sentences(text);
        let with = lines.iter().filter(|l| contains_word(continuation(l), word)).count();
        if with == 0 || with == lines.len() {
            let which = if with == 0 { "no sentence" } else { "every sentence" };
            return Err(ConfigError::new(
                "prefer-word",
                format!(
                    "{which} of '{name}' (of {} sentences of three words or more) has '{word}' after its first \
                     word, so there is nothing to prefer; choose a word some sentences have and others lack",
                    lines.len()
                ),
            ));
        }
        Ok(PairSource::Text { name: name.to_string(), lines, word: word.to_string() })
    }

    /// What the run says it fine-tunes on: the corpus's id, or the text's name and its rule.
    pub fn name(&self) -> String {
        match self {
            PairSource::Corpus(id) => id.id().to_string(),
            PairSource::Text { name, word, .. } => format!("{name} (prefer '{word}')"),
        }
    }

    /// `count` pairs drawn from `seed`.
    pub fn pairs(&self, count: usize, seed: u64) -> Vec<PreferencePair> {
        match self {
            PairSource::Corpus(id) => preference_pairs(*id, count, seed),
            PairSource::Text { lines, word, .. } => {
                let (with, without): (Vec<&String>, Vec<&String>) =
                    lines.iter().partition(|l| contains_word(continuation(l), word));
                let mut rng = Rng::derive(seed, "own-text pairs");
                (0..count)
                    .map(|_| {
                        let chosen = with[rng.below(with.len())];
                        let rejected = without[rng.below(without.len())];
                        PreferencePair {
                            prompt: prompt(chosen).to_string(),
                            chosen: continuation(chosen).to_string(),
                            rejected: continuation(rejected).to_string(),
                        }
                    })
                    .collect()
            }
        }
    }

    /// `count` prompts to complete and score, drawn from `seed`.
    pub fn prompts(&self, count: usize, seed: u64) -> Vec<String> {
        match self {
            PairSource::Corpus(id) => quality_prompts(*id, count, seed),
            PairSource::Text { lines, .. } => {
                let mut rng = Rng::derive(seed, "own-text prompts");
                (0..count).map(|_| prompt(&lines[rng.below(lines.len())]).to_string()).collect()
            }
        }
    }

    /// Whether a completion of `prompt` is what the source prefers: valid in the corpus's grammar,
    /// or containing the chosen word before its line ends.
    pub fn is_good(&self, prompt: &str, completion: &str) -> bool {
        match self {
            PairSource::Corpus(id) => completion_is_valid(*id, prompt, completion),
            PairSource::Text { word, .. } => contains_word(completion.lines().next().unwrap_or(""), word),
        }
    }

    /// The share of `samples` (prompt, completion) that [`PairSource::is_good`] accepts.
    pub fn quality(&self, samples: &[(String, String)]) -> f64 {
        let good = samples.iter().filter(|(p, c)| self.is_good(p, c)).count();
        good as f64 / samples.len().max(1) as f64
    }
}

/// The sentences of `text` with three words or more, each with its closing mark, trimmed.
fn sentences(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut start = 0;
    for (i, c) in text.char_indices() {
        if matches!(c, '.' | '!' | '?' | '\n') {
            let end = if c == '\n' { i } else { i + c.len_utf8() };
            let sentence = text[start..end].trim();
            if sentence.split_whitespace().count() >= 3 {
                out.push(sentence.to_string());
            }
            start = i + c.len_utf8();
        }
    }
    let rest = text[start..].trim();
    if rest.split_whitespace().count() >= 3 {
        out.push(rest.to_string());
    }
    out
}

/// A sentence's prompt: its first word and the space after it.
fn prompt(line: &str) -> &str {
    line.find(' ').map_or(line, |i| &line[..=i])
}

/// What follows a sentence's prompt.
fn continuation(line: &str) -> &str {
    &line[prompt(line).len()..]
}

/// Whether `text` holds `word` as a whole word (letters and digits around it break it).
fn contains_word(text: &str, word: &str) -> bool {
    text.split(|c: char| !c.is_alphanumeric()).any(|w| w == word)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str =
        "the cat sat on the mat. the dog ran in the park\na cat can climb a tree!\nthe bird sang all day\n";

    #[test]
    fn own_text_pairs_prefer_the_lines_with_the_word() {
        let source = PairSource::own_text("mine.txt", TEXT, "cat").unwrap();
        // "the cat sat …" continues with "cat"; "a cat can …" too; the others do not.
        assert_eq!(sentences(TEXT)[..2], ["the cat sat on the mat.", "the dog ran in the park"]);
        for pair in source.pairs(50, 3) {
            assert!(contains_word(&pair.chosen, "cat") && !contains_word(&pair.rejected, "cat"), "{pair:?}");
            assert!(["the ", "a "].contains(&pair.prompt.as_str()), "{pair:?}");
            assert!(TEXT.contains(&format!("{}{}", pair.prompt, pair.chosen)), "the chosen answer is the text's own");
        }
        assert_eq!(source.pairs(10, 3), source.pairs(10, 3));
        assert_eq!(source.name(), "mine.txt (prefer 'cat')");
        let samples = [("the ".to_string(), "cat is here\nand more".to_string()), ("a ".into(), "dog\ncat".into())];
        assert_eq!(source.quality(&samples), 0.5, "only the completion's own line counts");
        assert!(!source.is_good("the ", "concatenate\n"), "a whole word, not a part of one");
    }

    #[test]
    fn a_rule_with_nothing_to_prefer_is_refused_by_name() {
        let none = PairSource::own_text("mine.txt", TEXT, "zebra").unwrap_err();
        assert_eq!(none.field, "prefer-word");
        assert!(none.message.contains("no sentence of 'mine.txt'"), "{}", none.message);
        let every = PairSource::own_text("mine.txt", "a the x. b the y\n", "the").unwrap_err();
        assert!(every.message.contains("every sentence"), "{}", every.message);
        assert!(PairSource::own_text("mine.txt", TEXT, "two words").unwrap_err().message.contains("one word"));
    }
}
