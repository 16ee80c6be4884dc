//! The last runs, kept so that any two can be drawn on the same charts: each run as a compact record
//! (its settings in a line, how it ended, its final losses, the detector's top finding and its curves
//! thinned to at most [`CURVE_POINTS`] points), stored in the browser's localStorage as JSON under a
//! versioned key. Reading never fails: text that cannot be read is set aside with a notice and the
//! history starts afresh.

use crate::run_view::{RunState, RunView};
use crate::stored::read_versioned;
use faultline_engine::backend::BackendKind;
use faultline_engine::settings::SettingKey;
use faultline_engine::EvalRecord;
use serde::{Deserialize, Serialize};

/// The localStorage key.
pub const STORAGE_KEY: &str = "faultline.history.v1";
/// Where text that could not be read is kept, so a reset loses nothing.
pub const UNREADABLE_KEY: &str = "faultline.history.v1.unreadable";
/// The format this build writes.
pub const VERSION: u32 = 1;
/// Runs kept; the oldest goes first.
pub const KEPT: usize = 8;
/// The most points each kept curve has.
pub const CURVE_POINTS: usize = 1000;
/// Runs with fewer steps than this are not kept.
pub const MIN_STEPS: usize = 10;
/// Runs that can be compared at once.
pub const COMPARED: usize = 2;

/// How a kept run ended.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "kebab-case")]
pub enum End {
    Finished,
    /// A NaN or Inf stopped it; the first tensor found holding one.
    Stopped {
        step: usize,
        tensor: String,
    },
    /// It was paused or still training when a new run replaced it.
    Paused,
    Failed {
        message: String,
    },
}

impl End {
    /// The `data-end` of its row.
    pub fn as_str(&self) -> &'static str {
        match self {
            End::Finished => "finished",
            End::Stopped { .. } => "stopped",
            End::Paused => "paused",
            End::Failed { .. } => "failed",
        }
    }

    /// How the Runs panel says it.
    pub fn describe(&self) -> String {
        match self {
            End::Finished => "finished".to_string(),
            End::Stopped { step, tensor } => format!("stopped at step {step}: NaN/Inf in {tensor}"),
            End::Paused => "left unfinished".to_string(),
            End::Failed { message } => format!("failed: {message}"),
        }
    }
}

/// A curve: (step, value), finite values only.
pub type Curve = Vec<(u32, f32)>;

/// The curves the charts can overlay, each thinned to at most [`CURVE_POINTS`] points.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Curves {
    /// Each step's batch loss.
    pub train: Curve,
    /// Each evaluation's validation loss.
    pub val: Curve,
    /// Each step's gradient norm over all parameters, before clipping.
    pub grad_norm: Curve,
    /// Each evaluation's share of dead MLP units, averaged over the blocks.
    pub dead: Curve,
    /// Each evaluation's median ‖Δw‖/‖w‖ over all weight matrices.
    pub update: Curve,
}

/// One kept run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    /// Unique within the history, counting up.
    pub id: u64,
    /// Corpus, preset, the faults on, seed and learning rate.
    pub label: String,
    pub end: End,
    pub steps: usize,
    pub train_loss: Option<f32>,
    pub val_loss: Option<f32>,
    /// The title of the detector's most likely guide entry.
    pub finding: Option<String>,
    /// No fault on, nothing diagnosed, no NaN and no error: the default run to compare with.
    pub healthy: bool,
    pub curves: Curves,
    /// The run's settings and faults as a link writes them; none for a run kept under a name.
    #[serde(default)]
    pub settings: Option<Vec<(String, String)>>,
    /// Where it computed (a GPU is not bit-identical to the CPU); none for runs kept before it was.
    #[serde(default)]
    pub backend_kind: Option<BackendKind>,
}

