//! The `sorting` corpus: lines `<letters>><the same letters sorted>`, for example `hbeb>bbeh`.
//!
//! The length is uniform in 4 to 8 and each letter is uniform over `a` to `h`. Everything after the
//! `>` is determined by what came before it, so a model can only reach the entropy rate by learning
//! to sort.

use super::UnitSource;
use crate::rng::Rng;

/// The letters lines are made of.
const LETTERS: [char; 8] = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'];

/// The shortest and longest strings to sort.
const MIN_LEN: usize = 4;
const MAX_LEN: usize = 8;

/// The generator of sorting lines.
pub(super) struct Sorting;

impl Sorting {
    /// How many lengths a line can have, each equally likely.
    const LENGTHS: usize = MAX_LEN - MIN_LEN + 1;
}

impl UnitSource for Sorting {
    fn sample_unit(&self, rng: &mut Rng, out: &mut String) {
        let len = MIN_LEN + rng.below(Self::LENGTHS);
        let mut letters: Vec<char> = (0..len).map(|_| LETTERS[rng.below(LETTERS.len())]).collect();
        out.extend(&letters);
        out.push('>');
        letters.sort_unstable();
        out.extend(&letters);
        out.push('\n');
    }

    fn log_prob(&self, unit: &str) -> Option<f64> {
        let (unsorted, sorted) = unit.strip_suffix('\n')?.split_once('>')?;
        let mut letters: Vec<char> = unsorted.chars().collect();
        let len = letters.len();
        let valid_letters = letters.iter().all(|c| LETTERS.contains(c));
        letters.sort_unstable();
        let valid = (MIN_LEN..=MAX_LEN).contains(&len) && valid_letters && sorted.chars().eq(letters.iter().copied());
        let letter_choices = LETTERS.len() as f64;
        valid.then(|| -(Self::LENGTHS as f64).ln() - len as f64 * letter_choices.ln())
    }

    /// One uniform choice of length among 5, then `L` uniform letters among 8:
    /// `H(U) = ln 5 + E[L] ln 8`.
    fn unit_entropy(&self) -> f64 {
        (Self::LENGTHS as f64).ln() + mean_len() * (LETTERS.len() as f64).ln()
    }

    /// The letters appear twice, plus `>` and the newline: `E[2L + 2] = 2 E[L] + 2`.
    fn mean_unit_chars(&self) -> f64 {
        2.0 * mean_len() + 2.0
    }
}

/// `E[L]`, the average over the equally likely lengths.
fn mean_len() -> f64 {
    (MIN_LEN..=MAX_LEN).sum::<usize>() as f64 / Sorting::LENGTHS as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_is_the_closed_form() {
        let expected = (5f64.ln() + 6.0 * 8f64.ln()) / 14.0;
        assert!((Sorting.unit_entropy() / Sorting.mean_unit_chars() - expected).abs() < 1e-12);
    }

    #[test]
    fn log_prob_depends_only_on_length() {
        let four = -(5f64.ln() + 4.0 * 8f64.ln());
        assert_eq!(Sorting.log_prob("dcba>abcd\n"), Some(four));
        assert_eq!(Sorting.log_prob("aaaa>aaaa\n"), Some(four));
        assert_eq!(Sorting.log_prob("aaaaaaaaa>aaaaaaaaa\n"), None);
    }
}
