//! The exercises' checks against real runs: each setup's form is turned into a configuration, trained
//! by the worker's own session natively, and its messages applied to a [`RunView`] exactly as the page
//! applies them.

use super::progress::{ExerciseProgress, Progress};
use super::*;
use crate::protocol::{FromWorker, ToWorker};
use crate::range_view::{RangeState, RangeView};
use crate::run_view::{trained, RunState};
use crate::worker::session::Session;
use faultline_engine::faults::FaultId;
use faultline_engine::guide;
use faultline_engine::lr_range::RangeSettings;
use faultline_engine::settings::SettingKey;
use faultline_engine::trainer::native_clock;
use faultline_engine::RunConfig;
use std::sync::OnceLock;

fn ex(id: &str) -> &'static Exercise {
    exercise(id).unwrap_or_else(|| panic!("no exercise {id}"))
}

fn config_of(setup: &Setup) -> RunConfig {
    setup.form().to_config().unwrap_or_else(|e| panic!("{}: {e:?}", setup.label))
}

fn run_of(setup: &Setup) -> RunView {
    trained(config_of(setup))
}

/// The healthy 60-step run, shared: several fix setups describe exactly its configuration.
fn healthy() -> &'static RunView {
    static RUN: OnceLock<RunView> = OnceLock::new();
    RUN.get_or_init(|| run_of(&ex("first-run").reproduce.setups[0]))
}

/// What the checks see of `v` when the learner has not run a range test.
fn run_only(v: &RunView) -> Lab<'_> {
    static NO_RANGE: OnceLock<RangeView> = OnceLock::new();
    Lab { run: v, range: NO_RANGE.get_or_init(RangeView::default) }
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

#[test]
fn the_catalogue_is_complete_and_consistent() {
    assert!(EXERCISES.len() >= 12);
    for section in guide::SECTIONS.iter().filter(|s| s.id != SectionId::AlignmentIssues) {
        assert!(EXERCISES.iter().any(|e| e.section == section.id), "no exercise for {}", section.id);
    }
    for (i, e) in EXERCISES.iter().enumerate() {
        assert!(EXERCISES[..i].iter().all(|o| o.id != e.id), "duplicate id {}", e.id);
        assert!(!e.entries.is_empty(), "{}", e.id);
        assert!(e.prediction.answer < e.prediction.options.len(), "{}", e.id);
        for stage in [&e.reproduce, &e.fix] {
            assert!(!stage.setups.is_empty(), "{}", e.id);
            stage.setups.iter().for_each(|s| drop(config_of(s)));
        }
    }
    assert_eq!(EXERCISES[0].id, "first-run");
}

/// The right option's place varies, so a learner cannot pass on position alone: no place holds more
/// than 40 % of the answers, and every question offers at least three distinct options.
#[test]
fn predictions_vary_where_the_right_answer_sits() {
    let most = (0..4).map(|place| EXERCISES.iter().filter(|e| e.prediction.answer == place).count()).max();
    let share = most.unwrap_or(0) as f64 / EXERCISES.len() as f64;
    assert!(share <= 0.4, "one place holds {:.0}% of the answers", share * 100.0);
    for e in EXERCISES {
        let options = e.prediction.options;
        assert!(options.len() >= 3, "{}: {} options", e.id, options.len());
        assert!(options.iter().enumerate().all(|(i, o)| !options[..i].contains(o)), "{}: a repeated option", e.id);
    }
}

#[test]
fn nothing_passes_before_a_run() {
    let idle = RunView::default();
    for e in EXERCISES {
        assert!((e.reproduce.check)(&run_only(&idle), None).is_err(), "{}", e.id);
        assert!((e.fix.check)(&run_only(&idle), Some(1.0)).is_err(), "{}", e.id);
    }
}

#[test]
fn the_first_run_starts_at_ln_v_and_learns() {
    let v = healthy();
    assert_eq!(v.state, RunState::Finished);
    let e = ex("first-run");
    let start = passes(e.reproduce.check, v, None);
    let ln_v = (v.vocab_size().unwrap() as f32).ln();
    assert!((start.value - ln_v).abs() < 0.5 && start.text.contains(&format!("{ln_v:.2}")), "{}", start.text);
    let end = passes(e.fix.check, v, Some(start.value));
    assert!(end.value < ln_v - 1.0, "{}", end.text);
}

#[test]
fn fix_setups_that_are_the_healthy_run_pass_on_it_and_their_breaks_do_not() {
    let v = healthy();
    let healthy_config = v.config.clone().unwrap();
    for id in ["explode", "cheating", "temperature", "tokenization", "dead-relu"] {
        let e = ex(id);
        assert_eq!(config_of(&e.fix.setups[0]), healthy_config, "{id}'s fix is the healthy run");
        passes(e.fix.check, v, None);
        let why = fails(e.reproduce.check, v, None);
        assert!(why.contains("switched on"), "{id}: {why}");
    }
}

