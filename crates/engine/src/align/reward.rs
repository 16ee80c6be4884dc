//! A learned reward model, small enough to read, with the blind spots real ones have.
//!
//! Each model scores a response by its token bigrams: `r(prompt, response) = Σ w[a, b]` over the
//! adjacent pairs `(a, b)` of the prompt's last token followed by the response. It is trained on
//! preference pairs with the Bradley–Terry loss `−log σ(r(chosen) − r(rejected))` and an L2 penalty,
//! by full-batch gradient descent in f64 on the host.
//!
//! It ranks held-out pairs well, and it is still a proxy, blind in two ways the policy can find:
//!
//! - **Length.** A chosen answer and its rejected twin are equally long ([`super::preference`]), so
//!   no pair ever tells the model what a longer answer is worth; the score is a sum, so an answer
//!   made longer with bigrams it likes scores higher, right or wrong.
//! - **Chance.** With few pairs, a bigram that happened to sit in a chosen answer more often than in
//!   a rejected one carries weight it has not earned. Models trained on other draws of pairs do not
//!   share that accident, which is what an ensemble scored by its minimum exploits.
//!
//! Neither model sees whether the answer fits its prompt beyond the prompt's last token: sorting's
//! "the same letters" and arithmetic's "the right sum" are out of its reach.

use crate::telemetry::align::{RewardEpochRecord, RewardModelRecord};

/// Epochs of full-batch gradient descent per model.
pub const EPOCHS: usize = 60;
/// Step size of the descent (the loss is mean over pairs, the features are counts).
const LEARNING_RATE: f64 = 40.0;
/// L2 penalty `λ/2 · |w|²` on the weights.
const L2: f64 = 1e-3;

/// A preference pair as token ids: the prompt's last token, then the two responses.
#[derive(Clone, Debug, PartialEq)]
pub struct PairIds {
    pub prompt_last: u32,
    pub chosen: Vec<u32>,
    pub rejected: Vec<u32>,
}

/// One bigram reward model over a vocabulary.
#[derive(Clone, Debug, PartialEq)]
pub struct RewardModel {
    vocab: usize,
    /// `w[a·vocab + b]`: the worth of token `b` right after token `a`.
    weights: Vec<f64>,
}

impl RewardModel {
    /// The score of `response` after a prompt ending in `prompt_last`.
    pub fn score(&self, prompt_last: u32, response: &[u32]) -> f64 {
        let total: f64 = self.bigrams(prompt_last, response).map(|i| self.weights[i]).sum();
        total / response.len().max(1) as f64
    }

    /// Trains a model on `pairs`, measuring its accuracy on `held_out` after each epoch.
    pub fn train(vocab: usize, pairs: &[PairIds], held_out: &[PairIds]) -> (RewardModel, RewardModelRecord) {
        let mut model = RewardModel { vocab, weights: vec![0.0; vocab * vocab] };
        // Each pair's feature difference φ(chosen) − φ(rejected), sparse.
        let diffs: Vec<Vec<(usize, f64)>> = pairs.iter().map(|p| model.difference(p)).collect();
        let mut record = RewardModelRecord { epochs: Vec::with_capacity(EPOCHS), pairs: pairs.len() };
        let n = pairs.len().max(1) as f64;
        for epoch in 1..=EPOCHS {
            let mut grad: Vec<f64> = model.weights.iter().map(|w| L2 * w).collect();
            let mut loss = 0.0;
            for diff in &diffs {
                let margin: f64 = diff.iter().map(|&(i, d)| model.weights[i] * d).sum();
                loss += softplus(-margin);
                let slope = -sigmoid(-margin); // ∂ softplus(−m) / ∂m
                for &(i, d) in diff {
                    grad[i] += slope * d / n;
                }
            }
            for (w, g) in model.weights.iter_mut().zip(&grad) {
                *w -= LEARNING_RATE * g;
            }
            record.epochs.push(RewardEpochRecord {
                epoch,
                loss: (loss / n) as f32,
                held_out_accuracy: model.accuracy(held_out) as f32,
            });
        }
        (model, record)
    }

    /// Share of `pairs` whose chosen response scores strictly higher (0 for none).
    pub fn accuracy(&self, pairs: &[PairIds]) -> f64 {
        ranked_right(pairs, |last, response| self.score(last, response))
    }