impl RunRecord {
    /// The record of `view`'s run under `id`; `None` for a run of fewer than [`MIN_STEPS`] steps. A run
    /// `hidden_as` a name (a mystery round's) is kept under that name, without its settings or finding.
    pub fn from_view(id: u64, view: &RunView, hidden_as: Option<&str>) -> Option<Self> {
        let config = view.config.as_ref().filter(|_| view.steps.len() >= MIN_STEPS)?;
        let faults: Vec<&str> = config.faults.active().into_iter().map(|(id, _)| id.as_str()).collect();
        let faults = if faults.is_empty() { "no fault".to_string() } else { faults.join(" + ") };
        let label = format!(
            "{} · {} · {faults} · seed {} · lr {}",
            config.get(SettingKey::Corpus),
            config.get(SettingKey::Config),
            config.get(SettingKey::Seed),
            config.get(SettingKey::Lr)
        );
        let end = match (view.state, &view.stop) {
            (_, Some(stop)) => End::Stopped { step: stop.step, tensor: stop.tensor.clone() },
            (RunState::Finished, None) => End::Finished,
            (RunState::Error, None) => End::Failed { message: view.message.clone().unwrap_or_default() },
            _ => End::Paused,
        };
        let healthy = view.is_fault_free() && view.findings().is_empty() && matches!(end, End::Finished | End::Paused);
        let finding = view.findings().first().filter(|_| hidden_as.is_none());
        let finding = finding.map(|f| f.entry.title().to_string());
        let label = hidden_as.map_or(label, str::to_string);
        let per_step = |value: fn(&faultline_engine::StepRecord) -> f32| -> Curve {
            thin(&view.steps.iter().map(|r| (r.step as u32, value(r))).collect::<Vec<_>>(), CURVE_POINTS)
        };
        let per_eval = |value: fn(&EvalRecord) -> Option<f32>| -> Curve {
            thin(&view.evals.iter().filter_map(|e| Some((e.step as u32, value(e)?))).collect::<Vec<_>>(), CURVE_POINTS)
        };
        let curves = Curves {
            train: per_step(|r| r.loss),
            val: per_eval(|e| e.val_loss),
            grad_norm: per_step(|r| r.grad_norm),
            dead: per_eval(EvalRecord::mean_dead_fraction),
            update: per_eval(|e| e.median_update_ratio(|_| true)),
        };
        Some(Self {
            id,
            label,
            end,
            steps: view.steps_done,
            train_loss: view.last_train_loss().filter(|l| l.is_finite()),
            val_loss: view.last_val_loss().filter(|l| l.is_finite()),
            finding,
            healthy,
            curves,
            settings: hidden_as.is_none().then(|| config.to_pairs()),
            backend_kind: view.info.as_ref().map(|i| i.backend_kind),
        })
    }

    /// How the charts' legends name it.
    pub fn name(&self) -> String {
        format!("run {}", self.id)
    }
}

/// `points` with the non-finite values left out, thinned to at most `max_points` (at least 4): the first
/// and last points stay, and each stretch between keeps its lowest and highest point, so spikes survive.
pub fn thin(points: &[(u32, f32)], max_points: usize) -> Curve {
    let finite: Curve = points.iter().copied().filter(|p| p.1.is_finite()).collect();
    let max_points = max_points.max(4);
    if finite.len() <= max_points {
        return finite;
    }
    let inner = &finite[1..finite.len() - 1];
    let per_stretch = inner.len().div_ceil((max_points - 2) / 2);
    let mut out = vec![finite[0]];
    for stretch in inner.chunks(per_stretch) {
        let low = (0..stretch.len()).min_by(|&a, &b| stretch[a].1.total_cmp(&stretch[b].1)).unwrap_or(0);
        let high = (0..stretch.len()).max_by(|&a, &b| stretch[a].1.total_cmp(&stretch[b].1)).unwrap_or(0);
        out.push(stretch[low.min(high)]);
        if low != high {
            out.push(stretch[low.max(high)]);
        }
    }
    out.push(finite[finite.len() - 1]);
    out
}

