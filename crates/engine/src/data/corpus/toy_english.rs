//! The `toy-english` corpus: simple English sentences from a small probabilistic grammar.
//!
//! ```text
//! sentence    = noun-phrase verb-phrase ending
//! noun-phrase = determiner [adjective] noun           (all three agree in number)
//! verb-phrase = transitive-verb noun-phrase            (probability P_TRANSITIVE)
//!             | intransitive-verb [preposition noun-phrase]
//! ending      = ". " | ".\n"
//! ```
//!
//! Each noun phrase is singular or plural with probability ½, and the verb agrees with the subject:
//! "the dog sees", "the dogs see". An adjective may sit between the determiner and the noun, so the
//! model has to look back past it to choose the verb's form. Every other choice is uniform over a
//! short word list. The lists never share a word (only "the" is both singular and plural, and the
//! noun then tells which), so every sentence reads back into exactly one sequence of choices, which
//! is what makes the entropy rate computable (see the [module above](super)).
//!
//! Sentences stay below 55 characters, so a context-64 model can always see the whole sentence.

use super::{binary_entropy, mean_len, UnitSource};
use crate::rng::Rng;

/// Determiners of a singular noun phrase.
const SINGULAR_DETERMINERS: [&str; 4] = ["the", "a", "this", "that"];
/// Determiners of a plural noun phrase.
const PLURAL_DETERMINERS: [&str; 4] = ["the", "some", "these", "those"];
const ADJECTIVES: [&str; 8] = ["big", "small", "quiet", "lazy", "brave", "young", "happy", "red"];
/// Nouns as (singular, plural).
const NOUNS: [(&str, &str); 8] = [
    ("cat", "cats"),
    ("dog", "dogs"),
    ("fox", "foxes"),
    ("bird", "birds"),
    ("zebra", "zebras"),
    ("wolf", "wolves"),
    ("horse", "horses"),
    ("duck", "ducks"),
];
/// Verbs without an object, as (after a singular subject, after a plural subject).
const INTRANSITIVE_VERBS: [(&str, &str); 4] =
    [("sleeps", "sleep"), ("runs", "run"), ("jumps", "jump"), ("waits", "wait")];
/// Verbs with an object, as (after a singular subject, after a plural subject).
const TRANSITIVE_VERBS: [(&str, &str); 5] =
    [("sees", "see"), ("likes", "like"), ("chases", "chase"), ("follows", "follow"), ("watches", "watch")];
const PREPOSITIONS: [&str; 4] = ["near", "behind", "under", "with"];

/// Probability that a noun phrase has an adjective.
const P_ADJECTIVE: f64 = 0.4;
/// Probability that the verb is transitive (and an object follows).
const P_TRANSITIVE: f64 = 0.6;
/// Probability that an intransitive verb is followed by a prepositional phrase.
const P_PREPOSITION: f64 = 0.5;
/// Probability that a sentence ends the line (".\n") rather than continuing it (". ").
const P_NEWLINE: f64 = 0.2;

/// Grammatical number; a noun phrase is singular or plural with probability ½ each.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Number {
    Singular,
    Plural,
}

impl Number {
    const BOTH: [Number; 2] = [Number::Singular, Number::Plural];

    fn sample(rng: &mut Rng) -> Number {
        Number::BOTH[rng.below(2)]
    }

    fn determiners(self) -> &'static [&'static str] {
        match self {
            Number::Singular => &SINGULAR_DETERMINERS,
            Number::Plural => &PLURAL_DETERMINERS,
        }
    }

    /// Picks the form of a (singular, plural) word pair.
    fn form(self, pair: (&'static str, &'static str)) -> &'static str {
        match self {
            Number::Singular => pair.0,
            Number::Plural => pair.1,
        }
    }
}

/// Uniform choice from a word list.
fn pick<T: Copy>(rng: &mut Rng, words: &[T]) -> T {
    words[rng.below(words.len())]
}

/// The log probability of one uniform choice among `n` options.
fn ln_uniform(n: usize) -> f64 {
    -(n as f64).ln()
}

/// The generator of toy-English sentences.
pub(super) struct ToyEnglish;

impl ToyEnglish {
    /// Appends a random noun phrase, e.g. "these quiet foxes", and returns its number.
    fn push_noun_phrase(rng: &mut Rng, out: &mut String) -> Number {
        let number = Number::sample(rng);
        out.push_str(pick(rng, number.determiners()));
        out.push(' ');
        if rng.uniform() < P_ADJECTIVE {
            out.push_str(pick(rng, &ADJECTIVES));
            out.push(' ');
        }
        out.push_str(number.form(pick(rng, &NOUNS)));
        number
    }

