//! Preference data for DPO fine-tuning, written from the built-in corpora.
//!
//! A preference pair is one prompt and two responses: the *chosen* response completes the prompt into
//! a unit the corpus's grammar accepts, the *rejected* one into a unit it does not. The pairs need no
//! human or model judge, because the generator knows the truth: every built-in corpus comes with its
//! grammar ([`CorpusId::unit_log_prob`] is `Some` exactly for the units it can produce), so the chosen
//! response is a unit the generator actually drew, and every rejected response is checked against the
//! grammar before it is used.
//!
//! The prompt is the part of a unit that fixes what a correct answer must be ([`prompt_len`]): the
//! addition up to `=`, the letters to sort up to `>`, the subject of a sentence, whose number the verb
//! must agree with. The rejected response is a realistic mistake of the same length in characters as
//! the chosen one, so that the two sequences align token for token:
//!
//! - `arithmetic`: one digit of the sum changed to another digit (never a leading zero);
//! - `sorting`: two adjacent different letters of the sorted output swapped;
//! - `toy-english`: for about half the pairs (a coin toss each), the verb's number flipped
//!   (breaking agreement with the subject) and the noun phrase after it (object or prepositional)
//!   replaced by one, as close to it as possible, that makes up the difference in length, so the
//!   two responses are equally long; for the other half, a typo: two adjacent different letters
//!   transposed inside one word. The agreement errors are drawn from sentences with a noun phrase
//!   after the verb.
//!
//! Units are drawn uniformly from the corpus's generated text ([`CorpusId::generate`]): thousands
//! of independent draws from the generator, so a uniformly chosen one is a draw from the
//! generator's own distribution of units. The toy-english word classes a corruption needs (which
//! words are adjectives, which are verbs, which noun phrases exist) are read off that text with the
//! grammar as the only judge; the generator keeps its word lists to itself.
//!
//! [`completion_is_valid`] and [`true_quality`] score a model's completions of the prompts
//! [`quality_prompts`] draws, by the same grammar: the true quality that a learned reward only
//! estimates.

use std::collections::BTreeSet;
use std::sync::OnceLock;

use crate::data::corpus::{split_units, CorpusId};
use crate::rng::Rng;

/// One preference pair: prompt + chosen is a unit the corpus grammar accepts, prompt + rejected is not.
///
/// The chosen and rejected responses have the same length in characters and both end with the unit's
/// terminator.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct PreferencePair {
    /// The start of the unit, up to [`prompt_len`].
    pub prompt: String,
    /// The rest of a unit the generator drew, terminator included.
    pub chosen: String,
    /// A corruption of `chosen` that the grammar rejects.
    pub rejected: String,
}

/// `count` pairs drawn deterministically from `seed` (independent streams for different seeds).
pub fn preference_pairs(corpus: CorpusId, count: usize, seed: u64) -> Vec<PreferencePair> {
    let mut rng = Rng::derive(seed, "preference-pairs");
    let units = split_units(generated_text(corpus));
    (0..count)
        .map(|_| {
            let break_agreement = corpus == CorpusId::ToyEnglish && rng.below(2) == 0;
            loop {
                let unit = units[rng.below(units.len())];
                if let Some(pair) = corrupt(corpus, unit, break_agreement, &mut rng) {
                    break pair;
                }
            }
        })
        .collect()
}

/// `count` prompts (the prompt part of freshly drawn units), for sampling completions to score.
///
/// Deterministic in `seed`, and drawn from a stream of their own: the prompts of
/// [`preference_pairs`] with the same seed are not the same.
pub fn quality_prompts(corpus: CorpusId, count: usize, seed: u64) -> Vec<String> {
    let mut rng = Rng::derive(seed, "quality-prompts");
    let units = split_units(generated_text(corpus));
    (0..count)
        .map(|_| {
            let unit = units[rng.below(units.len())];
            let len = prompt_len(corpus, unit).expect("every generated unit has a prompt");
            unit[..len].to_string()
        })
        .collect()
}

