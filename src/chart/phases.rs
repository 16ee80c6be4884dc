//! Where each step's time goes: data, forward, backward, optimiser and telemetry, averaged over runs of
//! consecutive steps so the chart stays readable however long the run.

use faultline_engine::{PhaseTimes, StepRecord};

/// The phases, in the order they are stacked.
pub const PHASES: [&str; 5] = ["data", "forward", "backward", "optimizer", "telemetry"];

fn phase_ms(t: &PhaseTimes) -> [f64; 5] {
    [t.data_ms, t.forward_ms, t.backward_ms, t.optimizer_ms, t.telemetry_ms]
}

/// Mean milliseconds per step of each phase over steps `first..=last`.
#[derive(Clone, Debug, PartialEq)]
pub struct PhaseBar {
    pub first: usize,
    pub last: usize,
    pub ms: [f64; 5],
}

impl PhaseBar {
    pub fn total(&self) -> f64 {
        self.ms.iter().sum()
    }

    /// The readout for this bar.
    pub fn describe(&self) -> String {
        let steps = if self.first == self.last {
            format!("step {}", self.first)
        } else {
            format!("steps {}–{}", self.first, self.last)
        };
        let parts: Vec<String> = PHASES.iter().zip(self.ms).map(|(name, ms)| format!("{name} {ms:.1}")).collect();
        format!("{steps}: {:.1} ms per step ({} ms)", self.total(), parts.join(", "))
    }
}

/// The step records averaged into at most `max_bars` bars of equally many steps.
pub fn phase_bars(steps: &[StepRecord], max_bars: usize) -> Vec<PhaseBar> {
    let per_bar = steps.len().div_ceil(max_bars.max(1)).max(1);
    steps
        .chunks(per_bar)
        .map(|chunk| {
            let mut ms = [0.0; 5];
            for r in chunk {
                for (sum, v) in ms.iter_mut().zip(phase_ms(&r.times)) {
                    *sum += v;
                }
            }
            let n = chunk.len() as f64;
            ms.iter_mut().for_each(|m| *m /= n);
            PhaseBar { first: chunk[0].step, last: chunk[chunk.len() - 1].step, ms }
        })
        .collect()
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use crate::protocol::test_support::step_record;

    fn timed(step: usize, forward_ms: f64) -> StepRecord {
        let times = PhaseTimes { data_ms: 1.0, forward_ms, backward_ms: 4.0, optimizer_ms: 0.5, telemetry_ms: 0.0 };
        StepRecord { times, ..step_record(step, 3.0) }
    }

    #[test]
    fn bars_average_consecutive_steps() {
        let steps: Vec<StepRecord> = (1..=5).map(|s| timed(s, s as f64)).collect();
        let bars = phase_bars(&steps, 2);
        assert_eq!(bars.len(), 2);
        assert_eq!((bars[0].first, bars[0].last, bars[0].ms[1]), (1, 3, 2.0));
        assert_eq!((bars[1].first, bars[1].last, bars[1].ms[1]), (4, 5, 4.5));
        assert_eq!(bars[1].total(), 1.0 + 4.5 + 4.0 + 0.5);
        assert_eq!(
            bars[1].describe(),
            "steps 4–5: 10.0 ms per step (data 1.0, forward 4.5, backward 4.0, optimizer 0.5, telemetry 0.0 ms)"
        );
        assert_eq!(phase_bars(&steps, 10).len(), 5);
        assert!(phase_bars(&[], 10).is_empty());
    }
}