/// A run the learner picked to compare.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pick {
    /// The run on the page now.
    Live,
    /// A kept run, by id.
    Past(u64),
}

/// Picks or unpicks `pick`; a third pick replaces the earliest.
pub fn toggle(picks: &mut Vec<Pick>, pick: Pick) {
    if let Some(at) = picks.iter().position(|&p| p == pick) {
        picks.remove(at);
        return;
    }
    picks.push(pick);
    if picks.len() > COMPARED {
        picks.remove(0);
    }
}

/// What the charts draw: the run on the page (unless two kept runs were picked) and the kept runs over it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Comparison {
    pub live: bool,
    /// At most [`COMPARED`] runs, in the order picked.
    pub runs: Vec<RunRecord>,
}

/// The learner's runs, newest first.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct KeptRuns {
    pub version: u32,
    /// The id the next kept run gets.
    pub next_id: u64,
    pub runs: Vec<RunRecord>,
}

impl Default for KeptRuns {
    fn default() -> Self {
        Self { version: VERSION, next_id: 1, runs: Vec::new() }
    }
}

impl KeptRuns {
    /// Keeps `view`'s run (when it is long enough; `hidden_as` as in [`RunRecord::from_view`]) as the
    /// newest, forgetting the oldest beyond [`KEPT`]; returns its id.
    pub fn add(&mut self, view: &RunView, hidden_as: Option<&str>) -> Option<u64> {
        let record = RunRecord::from_view(self.next_id, view, hidden_as)?;
        self.next_id += 1;
        self.runs.insert(0, record);
        self.runs.truncate(KEPT);
        Some(self.next_id - 1)
    }

    pub fn get(&self, id: u64) -> Option<&RunRecord> {
        self.runs.iter().find(|r| r.id == id)
    }

    /// The runs to draw for `picks`. With nothing picked: the page's run and the newest healthy kept run
    /// other than `on_page` (the record of the run the page shows). One pick of a kept run is compared
    /// with the page's run; two kept runs are drawn without it. Picks of forgotten runs are skipped.
    pub fn comparison(&self, picks: &[Pick], on_page: Option<u64>) -> Comparison {
        if picks.is_empty() {
            let ghost = self.runs.iter().find(|r| r.healthy && Some(r.id) != on_page);
            return Comparison { live: true, runs: ghost.cloned().into_iter().collect() };
        }
        let runs: Vec<RunRecord> = picks
            .iter()
            .filter_map(|p| match p {
                Pick::Live => None,
                Pick::Past(id) => self.get(*id).cloned(),
            })
            .collect();
        Comparison { live: picks.contains(&Pick::Live) || runs.len() < COMPARED, runs }
    }

    /// Stores the history with `store` (which answers whether the text was accepted), forgetting the
    /// oldest runs until it fits; returns how many were forgotten.
    pub fn store_fitting(&mut self, mut store: impl FnMut(&str) -> bool) -> usize {
        let mut dropped = 0;
        while !store(&self.to_json()) {
            if self.runs.pop().is_none() {
                break;
            }
            dropped += 1;
        }
        dropped
    }

    /// The history stored as `text` (`None`: nothing stored), and a notice when it could not be used.
    pub fn load(text: Option<&str>) -> (KeptRuns, Option<String>) {
        let Some(text) = text else { return (KeptRuns::default(), None) };
        let reset = |why: &str| {
            let notice = format!(
                "Your kept runs {why}, so the list starts afresh (the old text is kept under {UNREADABLE_KEY})."
            );
            (KeptRuns::default(), Some(notice))
        };
        match read_versioned::<KeptRuns>(text, VERSION) {
            Ok(kept) => (kept, None),
            Err(why) => reset(&why.why("were")),
        }
    }

    /// The text to store.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use crate::protocol::test_support::{eval_record, step_record};
    use crate::run_view::StopPoint;
    use faultline_engine::diagnosis::Finding;
    use faultline_engine::faults::FaultId;
    use faultline_engine::guide::EntryId;
    use faultline_engine::RunConfig;

