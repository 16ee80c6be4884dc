//! The protocol's messages survive serde, natively, as the wire carries them.

use super::test_support::{eval_record, run_info, step_record, summary};
use super::*;
use faultline_engine::diagnosis::{diagnose_log, Evidence};
use faultline_engine::guide::EntryId;
use faultline_engine::lr_range::RangeEnd;
use faultline_engine::telemetry::log::{LoggedRun, Signal};
use faultline_engine::Preset;

fn round_trip<T: Serialize + for<'de> Deserialize<'de> + PartialEq + std::fmt::Debug>(msg: T) -> serde_json::Value {
    let json = serde_json::to_value(&msg).unwrap();
    let back: T = serde_json::from_value(json.clone()).unwrap();
    assert_eq!(back, msg);
    json
}

#[test]
fn the_compute_choice_comes_from_the_link_then_storage_then_auto() {
    assert_eq!(Compute::initial(None, None), (Compute::Auto, None));
    assert_eq!(Compute::initial(None, Some("cpu")), (Compute::Cpu, None));
    assert_eq!(Compute::initial(Some("webgpu"), Some("cpu")), (Compute::Webgpu, None));
    assert_eq!(Compute::initial(None, Some("quantum")), (Compute::Auto, None));
    let (chosen, notice) = Compute::initial(Some("gpu"), Some("cpu"));
    assert_eq!(chosen, Compute::Cpu);
    assert_eq!(
        notice.as_deref(),
        Some("The link's compute=gpu: there is no backend 'gpu' (expected auto, cpu or webgpu); using cpu.")
    );
    for c in Compute::ALL {
        assert_eq!(Compute::parse(c.id()), Ok(c));
        assert_eq!(serde_json::to_value(c).unwrap(), c.id());
    }
}

#[test]
fn every_message_to_the_worker_round_trips() {
    let config = RunConfig { seed: u64::MAX, ..RunConfig::preset(Preset::Small) };
    let start =
        round_trip(ToWorker::Start { run: 7, config: Box::new(config), paused: true, compute: Compute::Webgpu });
    assert_eq!(start["start"]["run"], 7);
    assert_eq!(start["start"]["compute"], "webgpu");
    assert_eq!(start["start"]["config"]["preset"], "small");
    for msg in [ToWorker::Pause, ToWorker::Resume, ToWorker::Step, ToWorker::Reset] {
        round_trip(msg);
    }
    assert_eq!(round_trip(ToWorker::Pause), "pause");
    round_trip(ToWorker::Sample(SampleRequest {
        prompt: "the ".into(),
        max_new_tokens: 40,
        sampling: SamplingConfig { greedy: true, ..SamplingConfig::default() },
        seed: 3,
    }));
    let bench = round_trip(ToWorker::Bench { config: Preset::Tiny, steps: 20, seed: 1 });
    assert_eq!(bench["bench"]["config"], "tiny");
    let estimate = round_trip(ToWorker::Estimate { request: 3, config: Box::new(RunConfig::default()) });
    assert_eq!(estimate["estimate"]["request"], 3);
    let sweep = round_trip(ToWorker::LrRange {
        request: 4,
        config: Box::new(RunConfig::default()),
        settings: RangeSettings::default(),
    });
    assert_eq!(sweep["lr-range"]["settings"]["num_lrs"], 100);
    assert_eq!(round_trip(ToWorker::SaveCheckpoint { request: 2 })["save-checkpoint"]["request"], 2);
    let load = round_trip(ToWorker::LoadCheckpoint {
        run: 8,
        bytes: Bytes(b"FLCKPT".to_vec()),
        paused: true,
        compute: Compute::Auto,
    });
    assert_eq!(load["load-checkpoint"]["bytes"][0], b'F');
    let parts = [
        LogPart::Begin { format: Some(Format::Hf) },
        LogPart::Begin { format: None },
        LogPart::File { name: "trainer_state.json".into() },
        LogPart::Chunk(Bytes(b"{\"log_history\"".to_vec())),
        LogPart::End { vocab_size: Some(50257) },
        LogPart::Rediagnose { vocab_size: None },
    ];
    for part in parts {
        assert_eq!(round_trip(ToWorker::Log { request: 9, part })["log"]["request"], 9);
    }
    for (method, name) in [(Method::Dpo, "dpo"), (Method::Rl, "rl")] {
        let align = round_trip(ToWorker::Align { run: 5, config: Box::new(RunConfig::default()), steps: 30, method });
        assert_eq!((&align["align"]["steps"], &align["align"]["method"]), (&30.into(), &name.into()));
    }
    let mut unknown = serde_json::to_value(ToWorker::Align {
        run: 5,
        config: Box::new(RunConfig::default()),
        steps: 30,
        method: Method::Rl,
    })
    .unwrap();
    unknown["align"]["method"] = "ppo".into();
    let refused = serde_json::from_value::<ToWorker>(unknown).unwrap_err().to_string();
    assert!(refused.contains("no fine-tuning method called 'ppo' (dpo or rl)"), "{refused}");
    let begin = round_trip(ToWorker::Log { request: 1, part: LogPart::Begin { format: Some(Format::TbEvents) } });
    assert_eq!(begin["log"]["part"]["begin"]["format"], "tb-events");
}

