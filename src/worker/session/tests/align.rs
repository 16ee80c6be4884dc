//! A fine-tuning run in the session: pretraining, then DPO, in slices.

use super::*;

pub(super) fn align_events(out: Vec<FromWorker>, run: RunId) -> Vec<AlignEvent> {
    out.into_iter()
        .map(|m| match m {
            FromWorker::Align { run: id, event } if id == run => event,
            other => panic!("unexpected message {other:?}"),
        })
        .collect()
}

/// A small fine-tuning set-up: the sorting corpus, 30 pretraining steps, and `changes`.
fn align_config(changes: &[(&str, &str)]) -> RunConfig {
    let base = [("corpus", "sorting"), ("pretrain-steps", "30")];
    RunConfig::from_pairs(base.iter().chain(changes).copied()).expect("valid settings")
}

/// Runs fine-tuning run `run` of `config` for `steps` DPO steps to its end, in chunks of `budget_ms`:
/// every event after the first.
fn align_to_the_end(s: &mut Session, run: RunId, config: RunConfig, steps: usize, budget_ms: f64) -> Vec<AlignEvent> {
    let started =
        align_events(s.handle(ToWorker::Align { run, config: Box::new(config), steps, method: Method::Dpo }), run);
    assert_eq!(started, [AlignEvent::Pretraining { done: 0, total: 30, loss: None }]);
    let mut all = Vec::new();
    while s.is_running() {
        all.extend(align_events(s.run_chunk(budget_ms), run));
    }
    all
}

#[test]
fn a_fine_tuning_run_pretrains_then_takes_its_dpo_steps_and_they_are_the_engines() {
    let mut s = Session::new(native_clock);
    let config = align_config(&[("lora-rank", "4")]);
    let all = align_to_the_end(&mut s, 1, config.clone(), 6, 0.0);
    let progress: Vec<(usize, usize)> = all
        .iter()
        .filter_map(|e| if let AlignEvent::Pretraining { done, total, .. } = e { Some((*done, *total)) } else { None })
        .collect();
    assert!(progress.windows(2).all(|w| w[0].0 < w[1].0), "{progress:?}");
    assert_eq!(progress.last(), Some(&(30, 30)), "the last progress is the end of pretraining");
    let last_loss =
        all.iter().rev().find_map(|e| if let AlignEvent::Pretraining { loss, .. } = e { Some(*loss) } else { None });
    assert!(last_loss.flatten().is_some_and(f32::is_finite), "{last_loss:?}");
    let at = all.iter().position(|e| matches!(e, AlignEvent::FineTuning(_))).expect("fine-tuning begins");
    assert!(all[..at].iter().all(|e| matches!(e, AlignEvent::Pretraining { .. })), "{:?}", &all[..at]);
    let AlignEvent::FineTuning(info) = &all[at] else { unreachable!() };
    assert_eq!((info.corpus.as_str(), info.pretrain_steps, info.steps, info.lora_rank), ("sorting", 30, 6, 4));
    let m = info.memory;
    assert!(m.trainable < m.weights && m.frozen_copy > 0 && m.optimizer_state == 2 * m.trainable, "{m:?}");

    let rest = &all[at + 1..];
    let evals: Vec<usize> = rest
        .iter()
        .filter_map(|e| if let AlignEvent::Eval { record, .. } = e { Some(record.step) } else { None })
        .collect();
    assert_eq!(evals, [0, 6], "the step-0 evaluation and the last");
    for pair in rest.windows(2).filter(|w| matches!(w[0], AlignEvent::Eval { .. })) {
        let (AlignEvent::Eval { record, valid }, AlignEvent::Diagnosis { step, findings }) = (&pair[0], &pair[1])
        else {
            panic!("{pair:?}")
        };
        assert_eq!((*step, valid.len()), (record.step, record.samples.len()), "every sample is judged");
        assert!(findings.is_empty(), "too few steps to name anything: {findings:?}");
    }
    let steps: Vec<&faultline_engine::telemetry::align::DpoStepRecord> =
        rest.iter().flat_map(|e| if let AlignEvent::Steps(r) = e { r.iter().collect() } else { Vec::new() }).collect();
    assert_eq!(steps.iter().map(|r| r.step).collect::<Vec<_>>(), (1..=6).collect::<Vec<_>>());
    assert_eq!(rest.last(), Some(&AlignEvent::Done { steps: 6 }));
    assert!(!s.is_running());

    let base = pretrain(config.clone(), CpuBackend::<f32>::new(), native_clock).unwrap();
    let settings = DpoSettings { steps: 6, ..DpoSettings::from_config(&config) };
    let mut direct = DpoRun::new(base, settings).unwrap();
    let losses: Vec<u32> = (0..6).map(|_| direct.step().unwrap().loss.to_bits()).collect();
    assert_eq!(steps.iter().map(|r| r.loss.to_bits()).collect::<Vec<_>>(), losses, "the worker's run is the engine's");
    assert_eq!(m, direct.memory());
}

