//! Decoding: how the model's next-token logits become the next token.
//!
//! The model outputs one score (logit) per token of the vocabulary. Decoding turns those scores
//! into a choice, in this order:
//!
//! 1. **Repetition penalty** (`θ`, 1 = off): every token that occurs in the recent text has its
//!    logit made less attractive: divided by `θ` when positive, multiplied by `θ` when negative.
//! 2. **Greedy** decoding takes the highest logit, always. It is deterministic and, for a small
//!    model, quickly falls into loops: the guide's entry `model-outputs-repetitive-text`.
//! 3. Otherwise the logits become probabilities with a **temperature** `T`: `p_i ∝ exp(z_i / T)`.
//!    `T < 1` sharpens the distribution towards the top tokens, `T > 1` flattens it.
//! 4. **Top-k** (0 = off) keeps only the `k` most probable tokens.
//! 5. **Top-p** (nucleus, 1 = off) keeps the smallest set of most probable tokens whose
//!    probabilities add up to at least `p`.
//! 6. One token is drawn from what is left, renormalised.
//!
//! Decoding never panics. Logits containing NaN or +Inf come from a broken model (the guide's
//! `loss-becomes-nan`); rather than sample from a meaningless distribution, the decoder then falls
//! back to the highest finite logit. A logit of -Inf is allowed and simply means "never this
//! token".

use crate::error::ConfigError;
use crate::rng::Rng;
use serde::{Deserialize, Serialize};
use std::collections::HashSet;

/// How to choose each next token when generating text.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SamplingConfig {
    /// Always take the most likely token (temperature, top-k and top-p are then ignored).
    pub greedy: bool,
    /// Divides the logits before the softmax; must be positive.
    pub temperature: f32,
    /// Keep only the `top_k` most probable tokens; 0 turns it off.
    pub top_k: usize,
    /// Keep the fewest most probable tokens whose probabilities add up to `top_p`; 1 turns it off.
    pub top_p: f32,
    /// Penalises tokens already in the recent text; 1 turns it off, above 1 discourages repeats.
    pub repetition_penalty: f32,
}

impl Default for SamplingConfig {
    fn default() -> Self {
        Self { greedy: false, temperature: 0.8, top_k: 0, top_p: 1.0, repetition_penalty: 1.0 }
    }
}

impl SamplingConfig {
    /// Plain sampling from the model's softmax: temperature 1, nothing cut, no penalty.
    pub const PLAIN: SamplingConfig =
        SamplingConfig { greedy: false, temperature: 1.0, top_k: 0, top_p: 1.0, repetition_penalty: 1.0 };

    /// Checks every setting, naming the first bad one as the command line spells it.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if !(self.temperature.is_finite() && self.temperature > 0.0) {
            return Err(ConfigError::new(
                "temperature",
                format!("must be a positive number, not {} (for temperature 0, use greedy decoding)", self.temperature),
            ));
        }
        if !(self.top_p > 0.0 && self.top_p <= 1.0) {
            return Err(ConfigError::new(
                "top-p",
                format!("must be above 0 and at most 1 (1 turns it off), not {}", self.top_p),
            ));
        }
        if !(self.repetition_penalty.is_finite() && self.repetition_penalty > 0.0) {
            return Err(ConfigError::new(
                "repetition-penalty",
                format!("must be a positive number (1 turns it off), not {}", self.repetition_penalty),
            ));
        }
        Ok(())
    }
}

/// Chooses the next token from `logits`, given the `recent` tokens (for the repetition penalty).
///
/// Pure apart from the draws it takes from `rng` (none for greedy decoding). Never panics: with NaN
/// or +Inf among the logits it returns the index of the highest finite logit, and it returns 0 when
/// there is no finite logit at all (or no logit). Settings that [`SamplingConfig::validate`] would
/// reject act like their limit: a temperature that is not positive decodes greedily, a `top_p` that
/// is not positive keeps only the most probable token, and an unusable repetition penalty is
/// ignored.
pub fn sample_next(logits: &[f32], recent: &[u32], cfg: &SamplingConfig, rng: &mut Rng) -> u32 {
    match decide(logits, recent, cfg) {
        Decision::Token(id) => id,
        Decision::Distribution(probs) => draw(&probs, rng),
    }
}