/// Where a unit's response starts (byte index): arithmetic after '=', sorting after '>', toy-english
/// after the subject noun phrase (determiner [adjective] noun), so the response holds the verb that
/// must agree.
///
/// For toy-english the prompt includes the space after the noun, so that it ends at a word boundary
/// and the response starts with the verb itself. The unit is read by its structure, not checked
/// against the grammar, so a unit whose response is wrong still has its prompt; a prompt on its own
/// gives its own length. `None` when the unit has no such point: no `=` or `>`, or a sentence that
/// stops before the word after its subject.
pub fn prompt_len(corpus: CorpusId, unit: &str) -> Option<usize> {
    match corpus {
        CorpusId::Arithmetic => unit.find('=').map(|i| i + 1),
        CorpusId::Sorting => unit.find('>').map(|i| i + 1),
        CorpusId::ToyEnglish => ToyLexicon::get().subject_len(unit),
    }
}

/// Whether `completion` after `prompt` makes a complete valid unit: takes the completion up to and including the
/// corpus's unit terminator (first '\n' for arithmetic/sorting; for toy-english the first ". " or ".\n"), and asks
/// the grammar. A completion with no terminator is invalid.
///
/// Whatever follows the terminator (a model sampling on into the next unit) is ignored.
pub fn completion_is_valid(corpus: CorpusId, prompt: &str, completion: &str) -> bool {
    let end = match corpus {
        CorpusId::Arithmetic | CorpusId::Sorting => completion.find('\n').map(|i| i + 1),
        CorpusId::ToyEnglish => {
            completion.as_bytes().windows(2).position(|w| w[0] == b'.' && matches!(w[1], b' ' | b'\n')).map(|i| i + 2)
        }
    };
    end.is_some_and(|end| corpus.unit_log_prob(&format!("{prompt}{}", &completion[..end])).is_some())
}

/// The true quality of sampled completions: the share valid by `completion_is_valid` (0 for an empty slice).
///
/// Each sample is a `(prompt, completion)` pair.
pub fn true_quality(corpus: CorpusId, samples: &[(String, String)]) -> f64 {
    if samples.is_empty() {
        return 0.0;
    }
    let valid = samples.iter().filter(|(prompt, completion)| completion_is_valid(corpus, prompt, completion)).count();
    valid as f64 / samples.len() as f64
}

/// The corpus's generated text, generated once per corpus and kept.
fn generated_text(corpus: CorpusId) -> &'static str {
    static TEXTS: [OnceLock<String>; CorpusId::ALL.len()] = [const { OnceLock::new() }; CorpusId::ALL.len()];
    let slot = CorpusId::ALL.iter().position(|&c| c == corpus).expect("every corpus is in CorpusId::ALL");
    TEXTS[slot].get_or_init(|| corpus.generate().text)
}

/// The pair made of `unit` and one of its corruptions the grammar rejects, chosen at random, or `None`
/// when the unit has no such corruption (a sorted output of one repeated letter, a sentence with no
/// noun phrase after its verb when `break_agreement` asks for an agreement error).
fn corrupt(corpus: CorpusId, unit: &str, break_agreement: bool, rng: &mut Rng) -> Option<PreferencePair> {
    let (prompt, chosen) = unit.split_at(prompt_len(corpus, unit)?);
    let candidates = match corpus {
        CorpusId::Arithmetic => digit_changes(chosen),
        CorpusId::Sorting => transpositions(chosen),
        CorpusId::ToyEnglish if break_agreement => ToyLexicon::get().agreement_errors(chosen),
        CorpusId::ToyEnglish => transpositions(chosen),
    };
    let mut rejected: Vec<String> =
        candidates.into_iter().filter(|r| corpus.unit_log_prob(&format!("{prompt}{r}")).is_none()).collect();
    if rejected.is_empty() {
        return None;
    }
    let rejected = rejected.swap_remove(rng.below(rejected.len()));
    debug_assert_eq!(rejected.chars().count(), chosen.chars().count(), "a corruption keeps the length");
    Some(PreferencePair { prompt: prompt.to_string(), chosen: chosen.to_string(), rejected })
}

