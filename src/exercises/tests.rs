//! The exercises' checks against real runs: each setup's form is turned into a configuration, trained
//! by the worker's own session natively, and its messages applied to a [`RunView`] exactly as the page
//! applies them.

use super::measure::{align_named, named};
use super::progress::{ExerciseProgress, Progress, StageRun};
use super::*;
use crate::align_view::{aligned, AlignView};
use crate::generation::GenerateForm;
use crate::protocol::{Compute, FromWorker, ToWorker};
use crate::range_view::{RangeState, RangeView};
use crate::run_view::{trained, RunState};
use crate::worker::session::Session;
use faultline_engine::lr_range::RangeSettings;
use faultline_engine::settings::SettingKey;
use faultline_engine::trainer::native_clock;
use faultline_engine::RunConfig;
use std::sync::OnceLock;

fn ex(id: ExerciseId) -> &'static Exercise {
    id.exercise()
}

fn config_of(setup: &Setup) -> RunConfig {
    setup_form(setup).to_config().unwrap_or_else(|e| panic!("{}: {e:?}", setup.label))
}

fn run_of(setup: &Setup) -> RunView {
    trained(config_of(setup))
}

/// The healthy 60-step run, shared: several fix setups describe exactly its configuration.
fn healthy() -> &'static RunView {
    static RUN: OnceLock<RunView> = OnceLock::new();
    RUN.get_or_init(|| run_of(&ex(ExerciseId::FirstRun).reproduce.setups[0]))
}

/// The learner's range test when they have not run one.
fn no_range() -> &'static RangeView {
    static NO_RANGE: OnceLock<RangeView> = OnceLock::new();
    NO_RANGE.get_or_init(RangeView::default)
}

/// What the checks see of `v` when the learner has not run a range test.
fn run_only(v: &RunView) -> Lab<'_> {
    Lab { run: v, range: no_range(), align: no_alignment() }
}

/// The alignment page before any fine-tuning run.
fn no_alignment() -> &'static AlignView {
    static IDLE: OnceLock<AlignView> = OnceLock::new();
    IDLE.get_or_init(AlignView::default)
}

fn passes(check: fn(&Lab, Option<f32>) -> Check, v: &RunView, before: Option<f32>) -> Evidence {
    check(&run_only(v), before).unwrap_or_else(|why| panic!("expected a pass: {why}"))
}

fn fails(check: fn(&Lab, Option<f32>) -> Check, v: &RunView, before: Option<f32>) -> String {
    match check(&run_only(v), before) {
        Ok(e) => panic!("expected a failure, passed with: {}", e.text),
        Err(why) => why,
    }
}

/// A fix setup applied to each reproduce setup changes only what the lesson teaches, and changes it.
#[test]
fn fix_setups_make_the_one_taught_change() {
    for e in &EXERCISES[1..] {
        for reproduce in e.reproduce.setups {
            let before = config_of(reproduce);
            let kept = ExerciseProgress {
                reproduce_run: StageRun::of_training(&RunView::starting(1, before.clone())),
                ..Default::default()
            };
            for fix in e.fix.setups {
                let after = exercise_form(e, fix, Some(&kept))
                    .to_config()
                    .unwrap_or_else(|err| panic!("{}: {err:?}", fix.label));
                e.lesson.compare(Some(&before), &after).unwrap_or_else(|why| panic!("{} / {}: {why}", e.id, fix.label));
                let generation = generation_form(e, fix, Some(&kept));
                assert_eq!(generation.is_some(), matches!(e.lesson, Lesson::Resample { .. }), "{}", fix.label);
                if let Some(form) = generation {
                    let sampling = form.to_request(0).unwrap_or_else(|err| panic!("{}: {err:?}", fix.label)).sampling;
                    assert_ne!(sampling, before.decoding(), "{}: a decoding change", fix.label);
                }
            }
        }
    }
}

#[test]
fn nothing_passes_before_a_run() {
    let idle = RunView::default();
    for e in EXERCISES {
        assert!((checks(e.id).reproduce)(&run_only(&idle), None).is_err(), "{}", e.id);
        assert!((checks(e.id).fix)(&run_only(&idle), Some(1.0)).is_err(), "{}", e.id);
    }
}