#[test]
fn a_300x_learning_rate_climbs_above_ln_v_without_nan() {
    let e = ex("explode");
    let v = run_of(&e.reproduce.setups[0]);
    let broken = passes(e.reproduce.check, &v, None);
    assert!(v.stop.is_none() && broken.value > (v.vocab_size().unwrap() as f32).ln() + 1.0, "{}", broken.text);
    assert!(fails(e.fix.check, &v, None).contains(FaultId::LrTooHigh.as_str()));
    assert!(fails(ex("first-run").reproduce.check, &v, None).contains("fault"));
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
    let e = ex("find-lr");
    let crawl = run_of(&e.reproduce.setups[0]);
    let broken = passes(e.reproduce.check, &crawl, None);
    let ln_v = (crawl.vocab_size().unwrap() as f32).ln();
    assert!(broken.value > ln_v - 0.5, "{}", broken.text);
    assert!(fails(e.fix.check, &crawl, None).contains("range test"), "no range test, no pass");

    let mut form = e.fix.setups[0].form();
    let range = range_test(form.to_config().unwrap());
    let suggested = range.suggested_text().expect("the healthy model's range test suggests a rate");
    let untuned = healthy();
    let lab = |run| Lab { run, range: &range };
    let why = (e.fix.check)(&lab(untuned), Some(broken.value)).unwrap_err();
    assert!(why.contains("not the suggested"), "the default rate is not the suggestion: {why}");

    form.set(SettingKey::Lr, suggested);
    let tuned = trained(form.to_config().unwrap());
    let fixed = (e.fix.check)(&lab(&tuned), Some(broken.value)).unwrap_or_else(|why| panic!("{why}"));
    assert!(fixed.value < broken.value - 1.0, "{}", fixed.text);
    assert!(fixed.text.contains(&format!("against {:.2}", broken.value)), "{}", fixed.text);
}

#[test]
fn without_the_mask_heads_look_ahead() {
    let e = ex("cheating");
    let v = run_of(&e.reproduce.setups[0]);
    let broken = passes(e.reproduce.check, &v, None);
    assert!(broken.value > 0.3, "{}", broken.text);
    let fixed = passes(e.fix.check, healthy(), Some(broken.value));
    assert!(fixed.text.contains(&format!("instead of {:.0}%", broken.value * 100.0)), "{}", fixed.text);
}

#[test]
fn unstable_softmax_stops_and_the_stable_form_runs_through() {
    let e = ex("nan");
    let v = run_of(&e.reproduce.setups[0]);
    assert_eq!(v.state, RunState::Stopped);
    let broken = passes(e.reproduce.check, &v, None);
    assert!(broken.text.contains(&v.stop.as_ref().unwrap().tensor), "{}", broken.text);
    let fixed_config = config_of(&e.fix.setups[0]);
    assert!(fixed_config.faults.lr_too_high.is_some(), "the fix keeps the scenario's high learning rate");
    let fixed = trained(fixed_config);
    passes(e.fix.check, &fixed, Some(broken.value));
    fails(e.reproduce.check, &fixed, None);
}

#[test]
fn out_of_memory_then_accumulation() {
    let e = ex("oom");
    let v = run_of(&e.reproduce.setups[0]);
    let broken = passes(e.reproduce.check, &v, None);
    assert!(broken.text.contains("out of memory"), "{}", broken.text);
    let accumulated = run_of(&e.fix.setups[0]);
    let fixed = passes(e.fix.check, &accumulated, Some(broken.value));
    let c = accumulated.config.as_ref().unwrap();
    assert_eq!(fixed.value, (c.batch_size * c.grad_accum) as f32);
    assert!(fails(e.fix.check, healthy(), None).contains("grad-accum 1"));
}

#[test]
fn dead_relus_cold_samplers_and_unknown_words_show() {
    for id in ["dead-relu", "temperature", "tokenization"] {
        let e = ex(id);
        let v = run_of(&e.reproduce.setups[0]);
        passes(e.reproduce.check, &v, None);
        fails(e.fix.check, &v, None);
    }
    let lossy = run_of(&ex("tokenization").reproduce.setups[1]);
    let broken = passes(ex("tokenization").reproduce.check, &lossy, None);
    assert!(broken.text.contains("came back as"), "{}", broken.text);
}

#[test]
fn unscaled_attention_is_sharper_not_uniform() {
    let e = ex("attn-scale");
    let unscaled = run_of(&e.reproduce.setups[0]);
    let broken = passes(e.reproduce.check, &unscaled, None);
    let scaled = run_of(&e.fix.setups[0]);
    let fixed = passes(e.fix.check, &scaled, Some(broken.value));
    assert!(fixed.value > broken.value + 0.3, "{} / {}", broken.text, fixed.text);
    assert!(fails(e.fix.check, &scaled, None).contains("unscaled model first"));
}

#[test]
fn progress_records_only_after_a_prediction_and_recaps_both_runs() {
    let mut p = Progress { active: Some("first-run".into()), ..Progress::default() };
    assert!(!record(&mut p, &run_only(healthy())), "no prediction yet");
    p.exercises.insert("first-run".into(), ExerciseProgress { prediction: Some(0), ..Default::default() });
    assert!(record(&mut p, &run_only(healthy())), "the first run passes both checks at once");
    assert!(!record(&mut p, &run_only(healthy())), "nothing left to record");
    let got = p.get("first-run").unwrap();
    assert_eq!(Status::of(Some(got)), Status::Fixed);
    let lines = recap(ex("first-run"), got);
    assert!(lines[0].contains("not what you measured"), "{lines:?}");
    let (start, end) = (got.reproduced.as_ref().unwrap(), got.fixed.as_ref().unwrap());
    assert!(lines[1].contains(&format!("{:.2}", start.value)) && lines[2].contains(&format!("{:.2}", end.value)));
    let mut other = Progress { active: Some("explode".into()), ..Progress::default() };
    other.exercises.insert("explode".into(), ExerciseProgress { prediction: Some(1), ..Default::default() });
    assert!(!record(&mut other, &run_only(healthy())), "the healthy run does not reproduce an explosion");
    assert_eq!(Status::of(other.get("explode")), Status::NotStarted);
}