    fn run(steps: usize, state: RunState) -> RunView {
        let mut v = RunView::starting(1, RunConfig::default());
        v.state = state;
        v.steps = (1..=steps).map(|s| step_record(s, 4.0 - s as f32 * 0.01)).collect();
        v.steps_done = steps;
        v.evals.push(eval_record(steps, 3.5, Some(3.7), None));
        v
    }

    #[test]
    fn a_kept_run_says_what_it_was_and_how_it_ended() {
        let r = RunRecord::from_view(7, &run(20, RunState::Finished), None).expect("long enough");
        assert_eq!(r.label, "toy-english · tiny · no fault · seed 1 · lr 0.003");
        assert_eq!((r.id, r.end.clone(), r.steps, r.healthy), (7, End::Finished, 20, true));
        assert_eq!((r.train_loss, r.val_loss), (Some(4.0 - 20.0 * 0.01), Some(3.7)));
        assert_eq!(r.curves.train.len(), 20);
        assert_eq!(r.curves.val, [(20, 3.7)]);
        assert!(RunRecord::from_view(1, &run(MIN_STEPS - 1, RunState::Finished), None).is_none());

        let mut stopped = run(12, RunState::Stopped);
        stopped.config.as_mut().unwrap().faults.set(FaultId::NoCausalMask, None).unwrap();
        stopped.stop = Some(StopPoint { step: 12, tensor: "logits".into() });
        stopped.steps[11].loss = f32::NAN;
        let finding = Finding { entry: EntryId::LossBecomesNan, confidence: 1.0, first_step: None, evidence: vec![] };
        stopped.diagnosis = Some(crate::run_view::Diagnosis {
            step: 12,
            vocab_size: 40,
            findings: vec![finding],
            watching: Vec::new(),
        });
        let r = RunRecord::from_view(2, &stopped, None).unwrap();
        assert!(r.label.contains(FaultId::NoCausalMask.as_str()) && !r.healthy);
        assert_eq!(r.end.describe(), "stopped at step 12: NaN/Inf in logits");
        assert_eq!(r.train_loss, None, "a NaN loss is not kept as a number");
        assert_eq!(r.curves.train.len(), 11);
        let title = Some(EntryId::LossBecomesNan.title().to_string());
        assert!(title.is_some() && r.finding == title);
        assert_eq!(RunRecord::from_view(3, &run(15, RunState::Running), None).unwrap().end, End::Paused);
        let mystery = RunRecord::from_view(4, &stopped, Some("mystery run #20")).unwrap();
        assert_eq!((mystery.label.as_str(), mystery.finding), ("mystery run #20", None), "a mystery keeps its secret");
    }

    #[test]
    fn the_newest_come_first_and_the_oldest_go() {
        let mut h = KeptRuns::default();
        for _ in 0..KEPT + 2 {
            h.add(&run(MIN_STEPS, RunState::Finished), None);
        }
        assert_eq!(h.add(&run(3, RunState::Finished), None), None, "too short to keep");
        let ids: Vec<u64> = h.runs.iter().map(|r| r.id).collect();
        assert_eq!(ids, (3..=KEPT as u64 + 2).rev().collect::<Vec<_>>());
        assert_eq!(h.next_id, KEPT as u64 + 3);
    }

    #[test]
    fn thinning_keeps_the_ends_and_the_spikes() {
        let mut points: Vec<(u32, f32)> = (0..10_000).map(|s| (s, 5.0 - s as f32 * 1e-4)).collect();
        points[5_000].1 = 50.0;
        points[7_000].1 = -1.0;
        points[100].1 = f32::INFINITY;
        let thinned = thin(&points, CURVE_POINTS);
        assert!(thinned.len() <= CURVE_POINTS && thinned.len() > CURVE_POINTS / 2, "{}", thinned.len());
        assert_eq!((thinned[0], *thinned.last().unwrap()), (points[0], points[9_999]));
        assert!(thinned.contains(&(5_000, 50.0)) && thinned.contains(&(7_000, -1.0)));
        assert!(thinned.windows(2).all(|w| w[0].0 < w[1].0), "in step order");
        assert!(thinned.iter().all(|p| p.1.is_finite()));
        assert_eq!(thin(&points[..3], CURVE_POINTS), points[..3]);
    }