#[test]
fn every_message_from_the_worker_round_trips() {
    assert_eq!(round_trip(FromWorker::Ready { threads: 2 })["ready"]["threads"], 2);
    let events = [
        RunEvent::Started(run_info(false)),
        RunEvent::Steps { records: vec![step_record(1, 4.5), step_record(2, 4.25)], tokens_per_s: Some(1e4) },
        RunEvent::Steps { records: Vec::new(), tokens_per_s: None },
        RunEvent::Eval(eval_record(50, 2.5, Some(2.75), Some("the dog runs."))),
        RunEvent::Eval(eval_record(50, 2.5, None, None)),
        RunEvent::Diagnosis {
            step: 50,
            vocab_size: 29,
            findings: vec![Finding {
                entry: EntryId::LossBecomesNan,
                confidence: 1.0,
                first_step: Some(12),
                evidence: vec![Evidence::NonFinite { tensor: "logits".into(), step: 12 }],
            }],
            watching: Vec::new(),
        },
        RunEvent::Diagnosis { step: 0, vocab_size: 0, findings: Vec::new(), watching: Vec::new() },
        RunEvent::Sample(Generated {
            step: 50,
            sampling: SamplingConfig { repetition_penalty: 1.3, ..SamplingConfig::default() },
            sample: Ok(eval_record(50, 2.5, None, Some("the dog runs.\n")).sample.expect("a sample")),
        }),
        RunEvent::Sample(Generated {
            step: 50,
            sampling: SamplingConfig { temperature: 0.0, ..SamplingConfig::default() },
            sample: Err("temperature: must be a positive number".into()),
        }),
        RunEvent::Paused { step: 3 },
        RunEvent::Resumed { step: 3 },
        RunEvent::Finished(summary(100)),
        RunEvent::Stopped { step: 12, tensor: "logits".into(), message: "non-finite value".into() },
        RunEvent::Failed { message: "out of memory".into() },
    ];
    for event in events {
        let json = round_trip(FromWorker::Run { run: 2, event });
        assert_eq!(json["run"]["run"], 2);
    }
    round_trip(FromWorker::BenchDone(BenchResult {
        backend: "cpu".into(),
        backend_name: "CPU (scalar)".into(),
        threads: 1,
        config: "tiny".into(),
        steps: 20,
        steps_per_s: 10.0,
        tokens_per_s: 10240.0,
        first_loss: Some(4.5),
        last_loss: Some(3.5),
        error: None,
        reference_steps_per_s: None,
        kernels: None,
        threaded: None,
    }));
    round_trip(FromWorker::Fatal { message: "panicked".into() });
    let memory = faultline_engine::memory::estimate(&RunConfig::default(), 29);
    round_trip(FromWorker::Estimate { request: 1, result: EstimateResult::Known { vocab_size: 29, memory } });
    round_trip(FromWorker::Estimate { request: 2, result: EstimateResult::Unavailable { message: "no".into() } });
    round_trip(FromWorker::Checkpoint { request: 1, result: Ok(Bytes(vec![0, 255])) });
    round_trip(FromWorker::Checkpoint { request: 2, result: Err("there is no run to save".into()) });
    let loaded = LoadedCheckpoint { config: Box::new(RunConfig::default()), step: 120 };
    round_trip(FromWorker::CheckpointLoaded { run: 3, result: Ok(loaded) });
    round_trip(FromWorker::CheckpointLoaded { run: 4, result: Err("not a Faultline checkpoint".into()) });
    let points = vec![RangePoint { step: 1, lr: 1e-7, loss: 3.4 }, RangePoint { step: 2, lr: 1e-6, loss: 3.3 }];
    let events = [
        LrRangeEvent::Started { planned: 100 },
        LrRangeEvent::Points(points.clone()),
        LrRangeEvent::Done(RangeResult {
            settings: RangeSettings::default(),
            suggestion: faultline_engine::lr_range::suggest(&points),
            points,
            end: RangeEnd::Exploded { step: 2, lr: 1e-6, loss: 20.0 },
        }),
        LrRangeEvent::Failed { message: "a training run is in progress".into() },
    ];
    for event in events {
        let json = round_trip(FromWorker::LrRange { request: 5, event });
        assert_eq!(json["lr-range"]["request"], 5);
    }
    let mut run = LoggedRun { name: "train.jsonl".into(), series: Vec::new() };
    for step in 1..=30 {
        run.push(Signal::Loss, step, 4.0 - step as f32 * 0.05);
        run.push(Signal::LayerGradNorm("h.0".into()), step, 0.5);
    }
    let read = LogDiagnosis {
        format: Format::Jsonl,
        files: vec!["train.jsonl".into()],
        runs: vec![DiagnosedRun {
            name: run.name.clone(),
            report: diagnose_log(&run, Some(64)),
            curves: run.series.clone(),
        }],
    };
    let events = [
        LogEvent::Received { bytes: 1 << 20 },
        LogEvent::Read(Box::new(read)),
        LogEvent::Failed { message: "log.jsonl:3: step 2 of `loss` comes after step 5".into() },
    ];
    for event in events {
        assert_eq!(round_trip(FromWorker::Log { request: 6, event })["log"]["request"], 6);
    }
}