/// Every way of changing one digit of the number that starts `response` into another digit, without
/// making a leading zero.
fn digit_changes(response: &str) -> Vec<String> {
    let bytes = response.as_bytes();
    let digits = bytes.iter().take_while(|b| b.is_ascii_digit()).count();
    let mut changes = Vec::new();
    for i in 0..digits {
        let leading = i == 0 && digits > 1;
        for digit in (b'0'..=b'9').filter(|&d| d != bytes[i] && !(leading && d == b'0')) {
            let mut changed = bytes.to_vec();
            changed[i] = digit;
            changes.push(String::from_utf8(changed).expect("a digit replaced by a digit"));
        }
    }
    changes
}

/// Every way of transposing two adjacent different letters of `response` (two adjacent letters are
/// always inside one word).
fn transpositions(response: &str) -> Vec<String> {
    let bytes = response.as_bytes();
    (1..bytes.len())
        .filter(|&i| bytes[i - 1].is_ascii_alphabetic() && bytes[i].is_ascii_alphabetic() && bytes[i - 1] != bytes[i])
        .map(|i| {
            let mut swapped = bytes.to_vec();
            swapped.swap(i - 1, i);
            String::from_utf8(swapped).expect("two ASCII letters swapped")
        })
        .collect()
}

/// A toy-english sentence without its terminator (". " or ".\n"), or `None` if it has neither.
fn sentence_body(unit: &str) -> Option<&str> {
    unit.strip_suffix(". ").or_else(|| unit.strip_suffix(".\n"))
}

/// What [`prompt_len`] and the agreement errors need to know of toy-english's words, read off its
/// generated text with the grammar as the only judge.
struct ToyLexicon {
    /// The words that sit between a determiner and a noun. The second word of a sentence is one
    /// exactly when the sentence stays grammatical without it: without the noun, the subject would
    /// have none.
    adjectives: BTreeSet<String>,
    /// Every form of every verb that follows a subject, singular and plural.
    verbs: BTreeSet<String>,
    /// Every subject noun phrase, e.g. "these quiet foxes". Any noun phrase can also be an object.
    noun_phrases: BTreeSet<String>,
}

