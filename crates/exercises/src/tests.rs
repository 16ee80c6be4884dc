use super::*;
use faultline_engine::guide::ENTRIES;
use faultline_engine::settings::Change;

#[test]
fn the_catalogue_follows_the_ids_and_is_consistent() {
    let ids: Vec<ExerciseId> = EXERCISES.iter().map(|e| e.id).collect();
    assert_eq!(ids, ExerciseId::ALL, "EXERCISES is in ExerciseId's order, so id.exercise() finds its own");
    for e in EXERCISES {
        assert_eq!(e.id.exercise().id, e.id);
        assert!(!e.entries.is_empty(), "{}", e.id);
        assert!(!e.reproduce.setups.is_empty() && !e.fix.setups.is_empty(), "{}", e.id);
        assert!(e.fix.setups.iter().all(|s| s.show_me.is_none()), "{}: fix setups start from the reproduce run", e.id);
        assert!(e.reproduces_with(&e.reproduce.setups[0]) && !e.reproduces_with(&e.fix.setups[0]), "{}", e.id);
        if let Answer::Choice { options, right } = e.prediction.answer {
            assert!(right < options.len(), "{}", e.id);
        }
    }
    assert!(matches!(EXERCISES[0].lesson, Lesson::SameRun));
    assert!(
        EXERCISES[1..].iter().all(|e| matches!(e.lesson, Lesson::Change { .. } | Lesson::Resample { .. })),
        "only the first run has no fix"
    );
    for e in EXERCISES.iter().filter(|e| matches!(e.lesson, Lesson::Resample { .. })) {
        let decoding_only = |s: &Setup| s.off.is_empty() && s.changes.iter().all(|c| matches!(c, Change::Setting(..)));
        assert!(e.fix.setups.iter().all(decoding_only), "{}: a resampling fix changes settings only", e.id);
    }
}

/// Every guide entry is taught by an exercise with a fix (the app's walks check that each reproduce run
/// shows its first entry to the detector); the alignment entries' exercises run on the alignment page,
/// with the method that reproduces them.
#[test]
fn every_entry_is_taught() {
    for e in EXERCISES {
        assert_eq!(e.method().is_some(), e.section == SectionId::AlignmentIssues, "{}", e.id);
        let faults = e.reproduce.setups.iter().filter_map(|s| s.show_me);
        assert!(faults.clone().all(|f| Method::of(f.spec().guide_entry) == e.method()), "{}", e.id);
    }
    for entry in ENTRIES {
        let taught = EXERCISES[1..].iter().any(|e| e.entries.contains(&entry.id));
        assert!(taught, "no exercise teaches {}", entry.id);
    }
}

/// The right option's place varies, so a learner cannot pass on position alone: no place holds more
/// than 40 % of the choices' answers, every choice offers at least three distinct options, and at least
/// six exercises ask for a number instead.
#[test]
fn predictions_vary_and_some_ask_for_a_number() {
    let choices: Vec<usize> = EXERCISES.iter().filter_map(|e| e.prediction.right()).collect();
    let most = (0..4).map(|place| choices.iter().filter(|&&r| r == place).count()).max().unwrap_or(0);
    let share = most as f64 / choices.len() as f64;
    assert!(share <= 0.4, "one place holds {:.0}% of the answers", share * 100.0);
    for e in EXERCISES.iter().filter(|e| !e.prediction.is_numeric()) {
        let options = e.prediction.options();
        assert!(options.len() >= 3, "{}: {} options", e.id, options.len());
        assert!(options.iter().enumerate().all(|(i, o)| !options[..i].contains(o)), "{}: a repeated option", e.id);
    }
    let numeric = EXERCISES.iter().filter(|e| e.prediction.is_numeric()).count();
    assert!(numeric >= 6, "{numeric} numeric predictions");
}

/// The comparison names what else changed, with both values, and refuses a run without a change or
/// without a reproduce run.
#[test]
fn the_comparison_names_every_other_difference() {
    let lesson = &ExerciseId::Cheating.exercise().lesson;
    let before = RunConfig::from_pairs([("steps", "60"), ("fault", "no-causal-mask")]).unwrap();
    let mut after = RunConfig { faults: Default::default(), ..before.clone() };
    assert_eq!(lesson.compare(Some(&before), &after), Ok(()));
    after.seed = 7;
    after.steps = 200;
    let why = lesson.compare(Some(&before), &after).unwrap_err();
    assert!(why.contains("steps (60 → 200)") && why.contains("seed (1 → 7)"), "{why}");
    assert!(lesson.compare(Some(&before), &before).unwrap_err().contains("reproduce run's settings"));
    assert!(lesson.compare(None, &after).unwrap_err().contains("reproduce the symptom first"));
    assert_eq!(Lesson::SameRun.compare(None, &after), Ok(()));

    let overfit = &ExerciseId::Overfit.exercise().lesson;
    let before = RunConfig::from_pairs([("steps", "800"), ("fault", "tiny-dataset")]).unwrap();
    let dropout = RunConfig { dropout: 0.3, ..before.clone() };
    assert_eq!(overfit.compare(Some(&before), &dropout), Ok(()), "one of the guide's remedies");
    let both = RunConfig { steps: 300, ..dropout };
    let why = overfit.compare(Some(&before), &both).unwrap_err();
    assert!(why.contains("more than one change") && why.contains("steps (800 → 300)"), "{why}");
}

/// A decoding fix takes no new run: only the reproduce run's own settings are accepted, and a run with
/// any difference is named as a new one.
#[test]
fn a_resampling_fix_accepts_only_the_reproduce_run_itself() {
    let lesson = &ExerciseId::Temperature.exercise().lesson;
    assert!(matches!(lesson, Lesson::Resample { .. }));
    let before = RunConfig::from_pairs([("steps", "150"), ("fault", "temperature-too-low")]).unwrap();
    assert_eq!(lesson.compare(Some(&before), &before), Ok(()));
    let rerun = RunConfig { faults: Default::default(), ..before.clone() };
    let why = lesson.compare(Some(&before), &rerun).unwrap_err();
    assert!(why.starts_with("this is a new run") && why.contains("temperature-too-low"), "{why}");
    assert!(lesson.compare(None, &before).unwrap_err().contains("reproduce the symptom first"));
}
