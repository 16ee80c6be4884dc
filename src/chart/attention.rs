//! One attention map as a heatmap: row i is where query position i looks, column j the key position it
//! looks at. In a causal model everything above the diagonal (j > i) must be exactly zero.

use faultline_engine::telemetry::AttentionMaps;

/// The map of one layer and head of an evaluation, with what the page says about it.
#[derive(Clone, Debug, PartialEq)]
pub struct HeatMap {
    pub step: usize,
    pub layer: usize,
    pub head: usize,
    pub time: usize,
    pub tokens: Vec<String>,
    /// `time × time`, row-major.
    pub probs: Vec<f32>,
}

impl HeatMap {
    /// The map of `layer`/`head` (clamped to the ones that exist); `None` when `maps` holds none.
    pub fn of(maps: &AttentionMaps, step: usize, layer: usize, head: usize) -> Option<Self> {
        if maps.probs.is_empty() || maps.layers == 0 || maps.heads == 0 || maps.time == 0 {
            return None;
        }
        let (layer, head) = (layer.min(maps.layers - 1), head.min(maps.heads - 1));
        Some(Self {
            step,
            layer,
            head,
            time: maps.time,
            tokens: maps.tokens.clone(),
            probs: maps.map(layer, head).to_vec(),
        })
    }

    pub fn at(&self, row: usize, col: usize) -> f32 {
        self.probs[row * self.time + col]
    }

    /// Mean attention each query row puts on later positions (0 in a causal model).
    pub fn above_diagonal(&self) -> f32 {
        let t = self.time;
        let total: f32 = (0..t).map(|i| self.probs[i * t + i + 1..(i + 1) * t].iter().sum::<f32>()).sum();
        total / t as f32
    }

    /// Mean entropy of the rows, in nats.
    pub fn entropy(&self) -> f32 {
        let t = self.time;
        let total: f32 =
            self.probs.chunks(t).map(|row| -row.iter().filter(|&&p| p > 0.0).map(|&p| p * p.ln()).sum::<f32>()).sum();
        (total / t as f32).max(0.0)
    }

    /// The cell under (x, y) in map coordinates (x: key position, y: query position, both 0..time).
    pub fn cell_at(&self, x: f64, y: f64) -> Option<(usize, usize)> {
        let t = self.time as f64;
        ((0.0..t).contains(&x) && (0.0..t).contains(&y)).then_some((y as usize, x as usize))
    }

    /// The readout for one cell.
    pub fn describe(&self, row: usize, col: usize) -> String {
        let label = |i: usize| self.tokens.get(i).map(String::as_str).unwrap_or("?");
        let mut text = format!("query {row} '{}' → key {col} '{}': {:.3}", label(row), label(col), self.at(row, col));
        if col > row {
            text.push_str(" (a later position: a causal model gives it 0)");
        }
        text
    }

    /// One sentence about the whole map, in numbers.
    pub fn summary(&self) -> String {
        let uniform = (1..=self.time).map(|n| (n as f32).ln()).sum::<f32>() / self.time as f32;
        format!(
            "Layer {}, head {} at step {}: {:.1}% of attention on later positions; mean row entropy {:.2} nats \
             (uniform over the visible positions: {uniform:.2}).",
            self.layer,
            self.head,
            self.step,
            self.above_diagonal() * 100.0,
            self.entropy()
        )
    }
}

/// The colour of a cell with probability `p`: white for 0, deep blue for 1 (square-root scaled, so
/// small weights still show).
pub fn cell_color(p: f32) -> (u8, u8, u8) {
    let t = p.clamp(0.0, 1.0).sqrt();
    let mix = |from: f32, to: f32| (from + (to - from) * t).round() as u8;
    (mix(255.0, 23.0), mix(255.0, 56.0), mix(255.0, 160.0))
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;

    fn maps(probs: Vec<f32>, time: usize) -> AttentionMaps {
        AttentionMaps {
            layers: 1,
            heads: probs.len() / (time * time),
            time,
            tokens: (0..time).map(|i| format!("t{i}")).collect(),
            probs,
        }
    }

    #[test]
    fn a_causal_map_has_nothing_above_the_diagonal() {
        let causal = maps(vec![1.0, 0.0, 0.5, 0.5], 2);
        let h = HeatMap::of(&causal, 10, 0, 0).unwrap();
        assert_eq!(h.above_diagonal(), 0.0);
        assert!((h.entropy() - 0.5 * 2f32.ln()).abs() < 1e-6);
        let leaky = maps(vec![0.0, 1.0, 0.5, 0.5], 2);
        let h = HeatMap::of(&leaky, 10, 0, 0).unwrap();
        assert_eq!(h.above_diagonal(), 0.5);
        assert!(h.describe(0, 1).ends_with("(a later position: a causal model gives it 0)"));
        assert_eq!(h.describe(1, 0), "query 1 't1' → key 0 't0': 0.500");
        assert!(h.summary().contains("50.0% of attention on later positions"), "{}", h.summary());
    }

    #[test]
    fn picks_the_head_and_clamps_out_of_range_choices() {
        let two_heads = maps(vec![1.0, 0.0, 1.0, 0.0, 0.0, 1.0, 0.0, 1.0], 2);
        assert_eq!(HeatMap::of(&two_heads, 1, 0, 1).unwrap().probs, [0.0, 1.0, 0.0, 1.0]);
        assert_eq!(HeatMap::of(&two_heads, 1, 5, 9).unwrap().head, 1);
        assert!(HeatMap::of(&maps(Vec::new(), 2), 1, 0, 0).is_none());
        let h = HeatMap::of(&two_heads, 1, 0, 0).unwrap();
        assert_eq!(h.cell_at(1.5, 0.2), Some((0, 1)));
        assert_eq!(h.cell_at(2.0, 0.0), None);
    }

    #[test]
    fn colours_run_from_white_to_blue() {
        assert_eq!(cell_color(0.0), (255, 255, 255));
        assert_eq!(cell_color(1.0), (23, 56, 160));
        assert_eq!(cell_color(2.0), cell_color(1.0));
    }
}