#[test]
fn the_first_run_starts_at_ln_v_and_learns() {
    let v = healthy();
    assert_eq!(v.state, RunState::Finished);
    let e = ex(ExerciseId::FirstRun);
    let start = passes(checks(e.id).reproduce, v, None);
    let ln_v = (v.vocab_size().unwrap() as f32).ln();
    assert!((start.value - ln_v).abs() < 0.5 && start.text.contains(&format!("{ln_v:.2}")), "{}", start.text);
    let end = passes(checks(e.id).fix, v, Some(start.value));
    assert!(end.value < ln_v - 1.0, "{}", end.text);
}

/// What one exercise's walk measured, for the exercise-specific assertions.
struct Walk {
    reproduce: RunView,
    broken: Evidence,
    fix: RunView,
    fixed: Evidence,
}

/// Walks exercise `id` as a learner would, through the worker session natively: the reproduce setup's
/// run passes the reproduce check, and the detector names the exercise's entry on it; the check fails
/// on the healthy run. The fix setup, applied on top of that run, passes the fix check; the fix check
/// fails on the reproduce run itself, on the untouched default run, and on the fix run with one more
/// change (another seed). Progress records both stages and the recap quotes both runs.
fn walk(id: ExerciseId) -> Walk {
    let e = ex(id);
    let reproduce = run_of(&e.reproduce.setups[0]);
    let broken = passes(checks(e.id).reproduce, &reproduce, None);
    assert!(
        named(&reproduce, e.entries[0]),
        "{id}: the detector does not name {} on the reproduce run ({})",
        e.entries[0],
        broken.text
    );
    fails(checks(e.id).reproduce, healthy(), None);

    let mut progress = Progress { active: Some(id.to_string()), ..Progress::default() };
    let guess = e.prediction.is_numeric().then_some(1.0);
    *progress.entry(id) = ExerciseProgress { prediction: e.prediction.right(), guess, ..Default::default() };
    assert!(record(&mut progress, &run_only(&reproduce)), "{id}: the reproduction is recorded");
    let p = progress.get(id).unwrap().clone();
    assert_eq!((p.reproduced.as_ref(), p.fixed.as_ref()), (Some(&broken), None), "{id}");

    let fix_config = exercise_form(e, &e.fix.setups[0], Some(&p)).to_config().unwrap();
    let fix = trained(fix_config.clone());
    let lab = |v| Lab { run: v, range: no_range(), align: no_alignment() };
    let fixed = check_fix(e, &p, broken.value, &lab(&fix)).unwrap_or_else(|why| panic!("{id}: the fix failed: {why}"));

    let same = check_fix(e, &p, broken.value, &lab(&reproduce)).unwrap_err();
    assert!(same.contains("reproduce run's settings"), "{id}: {same}");
    let default_run = RunView::starting(1, RunConfig::default());
    let untouched = check_fix(e, &p, broken.value, &lab(&default_run)).unwrap_err();
    assert!(untouched.contains("also changes") || untouched.contains("more than one change"), "{id}: {untouched}");
    let reseeded = RunView::starting(1, RunConfig { seed: fix_config.seed + 1, ..fix_config });
    let two_changes = check_fix(e, &p, broken.value, &lab(&reseeded)).unwrap_err();
    assert!(two_changes.contains("seed ("), "{id}: {two_changes}");

    assert!(record(&mut progress, &run_only(&fix)), "{id}: the fix is recorded");
    let p = progress.get(id).unwrap();
    assert_eq!(p.fixed.as_ref(), Some(&fixed), "{id}");
    assert_eq!(p.fix_run.as_ref().map(|r| &r.config), fix.config.as_ref(), "{id}");
    let lines = recap(e, p);
    assert!(
        lines.iter().any(|l| l.contains(&broken.text)) && lines.iter().any(|l| l.contains(&fixed.text)),
        "{lines:?}"
    );
    Walk { reproduce, broken, fix, fixed }
}

macro_rules! walks {
    ($($name:ident: $id:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                walk(ExerciseId::$id);
            }
        )*
    };
}

