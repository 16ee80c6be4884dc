//! A policy-gradient fine-tuning run in the session: pretraining, the reward models, then the
//! policy gradient in slices.

use super::align::align_events;
use super::*;
use faultline_engine::telemetry::align::RlStepRecord;

/// A small policy-gradient set-up: toy English, 30 pretraining steps, 8 prompts a step.
fn rl_config(changes: &[(&str, &str)]) -> RunConfig {
    let base = [("corpus", "toy-english"), ("pretrain-steps", "30")];
    RunConfig::from_pairs(base.iter().chain(changes).copied()).expect("valid settings")
}

#[test]
fn a_policy_gradient_run_trains_its_reward_models_then_takes_the_engines_steps() {
    let mut s = Session::new(native_clock);
    let config = rl_config(&[]);
    let msg = ToWorker::Align { run: 1, config: Box::new(config.clone()), steps: 3, method: Method::Rl };
    assert_eq!(align_events(s.handle(msg), 1), [AlignEvent::Pretraining { done: 0, total: 30, loss: None }]);
    let mut all = Vec::new();
    while s.is_running() {
        all.extend(align_events(s.run_chunk(0.0), 1));
    }
    let at = all.iter().position(|e| matches!(e, AlignEvent::FineTuning(_))).expect("fine-tuning begins");
    let AlignEvent::FineTuning(info) = &all[at] else { unreachable!() };
    let MethodInfo::Rl(rl) = &info.method else { panic!("{info:?}") };
    assert_eq!((info.corpus.as_str(), info.steps, rl.reward_models, rl.reward_pairs), ("toy-english", 3, 3, 64));
    assert!((0.0..=1.0).contains(&rl.reward_accuracy), "{rl:?}");
    let AlignEvent::RewardModels(models) = &all[at + 1] else { panic!("{:?}", all[at + 1]) };
    assert_eq!(models.len(), 3);
    assert!(models.iter().all(|m| m.pairs == 64 && !m.epochs.is_empty()), "{models:?}");

    let rest = &all[at + 2..];
    for pair in rest.windows(2).filter(|w| matches!(w[0], AlignEvent::RlEval { .. })) {
        let (AlignEvent::RlEval { record, valid }, AlignEvent::Diagnosis { step, .. }) = (&pair[0], &pair[1]) else {
            panic!("{pair:?}")
        };
        assert_eq!((*step, valid.len()), (record.step, record.samples.len()), "every sample is judged");
    }
    let evals: Vec<usize> = rest
        .iter()
        .filter_map(|e| if let AlignEvent::RlEval { record, .. } = e { Some(record.step) } else { None })
        .collect();
    assert_eq!(evals, [0, 3], "the step-0 evaluation and the last");
    let steps: Vec<&RlStepRecord> = rest
        .iter()
        .flat_map(|e| if let AlignEvent::RlSteps(r) = e { r.iter().collect() } else { Vec::new() })
        .collect();
    assert_eq!(steps.iter().map(|r| r.step).collect::<Vec<_>>(), [1, 2, 3]);
    assert_eq!(rest.last(), Some(&AlignEvent::Done { steps: 3 }));

    let base = pretrain(config.clone(), CpuBackend::<f32>::new(), native_clock).unwrap();
    let mut direct = RlRun::new(base, RlSettings { steps: 3, ..RlSettings::from_config(&config) }).unwrap();
    let rewards: Vec<u32> = (0..3).map(|_| direct.step().unwrap().reward.to_bits()).collect();
    assert_eq!(
        steps.iter().map(|r| r.reward.to_bits()).collect::<Vec<_>>(),
        rewards,
        "the worker's run is the engine's"
    );
}

#[test]
fn a_fault_of_the_other_method_is_refused_by_name() {
    let mut s = Session::new(native_clock);
    for (method, fault) in [(Method::Dpo, "no-kl-penalty"), (Method::Rl, "dpo-reference-not-frozen")] {
        let config = rl_config(&[("fault", fault)]);
        let out = align_events(s.handle(ToWorker::Align { run: 2, config: Box::new(config), steps: 3, method }), 2);
        let [AlignEvent::Failed { message }] = out.as_slice() else { panic!("{out:?}") };
        assert!(message.starts_with(&format!("fault: '{fault}' breaks ")), "{message}");
        assert!(!s.is_running());
    }
}
