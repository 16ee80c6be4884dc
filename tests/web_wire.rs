//! The worker protocol as it really travels: through `serde-wasm-bindgen` and JavaScript values, in the
//! browser. (The native unit tests cover the same messages through JSON.)
#![cfg(target_arch = "wasm32")]

use faultline_app::protocol::{
    wire, AlignEvent, Bytes, Compute, EstimateResult, FromWorker, LogEvent, LogPart, RunEvent, ToWorker,
};
use faultline_app::worker::session::Session;
use faultline_engine::align::Method;
use faultline_engine::bench::BenchResult;
use faultline_engine::diagnosis::{Evidence, Finding};
use faultline_engine::guide::EntryId;
use faultline_engine::telemetry::Mode;
use faultline_engine::trainer::Trainer;
use faultline_engine::{PhaseTimes, Preset, RunConfig, StepRecord};
use wasm_bindgen::JsCast;
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};

wasm_bindgen_test_configure!(run_in_browser);

fn no_clock() -> f64 {
    0.0
}

fn through_the_wire<T: serde::Serialize + serde::de::DeserializeOwned>(msg: &T) -> T {
    wire::decode(wire::encode(msg).expect("encodes")).expect("decodes")
}

#[wasm_bindgen_test]
fn a_start_keeps_every_setting_and_a_seed_above_2_pow_53() {
    let config = RunConfig { seed: u64::MAX - 1, lr: 0.0125, steps: 777, ..RunConfig::preset(Preset::Small) };
    let msg = ToWorker::Start { run: 41, config: Box::new(config), paused: true, compute: Compute::Webgpu };
    assert_eq!(through_the_wire(&msg), msg);
    for msg in [ToWorker::Pause, ToWorker::Resume, ToWorker::Step, ToWorker::Reset] {
        assert_eq!(through_the_wire(&msg), msg);
    }
    let bench = ToWorker::Bench { config: Preset::Tiny, steps: 20, seed: 1 };
    assert_eq!(through_the_wire(&bench), bench);
}

#[wasm_bindgen_test]
fn non_finite_telemetry_survives() {
    let record = StepRecord {
        step: 3,
        loss: f32::NAN,
        grad_norm: f32::INFINITY,
        lr: 3e-3,
        tokens: 1024,
        times: PhaseTimes::default(),
        mode: Some(Mode::Train),
    };
    let msg = FromWorker::Run { run: 2, event: RunEvent::Steps { records: vec![record], tokens_per_s: None } };
    let FromWorker::Run { run: 2, event: RunEvent::Steps { records, tokens_per_s: None } } = through_the_wire(&msg)
    else {
        panic!("the message changed shape");
    };
    assert!(records[0].loss.is_nan() && records[0].grad_norm == f32::INFINITY && records[0].step == 3);
}

#[wasm_bindgen_test]
fn a_real_evaluation_and_a_bench_result_round_trip() {
    let config =
        RunConfig { steps: 1, batch_size: 1, eval_batches: 1, sample_tokens: 8, ..RunConfig::preset(Preset::Tiny) };
    let mut trainer = Trainer::cpu(config, no_clock).expect("the tiny preset builds");
    let msg = FromWorker::Run { run: 1, event: RunEvent::Eval(trainer.evaluate()) };
    assert_eq!(through_the_wire(&msg), msg);
    let bench = FromWorker::BenchDone(BenchResult {
        backend: "cpu".into(),
        backend_name: "CPU (scalar)".into(),
        threads: 1,
        config: "tiny".into(),
        steps: 20,
        steps_per_s: 4.0,
        tokens_per_s: 4096.0,
        first_loss: Some(3.37),
        last_loss: Some(2.6),
        error: None,
        reference_steps_per_s: Some(2.0),
        kernels: None,
        threaded: Some(faultline_engine::bench::ThreadedRun { threads: 2, steps_per_s: 7.5, speedup: 1.875 }),
    });
    assert_eq!(through_the_wire(&bench), bench);
}

