//! The guide's "Bisect" made a procedure: with several settings or faults changed from the defaults
//! and a symptom the detector names, runs of the learner's own length and seed try half of the changes
//! at a time, keeping the half that brings the symptom back, until one change is left.
//!
//! A change is a setting that differs from the defaults, or a fault together with the settings of its
//! scenario that the run also has (no-zero-grad with its clipping off, post-norm with its model and
//! rate): the fault's symptom is tested in that scenario, so they move together. The steps and the seed
//! are the learner's in every run, so each trial differs from the others only in the changes it tries.

use faultline_engine::faults::FaultId;
use faultline_engine::guide::EntryId;
use faultline_engine::settings::{Knob, SettingKey};
use faultline_engine::RunConfig;

/// One change from the defaults, tried or left out as a whole.
#[derive(Clone, Debug, PartialEq)]
pub struct Piece {
    pub knobs: Vec<Knob>,
    /// The change in words: `lr 0.05`, `the fault no-warmup with lr 0.05`.
    pub label: String,
}

/// One run of the bisection: the changes it tried and whether the symptom came back.
#[derive(Clone, Debug, PartialEq)]
pub struct Trial {
    pub pieces: Vec<usize>,
    pub symptom: Option<bool>,
}

/// Where a bisection stands.
#[derive(Clone, Debug, PartialEq)]
pub enum Next {
    /// Train this configuration and report whether the detector names the symptom.
    Run(Box<RunConfig>),
    /// This change alone brings the symptom back.
    Found(usize),
    /// Neither half alone brings it back: the symptom needs changes from both.
    Together(Vec<usize>),
}

/// A bisection of `run`'s changes for the symptom `symptom`.
#[derive(Clone, Debug, PartialEq)]
pub struct Bisect {
    pub symptom: EntryId,
    pub pieces: Vec<Piece>,
    pub path: Vec<Trial>,
    run: RunConfig,
    /// The pieces still suspected.
    suspects: Vec<usize>,
}

/// Settings kept from the learner's run in every trial rather than bisected.
const KEPT: [SettingKey; 2] = [SettingKey::Steps, SettingKey::Seed];

impl Bisect {
    /// The bisection of `run`'s changes from the defaults for `symptom`; `None` when there are fewer
    /// than two changes, which need no bisecting.
    pub fn new(run: &RunConfig, symptom: EntryId) -> Option<Bisect> {
        let pieces = pieces(run);
        (pieces.len() >= 2).then(|| Bisect {
            symptom,
            suspects: (0..pieces.len()).collect(),
            pieces,
            path: Vec::new(),
            run: run.clone(),
        })
    }

    /// The configuration with only `tried` of the pieces: the defaults, the learner's steps and seed,
    /// then each tried piece's values from the learner's run.
    pub fn config_with(&self, tried: &[usize]) -> RunConfig {
        let mut config = RunConfig::default();
        for key in KEPT {
            config.set(key, &self.run.get(key)).expect("the run's own value");
        }
        let knobs = tried.iter().flat_map(|&i| self.pieces[i].knobs.iter().copied());
        // The model first: choosing one resets the batch size.
        let (models, rest): (Vec<Knob>, Vec<Knob>) = knobs.partition(|k| *k == Knob::Setting(SettingKey::Config));
        for knob in models.into_iter().chain(rest) {
            match knob {
                Knob::Setting(key) => config.set(key, &self.run.get(key)).expect("the run's own value"),
                Knob::Fault(id) => {
                    let strength = self.run.faults.state(id).flatten();
                    config.faults.set(id, strength).expect("the run's own strength");
                }
            }
        }
        config
    }

    /// What to do next.
    pub fn next(&self) -> Next {
        if let [only] = self.suspects[..] {
            return Next::Found(only);
        }
        let (first, second) = self.suspects.split_at(self.suspects.len() / 2);
        match self.path.last() {
            Some(t) if t.pieces == first && t.symptom == Some(false) => Next::Run(Box::new(self.config_with(second))),
            Some(t) if t.pieces == second && t.symptom == Some(false) => Next::Together(self.suspects.clone()),
            _ => Next::Run(Box::new(self.config_with(first))),
        }
    }

    /// Records whether the run of `config` (the one [`Bisect::next`] asked for) showed the symptom.
    pub fn record(&mut self, findings: &[EntryId]) {
        let Next::Run(_) = self.next() else { return };
        let (first, second) = self.suspects.split_at(self.suspects.len() / 2);
        let (first, second) = (first.to_vec(), second.to_vec());
        let tried = match self.path.last() {
            Some(t) if t.pieces == first && t.symptom == Some(false) => second,
            _ => first,
        };
        let symptom = findings.contains(&self.symptom);
        self.path.push(Trial { pieces: tried.clone(), symptom: Some(symptom) });
        if symptom {
            self.suspects = tried;
        }
    }

    /// A trial's pieces in words.
    pub fn describe(&self, pieces: &[usize]) -> String {
        pieces.iter().map(|&i| self.pieces[i].label.as_str()).collect::<Vec<_>>().join(" + ")
    }
}