/// The overfitting exercise's walk (dropout), then each of the guide's other remedies (more data,
/// stopping early) applied to the same reproduce run passes too.
#[test]
fn dropout_more_data_and_stopping_early_each_cure_overfitting() {
    let e = ex(ExerciseId::Overfit);
    let w = walk(ExerciseId::Overfit);
    let p = ExerciseProgress {
        reproduced: Some(w.broken.clone()),
        reproduce_run: StageRun::of_training(&w.reproduce),
        ..Default::default()
    };
    for setup in &e.fix.setups[1..] {
        let run = trained(exercise_form(e, setup, Some(&p)).to_config().unwrap());
        let fixed =
            check_fix(e, &p, w.broken.value, &run_only(&run)).unwrap_or_else(|why| panic!("{}: {why}", setup.label));
        assert!(fixed.value < w.broken.value, "{}: {}", setup.label, fixed.text);
    }
}

walks! {
    walk_warmup: Warmup,
    walk_tokenization: Tokenization,
    walk_roundtrip: Roundtrip,
    walk_nonsense: Nonsense,
    walk_slow: Slow,
    walk_zero_grad: ZeroGrad,
    walk_dead_relu: DeadRelu,
    walk_stuck: Stuck,
    walk_vanishing: Vanishing,
    walk_cheating: Cheating,
    walk_attn_scale: AttnScale,
}

#[test]
fn unstable_softmax_stops_and_the_stable_form_runs_through() {
    let w = walk(ExerciseId::Nan);
    assert_eq!(w.reproduce.state, RunState::Stopped);
    assert!(w.broken.text.contains(&w.reproduce.stop.as_ref().unwrap().tensor), "{}", w.broken.text);
    let c = w.fix.config.as_ref().unwrap();
    assert!(c.faults.lr_too_high.is_some(), "the fix keeps the scenario's high learning rate");
}

#[test]
fn out_of_memory_then_micro_batches_that_keep_the_effective_batch() {
    let w = walk(ExerciseId::Oom);
    assert!(w.broken.text.contains("out of memory"), "{}", w.broken.text);
    let c = w.fix.config.as_ref().unwrap();
    assert_eq!((c.memory_budget_mb, w.fixed.value), (64, w.broken.value), "the same budget, the same effective batch");
    assert!(fails(checks(ExerciseId::Oom).fix, healthy(), None).contains("grad-accum 1"));
}

#[test]
fn a_300x_learning_rate_swings_above_ln_v_without_nan_and_the_normal_rate_learns() {
    let w = walk(ExerciseId::Explode);
    assert!(w.reproduce.stop.is_none(), "a finite spike, as the prediction's answer says");
    let ln_v = (w.reproduce.vocab_size().unwrap() as f32).ln();
    assert!(w.broken.value > ln_v + 1.0 && w.fixed.value < ln_v - 1.0, "{} / {}", w.broken.text, w.fixed.text);
    assert!(fails(checks(ExerciseId::FirstRun).reproduce, &w.reproduce, None).contains("fault"));
}

#[test]
fn clipping_rescues_unclipped_sgd() {
    let w = walk(ExerciseId::Clip);
    assert!(w.fixed.value < w.broken.value - 0.3, "{} / {}", w.broken.text, w.fixed.text);
    assert_eq!(w.fix.config.as_ref().map(|c| c.grad_clip), Some(1.0));
}

#[test]
fn post_norm_trains_once_it_warms_up() {
    let w = walk(ExerciseId::PostNorm);
    let c = w.fix.config.as_ref().unwrap();
    assert!(c.faults.post_norm && c.warmup_steps == 100, "the guide's remedy keeps post-norm");
}

/// A run trained through the worker's session as the page trains it, the session kept: the model it
/// trained can be sampled again, as the trainer's Generate panel does.
struct Held {
    session: Session,
    view: RunView,
}

impl Held {
    fn trained(config: RunConfig) -> Self {
        let mut held = Held { session: Session::new(native_clock), view: RunView::starting(1, config.clone()) };
        let out = held.session.handle(ToWorker::Start {
            run: 1,
            config: Box::new(config),
            paused: false,
            compute: Compute::Cpu,
        });
        held.apply(out);
        while held.session.is_running() {
            let out = held.session.run_chunk(50.0);
            held.apply(out);
        }
        held
    }

    fn apply(&mut self, out: Vec<FromWorker>) {
        for msg in out {
            if let FromWorker::Run { run, event } = msg {
                self.view.apply(run, event);
            }
        }
    }