#[wasm_bindgen_test]
fn findings_and_memory_estimates_survive() {
    let finding = Finding {
        entry: EntryId::OutOfMemoryOom,
        confidence: 1.0,
        first_step: None,
        evidence: vec![Evidence::OutOfMemory {
            what: "activations".into(),
            requested_bytes: 1061 << 20,
            budget_bytes: 1024 << 20,
        }],
    };
    let msg = FromWorker::Run {
        run: 3,
        event: RunEvent::Diagnosis { step: 0, vocab_size: 29, findings: vec![finding], watching: Vec::new() },
    };
    assert_eq!(through_the_wire(&msg), msg);
    // The worker's own answer: its byte counts are 64-bit integers and travel as BigInts.
    let mut session = Session::new(no_clock);
    let config = RunConfig { memory_budget_mb: 65_536, ..RunConfig::preset(Preset::Small) };
    let answers = session.handle(ToWorker::Estimate { request: 5, config: Box::new(config) });
    let [answer @ FromWorker::Estimate { request: 5, result: EstimateResult::Known { memory, .. } }] =
        answers.as_slice()
    else {
        panic!("{answers:?}")
    };
    assert!(memory.budget > u32::MAX as u64);
    assert_eq!(&through_the_wire(answer), answer);
}

#[wasm_bindgen_test]
fn garbage_is_an_error_not_a_panic() {
    let value = wasm_bindgen::JsValue::from_str("start");
    assert!(wire::decode::<ToWorker>(value).is_err());
}

#[wasm_bindgen_test]
fn a_log_goes_as_bytes_and_comes_back_diagnosed_with_its_nan() {
    let chunk = ToWorker::Log { request: 2, part: LogPart::Chunk(Bytes(b"{\"step\": 1, \"loss\": NaN}\n".to_vec())) };
    let encoded = wire::encode(&chunk).expect("encodes");
    let part = js_sys::Reflect::get(&js_sys::Reflect::get(&encoded, &"log".into()).unwrap(), &"part".into()).unwrap();
    let bytes = js_sys::Reflect::get(&part, &"chunk".into()).unwrap();
    assert!(bytes.is_instance_of::<js_sys::Uint8Array>(), "a chunk travels as one Uint8Array");
    assert_eq!(through_the_wire(&chunk), chunk);

    let mut session = Session::new(no_clock);
    let log: String = (1..=40u64)
        .map(|step| {
            let loss = if step < 30 { format!("{}", 4.0 - step as f32 * 0.01) } else { "NaN".to_string() };
            format!("{{\"step\": {}, \"loss\": {loss}}}\n", step + (1 << 40))
        })
        .collect();
    let parts = [
        LogPart::Begin { format: None },
        LogPart::File { name: "train.jsonl".into() },
        LogPart::Chunk(Bytes(log.into_bytes())),
        LogPart::End { vocab_size: None },
    ];
    let answers: Vec<FromWorker> =
        parts.into_iter().flat_map(|part| session.handle(ToWorker::Log { request: 3, part })).collect();
    let Some(FromWorker::Log { request: 3, event: LogEvent::Read(read) }) = through_the_wire(&answers).pop() else {
        panic!("{answers:?}")
    };
    let loss = &read.runs[0].curves[0];
    assert_eq!(loss.points[0].step, 1 + (1 << 40), "steps above 2^32 survive");
    assert!(loss.points.last().is_some_and(|p| p.value.is_nan()), "and so does the NaN");
    assert_eq!(read.runs[0].report.findings[0].entry, EntryId::LossBecomesNan);
}

#[wasm_bindgen_test]
fn a_fine_tuning_run_goes_out_and_its_events_come_back_whole() {
    let mut config = RunConfig::from_pairs([("corpus", "sorting"), ("pretrain-steps", "3"), ("lora-rank", "2")])
        .expect("valid settings");
    config.seed = u64::MAX - 2;
    let start = ToWorker::Align { run: 9, config: Box::new(config.clone()), steps: 2, method: Method::Dpo };
    assert_eq!(through_the_wire(&start), start, "the seed above 2^53 survives");

    let mut session = Session::new(no_clock);
    let mut answers = session.handle(start);
    while session.is_running() {
        answers.extend(session.run_chunk(0.0));
    }
    assert_eq!(through_the_wire(&answers), answers, "every event, its byte count a BigInt, comes back whole");
    let events: Vec<AlignEvent> = answers
        .into_iter()
        .map(|m| match m {
            FromWorker::Align { run: 9, event } => event,
            other => panic!("{other:?}"),
        })
        .collect();
    let Some(AlignEvent::FineTuning(info)) = events.iter().find(|e| matches!(e, AlignEvent::FineTuning(_))) else {
        panic!("{events:?}")
    };
    assert!(info.memory.total_bytes > 0 && info.memory.frozen_copy > 0, "{:?}", info.memory);
    let evals = events.iter().filter(|e| matches!(e, AlignEvent::Eval { .. })).count();
    assert_eq!((evals, events.last()), (2, Some(&AlignEvent::Done { steps: 2 })));
}