/// `run`'s changes from the defaults (but its steps and seed), a fault with the settings of its
/// scenario that the run shares.
pub fn pieces(run: &RunConfig) -> Vec<Piece> {
    let defaults = RunConfig::default();
    let mut settings: Vec<Knob> = defaults
        .differences(run)
        .into_iter()
        .filter(|k| matches!(k, Knob::Setting(key) if !KEPT.contains(key)))
        .collect();
    let mut out = Vec::new();
    for (id, _) in run.faults.active() {
        let scenario: Vec<Knob> = scenario_settings(id)
            .filter(|&(key, value)| run.get(key) == value_of(key, value))
            .map(|(key, _)| Knob::Setting(key))
            .filter(|k| settings.contains(k))
            .collect();
        settings.retain(|k| !scenario.contains(k));
        let with: Vec<String> = scenario.iter().map(|k| value_label(run, *k)).collect();
        let label = match with.as_slice() {
            [] => format!("the fault {id}"),
            with => format!("the fault {id} with {}", with.join(", ")),
        };
        out.push(Piece { knobs: std::iter::once(Knob::Fault(id)).chain(scenario).collect(), label });
    }
    out.extend(settings.into_iter().map(|k| Piece { knobs: vec![k], label: value_label(run, k) }));
    out
}

/// The settings of fault `id`'s scenario, with the values it gives them.
fn scenario_settings(id: FaultId) -> impl Iterator<Item = (SettingKey, &'static str)> {
    id.spec().scenario.settings.iter().copied()
}

/// A scenario's value as the run would spell it (`0.05` may be written `5e-2`).
fn value_of(key: SettingKey, value: &str) -> String {
    let mut config = RunConfig::default();
    match config.set(key, value) {
        Ok(()) => config.get(key),
        Err(_) => value.to_string(),
    }
}

fn value_label(run: &RunConfig, knob: Knob) -> String {
    match knob {
        Knob::Setting(key) => format!("{key} {}", run.get(key)),
        Knob::Fault(id) => format!("the fault {id}"),
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use crate::run_view::trained;

    fn config(pairs: &[(&str, &str)]) -> RunConfig {
        RunConfig::from_pairs(pairs.iter().copied()).unwrap()
    }

    #[test]
    fn a_fault_moves_with_its_scenario_and_other_settings_alone() {
        let run = config(&[("steps", "60"), ("seed", "3"), ("fault", "no-warmup"), ("lr", "0.05"), ("dropout", "0.1")]);
        let pieces = pieces(&run);
        let labels: Vec<&str> = pieces.iter().map(|p| p.label.as_str()).collect();
        assert_eq!(labels, ["the fault no-warmup with lr 0.05", "dropout 0.1"]);
        let b = Bisect::new(&run, EntryId::LossStopsDecreasing).unwrap();
        let only_dropout = b.config_with(&[1]);
        assert_eq!(
            (only_dropout.steps, only_dropout.seed, only_dropout.dropout, only_dropout.lr),
            (60, 3, 0.1, RunConfig::default().lr)
        );
        assert!(!only_dropout.faults.no_warmup);
        assert!(Bisect::new(&config(&[("steps", "60"), ("fault", "no-causal-mask")]), EntryId::LossStopsDecreasing)
            .is_none());
    }

    /// A real bisection: a run with a learning rate ×300, dropout and another weight decay shows the
    /// loss swinging; runs of its own 60 steps find the fault in at most two.
    #[test]
    fn real_runs_find_the_change_that_brings_the_symptom_back() {
        let run = config(&[("steps", "60"), ("fault", "lr-too-high"), ("dropout", "0.1"), ("weight-decay", "0.05")]);
        let symptom = EntryId::LossOscillatesWildly;
        assert!(trained(run.clone()).findings().iter().any(|f| f.entry == symptom), "the whole run shows it");
        let mut b = Bisect::new(&run, symptom).unwrap();
        let mut runs = 0;
        let found = loop {
            match b.next() {
                Next::Run(config) => {
                    assert_eq!((config.steps, config.seed), (60, 1), "the learner's length and seed");
                    let findings: Vec<EntryId> = trained(*config).findings().iter().map(|f| f.entry).collect();
                    b.record(&findings);
                    runs += 1;
                }
                Next::Found(piece) => break piece,
                Next::Together(pieces) => panic!("{} together", b.describe(&pieces)),
            }
        };
        assert_eq!(b.pieces[found].label, "the fault lr-too-high");
        assert!(runs <= 2, "{runs} runs: {:?}", b.path);
        assert_eq!(b.path[0].symptom, Some(true), "the first half holds the fault");
    }

    #[test]
    fn neither_half_alone_means_together() {
        let run = config(&[("steps", "60"), ("dropout", "0.1"), ("weight-decay", "0.05")]);
        let mut b = Bisect::new(&run, EntryId::LossOscillatesWildly).unwrap();
        b.record(&[]);
        assert!(matches!(b.next(), Next::Run(_)), "the second half next");
        b.record(&[]);
        assert_eq!(b.next(), Next::Together(vec![0, 1]));
        assert_eq!(b.describe(&[0, 1]), "weight-decay 0.05 + dropout 0.1");
    }
}