    /// Indices of the bigrams of the prompt's last token followed by `response`.
    fn bigrams<'a>(&self, prompt_last: u32, response: &'a [u32]) -> impl Iterator<Item = usize> + 'a {
        let vocab = self.vocab;
        std::iter::once(prompt_last)
            .chain(response.iter().copied())
            .zip(response.iter().copied())
            .map(move |(a, b)| a as usize * vocab + b as usize)
            .filter(move |&i| i < vocab * vocab)
    }

    /// `φ(chosen) − φ(rejected)` as (index, count) with the zero counts left out.
    fn difference(&self, p: &PairIds) -> Vec<(usize, f64)> {
        let mut counts = std::collections::BTreeMap::<usize, f64>::new();
        for (response, sign) in [(&p.chosen, 1.0), (&p.rejected, -1.0)] {
            let share = sign / response.len().max(1) as f64;
            for i in self.bigrams(p.prompt_last, response) {
                *counts.entry(i).or_default() += share;
            }
        }
        counts.into_iter().filter(|&(_, c)| c != 0.0).collect()
    }
}

/// Several reward models, each trained on its own draw of pairs; a response's reward is the lowest
/// of their scores, so a weight one model learned by chance earns nothing unless every model
/// learned it.
#[derive(Clone, Debug, PartialEq)]
pub struct RewardEnsemble {
    pub models: Vec<RewardModel>,
}

impl RewardEnsemble {
    pub fn score(&self, prompt_last: u32, response: &[u32]) -> f64 {
        self.models.iter().map(|m| m.score(prompt_last, response)).fold(f64::INFINITY, f64::min)
    }

    /// Share of `pairs` the ensemble's score ranks right.
    pub fn accuracy(&self, pairs: &[PairIds]) -> f64 {
        ranked_right(pairs, |last, response| self.score(last, response))
    }
}

/// Share of `pairs` whose chosen response `score` puts strictly above the rejected one (0 for none).
fn ranked_right(pairs: &[PairIds], score: impl Fn(u32, &[u32]) -> f64) -> f64 {
    let right = pairs.iter().filter(|p| score(p.prompt_last, &p.chosen) > score(p.prompt_last, &p.rejected));
    right.count() as f64 / pairs.len().max(1) as f64
}

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// `log(1 + eˣ)`, without overflow.
fn softplus(x: f64) -> f64 {
    x.max(0.0) + (-x.abs()).exp().ln_1p()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair(prompt_last: u32, chosen: &[u32], rejected: &[u32]) -> PairIds {
        PairIds { prompt_last, chosen: chosen.to_vec(), rejected: rejected.to_vec() }
    }

    /// Ascending bigrams chosen over descending ones: the model learns to rank them, on pairs it
    /// never saw too.
    #[test]
    fn learns_the_preference_and_generalises() {
        let train = [pair(3, &[0, 1, 2], &[1, 0, 2]), pair(3, &[1, 2, 3], &[2, 1, 3]), pair(3, &[0, 2, 3], &[2, 0, 3])];
        let held_out = [pair(3, &[0, 1, 3], &[1, 0, 3])];
        let (model, record) = RewardModel::train(4, &train, &held_out);
        assert_eq!(record.epochs.len(), EPOCHS);
        let (first, last) = (&record.epochs[0], record.epochs.last().unwrap());
        assert!(last.loss < first.loss * 0.5, "loss {} -> {}", first.loss, last.loss);
        assert_eq!(model.accuracy(&train), 1.0);
        assert_eq!(last.held_out_accuracy, 1.0);
    }

    /// No pair shows a response made of one liked bigram over and over, and the score, a mean,
    /// ranks that degenerate response above the chosen answer it learned from.
    #[test]
    fn repeating_a_liked_bigram_outscores_the_answers_it_learned_from() {
        let train = [pair(2, &[0, 0, 1], &[0, 1, 1])];
        let (model, _) = RewardModel::train(3, &train, &[]);
        assert!(model.score(2, &[0, 0, 1]) > model.score(2, &[0, 1, 1]));
        let degenerate = model.score(2, &[0, 0, 0, 0, 0, 0]);
        assert!(degenerate > model.score(2, &[0, 0, 1]), "{degenerate}");
    }

    /// The minimum of an ensemble gives no credit for a bigram only one member likes.
    #[test]
    fn an_ensemble_scores_by_its_least_convinced_member() {
        let (a, _) = RewardModel::train(3, &[pair(2, &[0, 1], &[0, 2])], &[]);
        let (b, _) = RewardModel::train(3, &[pair(2, &[0, 2], &[0, 1])], &[]);
        let ensemble = RewardEnsemble { models: vec![a.clone(), b.clone()] };
        for response in [[0u32, 1], [0, 2]] {
            let lowest = a.score(2, &response).min(b.score(2, &response));
            assert_eq!(ensemble.score(2, &response), lowest);
        }
        assert!(a.score(2, &[0, 1]) > ensemble.score(2, &[0, 1]));
    }
}