impl ToyLexicon {
    /// The lexicon, read once.
    fn get() -> &'static ToyLexicon {
        static LEXICON: OnceLock<ToyLexicon> = OnceLock::new();
        LEXICON.get_or_init(ToyLexicon::read)
    }

    fn read() -> ToyLexicon {
        let toy = CorpusId::ToyEnglish;
        let sentences: Vec<Vec<&str>> = split_units(generated_text(toy))
            .into_iter()
            .filter_map(sentence_body)
            .map(|body| body.split(' ').collect())
            .collect();
        let adjectives = sentences
            .iter()
            .filter(|words| {
                let without_second: Vec<&str> = [words[0]].into_iter().chain(words[2..].iter().copied()).collect();
                toy.unit_log_prob(&format!("{}. ", without_second.join(" "))).is_some()
            })
            .map(|words| words[1].to_string())
            .collect();
        let mut lexicon = ToyLexicon { adjectives, verbs: BTreeSet::new(), noun_phrases: BTreeSet::new() };
        for words in &sentences {
            let subject = if lexicon.adjectives.contains(words[1]) { 3 } else { 2 };
            lexicon.noun_phrases.insert(words[..subject].join(" "));
            lexicon.verbs.insert(words[subject].to_string());
        }
        lexicon
    }

    /// The length of a sentence's subject and the space after it, if a word follows it.
    fn subject_len(&self, unit: &str) -> Option<usize> {
        let mut words = unit.split(' ');
        let determiner = words.next()?;
        let second = words.next()?;
        let mut len = determiner.len() + 1 + second.len() + 1;
        if self.adjectives.contains(second) {
            len += words.next()?.len() + 1;
        }
        words.next().map(|_| len)
    }

    /// The verb's other form: "sees" for "see", "watch" for "watches".
    fn other_verb_form(&self, verb: &str) -> Option<&str> {
        let longer = [format!("{verb}s"), format!("{verb}es")];
        let shorter = [verb.strip_suffix('s'), verb.strip_suffix("es")].into_iter().flatten().map(str::to_string);
        longer.into_iter().chain(shorter).find_map(|form| self.verbs.get(&form)).map(String::as_str)
    }

    /// The response of a grammatical sentence (verb first, terminator last) with the verb's number
    /// flipped and its last noun phrase replaced by each noun phrase that makes up the difference in
    /// length and keeps as many of its words as any such phrase does: "sees the cat. " becomes
    /// "see the cats. " or "see the duck. ", among others. Empty when no noun phrase follows the verb.
    fn agreement_errors(&self, response: &str) -> Vec<String> {
        let Some(body) = sentence_body(response) else { return Vec::new() };
        let terminator = &response[body.len()..];
        let words: Vec<&str> = body.split(' ').collect();
        if words.len() < 3 {
            return Vec::new();
        }
        let object_words = if self.adjectives.contains(words[words.len() - 2]) { 3 } else { 2 };
        let Some(other) = self.other_verb_form(words[0]) else { return Vec::new() };
        let object = &words[words.len() - object_words..];
        let object_len = object.join(" ").len();
        let between = &body[words[0].len()..body.len() - object_len];
        let Some(new_len) = (object_len + words[0].len()).checked_sub(other.len()) else { return Vec::new() };
        let shared = |phrase: &str| phrase.split(' ').filter(|word| object.contains(word)).count();
        let phrases: Vec<&String> = self.noun_phrases.iter().filter(|phrase| phrase.len() == new_len).collect();
        let most_shared = phrases.iter().map(|phrase| shared(phrase)).max();
        phrases
            .into_iter()
            .filter(|phrase| Some(shared(phrase)) == most_shared)
            .map(|phrase| format!("{other}{between}{phrase}{terminator}"))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAIRS: usize = 200;

    fn accepted(corpus: CorpusId, unit: &str) -> bool {
        corpus.unit_log_prob(unit).is_some()
    }

    #[test]
    fn pairs_are_accepted_and_rejected_by_the_grammar_and_aligned() {
        for corpus in CorpusId::ALL {
            let pairs = preference_pairs(corpus, PAIRS, 1);
            assert_eq!(pairs.len(), PAIRS);
            for PreferencePair { prompt, chosen, rejected } in &pairs {
                assert!(!prompt.is_empty() && !chosen.is_empty(), "{corpus:?}: {prompt:?} {chosen:?}");
                assert!(accepted(corpus, &format!("{prompt}{chosen}")), "{corpus:?}: {prompt:?} {chosen:?}");
                assert!(!accepted(corpus, &format!("{prompt}{rejected}")), "{corpus:?}: {prompt:?} {rejected:?}");
                assert_eq!(chosen.chars().count(), rejected.chars().count(), "{corpus:?}: {chosen:?} {rejected:?}");
                assert_ne!(chosen, rejected);
            }
        }
    }

    /// The positions where two equally long strings differ.
    fn differences(a: &str, b: &str) -> Vec<usize> {
        a.bytes().zip(b.bytes()).enumerate().filter(|(_, (x, y))| x != y).map(|(i, _)| i).collect()
    }

    /// Whether `b` is `a` with the letters at `i` and `i + 1` swapped.
    fn is_transposition(a: &str, b: &str) -> bool {
        let diff = differences(a, b);
        let (a, b) = (a.as_bytes(), b.as_bytes());
        matches!(diff[..], [i, j] if j == i + 1 && a[i] == b[j] && a[j] == b[i] && a[i].is_ascii_alphabetic())
    }

    #[test]
    fn rejected_responses_are_the_documented_corruptions() {
        for pair in preference_pairs(CorpusId::Arithmetic, PAIRS, 2) {
            let diff = differences(&pair.chosen, &pair.rejected);
            assert_eq!(diff.len(), 1, "{pair:?}");
            assert!(pair.rejected.as_bytes()[diff[0]].is_ascii_digit(), "{pair:?}");
            assert!(pair.rejected.len() == 2 || !pair.rejected.starts_with('0'), "leading zero: {pair:?}");
        }
        for pair in preference_pairs(CorpusId::Sorting, PAIRS, 2) {
            assert!(is_transposition(&pair.chosen, &pair.rejected), "{pair:?}");
        }
        let toy = CorpusId::ToyEnglish;
        let (mut agreement, mut typos) = (0, 0);
        for pair in preference_pairs(toy, PAIRS, 2) {
            let chosen_verb = pair.chosen.split(' ').next().unwrap();
            let rejected_verb = pair.rejected.split(' ').next().unwrap();
            if chosen_verb.len() == rejected_verb.len() {
                typos += 1;
                assert!(is_transposition(&pair.chosen, &pair.rejected), "{pair:?}");
            } else {
                agreement += 1;
                // Only the verb's number is wrong: with the chosen verb back, the sentence is grammatical.
                let repaired = format!("{}{chosen_verb}{}", pair.prompt, &pair.rejected[rejected_verb.len()..]);
                assert!(accepted(toy, &repaired), "{pair:?}");
            }
        }
        assert!((70..130).contains(&agreement), "{agreement} agreement errors and {typos} typos");
    }

    #[test]
    fn pairs_are_deterministic_per_seed() {
        for corpus in CorpusId::ALL {
            assert_eq!(preference_pairs(corpus, 50, 7), preference_pairs(corpus, 50, 7));
            assert_ne!(preference_pairs(corpus, 50, 7), preference_pairs(corpus, 50, 8));
            assert_eq!(quality_prompts(corpus, 50, 7), quality_prompts(corpus, 50, 7));
            assert_ne!(quality_prompts(corpus, 50, 7), quality_prompts(corpus, 50, 8));
        }
    }

    #[test]
    fn prompt_len_agrees_with_pairs() {
        for corpus in CorpusId::ALL {
            for PreferencePair { prompt, chosen, rejected } in preference_pairs(corpus, PAIRS, 3) {
                for response in [&chosen, &rejected] {
                    assert_eq!(prompt_len(corpus, &format!("{prompt}{response}")), Some(prompt.len()), "{corpus:?}");
                }
                assert_eq!(prompt_len(corpus, &prompt), Some(prompt.len()), "{corpus:?}: {prompt:?}");
            }
        }
    }

    #[test]
    fn prompt_len_splits_where_the_answer_starts() {
        assert_eq!(prompt_len(CorpusId::Arithmetic, "12+7=19\n"), Some(5));
        assert_eq!(prompt_len(CorpusId::Sorting, "dcba>abcd\n"), Some(5));
        let toy = CorpusId::ToyEnglish;
        assert_eq!(prompt_len(toy, "the dog sleeps. "), Some("the dog ".len()));
        assert_eq!(prompt_len(toy, "these lazy wolves chase a red duck.\n"), Some("these lazy wolves ".len()));
        assert_eq!(prompt_len(CorpusId::Arithmetic, "12+7"), None);
        assert_eq!(prompt_len(toy, "the dog"), None);
    }

    #[test]
    fn the_lexicon_finds_the_word_classes() {
        let lexicon = ToyLexicon::get();
        let adjectives: Vec<&str> = lexicon.adjectives.iter().map(String::as_str).collect();
        assert_eq!(adjectives, ["big", "brave", "happy", "lazy", "quiet", "red", "small", "young"]);
        for (singular, plural) in [("sees", "see"), ("watches", "watch"), ("chases", "chase"), ("sleeps", "sleep")] {
            assert_eq!(lexicon.other_verb_form(singular), Some(plural));
            assert_eq!(lexicon.other_verb_form(plural), Some(singular));
        }
        assert!(lexicon.noun_phrases.contains("these quiet foxes") && lexicon.noun_phrases.contains("a cat"));
        assert!(lexicon.agreement_errors("sleeps. ").is_empty());
        assert!(lexicon.agreement_errors("sees the cat. ").contains(&"see the cats. ".to_string()));
    }

    #[test]
    fn completion_is_valid_reads_up_to_the_terminator() {
        for corpus in CorpusId::ALL {
            for PreferencePair { prompt, chosen, rejected } in preference_pairs(corpus, 50, 4) {
                assert!(completion_is_valid(corpus, &prompt, &chosen), "{corpus:?}: {prompt:?} {chosen:?}");
                let garbage = format!("{chosen}zz+. x\nq");
                assert!(completion_is_valid(corpus, &prompt, &garbage), "{corpus:?}: {prompt:?} {garbage:?}");
                assert!(!completion_is_valid(corpus, &prompt, &rejected), "{corpus:?}: {prompt:?} {rejected:?}");
                let unterminated = chosen.trim_end_matches(['\n', ' ', '.']);
                assert!(!completion_is_valid(corpus, &prompt, unterminated), "{corpus:?}: {unterminated:?}");
            }
        }
        assert!(completion_is_valid(CorpusId::ToyEnglish, "the dog ", "sleeps.\nthe dogs sleeps. "));
        assert!(!completion_is_valid(CorpusId::ToyEnglish, "the dog ", "sleeps"));
        assert!(!completion_is_valid(CorpusId::Arithmetic, "1+1=", ""));
    }

    #[test]
    fn true_quality_is_the_valid_share() {
        let samples: Vec<(String, String)> = [("1+1=", "2\n"), ("2+2=", "5\n"), ("3+3=", "6\n3+"), ("4+4=", "8\n")]
            .into_iter()
            .map(|(p, c)| (p.to_string(), c.to_string()))
            .collect();
        assert_eq!(true_quality(CorpusId::Arithmetic, &samples), 0.75);
        assert_eq!(true_quality(CorpusId::Arithmetic, &samples[1..2]), 0.0);
        assert_eq!(true_quality(CorpusId::Arithmetic, &[]), 0.0);
        let pairs = preference_pairs(CorpusId::Sorting, 10, 5);
        let chosen: Vec<(String, String)> = pairs.iter().map(|p| (p.prompt.clone(), p.chosen.clone())).collect();
        let rejected: Vec<(String, String)> = pairs.iter().map(|p| (p.prompt.clone(), p.rejected.clone())).collect();
        assert_eq!(true_quality(CorpusId::Sorting, &chosen), 1.0);
        assert_eq!(true_quality(CorpusId::Sorting, &rejected), 0.0);
    }

    #[test]
    fn quality_prompts_start_valid_units() {
        for prompt in quality_prompts(CorpusId::Arithmetic, PAIRS, 6) {
            let (a, b) = prompt.strip_suffix('=').and_then(|s| s.split_once('+')).expect("a+b=");
            let sum = a.parse::<u32>().unwrap() + b.parse::<u32>().unwrap();
            assert!(accepted(CorpusId::Arithmetic, &format!("{prompt}{sum}\n")), "{prompt:?}");
        }
        for prompt in quality_prompts(CorpusId::Sorting, PAIRS, 6) {
            let mut letters: Vec<char> = prompt.strip_suffix('>').expect("letters>").chars().collect();
            letters.sort_unstable();
            let sorted: String = letters.into_iter().collect();
            assert!(accepted(CorpusId::Sorting, &format!("{prompt}{sorted}\n")), "{prompt:?}");
        }
        let toy = CorpusId::ToyEnglish;
        for prompt in quality_prompts(toy, PAIRS, 6) {
            assert!(prompt.len() > 1 && prompt.ends_with(' ') && !prompt.ends_with("  "), "{prompt:?}");
            assert_eq!(prompt_len(toy, &prompt), Some(prompt.len()));
            // The subject is complete and has a number: exactly one form of the verb agrees with it.
            let agreeing =
                ["sleeps. ", "sleep. "].iter().filter(|verb| completion_is_valid(toy, &prompt, verb)).count();
            assert_eq!(agreeing, 1, "{prompt:?}");
        }
    }
}