#[test]
fn settings_a_fine_tuning_run_refuses_are_named() {
    let mut s = Session::new(native_clock);
    let fine_tuning = |beta, pretrain_steps| faultline_engine::config::FineTuning {
        beta,
        pretrain_steps,
        ..faultline_engine::config::FineTuning::default()
    };
    for (ft, steps, field) in [
        (fine_tuning(0.1, 30), 0, "steps"),
        (fine_tuning(0.0, 30), 6, "beta"),
        (fine_tuning(0.1, 0), 6, "pretrain-steps"),
    ] {
        let config = RunConfig { fine_tuning: ft, ..align_config(&[]) };
        let out =
            align_events(s.handle(ToWorker::Align { run: 2, config: Box::new(config), steps, method: Method::Dpo }), 2);
        let [AlignEvent::Failed { message }] = out.as_slice() else { panic!("{out:?}") };
        assert!(message.starts_with(&format!("{field}: ")), "{message}");
        assert!(!s.is_running());
    }
}

#[test]
fn one_run_at_a_time_a_reset_or_a_start_stops_fine_tuning_and_an_align_replaces_a_run() {
    let mut s = Session::new(native_clock);
    s.handle(ToWorker::Start { run: 1, config: Box::new(config(10)), paused: true, compute: Compute::Cpu });
    let align = |run| ToWorker::Align { run, config: Box::new(align_config(&[])), steps: 6, method: Method::Dpo };
    assert!(matches!(align_events(s.handle(align(2)), 2).as_slice(), [AlignEvent::Pretraining { done: 0, .. }]));
    assert!(s.handle(ToWorker::Step).is_empty(), "the training run is gone");
    s.run_chunk(0.0);
    let refused = sweep_events(s.handle(sweep(3)), 3);
    assert!(
        matches!(refused.as_slice(), [LrRangeEvent::Failed { message }] if message.contains("fine-tuning run")),
        "{refused:?}"
    );
    assert_eq!(align_events(s.handle(ToWorker::Reset), 2), [AlignEvent::Stopped { why: "stopped".into() }]);
    assert!(!s.is_running() && s.run_chunk(10.0).is_empty());

    s.handle(align(4));
    let out = s.handle(align(5));
    assert_eq!(
        out[0],
        FromWorker::Align { run: 4, event: AlignEvent::Stopped { why: "a newer fine-tuning run replaced it".into() } }
    );
    let out = s.handle(ToWorker::Start { run: 6, config: Box::new(config(10)), paused: true, compute: Compute::Cpu });
    assert_eq!(
        out[0],
        FromWorker::Align { run: 5, event: AlignEvent::Stopped { why: "a training run started".into() } }
    );
    assert!(matches!(&out[1], FromWorker::Run { run: 6, event: RunEvent::Started(_) }));
    assert!(!s.is_running(), "the paused training run waits");
}

/// A reference that follows the policy keeps the DPO loss at ln 2: the detector names the guide's
/// entry once the run has enough steps.
#[test]
fn a_reference_that_is_not_frozen_is_named_by_the_detector() {
    let mut s = Session::new(native_clock);
    let config = align_config(&[("fault", "dpo-reference-not-frozen")]);
    let all = align_to_the_end(&mut s, 7, config, 20, 50.0);
    let Some(AlignEvent::Diagnosis { step: 20, findings }) =
        all.iter().rev().find(|e| matches!(e, AlignEvent::Diagnosis { .. }))
    else {
        panic!("{:?}", all.last())
    };
    assert_eq!(findings[0].entry, EntryId::DpoLossNotDecreasing, "{findings:?}");
    assert!(findings[0].evidence[0].to_string().contains("20"), "{}", findings[0].evidence[0]);
    assert_eq!(all.last(), Some(&AlignEvent::Done { steps: 20 }));
}
