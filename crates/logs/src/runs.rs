//! The runs a read builds, holding every reader to the same step rules.

use faultline_telemetry::log::{LoggedRun, Point, Series, Signal};
use std::collections::HashMap;

/// Every run the files of one read hold, by name: files naming the same run add to it.
#[derive(Default)]
pub(crate) struct Runs {
    runs: Vec<RunBuilder>,
    by_name: HashMap<String, usize>,
}

impl Runs {
    /// The index of the run called `name`, begun where needed.
    pub(crate) fn index(&mut self, name: &str) -> usize {
        if let Some(&index) = self.by_name.get(name) {
            return index;
        }
        self.runs.push(RunBuilder::new(name));
        self.by_name.insert(name.to_string(), self.runs.len() - 1);
        self.runs.len() - 1
    }

    /// The run at `index` (from [`Runs::index`]).
    pub(crate) fn run(&mut self, index: usize) -> &mut RunBuilder {
        &mut self.runs[index]
    }

    /// The run called `name`, begun where needed.
    pub(crate) fn named(&mut self, name: &str) -> &mut RunBuilder {
        let index = self.index(name);
        self.run(index)
    }

    /// How many points all the runs hold.
    pub(crate) fn points(&self) -> usize {
        self.runs.iter().map(|run| run.points).sum()
    }

    /// The runs in the order they were begun, each with the series that got a point; runs with none
    /// are left out.
    pub(crate) fn finish(self) -> Vec<LoggedRun> {
        self.runs
            .into_iter()
            .map(|run| LoggedRun {
                name: run.name,
                series: run.series.into_iter().filter(|s| !s.points.is_empty()).collect(),
            })
            .filter(|run| !run.series.is_empty())
            .collect()
    }
}

/// One run being read: its series, and which series each scalar name a log uses goes to.
pub(crate) struct RunBuilder {
    name: String,
    series: Vec<Series>,
    /// Scalar names as the log spells them (several may mean one signal: `loss`, `train/loss`).
    by_key: HashMap<String, usize>,
    by_signal: HashMap<Signal, usize>,
    points: usize,
}

impl RunBuilder {
    fn new(name: &str) -> RunBuilder {
        RunBuilder {
            name: name.to_string(),
            series: Vec::new(),
            by_key: HashMap::new(),
            by_signal: HashMap::new(),
            points: 0,
        }
    }

    /// The series the scalar called `key` goes to ([`Signal::from_name`]), for [`RunBuilder::push`].
    pub(crate) fn slot(&mut self, key: &str) -> usize {
        if let Some(&slot) = self.by_key.get(key) {
            return slot;
        }
        let signal = Signal::from_name(key);
        let slot = match self.by_signal.get(&signal) {
            Some(&slot) => slot,
            None => {
                self.series.push(Series { signal: signal.clone(), points: Vec::new() });
                self.by_signal.insert(signal, self.series.len() - 1);
                self.series.len() - 1
            }
        };
        self.by_key.insert(key.to_string(), slot);
        slot
    }

    /// Adds `value` at `step` to the series at `slot`. The step must come after the series' last one;
    /// the last step again with the very same value is the same record logged twice, and counts once.
    pub(crate) fn push(&mut self, slot: usize, step: u64, value: f32) -> Result<(), String> {
        let series = &mut self.series[slot];
        if let Some(last) = series.points.last() {
            let same = last.value.to_bits() == value.to_bits() || (last.value.is_nan() && value.is_nan());
            if step == last.step && same {
                return Ok(());
            }
            if step == last.step {
                return Err(format!(
                    "step {step} of `{}` is logged twice, with different values",
                    series.signal.name()
                ));
            }
            if step < last.step {
                return Err(format!(
                    "step {step} of `{}` comes after step {}: steps must increase",
                    series.signal.name(),
                    last.step
                ));
            }
        }
        series.points.push(Point { step, value });
        self.points += 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_of_one_signal_share_a_series_and_steps_must_increase() {
        let mut runs = Runs::default();
        let run = runs.named("a");
        let loss = run.slot("loss");
        assert_eq!(run.slot("train/loss"), loss);
        assert_ne!(run.slot("eval_loss"), loss);
        run.push(loss, 1, 3.0).unwrap();
        run.push(loss, 2, f32::NAN).unwrap();
        run.push(loss, 2, f32::NAN).unwrap();
        assert_eq!(run.push(loss, 2, 1.0), Err("step 2 of `loss` is logged twice, with different values".into()));
        assert_eq!(run.push(loss, 1, 1.0), Err("step 1 of `loss` comes after step 2: steps must increase".into()));
        assert_eq!(runs.points(), 2);
        runs.named("b");
        let finished = runs.finish();
        assert_eq!(finished.len(), 1, "a run without points is left out");
        assert_eq!(finished[0].series.len(), 1, "a series without points is left out");
        assert_eq!(finished[0].series[0].points.len(), 2);
    }
}