    /// `H_NP`, the entropy of a noun phrase: its number (ln 2), the determiner given the number,
    /// whether there is an adjective and which, and the noun.
    fn noun_phrase_entropy() -> f64 {
        let determiner: f64 = Number::BOTH.iter().map(|n| 0.5 * (n.determiners().len() as f64).ln()).sum();
        std::f64::consts::LN_2
            + determiner
            + binary_entropy(P_ADJECTIVE)
            + P_ADJECTIVE * (ADJECTIVES.len() as f64).ln()
            + (NOUNS.len() as f64).ln()
    }

    /// `L_NP`, the expected length of a noun phrase, spaces between its words included.
    fn noun_phrase_chars() -> f64 {
        let determiner: f64 = Number::BOTH.iter().map(|n| 0.5 * mean_len(n.determiners().iter().copied())).sum();
        determiner + 1.0 + P_ADJECTIVE * (mean_len(ADJECTIVES) + 1.0) + mean_pair_len(&NOUNS)
    }
}

/// The expected length of a (singular, plural) word pair's form when the number is ½/½.
fn mean_pair_len(pairs: &[(&str, &str)]) -> f64 {
    0.5 * mean_len(pairs.iter().map(|p| p.0)) + 0.5 * mean_len(pairs.iter().map(|p| p.1))
}

impl UnitSource for ToyEnglish {
    fn sample_unit(&self, rng: &mut Rng, out: &mut String) {
        let subject = Self::push_noun_phrase(rng, out);
        out.push(' ');
        if rng.uniform() < P_TRANSITIVE {
            out.push_str(subject.form(pick(rng, &TRANSITIVE_VERBS)));
            out.push(' ');
            Self::push_noun_phrase(rng, out);
        } else {
            out.push_str(subject.form(pick(rng, &INTRANSITIVE_VERBS)));
            if rng.uniform() < P_PREPOSITION {
                out.push(' ');
                out.push_str(pick(rng, &PREPOSITIONS));
                out.push(' ');
                Self::push_noun_phrase(rng, out);
            }
        }
        out.push_str(if rng.uniform() < P_NEWLINE { ".\n" } else { ". " });
    }

    fn log_prob(&self, unit: &str) -> Option<f64> {
        let (body, ending) = match unit.strip_suffix(".\n") {
            Some(body) => (body, P_NEWLINE.ln()),
            None => (unit.strip_suffix(". ")?, (1.0 - P_NEWLINE).ln()),
        };
        let mut words = Words { words: body.split(' ').collect(), position: 0 };
        let (subject, mut log_p) = words.noun_phrase()?;
        let verb = words.next()?;
        if TRANSITIVE_VERBS.iter().any(|&v| subject.form(v) == verb) {
            log_p += P_TRANSITIVE.ln() + ln_uniform(TRANSITIVE_VERBS.len()) + words.noun_phrase()?.1;
        } else if INTRANSITIVE_VERBS.iter().any(|&v| subject.form(v) == verb) {
            log_p += (1.0 - P_TRANSITIVE).ln() + ln_uniform(INTRANSITIVE_VERBS.len());
            log_p += match words.next() {
                None => (1.0 - P_PREPOSITION).ln(),
                Some(preposition) if PREPOSITIONS.contains(&preposition) => {
                    P_PREPOSITION.ln() + ln_uniform(PREPOSITIONS.len()) + words.noun_phrase()?.1
                }
                Some(_) => return None,
            };
        } else {
            return None;
        }
        words.is_done().then_some(log_p + ending)
    }

    /// With `H_NP` the entropy of a noun phrase and `h(p)` the binary entropy,
    ///
    /// ```text
    /// H(U) = H_NP                                              subject
    ///      + h(P_TRANSITIVE)                                    transitive or not
    ///      + P_TRANSITIVE (ln |transitive| + H_NP)              verb and object
    ///      + (1 - P_TRANSITIVE) (ln |intransitive| + h(P_PREPOSITION)
    ///                            + P_PREPOSITION (ln |prepositions| + H_NP))
    ///      + h(P_NEWLINE)                                       ending
    /// ```
    ///
    /// The verb's form adds nothing: it is fixed by the subject's number.
    fn unit_entropy(&self) -> f64 {
        let noun_phrase = Self::noun_phrase_entropy();
        let transitive = (TRANSITIVE_VERBS.len() as f64).ln() + noun_phrase;
        let intransitive = (INTRANSITIVE_VERBS.len() as f64).ln()
            + binary_entropy(P_PREPOSITION)
            + P_PREPOSITION * ((PREPOSITIONS.len() as f64).ln() + noun_phrase);
        noun_phrase
            + binary_entropy(P_TRANSITIVE)
            + P_TRANSITIVE * transitive
            + (1.0 - P_TRANSITIVE) * intransitive
            + binary_entropy(P_NEWLINE)
    }