    /// Generates from the model with the panel's `form`, as its Generate button does.
    fn generate(&mut self, form: &GenerateForm) {
        let request = form.to_request(0).unwrap_or_else(|e| panic!("{e:?}"));
        let out = self.session.handle(ToWorker::Sample(request));
        self.apply(out);
    }
}

/// The decoding fix takes no new run: the reproduce run's model, sampled again with each fix setup's
/// decoding, stops repeating; the same model decoded as the run decodes, a new run of the same settings
/// and the untouched default run do not pass; the recap says both texts came from the same weights.
#[test]
fn the_same_model_sampled_differently_stops_repeating() {
    let e = ex(ExerciseId::Temperature);
    let mut held = Held::trained(config_of(&e.reproduce.setups[0]));
    let broken = passes(checks(e.id).reproduce, &held.view, None);
    assert!(named(&held.view, e.entries[0]), "{}", broken.text);
    fails(checks(e.id).reproduce, healthy(), None);

    let mut progress = Progress { active: Some(e.id.to_string()), ..Progress::default() };
    *progress.entry(e.id) = ExerciseProgress { prediction: e.prediction.right(), ..Default::default() };
    assert!(record(&mut progress, &run_only(&held.view)), "the reproduction is recorded");
    let p = progress.get(e.id).unwrap().clone();
    let fix_state = |v: &RunView| stage_state(e, Some(&p), true, &run_only(v), true);
    let why = check_fix(e, &p, broken.value, &run_only(&held.view)).unwrap_err();
    assert!(why.contains("Generate panel"), "{why}");
    assert_eq!(fix_state(&held.view).as_str(), "waiting", "nothing sampled again yet");

    let own = held.view.config.as_ref().unwrap().decoding();
    held.generate(&GenerateForm::with_decoding(&own));
    let why = check_fix(e, &p, broken.value, &run_only(&held.view)).unwrap_err();
    assert!(why.contains("exactly as the run decodes"), "{why}");
    assert_eq!(fix_state(&held.view).as_str(), "failed");

    for setup in e.fix.setups {
        assert_eq!(exercise_form(e, setup, Some(&p)).to_config().as_ref(), Ok(held.view.config.as_ref().unwrap()));
        held.generate(&generation_form(e, setup, Some(&p)).expect("a decoding fix fills in the Generate panel"));
        let fixed = check_fix(e, &p, broken.value, &run_only(&held.view))
            .unwrap_or_else(|why| panic!("{}: {why}", setup.label));
        assert!(fixed.value < broken.value && fixed.text.starts_with("the same weights"), "{}", fixed.text);
    }

    let mut rerun = held.view.clone();
    rerun.run = 2;
    let why = check_fix(e, &p, broken.value, &run_only(&rerun)).unwrap_err();
    assert!(why.contains("a new run was started since"), "{why}");
    let mut again = progress.clone();
    assert!(record(&mut again, &run_only(&rerun)), "a newer reproduce run replaces one whose model is gone");
    assert_eq!(again.get(e.id).unwrap().reproduce_run_id, Some(2));
    let default_run = RunView::starting(1, RunConfig::default());
    let why = check_fix(e, &p, broken.value, &run_only(&default_run)).unwrap_err();
    assert!(why.starts_with("this is a new run"), "{why}");

    assert!(record(&mut progress, &run_only(&held.view)), "the fix is recorded");
    let lines = recap(e, progress.get(e.id).unwrap());
    assert!(lines.iter().any(|l| l.starts_with("Both texts came from the same weights")), "{lines:?}");
}

/// Runs the learning-rate range test on `config` through the worker's session, as the LR finder does.
fn range_test(config: RunConfig) -> RangeView {
    let mut session = Session::new(native_clock);
    let settings = RangeSettings::default();
    let mut view = RangeView::requested(1, settings);
    let apply = |out: Vec<FromWorker>, view: &mut RangeView| {
        for msg in out {
            if let FromWorker::LrRange { request, event } = msg {
                view.apply(request, event);
            }
        }
    };
    apply(session.handle(ToWorker::LrRange { request: 1, config: Box::new(config), settings }), &mut view);
    while view.state == RangeState::Running {
        apply(session.run_chunk(50.0), &mut view);
    }
    view
}