    #[test]
    fn picks_choose_what_the_charts_draw() {
        let mut h = KeptRuns::default();
        let healthy = h.add(&run(MIN_STEPS, RunState::Finished), None).unwrap();
        let mut faulty = run(MIN_STEPS, RunState::Finished);
        faulty.config.as_mut().unwrap().faults.set(FaultId::NoCausalMask, None).unwrap();
        let broken = h.add(&faulty, None).unwrap();
        let ids = |c: &Comparison| c.runs.iter().map(|r| r.id).collect::<Vec<_>>();

        let c = h.comparison(&[], None);
        assert!(c.live && ids(&c) == [healthy], "by default the last healthy run, as the ghost was");
        assert!(h.comparison(&[], Some(healthy)).runs.is_empty(), "not the page's own run");

        let mut picks = Vec::new();
        toggle(&mut picks, Pick::Past(broken));
        let c = h.comparison(&picks, None);
        assert!(c.live && ids(&c) == [broken]);
        toggle(&mut picks, Pick::Past(healthy));
        let c = h.comparison(&picks, None);
        assert!(!c.live && ids(&c) == [broken, healthy], "two kept runs without the page's run");
        toggle(&mut picks, Pick::Live);
        assert_eq!(picks, [Pick::Past(healthy), Pick::Live], "a third pick replaces the first");
        toggle(&mut picks, Pick::Live);
        assert_eq!(picks, [Pick::Past(healthy)]);
        let c = h.comparison(&[Pick::Past(99), Pick::Live], None);
        assert!(c.live && c.runs.is_empty(), "a forgotten run is skipped");
    }

    #[test]
    fn history_round_trips_and_sheds_old_runs_to_fit() {
        let mut h = KeptRuns::default();
        for _ in 0..3 {
            h.add(&run(1_500, RunState::Finished), None);
        }
        assert!((CURVE_POINTS / 2..=CURVE_POINTS).contains(&h.runs[0].curves.train.len()));
        assert_eq!(KeptRuns::load(Some(&h.to_json())), (h.clone(), None));
        assert_eq!(KeptRuns::load(None), (KeptRuns::default(), None));

        let room = h.to_json().len() - 1;
        let mut stored = String::new();
        let dropped = h.store_fitting(|text| {
            let fits = text.len() <= room;
            if fits {
                stored = text.to_string();
            }
            fits
        });
        assert_eq!((dropped, h.runs.len()), (1, 2));
        assert_eq!(h.runs.iter().map(|r| r.id).collect::<Vec<_>>(), [3, 2], "the oldest went");
        assert_eq!(KeptRuns::load(Some(&stored)).0, h);
        assert_eq!(h.store_fitting(|_| false), 2, "a browser that stores nothing empties it");
    }

    #[test]
    fn unreadable_foreign_and_future_data_reset_with_a_notice() {
        for (text, says) in [
            ("garbage", "could not be read"),
            ("", "could not be read"),
            ("[1,2]", "not in a format"),
            ("{\"runs\":[]}", "not in a format"),
            ("{\"version\":2,\"runs\":[]}", "newer Faultline (format 2)"),
            ("{\"version\":1,\"next_id\":1,\"runs\":[{\"id\":1}]}", "could not be read"),
        ] {
            let (h, notice) = KeptRuns::load(Some(text));
            assert_eq!(h, KeptRuns::default(), "{text}");
            let notice = notice.unwrap_or_else(|| panic!("no notice for {text}"));
            assert!(notice.contains(says) && notice.contains(UNREADABLE_KEY), "{text}: {notice}");
        }
    }
}