/// Draws an index with the given probabilities. Unlike a plain running sum, rounding can never make
/// it return a token of probability 0: past the end it falls back to the last possible token.
fn draw(probs: &[f64], rng: &mut Rng) -> u32 {
    let mut r = rng.uniform() * probs.iter().sum::<f64>();
    let mut last_possible = 0;
    for (i, &p) in probs.iter().enumerate() {
        if p > 0.0 {
            if r < p {
                return i as u32;
            }
            r -= p;
            last_possible = i;
        }
    }
    last_possible as u32
}

/// The probabilities [`sample_next`] draws from, one per logit, summing to 1 (for charts that show
/// the model's choice). Greedy decoding and the NaN fallback put all the probability on one token.
pub fn next_token_probs(logits: &[f32], recent: &[u32], cfg: &SamplingConfig) -> Vec<f64> {
    match decide(logits, recent, cfg) {
        Decision::Token(id) => {
            let mut probs = vec![0.0; logits.len()];
            if let Some(p) = probs.get_mut(id as usize) {
                *p = 1.0;
            }
            probs
        }
        Decision::Distribution(probs) => probs,
    }
}

/// The fraction of the `n`-grams of `tokens` that already occurred earlier in the sequence
/// (overlaps count). 0 when there are no `n`-grams, i.e. `n` is 0 or longer than `tokens`.
///
/// Healthy text from a small model repeats some short n-grams; degenerate, looping text repeats
/// almost all of them, so a high rate for, say, 4-grams is the measurable symptom of repetitive
/// output.
pub fn repeated_ngram_rate(tokens: &[u32], n: usize) -> f32 {
    if n == 0 || tokens.len() < n {
        return 0.0;
    }
    let mut seen = HashSet::new();
    let windows = tokens.windows(n);
    let total = windows.len();
    let repeated = windows.filter(|gram| !seen.insert(*gram)).count();
    repeated as f32 / total as f32
}

/// What decoding settled on: a fixed token, or a distribution to draw from.
enum Decision {
    Token(u32),
    Distribution(Vec<f64>),
}

fn decide(logits: &[f32], recent: &[u32], cfg: &SamplingConfig) -> Decision {
    let broken = logits.iter().any(|&z| z.is_nan() || z == f32::INFINITY);
    if broken || logits.iter().all(|&z| z == f32::NEG_INFINITY) {
        return Decision::Token(argmax_finite(logits));
    }
    let mut scores: Vec<f64> = logits.iter().map(|&z| f64::from(z)).collect();
    apply_repetition_penalty(&mut scores, recent, f64::from(cfg.repetition_penalty));
    if cfg.greedy || cfg.temperature.is_nan() || cfg.temperature <= 0.0 {
        return Decision::Token(argmax(&scores));
    }
    let mut probs = softmax(&scores, f64::from(cfg.temperature));
    keep_most_probable(&mut probs, cfg.top_k, f64::from(cfg.top_p));
    Decision::Distribution(probs)
}

/// The CTRL-style repetition penalty: each distinct recent token's logit is divided by `penalty`
/// when positive and multiplied by it when negative, so a penalty above 1 always makes it less
/// likely.
fn apply_repetition_penalty(scores: &mut [f64], recent: &[u32], penalty: f64) {
    if penalty == 1.0 || !(penalty.is_finite() && penalty > 0.0) {
        return;
    }
    let mut penalised = vec![false; scores.len()];
    for &token in recent {
        let Some(done) = penalised.get_mut(token as usize) else {
            continue;
        };
        if !*done {
            *done = true;
            let score = &mut scores[token as usize];
            *score = if *score > 0.0 { *score / penalty } else { *score * penalty };
        }
    }
}

/// `exp(z_i / T)`, normalised, computed stably by subtracting the largest logit first. A logit of
/// -Inf gets probability 0. Requires at least one finite score and `temperature > 0`.
fn softmax(scores: &[f64], temperature: f64) -> Vec<f64> {
    let max = scores.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let mut probs: Vec<f64> =
        scores.iter().map(|&z| if z == f64::NEG_INFINITY { 0.0 } else { ((z - max) / temperature).exp() }).collect();
    normalise(&mut probs);
    probs
}