#[test]
fn the_range_tests_rate_cures_a_crawl() {
    let e = ex(ExerciseId::FindLr);
    let crawl = run_of(&e.reproduce.setups[0]);
    let broken = passes(checks(e.id).reproduce, &crawl, None);
    assert!(named(&crawl, e.entries[0]), "{}", broken.text);
    let ln_v = (crawl.vocab_size().unwrap() as f32).ln();
    assert!(broken.value > ln_v - 0.5, "{}", broken.text);
    let p = ExerciseProgress {
        reproduced: Some(broken.clone()),
        reproduce_run: StageRun::of_training(&crawl),
        ..Default::default()
    };

    let mut form = exercise_form(e, &e.fix.setups[0], Some(&p));
    let untuned = trained(form.to_config().unwrap());
    let why = check_fix(e, &p, broken.value, &run_only(&untuned)).unwrap_err();
    assert!(why.contains("range test"), "no range test, no pass: {why}");
    let range = range_test(form.to_config().unwrap());
    let suggested = range.suggested_text().expect("the healthy model's range test suggests a rate");
    let lab = |run| Lab { run, range: &range, align: no_alignment() };
    let why = check_fix(e, &p, broken.value, &lab(&untuned)).unwrap_err();
    assert!(why.contains("not the suggested"), "the default rate is not the suggestion: {why}");

    form.set(SettingKey::Lr, suggested);
    let tuned = trained(form.to_config().unwrap());
    let fixed = check_fix(e, &p, broken.value, &lab(&tuned)).unwrap_or_else(|why| panic!("{why}"));
    assert!(fixed.value < broken.value - 1.0, "{}", fixed.text);
    assert!(fixed.text.contains(&format!("against {:.2}", broken.value)), "{}", fixed.text);
}

#[test]
fn progress_records_only_after_a_prediction_and_recaps_both_runs() {
    let first = ExerciseId::FirstRun;
    let mut p = Progress { active: Some(first.to_string()), ..Progress::default() };
    assert!(!record(&mut p, &run_only(healthy())), "no prediction yet");
    p.entry(first).guess = Some(2.5);
    assert!(record(&mut p, &run_only(healthy())), "the first run passes both checks at once");
    assert!(!record(&mut p, &run_only(healthy())), "nothing left to record");
    let got = p.get(first).unwrap();
    assert_eq!(Status::of(Some(got)), Status::Fixed);
    let lines = recap(ex(first), got);
    let (start, end) = (got.reproduced.as_ref().unwrap(), got.fixed.as_ref().unwrap());
    let measured = format!("your run measured {:.2} nats: off by {:.2} nats", start.value, start.value - 2.5);
    assert!(lines[0].starts_with("You guessed 2.50 nats") && lines[0].contains(&measured), "{lines:?}");
    assert_eq!(guess_and_measurement(ex(first), got), Some((2.5, start.value)));
    assert!(lines[1].contains(&format!("{:.2}", start.value)) && lines[2].contains(&format!("{:.2}", end.value)));
    let explode = ExerciseId::Explode;
    let mut other = Progress { active: Some(explode.to_string()), ..Progress::default() };
    other.entry(explode).prediction = Some(1);
    assert!(!record(&mut other, &run_only(healthy())), "the healthy run does not reproduce an explosion");
    assert_eq!(Status::of(other.get(explode)), Status::NotStarted);
}

/// A guess within a fifth of the measurement is called close; a choice is right or not.
#[test]
fn the_recap_sets_the_guess_beside_the_measurement() {
    let cheating = ex(ExerciseId::Cheating);
    let measured = Evidence { value: 0.62, text: "62% of one head's attention went to later positions".into() };
    let p = ExerciseProgress { guess: Some(55.0), reproduced: Some(measured), ..Default::default() };
    let lines = recap(cheating, &p);
    assert!(lines[0].starts_with("You guessed 55 %; your run measured 62 %: within 20 %."), "{lines:?}");
    let p = ExerciseProgress { guess: Some(10.0), ..p };
    assert!(recap(cheating, &p)[0].contains("off by 52 %"), "{:?}", recap(cheating, &p));
    let explode = ex(ExerciseId::Explode);
    let p = ExerciseProgress { prediction: explode.prediction.right(), ..Default::default() };
    assert!(recap(explode, &p)[0].contains(": right."), "{:?}", recap(explode, &p));
}

