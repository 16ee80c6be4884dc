//! The `arithmetic` corpus: lines `a+b=c`, with `a` and `b` drawn uniformly from 0 to 99 and
//! `c = a + b`.
//!
//! Only `a` and `b` are random; the sum is fully determined by them. A model that merely learns the
//! format stays far above the entropy rate on the digits of `c`: to reach the floor it must add.

use super::UnitSource;
use crate::rng::Rng;

/// Operands are drawn uniformly from `0..=MAX_OPERAND`.
const MAX_OPERAND: u32 = 99;

/// The generator of `a+b=c` lines.
pub(super) struct Arithmetic;

impl Arithmetic {
    /// How many values each operand can take.
    const OPERAND_VALUES: u32 = MAX_OPERAND + 1;

    fn line(a: u32, b: u32) -> String {
        format!("{a}+{b}={}\n", a + b)
    }
}

impl UnitSource for Arithmetic {
    fn sample_unit(&self, rng: &mut Rng, out: &mut String) {
        let a = rng.below(Self::OPERAND_VALUES as usize) as u32;
        let b = rng.below(Self::OPERAND_VALUES as usize) as u32;
        out.push_str(&Self::line(a, b));
    }

    fn log_prob(&self, unit: &str) -> Option<f64> {
        let (a, b, c) = parse_line(unit)?;
        let valid = a <= MAX_OPERAND && b <= MAX_OPERAND && c == a + b;
        valid.then(|| -2.0 * f64::from(Self::OPERAND_VALUES).ln())
    }

    /// Two independent uniform choices among 100 values: `H(U) = 2 ln 100`.
    fn unit_entropy(&self) -> f64 {
        2.0 * f64::from(Self::OPERAND_VALUES).ln()
    }

    /// The length depends on how many digits `a`, `b` and `a + b` have, so this enumerates all
    /// 100 × 100 equally likely lines and averages their lengths exactly.
    fn mean_unit_chars(&self) -> f64 {
        let operands = 0..Self::OPERAND_VALUES;
        let total: usize = operands.clone().flat_map(|a| operands.clone().map(move |b| Self::line(a, b).len())).sum();
        total as f64 / f64::from(Self::OPERAND_VALUES * Self::OPERAND_VALUES)
    }
}

/// Reads `a+b=c\n` with every number written the canonical way (no sign, no leading zero).
fn parse_line(unit: &str) -> Option<(u32, u32, u32)> {
    let body = unit.strip_suffix('\n')?;
    let (a, rest) = body.split_once('+')?;
    let (b, c) = rest.split_once('=')?;
    Some((parse_canonical(a)?, parse_canonical(b)?, parse_canonical(c)?))
}

/// Parses a decimal number, accepting only the way `u32`'s `Display` writes it.
fn parse_canonical(digits: &str) -> Option<u32> {
    let value: u32 = digits.parse().ok()?;
    (value.to_string() == digits).then_some(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mean_length_matches_a_count_by_digits() {
        // a and b: 10 one-digit and 90 two-digit values, 1.9 digits on average.
        // a+b: of the 10 000 pairs, 55 sum below 10 and 4 950 to 100 or more; the rest have two
        // digits.
        let sum_digits = (55.0 * 1.0 + 4995.0 * 2.0 + 4950.0 * 3.0) / 10_000.0;
        let expected = 1.9 + 1.0 + 1.9 + 1.0 + sum_digits + 1.0;
        assert!((Arithmetic.mean_unit_chars() - expected).abs() < 1e-12);
    }

    #[test]
    fn every_valid_line_has_the_same_probability() {
        let expected = -(10_000f64.ln());
        assert_eq!(Arithmetic.log_prob("0+0=0\n"), Some(expected));
        assert_eq!(Arithmetic.log_prob("99+99=198\n"), Some(expected));
        assert_eq!(Arithmetic.log_prob("+1+2=3\n"), None);
    }
}