/// Top-k then top-p: zeroes every token outside the `top_k` most probable (0 = no limit), then
/// every token outside the smallest most-probable set holding at least `top_p` of the remaining
/// probability, and renormalises. Ties are broken in favour of the lower token id, so the result is
/// deterministic.
fn keep_most_probable(probs: &mut [f64], top_k: usize, top_p: f64) {
    let mut order: Vec<usize> = (0..probs.len()).collect();
    // A stable sort: equal probabilities keep their id order.
    order.sort_by(|&a, &b| probs[b].total_cmp(&probs[a]));
    let mut kept = if top_k == 0 { order.len() } else { top_k.min(order.len()) };
    let kept_mass: f64 = order[..kept].iter().map(|&i| probs[i]).sum();
    let mut nucleus = 0;
    let mut mass = 0.0;
    // Add tokens until the nucleus holds `top_p` of the mass (a NaN `top_p` stops after the first).
    while nucleus < kept && (nucleus == 0 || mass < top_p * kept_mass) {
        mass += probs[order[nucleus]];
        nucleus += 1;
    }
    kept = nucleus;
    for &i in &order[kept..] {
        probs[i] = 0.0;
    }
    normalise(probs);
}

fn normalise(probs: &mut [f64]) {
    let total: f64 = probs.iter().sum();
    for p in probs.iter_mut() {
        *p /= total;
    }
}

/// The index of the largest score (the first one on ties). `scores` must not contain NaN.
fn argmax(scores: &[f64]) -> u32 {
    let mut best = 0;
    for (i, &score) in scores.iter().enumerate() {
        if score > scores[best] {
            best = i;
        }
    }
    best as u32
}