/// A typed guess is a finite number not below zero; anything else is refused with the reason.
#[test]
fn typed_guesses_are_numbers_or_say_why_not() {
    for (text, value) in [("3.4", 3.4), (" 62 % ", 62.0), ("0,5", 0.5), ("120 steps", 120.0), ("0", 0.0)] {
        assert_eq!(parse_guess(text), Ok(value), "{text}");
    }
    for (text, says) in [
        ("", "type a number"),
        ("abc", "not a number"),
        ("-2", "below zero"),
        ("inf", "not a number"),
        ("1e39", "not a finite"),
        ("3.4.5", "not a number"),
    ] {
        let why = parse_guess(text).unwrap_err();
        assert!(why.contains(says), "{text}: {why}");
    }
}

/// Walks an alignment exercise as a learner would on the alignment page, through the worker session
/// natively: the reproduce run shows the entry to the detector and passes; the fix run (the same
/// settings with the fault off) passes and the reproduce check fails on it; the fix check fails on the
/// reproduce run, on the trainer's default run and on the fix run with another seed.
fn walk_alignment(id: ExerciseId) -> (Evidence, Evidence) {
    let e = ex(id);
    let method = e.method().expect("an alignment exercise");
    let lab = |align| Lab { run: no_run(), range: no_range(), align };
    let reproduce = aligned(config_of(&e.reproduce.setups[0]), method);
    let broken = (checks(id).reproduce)(&lab(&reproduce), None).unwrap_or_else(|why| panic!("{id}: {why}"));
    assert!(align_named(&reproduce, e.entries[0]), "{id}: {}", broken.text);

    let mut progress = Progress { active: Some(id.to_string()), ..Progress::default() };
    progress.entry(id).prediction = e.prediction.right();
    assert!(record(&mut progress, &lab(&reproduce)), "{id}: the reproduction is recorded");
    let p = progress.get(id).unwrap().clone();
    let fix_form = exercise_form(e, &e.fix.setups[0], Some(&p));
    assert_eq!(fix_form.method(), Some(method), "the fix setup stays on the alignment page");
    let fix_config = fix_form.to_config().unwrap();
    let fix = aligned(fix_config.clone(), method);
    let fixed = check_fix(e, &p, broken.value, &lab(&fix)).unwrap_or_else(|why| panic!("{id}: the fix failed: {why}"));
    assert!((checks(id).reproduce)(&lab(&fix), None).is_err(), "{id}: the healthy run does not reproduce it");

    let same = check_fix(e, &p, broken.value, &lab(&reproduce)).unwrap_err();
    assert!(same.contains("reproduce run's settings"), "{id}: {same}");
    let default_run = AlignView { config: Some(RunConfig::default()), ..AlignView::default() };
    assert!(check_fix(e, &p, broken.value, &lab(&default_run)).unwrap_err().contains("also changes"), "{id}");
    let reseeded =
        AlignView { config: Some(RunConfig { seed: fix_config.seed + 1, ..fix_config }), ..AlignView::default() };
    assert!(check_fix(e, &p, broken.value, &lab(&reseeded)).unwrap_err().contains("seed ("), "{id}");
    assert!(record(&mut progress, &lab(&fix)), "{id}: the fix is recorded");
    assert_eq!(Status::of(progress.get(id)), Status::Fixed);
    (broken, fixed)
}

/// The trainer before any run, for the alignment walks.
fn no_run() -> &'static RunView {
    static IDLE: OnceLock<RunView> = OnceLock::new();
    IDLE.get_or_init(RunView::default)
}

#[test]
fn a_dpo_reference_that_moves_keeps_the_loss_at_ln_2_and_freezing_it_learns() {
    let (broken, fixed) = walk_alignment(ExerciseId::Dpo);
    assert!((broken.value - std::f32::consts::LN_2).abs() < 0.02, "{}", broken.text);
    assert!(fixed.value < broken.value - 0.1, "{}", fixed.text);
}

#[test]
fn without_the_kl_penalty_the_reward_is_hacked_and_with_it_quality_holds() {
    let (broken, fixed) = walk_alignment(ExerciseId::RewardHacking);
    assert!(fixed.value > broken.value + 0.3, "{} / {}", broken.text, fixed.text);
}