    /// The same tree of choices, counting characters instead of nats (by linearity of expectation):
    ///
    /// ```text
    /// E[L] = L_NP + 1                                          subject and space
    ///      + P_TRANSITIVE (mean |transitive| + 1 + L_NP)        verb, space, object
    ///      + (1 - P_TRANSITIVE) (mean |intransitive|
    ///                            + P_PREPOSITION (1 + mean |preposition| + 1 + L_NP))
    ///      + 2                                                  ". " or ".\n"
    /// ```
    ///
    /// Verb lengths are averaged over both forms, since the subject is singular or plural with
    /// probability ½ whatever the verb.
    fn mean_unit_chars(&self) -> f64 {
        let noun_phrase = Self::noun_phrase_chars();
        let transitive = mean_pair_len(&TRANSITIVE_VERBS) + 1.0 + noun_phrase;
        let intransitive =
            mean_pair_len(&INTRANSITIVE_VERBS) + P_PREPOSITION * (1.0 + mean_len(PREPOSITIONS) + 1.0 + noun_phrase);
        noun_phrase + 1.0 + P_TRANSITIVE * transitive + (1.0 - P_TRANSITIVE) * intransitive + 2.0
    }
}

/// A cursor over the words of a sentence being read back.
struct Words<'a> {
    words: Vec<&'a str>,
    /// The index of the next word to read.
    position: usize,
}

impl<'a> Words<'a> {
    fn peek(&self) -> Option<&'a str> {
        self.words.get(self.position).copied()
    }

    fn next(&mut self) -> Option<&'a str> {
        let word = self.peek()?;
        self.position += 1;
        Some(word)
    }

    fn is_done(&self) -> bool {
        self.position == self.words.len()
    }

    /// Reads a noun phrase, returning its number and log probability.
    fn noun_phrase(&mut self) -> Option<(Number, f64)> {
        let determiner = self.next()?;
        let mut log_p = (0.5f64).ln();
        match self.peek() {
            Some(adjective) if ADJECTIVES.contains(&adjective) => {
                self.position += 1;
                log_p += P_ADJECTIVE.ln() + ln_uniform(ADJECTIVES.len());
            }
            _ => log_p += (1.0 - P_ADJECTIVE).ln(),
        }
        let noun = self.next()?;
        let number = Number::BOTH.into_iter().find(|n| NOUNS.iter().any(|&pair| n.form(pair) == noun))?;
        if !number.determiners().contains(&determiner) {
            return None;
        }
        log_p += ln_uniform(number.determiners().len()) + ln_uniform(NOUNS.len());
        Some((number, log_p))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reading back is only unambiguous if no word plays two roles.
    #[test]
    fn word_lists_do_not_overlap() {
        let mut words: Vec<&str> = ADJECTIVES.iter().chain(&PREPOSITIONS).copied().collect();
        for pairs in [&NOUNS[..], &INTRANSITIVE_VERBS, &TRANSITIVE_VERBS] {
            words.extend(pairs.iter().flat_map(|&(singular, plural)| [singular, plural]));
        }
        let mut determiners: Vec<&str> = SINGULAR_DETERMINERS.iter().chain(&PLURAL_DETERMINERS).copied().collect();
        determiners.sort_unstable();
        determiners.dedup();
        words.extend(determiners);
        let count = words.len();
        words.sort_unstable();
        words.dedup();
        assert_eq!(words.len(), count, "a word appears in two slots");
    }

    #[test]
    fn reads_back_agreement_and_structure() {
        let lp = |s: &str| ToyEnglish.log_prob(s);
        assert!(lp("the dog sleeps. ").is_some());
        assert!(lp("the dogs sleep.\n").is_some());
        assert!(lp("these lazy wolves chase a red duck. ").is_some());
        assert!(lp("a fox waits under the big horses.\n").is_some());
        assert_eq!(lp("the fox waits the horses. "), None);
        assert_eq!(lp("the fox watches. "), None);
        assert_eq!(lp("this foxes jump. "), None);
        assert_eq!(lp("the fox jumps near. "), None);
        assert_eq!(lp("the fox jumps.  "), None);
    }

    #[test]
    fn probabilities_multiply_along_the_choices() {
        // "the dog sleeps. ": singular (½), "the" (¼), no adjective (0.6), "dog" (⅛),
        // intransitive (0.4), "sleeps" (¼), no prepositional phrase (½), ". " (0.8).
        let expected = 0.5 * 0.25 * 0.6 * 0.125 * 0.4 * 0.25 * 0.5 * 0.8;
        let got = ToyEnglish.log_prob("the dog sleeps. ").unwrap().exp();
        assert!((got - expected).abs() < 1e-15, "{got} vs {expected}");
    }
}