/// The index of the largest finite logit (the first one on ties), or 0 when none is finite.
fn argmax_finite(logits: &[f32]) -> u32 {
    let mut best: Option<(usize, f32)> = None;
    for (i, &z) in logits.iter().enumerate() {
        if z.is_finite() && best.is_none_or(|(_, top)| z > top) {
            best = Some((i, z));
        }
    }
    best.map_or(0, |(i, _)| i as u32)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;
    use proptest::prelude::*;

    fn sampling(temperature: f32) -> SamplingConfig {
        SamplingConfig { temperature, ..SamplingConfig::default() }
    }

    /// How often each token is drawn in `draws` samples, as fractions.
    fn frequencies(logits: &[f32], recent: &[u32], cfg: &SamplingConfig, draws: usize) -> Vec<f64> {
        let mut rng = Rng::new(42);
        let mut counts = vec![0usize; logits.len()];
        for _ in 0..draws {
            counts[sample_next(logits, recent, cfg, &mut rng) as usize] += 1;
        }
        counts.iter().map(|&c| c as f64 / draws as f64).collect()
    }

    fn assert_close(a: &[f64], b: &[f64], tolerance: f64) {
        assert_eq!(a.len(), b.len());
        for (x, y) in a.iter().zip(b) {
            assert!((x - y).abs() < tolerance, "{a:?} vs {b:?}");
        }
    }

    #[test]
    fn default_is_temperature_08_with_everything_else_off() {
        let cfg = SamplingConfig::default();
        assert_eq!((cfg.greedy, cfg.temperature, cfg.top_k), (false, 0.8, 0));
        assert_eq!((cfg.top_p, cfg.repetition_penalty), (1.0, 1.0));
        assert_eq!(cfg.validate(), Ok(()));
        let parsed: SamplingConfig = serde_json::from_str(r#"{"greedy": true}"#).unwrap();
        assert_eq!(parsed, SamplingConfig { greedy: true, ..SamplingConfig::default() });
    }

    #[test]
    fn validate_names_the_bad_field() {
        let field = |cfg: SamplingConfig| cfg.validate().unwrap_err().field;
        let default = SamplingConfig::default;
        assert_eq!(field(SamplingConfig { temperature: 0.0, ..default() }), "temperature");
        assert_eq!(field(SamplingConfig { temperature: f32::NAN, ..default() }), "temperature");
        assert_eq!(field(SamplingConfig { top_p: 0.0, ..default() }), "top-p");
        assert_eq!(field(SamplingConfig { top_p: 1.5, ..default() }), "top-p");
        assert_eq!(field(SamplingConfig { repetition_penalty: -1.0, ..default() }), "repetition-penalty");
        assert_eq!(SamplingConfig { top_k: 5, top_p: 0.9, repetition_penalty: 1.3, ..default() }.validate(), Ok(()));
    }

    #[test]
    fn greedy_takes_the_argmax_without_randomness() {
        let cfg = SamplingConfig { greedy: true, ..SamplingConfig::default() };
        let mut rng = Rng::new(1);
        assert_eq!(sample_next(&[0.1, 2.5, -1.0, 2.4], &[], &cfg, &mut rng), 1);
        assert_eq!(sample_next(&[-3.0, -2.0, -5.0], &[], &cfg, &mut rng), 1);
        assert_eq!(sample_next(&[7.0, 7.0], &[], &cfg, &mut rng), 0, "ties go to the lower id");
        assert_eq!(next_token_probs(&[0.0, 1.0, 0.5], &[], &cfg), [0.0, 1.0, 0.0]);
    }

    #[test]
    fn top_k_of_one_is_the_argmax() {
        let cfg = SamplingConfig { top_k: 1, temperature: 1.5, ..SamplingConfig::default() };
        let logits = [0.3, -0.2, 1.1, 1.0, 0.9];
        assert_eq!(frequencies(&logits, &[], &cfg, 1_000), [0.0, 0.0, 1.0, 0.0, 0.0]);
    }

    #[test]
    fn top_k_keeps_the_k_most_probable_renormalised() {
        let cfg = SamplingConfig { top_k: 2, temperature: 1.0, ..SamplingConfig::default() };
        let probs = next_token_probs(&[0.0, 2.0, 1.0, -1.0], &[], &cfg);
        let e = std::f64::consts::E;
        assert_close(&probs, &[0.0, e / (e + 1.0), 1.0 / (e + 1.0), 0.0], 1e-12);
    }

    /// Sampled frequencies follow softmax(z / T), and a lower temperature puts more mass on the top
    /// token.
    #[test]
    fn temperature_sharpens_or_flattens_the_distribution() {
        let logits = [2.0f32, 1.0, 0.0];
        let mut top_share = Vec::new();
        for temperature in [0.25f32, 0.5, 1.0, 2.0, 4.0] {
            let weights: Vec<f64> = logits.iter().map(|&z| (f64::from(z) / f64::from(temperature)).exp()).collect();
            let total: f64 = weights.iter().sum();
            let expected: Vec<f64> = weights.iter().map(|w| w / total).collect();
            let observed = frequencies(&logits, &[], &sampling(temperature), 20_000);
            assert_close(&observed, &expected, 0.015);
            top_share.push(observed[0]);
        }
        assert!(top_share.windows(2).all(|w| w[0] > w[1]), "{top_share:?}");
        assert!(top_share[0] > 0.97 && top_share[4] < 0.5, "{top_share:?}");
    }

    #[test]
    fn top_p_keeps_the_minimal_nucleus() {
        let logits: Vec<f32> = [0.5f32, 0.3, 0.15, 0.05].iter().map(|p| p.ln()).collect();
        let probs = |top_p: f32| next_token_probs(&logits, &[], &SamplingConfig { top_p, ..sampling(1.0) });
        assert_close(&probs(0.4), &[1.0, 0.0, 0.0, 0.0], 1e-6);
        assert_close(&probs(0.75), &[0.625, 0.375, 0.0, 0.0], 1e-6);
        assert_close(&probs(0.85), &[0.5 / 0.95, 0.3 / 0.95, 0.15 / 0.95, 0.0], 1e-6);
        assert_close(&probs(1.0), &[0.5, 0.3, 0.15, 0.05], 1e-6);
        let drawn = frequencies(&logits, &[], &SamplingConfig { top_p: 0.75, ..sampling(1.0) }, 10_000);
        assert_eq!((drawn[2], drawn[3]), (0.0, 0.0));
        assert!((drawn[0] - 0.625).abs() < 0.02, "{drawn:?}");
    }

    #[test]
    fn repetition_penalty_makes_recent_tokens_less_likely() {
        let logits = [2.0f32, 1.0, -1.0, 0.5];
        let recent = [0, 2, 2];
        let plain = next_token_probs(&logits, &recent, &sampling(1.0));
        let cfg = SamplingConfig { repetition_penalty: 2.0, ..sampling(1.0) };
        let penalised = next_token_probs(&logits, &recent, &cfg);
        assert!(penalised[0] < plain[0] && penalised[2] < plain[2]);
        assert!(penalised[1] > plain[1] && penalised[3] > plain[3]);
        // Positive logits are divided, negative ones multiplied, once per distinct token:
        // 2 becomes 1 and -1 becomes -2.
        let expected = next_token_probs(&[1.0, 1.0, -2.0, 0.5], &[], &sampling(1.0));
        assert_close(&penalised, &expected, 1e-12);
        // Greedy decoding sees the penalty too.
        let greedy = SamplingConfig { greedy: true, repetition_penalty: 3.0, ..SamplingConfig::default() };
        assert_eq!(sample_next(&logits, &[0], &greedy, &mut Rng::new(1)), 1);
    }

    #[test]
    fn broken_logits_fall_back_to_the_best_finite_one() {
        let cfg = SamplingConfig::default();
        let mut rng = Rng::new(3);
        let nan = f32::NAN;
        assert_eq!(sample_next(&[nan, 1.0, 3.0, nan], &[], &cfg, &mut rng), 2);
        assert_eq!(sample_next(&[f32::INFINITY, 1.0, 0.0], &[], &cfg, &mut rng), 1);
        assert_eq!(sample_next(&[nan, nan], &[], &cfg, &mut rng), 0);
        assert_eq!(sample_next(&[], &[], &cfg, &mut rng), 0);
        assert_eq!(sample_next(&[f32::NEG_INFINITY; 3], &[], &cfg, &mut rng), 0);
        // -Inf alone is not broken: it just rules a token out.
        let masked = [f32::NEG_INFINITY, 0.0, f32::NEG_INFINITY];
        assert_eq!(frequencies(&masked, &[], &cfg, 100), [0.0, 1.0, 0.0]);
    }

    #[test]
    fn repeated_ngram_rate_of_known_sequences() {
        let ids = |s: &str| -> Vec<u32> { s.bytes().map(u32::from).collect() };
        assert_eq!(repeated_ngram_rate(&ids("abcd"), 2), 0.0);
        // abc bca cab abc: the last one is a repeat.
        assert_eq!(repeated_ngram_rate(&ids("abcabc"), 3), 0.25);
        // aa aa aa: all but the first.
        assert!((repeated_ngram_rate(&ids("aaaa"), 2) - 2.0 / 3.0).abs() < 1e-6);
        assert_eq!(repeated_ngram_rate(&ids("abab"), 1), 0.5);
        assert_eq!(repeated_ngram_rate(&ids("ab"), 3), 0.0);
        assert_eq!(repeated_ngram_rate(&ids("ab"), 0), 0.0);
        assert_eq!(repeated_ngram_rate(&[], 1), 0.0);
    }

    fn any_config() -> impl Strategy<Value = SamplingConfig> {
        use proptest::num::f32::ANY;
        (any::<bool>(), ANY, 0usize..6, ANY, ANY).prop_map(|(greedy, temperature, top_k, top_p, repetition_penalty)| {
            SamplingConfig { greedy, temperature, top_k, top_p, repetition_penalty }
        })
    }

    proptest! {
        /// Whatever the logits (NaN, ±Inf, huge) and settings, decoding returns a valid id and a
        /// proper distribution.
        #[test]
        fn decoding_never_panics(
            logits in proptest::collection::vec(proptest::num::f32::ANY, 0..8),
            recent in proptest::collection::vec(0u32..10, 0..6),
            cfg in any_config(),
            seed in any::<u64>(),
        ) {
            let id = sample_next(&logits, &recent, &cfg, &mut Rng::new(seed));
            prop_assert!((id as usize) < logits.len().max(1));
            let probs = next_token_probs(&logits, &recent, &cfg);
            prop_assert_eq!(probs.len(), logits.len());
            prop_assert!(probs.iter().all(|p| p.is_finite() && *p >= 0.0));
            if !logits.is_empty() {
                prop_assert!((probs.iter().sum::<f64>() - 1.0).abs() < 1e-9);
            }
        }

        /// Sampling with valid settings from finite logits only ever returns a token the
        /// distribution allows.
        #[test]
        fn samples_come_from_the_distribution(
            logits in proptest::collection::vec(-30.0f32..30.0, 1..10),
            top_k in 0usize..4,
            top_p in 0.05f32..=1.0,
            seed in any::<u64>(),
        ) {
            let cfg = SamplingConfig { top_k, top_p, ..SamplingConfig::default() };
            let probs = next_token_probs(&logits, &[], &cfg);
            let id = sample_next(&logits, &[], &cfg, &mut Rng::new(seed));
            prop_assert!(probs[id as usize] > 0.0);
        }
    }
}
