use super::*;
use faultline_engine::data::MAX_TEXT_BYTES;
use faultline_engine::faults::FaultId;
use faultline_engine::settings::SettingKey;
use faultline_engine::{OptimizerKind, Preset};

fn form(lr: &str, steps: &str, seed: &str) -> RunForm {
    let mut f = RunForm::default();
    f.set(SettingKey::Lr, lr.into());
    f.set(SettingKey::Steps, steps.into());
    f.set(SettingKey::Seed, seed.into());
    f
}

fn fields(errors: &FieldErrors) -> Vec<&str> {
    errors.iter().map(|e| e.field.as_str()).collect()
}

fn pairs(query: &[(&str, &str)]) -> Vec<(String, String)> {
    query.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

#[test]
fn defaults_make_the_tiny_preset() {
    let config = RunForm::default().to_config().unwrap();
    assert_eq!(config, RunConfig::preset(Preset::Tiny));
    assert!(FAULTS.iter().all(|spec| !RunForm::default().fault(spec.id).on));
}

#[test]
fn values_reach_the_config() {
    let mut f = form("0.01", "300", "7");
    f.set(SettingKey::Config, "small".into());
    f.set(SettingKey::Optimizer, "sgd".into());
    f.set(SettingKey::GradClip, "0".into());
    let config = f.to_config().unwrap();
    assert_eq!((config.preset, config.lr, config.steps, config.seed), (Preset::Small, 0.01, 300, 7));
    assert_eq!((config.optimizer, config.grad_clip), (OptimizerKind::Sgd, 0.0));
    assert_eq!(config.batch_size, Preset::Small.batch_size(), "the batch follows the model");
}

#[test]
fn a_batch_the_learner_chose_stays_when_the_model_changes() {
    let mut f = RunForm::default();
    f.set(SettingKey::Batch, "4".into());
    f.set(SettingKey::Config, "small".into());
    assert_eq!(f.to_config().unwrap().batch_size, 4);
    assert!(f.differs_from_default(SettingKey::Batch) && !f.differs_from_default(SettingKey::Lr));
}

#[test]
fn every_bad_field_gets_its_own_message() {
    let errors = form("abc", "", "-1").to_config().unwrap_err();
    assert_eq!(fields(&errors), ["steps", "seed", "lr"]);
    assert_eq!(errors[0].message, "needs a value");
    assert!(errors[2].message.contains("'abc'"), "{}", errors[2].message);
}

#[test]
fn messages_are_the_settings_tables() {
    for (lr, steps) in [("NaN", "10"), ("-0.1", "10"), ("inf", "10"), ("0", "10"), ("1e9", "10")] {
        let errors = form(lr, steps, "1").to_config().unwrap_err();
        assert_eq!(fields(&errors), ["lr"], "lr = {lr}");
        let mut direct = RunConfig::default();
        assert_eq!(errors[0], direct.set(SettingKey::Lr, lr).unwrap_err());
    }
    assert_eq!(fields(&form("0.001", "0", "1").to_config().unwrap_err()), ["steps"]);
    assert_eq!(fields(&form("0.001", "1.5", "1").to_config().unwrap_err()), ["steps"]);
}

#[test]
fn unknown_config_and_corpus_are_named() {
    let mut f = RunForm::default();
    f.set(SettingKey::Config, "huge".into());
    f.set(SettingKey::Corpus, "nope".into());
    assert_eq!(fields(&f.to_config().unwrap_err()), ["config", "corpus"]);
}

#[test]
fn get_and_set_address_the_same_field() {
    let mut f = RunForm::default();
    for &key in SettingKey::ALL {
        f.set(key, format!("{key}!"));
        assert_eq!(f.get(key), format!("{key}!"));
    }
}

#[test]
fn faults_turn_on_with_checked_strengths() {
    let mut f = RunForm::default();
    f.set_fault(FaultId::NoCausalMask, true);
    f.set_fault(FaultId::LrTooHigh, true);
    assert_eq!(f.fault(FaultId::LrTooHigh).strength, "300");
    let config = f.to_config().unwrap();
    assert_eq!(config.faults.active(), [(FaultId::LrTooHigh, Some(300.0)), (FaultId::NoCausalMask, None)]);
    f.set_strength(FaultId::LrTooHigh, "0.5".into());
    let errors = f.to_config().unwrap_err();
    assert_eq!(fields(&errors), ["fault-lr-too-high"]);
    assert!(errors[0].message.contains("between 1 and 10000"), "{}", errors[0].message);
    f.set_strength(FaultId::LrTooHigh, "x".into());
    assert_eq!(f.to_config().unwrap_err()[0].message, "factor: 'x' is not a number");
    f.set_fault(FaultId::LrTooHigh, false);
    assert!(f.to_config().is_ok(), "a fault that is off is not checked");
}

#[test]
fn a_config_round_trips_through_the_form() {
    let mut config = RunConfig::preset(Preset::Small);
    config.lr = 0.02;
    config.faults.set(FaultId::TinyDataset, Some(500.0)).unwrap();
    config.faults.set(FaultId::NoWarmup, None).unwrap();
    assert_eq!(RunForm::from_config(&config).to_config().unwrap(), config);
}

#[test]
fn show_me_applies_the_faults_scenario() {
    for spec in FAULTS {
        let config = RunForm::show_me(spec.id).to_config().unwrap_or_else(|e| panic!("{}: {e:?}", spec.id));
        let mut changes: Vec<Change> = spec.scenario.changes().collect();
        if !changes.iter().any(|c| matches!(c, Change::Fault(id, _) if *id == spec.id)) {
            changes.push(Change::Fault(spec.id, None));
        }
        let mut expected = RunConfig::from_changes(changes).unwrap();
        if let kind @ FormKind::Alignment(_) = FormKind::of_fault(spec.id) {
            // A fine-tuning fault opens on its method's defaults (its scenarios are empty).
            let defaults = kind.defaults();
            (expected.corpus, expected.steps) = (defaults.corpus, defaults.steps);
        }
        assert_eq!(config, expected, "{}", spec.id);
        assert!(config.faults.active().iter().any(|(id, _)| *id == spec.id), "{}", spec.id);
    }
    let config = RunForm::show_me(FaultId::NoGradClip).to_config().unwrap();
    assert_eq!(config.optimizer, OptimizerKind::Sgd, "{}", FaultId::NoGradClip.spec().scenario);
}

#[test]
fn a_query_fills_the_form() {
    let (f, notices) = RunForm::from_query(&pairs(&[
        ("lr", "0.01"),
        ("fault", "lr-too-high=30"),
        ("config", "small"),
        ("fault", "no-causal-mask"),
    ]));
    assert_eq!(notices, Vec::<String>::new());
    let config = f.to_config().unwrap();
    let expected = RunConfig::from_pairs([
        ("lr", "0.01"),
        ("fault", "lr-too-high=30"),
        ("config", "small"),
        ("fault", "no-causal-mask"),
    ])
    .unwrap();
    assert_eq!(config, expected);
    let back: Vec<(String, String)> = config.to_pairs();
    assert_eq!(RunForm::from_query(&back).0.to_config().unwrap(), config);
}

#[test]
fn a_bad_link_parameter_gets_a_notice_and_its_default() {
    let (f, notices) = RunForm::from_query(&pairs(&[
        ("config", "huge"),
        ("steps", "many"),
        ("lr", "-1"),
        ("seed", "9"),
        ("fault", "nope"),
        ("fault", "lr-too-high=0.5"),
        ("colour", "red"),
    ]));
    let config = f.to_config().expect("every bad parameter fell back to its default");
    let tiny = RunConfig::default();
    assert_eq!((config.preset, config.steps, config.lr, config.seed), (tiny.preset, tiny.steps, tiny.lr, 9));
    assert_eq!(config.faults.active(), [(FaultId::LrTooHigh, Some(300.0))]);
    assert_eq!(notices.len(), 6, "{notices:#?}");
    for (notice, needle) in notices.iter().zip([
        "config=huge",
        "steps=many: 'many' is not a whole number; using the default",
        "lr=-1",
        "no fault called 'nope'",
        "lr-too-high=0.5",
        "'colour' is not a setting",
    ]) {
        assert!(notice.contains(needle), "{notice:?} should mention {needle:?}");
    }
}

#[test]
fn every_form_round_trips_through_its_link() {
    let mut typed = RunForm::default();
    typed.set(SettingKey::Config, "small".into());
    typed.set(SettingKey::Lr, "0.02".into());
    typed.set(SettingKey::Seed, "1234567".into());
    typed.set(SettingKey::Greedy, "on".into());
    typed.set_fault(FaultId::TinyDataset, true);
    typed.set_strength(FaultId::TinyDataset, "500".into());
    let forms = FAULTS.iter().map(|f| RunForm::show_me(f.id)).chain([RunForm::default(), typed]);
    for form in forms {
        let query = form.to_query();
        assert!(query.iter().any(|(k, _)| k == "seed"), "the seed is always in the link");
        let (back, notices) = RunForm::from_query_in(form.kind(), &query);
        assert_eq!(notices, Vec::<String>::new(), "{query:?}");
        assert_eq!(back.to_config(), form.to_config(), "{query:?}");
    }
}

fn own_text_form(text: &str) -> RunForm {
    let mut f = RunForm::default();
    f.set(SettingKey::Corpus, OWN_TEXT.into());
    f.own_text_mut().set_text(text.into());
    f
}

#[test]
fn own_text_reaches_the_config() {
    let mut f = own_text_form("to be or not to be\n");
    f.set(SettingKey::Lr, "0.01".into());
    let config = f.to_config().unwrap();
    let pasted = CorpusSource::Text { name: PASTED.into(), text: "to be or not to be\n".into() };
    assert_eq!((&config.corpus, config.lr), (&pasted, 0.01));
    f.own_text_mut().read_file("notes.txt", "line one\nline two\n".as_bytes().to_vec());
    let read = CorpusSource::Text { name: "notes.txt".into(), text: "line one\nline two\n".into() };
    assert_eq!(f.to_config().unwrap().corpus, read);
    assert_eq!(RunForm::from_config(&f.to_config().unwrap()), f, "a run's own text comes back to the form");
    f.set(SettingKey::Corpus, "arithmetic".into());
    assert_eq!(f.to_config().unwrap().corpus, CorpusSource::Builtin("arithmetic".into()));
    assert_eq!(f.own_text().text, "line one\nline two\n", "another corpus keeps the text for later");
}

#[test]
fn empty_and_oversized_text_get_their_messages_and_keep_the_text() {
    let errors = own_text_form("").to_config().unwrap_err();
    assert_eq!(fields(&errors), [OWN_TEXT]);
    assert!(errors[0].message.contains("paste some text"), "{}", errors[0].message);

    let big = "abc\n".repeat(MAX_TEXT_BYTES / 4 + 1);
    let mut f = own_text_form(&big);
    let errors = f.to_config().unwrap_err();
    assert_eq!(fields(&errors), [OWN_TEXT]);
    assert!(errors[0].message.contains("2 MB (2000004 bytes)"), "{}", errors[0].message);
    assert!(errors[0].message.contains("at most 2 MB (2000000 bytes)"), "{}", errors[0].message);
    assert_eq!(f.own_text().text, big, "the text stays to be shortened");
    f.own_text_mut().set_text(big[..MAX_TEXT_BYTES].to_string());
    assert!(f.to_config().is_ok(), "exactly the limit is accepted");
}

#[test]
fn a_bad_file_leaves_the_text_as_it_was() {
    let mut f = own_text_form("my pasted words\n");
    assert!(!f.own_text_mut().accept_file_size("big.txt", MAX_TEXT_BYTES as u64 + 1));
    let message = f.own_text().message().unwrap();
    assert!(message.contains("'big.txt' is 2 MB (2000001 bytes)") && message.contains("unchanged"), "{message}");
    f.own_text_mut().read_file("huge.txt", vec![b'a'; MAX_TEXT_BYTES + 10]);
    assert!(f.own_text().message().unwrap().contains("'huge.txt'"));
    f.own_text_mut().read_file("image.png", vec![b'o', b'k', 0xff, 0xfe]);
    let message = f.own_text().message().unwrap();
    assert!(message.contains("'image.png' is not UTF-8 text (byte 2"), "{message}");
    assert_eq!((f.own_text().name.as_str(), f.own_text().text.as_str()), (PASTED, "my pasted words\n"));
    assert_eq!(f.to_config().unwrap().corpus.name(), PASTED, "a refused file does not stop the pasted text");
    f.own_text_mut().set_text("my pasted words, edited\n".into());
    assert_eq!(f.own_text().message(), None, "the message goes with the next text");
}

#[test]
fn a_scenario_keeps_the_pasted_text_but_not_its_choice() {
    let pasted = own_text_form("words I pasted\n");
    let shown = RunForm::show_me(FaultId::NoCausalMask).keeping_own_text(&pasted);
    assert!(!shown.uses_own_text(), "the scenario's own corpus is chosen");
    assert_eq!(shown.own_text().text, "words I pasted\n");
    assert_eq!(shown.to_config(), RunForm::show_me(FaultId::NoCausalMask).to_config());
    let mine = CorpusSource::Text { name: "mine".into(), text: "my run's text\n".into() };
    let run = RunForm::from_config(&RunConfig { corpus: mine.clone(), ..RunConfig::default() });
    assert_eq!(run.keeping_own_text(&pasted).to_config().unwrap().corpus, mine, "a run's own text wins");
}

#[test]
fn the_link_leaves_the_own_text_out() {
    let mut f = own_text_form("a secret diary that must not travel in a link\n");
    f.set(SettingKey::Lr, "0.02".into());
    let query = f.to_query();
    assert!(!query.iter().any(|(k, v)| k == "corpus" || v.contains("diary")), "{query:?}");
    assert!(query.contains(&("lr".to_string(), "0.02".to_string())), "the rest is still there: {query:?}");
    let (back, notices) = RunForm::from_query(&query);
    assert_eq!(notices, Vec::<String>::new());
    let config = back.to_config().unwrap();
    assert_eq!((config.corpus, config.lr), (RunConfig::default().corpus, 0.02));
}

#[test]
fn sizes_are_in_decimal_units() {
    assert_eq!(human_bytes(812), "812 bytes");
    assert_eq!(human_bytes(12_345), "12.3 KB");
    assert_eq!(human_bytes(MAX_TEXT_BYTES as u64), "2 MB");
    assert_eq!(human_bytes(2_100_000), "2.1 MB");
    assert_eq!(own_text_form("héllo").own_text().size_line(), "5 characters, 6 bytes of at most 2 MB");
}

#[test]
fn own_text_is_kept_and_bad_stored_text_is_refused_with_a_reason() {
    let mut f = RunForm::default();
    f.own_text_mut().read_file("poems.txt", "Roses are red. ".repeat(1000).into_bytes());
    let kept = OwnText::from_stored(&f.own_text().to_stored()).unwrap();
    assert_eq!(&kept, f.own_text());
    let mut restored = RunForm::default();
    restored.restore_own_text(kept);
    assert_eq!(restored.own_text().name, "poems.txt");
    for (bad, why) in [
        ("{", "could not be read"),
        (r#"{"version":2,"name":"x","text":"y"}"#, "newer version"),
        (r#"{"name":"x"}"#, "could not be read"),
    ] {
        let err = OwnText::from_stored(bad).unwrap_err();
        assert!(err.contains(why), "{bad}: {err}");
    }
    let huge = OwnText { name: PASTED.into(), text: "a".repeat(MAX_TEXT_BYTES + 1), file_problem: None };
    assert!(OwnText::from_stored(&huge.to_stored()).unwrap_err().contains("at most"));
}

#[test]
fn a_short_text_gets_a_warning_not_an_error() {
    let mut f = RunForm::default();
    f.own_text_mut().set_text("to be or not to be ".repeat(100));
    assert!(f.own_text().error().is_none());
    let warning = f.own_text().warning().expect("1,900 characters is short");
    assert!(warning.starts_with("1900 characters") && warning.contains("10000"), "{warning}");
    f.own_text_mut().set_text("x".repeat(SMALL_TEXT_CHARS));
    assert_eq!(f.own_text().warning(), None);
    f.own_text_mut().set_text(String::new());
    assert_eq!(f.own_text().warning(), None, "an empty text gets its error instead");
}

#[test]
fn the_alignment_form_has_its_own_defaults_and_link() {
    let form = RunForm::new(FormKind::Alignment(Method::Dpo));
    let config = form.to_config().unwrap();
    assert_eq!((config.corpus.name(), config.steps), ("sorting", DpoSettings::default().steps));
    assert_eq!(form.to_query(), pairs(&[("config", "tiny"), ("seed", "1")]), "its defaults stay out of the link");
    let link = pairs(&[("pretrain-steps", "150"), ("steps", "30"), ("fault", "dpo-reference-not-frozen")]);
    let (f, notices) = RunForm::from_query_in(FormKind::Alignment(Method::Dpo), &link);
    assert!(notices.is_empty(), "{notices:?}");
    let config = f.to_config().unwrap();
    assert_eq!((config.corpus.name(), config.steps, config.fine_tuning.pretrain_steps), ("sorting", 30, 150));
    assert!(config.faults.dpo_reference_not_frozen);
    let mut english = f.clone();
    english.set(SettingKey::Corpus, "toy-english".into());
    let (back, _) = RunForm::from_query_in(FormKind::Alignment(Method::Dpo), &english.to_query());
    assert_eq!(back, english, "the trainer's default corpus is in the alignment page's link");
    let (bad, notices) = RunForm::from_query_in(FormKind::Alignment(Method::Dpo), &pairs(&[("beta", "0")]));
    assert_eq!(bad.get(SettingKey::Beta), "0.1");
    assert_eq!(notices, ["The link's beta=0: must be between 0.0001 and 1000, got 0; using the default 0.1."]);
}

#[test]
fn a_fine_tuning_fault_is_shown_on_the_alignment_page() {
    let shown = RunForm::show_me(FaultId::DpoLrTooLow);
    assert_eq!(shown.kind(), FormKind::Alignment(Method::Dpo));
    assert!(shown.fault(FaultId::DpoLrTooLow).on);
    assert_eq!(shown.to_config().unwrap().corpus.name(), "sorting");
    assert_eq!(RunForm::show_me(FaultId::NoCausalMask).kind(), FormKind::Trainer);
    let rl = RunForm::show_me(FaultId::NoKlPenalty);
    assert_eq!((rl.kind(), rl.to_config().unwrap().corpus.name()), (FormKind::Alignment(Method::Rl), "toy-english"));
}

#[test]
fn switching_the_method_moves_the_defaults_and_drops_the_other_methods_faults() {
    let link = pairs(&[("pretrain-steps", "150"), ("fault", "dpo-reference-not-frozen")]);
    let (mut form, _) = RunForm::from_query_in(FormKind::Alignment(Method::Dpo), &link);
    form.switch_method(Method::Rl);
    let config = form.to_config().unwrap();
    let steps = RlSettings::default().steps;
    assert_eq!((config.corpus.name(), config.steps, config.fine_tuning.pretrain_steps), ("toy-english", steps, 150));
    assert!(config.faults.active().is_empty(), "{:?}", config.faults.active());
    assert_eq!(form.to_query(), pairs(&[("config", "tiny"), ("seed", "1"), ("pretrain-steps", "150")]));
    form.set(SettingKey::Corpus, "arithmetic".into());
    form.set_fault(FaultId::NoKlPenalty, true);
    form.switch_method(Method::Dpo);
    assert_eq!((form.method(), form.get(SettingKey::Corpus)), (Some(Method::Dpo), "arithmetic"));
    assert!(!form.fault(FaultId::NoKlPenalty).on, "the policy gradient's fault goes off");
    let mut trainer = RunForm::default();
    trainer.switch_method(Method::Rl);
    assert_eq!(trainer, RunForm::default(), "the trainer's form has no method");
}
