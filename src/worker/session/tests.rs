use super::*;
use crate::protocol::{AlignEvent, Compute, LogEvent, LogPart, RunInfo, SampleRequest};
use faultline_engine::align::{pretrain, DpoRun, DpoSettings};
use faultline_engine::backend::{BackendKind, CpuBackend};
use faultline_engine::diagnosis::Vocab;
use faultline_engine::faults::FaultId;
use faultline_engine::guide::EntryId;
use faultline_engine::lr_range::{RangePoint, RangeSettings};
use faultline_engine::sampling::SamplingConfig;
use faultline_engine::telemetry::log::Signal;
use faultline_engine::trainer::native_clock;
use faultline_engine::{OptimizerKind, Preset, RunConfig};

fn config(steps: usize) -> RunConfig {
    RunConfig { steps, eval_every: 5, eval_batches: 1, batch_size: 2, ..RunConfig::preset(Preset::Tiny) }
}

fn events(out: Vec<FromWorker>, run: RunId) -> Vec<RunEvent> {
    out.into_iter()
        .map(|m| match m {
            FromWorker::Run { run: id, event } if id == run => event,
            other => panic!("unexpected message {other:?}"),
        })
        .collect()
}

fn step_numbers(events: &[RunEvent]) -> Vec<usize> {
    events
        .iter()
        .flat_map(|e| match e {
            RunEvent::Steps { records, .. } => records.iter().map(|r| r.step).collect(),
            _ => Vec::new(),
        })
        .collect()
}

#[test]
fn a_run_trains_evaluates_samples_and_finishes() {
    let mut s = Session::new(native_clock);
    let started = events(
        s.handle(ToWorker::Start { run: 1, config: Box::new(config(10)), paused: false, compute: Compute::Cpu }),
        1,
    );
    let [RunEvent::Started(info)] = started.as_slice() else { panic!("{started:?}") };
    assert_eq!((info.steps, info.paused), (10, false));
    assert!(info.param_count > 0 && !info.backend.is_empty());
    assert_eq!(info.data_sample.chars().count(), info.model.context, "a context's worth of decoded text");
    let mut all = Vec::new();
    while s.is_running() {
        all.extend(events(s.run_chunk(5.0), 1));
    }
    assert_eq!(step_numbers(&all), (1..=10).collect::<Vec<_>>());
    let evals: Vec<usize> =
        all.iter().filter_map(|e| if let RunEvent::Eval(r) = e { Some(r.step) } else { None }).collect();
    assert_eq!(evals, [5, 10]);
    let samples = all.iter().filter(|e| matches!(e, RunEvent::Eval(r) if r.sample.is_some())).count();
    assert_eq!(samples, 2, "every evaluation carries a sample");
    assert!(matches!(all.last(), Some(RunEvent::Finished(summary)) if summary.steps_run == 10));
}

/// Runs `config` to its end on `compute`: what the run said when it started, and its step losses.
fn train_on(compute: Compute, config: RunConfig) -> (RunInfo, Vec<f32>) {
    let (info, all) = train_in_chunks(compute, config, 50.0);
    let losses = all
        .iter()
        .flat_map(|e| match e {
            RunEvent::Steps { records, .. } => records.iter().map(|r| r.loss).collect(),
            _ => Vec::new(),
        })
        .collect();
    (info, losses)
}

/// Runs `config` to its end on `compute` in chunks of `budget_ms`: what the run said when it
/// started, and every event after.
fn train_in_chunks(compute: Compute, config: RunConfig, budget_ms: f64) -> (RunInfo, Vec<RunEvent>) {
    let mut s = Session::new(native_clock);
    let started = events(s.handle(ToWorker::Start { run: 1, config: Box::new(config), paused: false, compute }), 1);
    let [RunEvent::Started(info)] = started.as_slice() else { panic!("{started:?}") };
    let mut all = Vec::new();
    while s.is_running() {
        all.extend(events(s.run_chunk(budget_ms), 1));
    }
    (info.clone(), all)
}

/// With time to spare in a chunk, a GPU run records several steps per readback (after a first
/// step alone, which sets the pace): every step still reaches the page once, in order, and the
/// evaluations come at their steps (a launch stops short before each).
#[test]
fn a_gpu_run_in_launches_of_steps_reports_every_step_once() {
    let (info, all) = train_in_chunks(Compute::Webgpu, config(12), 60_000.0);
    assert_eq!(info.backend_kind, BackendKind::Gpu, "{}", info.backend);
    assert_eq!(step_numbers(&all), (1..=12).collect::<Vec<_>>());
    let evals: Vec<usize> =
        all.iter().filter_map(|e| if let RunEvent::Eval(r) = e { Some(r.step) } else { None }).collect();
    assert_eq!(evals, [5, 10, 12], "every 5 steps and at the end");
    assert!(matches!(all.last(), Some(RunEvent::Finished(summary)) if summary.steps_run == 12));
}

/// Natively the WebGPU choice runs wgpu on Vulkan (Mesa's lavapipe in CI): the same run as on
/// the CPU, step for step, and the run says which backend it got and why.
#[test]
fn a_run_trains_on_the_backend_chosen_and_says_why() {
    let (cpu, cpu_losses) = train_on(Compute::Cpu, config(12));
    let (gpu, gpu_losses) = train_on(Compute::Webgpu, config(12));
    assert!(cpu.backend.starts_with("CPU"), "{}", cpu.backend);
    assert_eq!(cpu.backend_reason, "the CPU, as chosen in the Compute setting");
    assert_eq!(gpu.backend_kind, BackendKind::Gpu, "{}", gpu.backend);
    assert_eq!(gpu.backend_reason, "WebGPU, as chosen in the Compute setting");
    assert_eq!(gpu_losses.len(), 12);
    for (step, (g, c)) in gpu_losses.iter().zip(&cpu_losses).enumerate() {
        // The GPU sums in another order than the CPU's SIMD kernels; over 12 steps they stay within 1e-3.
        assert!((g - c).abs() <= 1e-3, "step {}: WebGPU {g} vs CPU {c}", step + 1);
    }
}

/// "Auto" says what it chose by: a software adapter (natively lavapipe) is ruled out by kind,
/// a hardware one by a calibration whose figures the reason quotes.
#[test]
fn auto_says_what_it_chose_by() {
    let (info, losses) = train_on(Compute::Auto, config(3));
    assert_eq!(losses.len(), 3);
    let reason = &info.backend_reason;
    eprintln!("{reason}");
    assert!(reason.starts_with("auto: "), "{reason}");
    let on_gpu = reason.ends_with("training on WebGPU");
    assert_eq!(info.backend_kind == BackendKind::Gpu, on_gpu, "{} / {reason}", info.backend);
    if reason.contains("software renderer") {
        assert!(!on_gpu, "{reason}");
    } else {
        assert!(reason.contains("steps/s") && reason.contains("3-step calibration"), "{reason}");
    }
}

#[test]
fn pause_step_resume_and_reset() {
    let mut s = Session::new(native_clock);
    s.handle(ToWorker::Start { run: 4, config: Box::new(config(50)), paused: true, compute: Compute::Cpu });
    assert!(!s.is_running());
    let one = events(s.handle(ToWorker::Step), 4);
    assert_eq!(step_numbers(&one), [1]);
    assert!(matches!(events(s.handle(ToWorker::Resume), 4).as_slice(), [RunEvent::Resumed { step: 1 }]));
    let chunk = events(s.run_chunk(0.0), 4);
    let paused = events(s.handle(ToWorker::Pause), 4);
    let mut seen = step_numbers(&chunk);
    seen.extend(step_numbers(&paused));
    assert_eq!(seen, [2], "one step per zero-budget chunk, flushed on pause");
    assert!(matches!(paused.last(), Some(RunEvent::Paused { step: 2 })));
    assert!(s.run_chunk(10.0).is_empty(), "a paused run does not train");
    s.handle(ToWorker::Reset);
    assert!(s.handle(ToWorker::Step).is_empty() && !s.is_running());
}

#[test]
fn a_non_finite_value_stops_the_run_and_names_the_tensor() {
    let mut s = Session::new(native_clock);
    let config = RunConfig { optimizer: OptimizerKind::Sgd, lr: 100.0, grad_clip: 0.0, warmup_steps: 0, ..config(200) };
    s.handle(ToWorker::Start { run: 5, config: Box::new(config), paused: false, compute: Compute::Cpu });
    let mut all = Vec::new();
    while s.is_running() {
        all.extend(events(s.run_chunk(5.0), 5));
    }
    let [.., RunEvent::Stopped { step, tensor, message }, RunEvent::Diagnosis { findings, .. }] = all.as_slice() else {
        panic!("{:?}", all.last())
    };
    assert!(*step <= 200 && !tensor.is_empty() && message.contains(tensor.as_str()), "{message}");
    assert_eq!(findings[0].entry, EntryId::LossBecomesNan);
    assert!(findings[0].evidence[0].to_string().contains(tensor.as_str()), "{:?}", findings[0].evidence);
    let last_good = step_numbers(&all).last().copied().unwrap_or(0);
    assert_eq!(last_good + 1, *step, "every good step was reported before the stop");
    assert!(s.handle(ToWorker::Resume).is_empty(), "a stopped run cannot be resumed");
}

#[test]
fn every_evaluation_is_followed_by_the_detectors_reading() {
    let mut s = Session::new(native_clock);
    let mut leaky = config(10);
    leaky.faults.set(FaultId::NoCausalMask, None).unwrap();
    s.handle(ToWorker::Start { run: 3, config: Box::new(leaky), paused: false, compute: Compute::Cpu });
    let mut all = Vec::new();
    while s.is_running() {
        all.extend(events(s.run_chunk(5.0), 3));
    }
    let after_evals: Vec<&RunEvent> =
        all.windows(2).filter(|w| matches!(w[0], RunEvent::Eval(_))).map(|w| &w[1]).collect();
    assert_eq!(after_evals.len(), 2);
    for (event, expected_step) in after_evals.into_iter().zip([5, 10]) {
        let RunEvent::Diagnosis { step, vocab_size, findings, .. } = event else { panic!("{event:?}") };
        assert_eq!((*step, *vocab_size > 0), (expected_step, true));
        assert_eq!(findings[0].entry, EntryId::AttentionLooksAtFutureInCausalModel, "{findings:?}");
    }
}

#[test]
fn running_out_of_memory_at_the_start_is_diagnosed() {
    let mut s = Session::new(native_clock);
    let mut huge = config(10);
    huge.faults.set(FaultId::BatchTooLarge, Some(4096.0)).unwrap();
    let out =
        events(s.handle(ToWorker::Start { run: 6, config: Box::new(huge), paused: false, compute: Compute::Cpu }), 6);
    let [RunEvent::Failed { message }, RunEvent::Diagnosis { step: 0, vocab_size, findings, .. }] = out.as_slice()
    else {
        panic!("{out:?}")
    };
    assert!(message.contains("out of memory"), "{message}");
    assert!(*vocab_size > 0);
    assert_eq!(findings.iter().map(|f| f.entry).collect::<Vec<_>>(), [EntryId::OutOfMemoryOom]);
    assert!(!s.is_running());
}

#[test]
fn estimates_memory_without_starting_a_run() {
    let mut s = Session::new(native_clock);
    let out = s.handle(ToWorker::Estimate { request: 7, config: Box::new(config(10)) });
    let [FromWorker::Estimate { request: 7, result: EstimateResult::Known { vocab_size, memory } }] = out.as_slice()
    else {
        panic!("{out:?}")
    };
    assert!(*vocab_size > 0 && memory.fits() && memory.total > memory.parameters);
    assert_eq!(*memory, memory::estimate(&config(10), *vocab_size));
    let again = s.handle(ToWorker::Estimate { request: 8, config: Box::new(config(10)) });
    assert!(matches!(again.as_slice(), [FromWorker::Estimate { request: 8, result: EstimateResult::Known { .. } }]));
    let bad = RunConfig { lr: -1.0, ..config(10) };
    let out = s.handle(ToWorker::Estimate { request: 9, config: Box::new(bad) });
    assert!(
        matches!(out.as_slice(), [FromWorker::Estimate { result: EstimateResult::Unavailable { message }, .. }] if message.contains("lr")),
        "{out:?}"
    );
    assert!(!s.is_running());
}

#[test]
fn bad_settings_fail_the_start() {
    let mut s = Session::new(native_clock);
    let bad = RunConfig { lr: f32::NAN, ..config(10) };
    let out =
        events(s.handle(ToWorker::Start { run: 2, config: Box::new(bad), paused: false, compute: Compute::Cpu }), 2);
    assert!(matches!(out.as_slice(), [RunEvent::Failed { message }] if message.contains("lr")), "{out:?}");
    assert!(!s.is_running());
}

fn sweep_events(out: Vec<FromWorker>, request: u32) -> Vec<LrRangeEvent> {
    out.into_iter()
        .map(|m| match m {
            FromWorker::LrRange { request: r, event } if r == request => event,
            other => panic!("unexpected message {other:?}"),
        })
        .collect()
}

fn sweep(request: u32) -> ToWorker {
    let settings = RangeSettings { start_lr: 1e-4, end_lr: 1.0, num_lrs: 8 };
    ToWorker::LrRange { request, config: Box::new(config(10)), settings }
}

#[test]
fn a_range_test_runs_in_slices_and_ends_with_its_result() {
    let mut s = Session::new(native_clock);
    let started = sweep_events(s.handle(sweep(1)), 1);
    assert_eq!(started, [LrRangeEvent::Started { planned: 8 }]);
    let mut chunks = 0;
    let mut all = Vec::new();
    while s.is_running() {
        all.extend(sweep_events(s.run_chunk(0.0), 1));
        chunks += 1;
    }
    let streamed: Vec<RangePoint> = all
        .iter()
        .flat_map(|e| match e {
            LrRangeEvent::Points(p) => p.clone(),
            _ => Vec::new(),
        })
        .collect();
    assert_eq!(chunks, streamed.len(), "one step per zero-budget chunk");
    let Some(LrRangeEvent::Done(result)) = all.last() else { panic!("{:?}", all.last()) };
    assert_eq!(result.points, streamed);
    let direct = faultline_engine::lr_range::run(&config(10), result.settings, native_clock).unwrap();
    assert_eq!(*result, direct, "the worker's sweep is the engine's");
}

#[test]
fn a_range_test_is_refused_during_a_run_and_ended_by_a_start() {
    let mut s = Session::new(native_clock);
    s.handle(ToWorker::Start { run: 1, config: Box::new(config(10)), paused: true, compute: Compute::Cpu });
    let refused = sweep_events(s.handle(sweep(2)), 2);
    assert!(
        matches!(refused.as_slice(), [LrRangeEvent::Failed { message }] if message.contains("training run")),
        "{refused:?}"
    );
    assert!(!s.is_running(), "the paused run stays paused and no sweep runs");
    s.handle(ToWorker::Step);
    s.handle(ToWorker::Reset);
    assert!(matches!(sweep_events(s.handle(sweep(3)), 3).as_slice(), [LrRangeEvent::Started { .. }]));
    s.run_chunk(0.0);
    let out = s.handle(ToWorker::Start { run: 4, config: Box::new(config(10)), paused: true, compute: Compute::Cpu });
    assert!(
        matches!(&out[0], FromWorker::LrRange { request: 3, event: LrRangeEvent::Failed { message } } if message.contains("training run started")),
        "{out:?}"
    );
    assert!(matches!(&out[1], FromWorker::Run { run: 4, event: RunEvent::Started(_) }));
    let bad = ToWorker::LrRange {
        request: 5,
        config: Box::new(config(10)),
        settings: RangeSettings { num_lrs: 1, ..RangeSettings::default() },
    };
    s.handle(ToWorker::Reset);
    let out = sweep_events(s.handle(bad), 5);
    assert!(matches!(out.as_slice(), [LrRangeEvent::Failed { message }] if message.contains("num-lrs")), "{out:?}");
}

#[test]
fn on_demand_samples_carry_the_step() {
    let mut s = Session::new(native_clock);
    s.handle(ToWorker::Start { run: 9, config: Box::new(config(10)), paused: true, compute: Compute::Cpu });
    s.handle(ToWorker::Step);
    let request =
        SampleRequest { prompt: String::new(), max_new_tokens: 8, sampling: SamplingConfig::default(), seed: 3 };
    let out = events(s.handle(ToWorker::Sample(request.clone())), 9);
    let [RunEvent::Sample { step: 1, sample: Ok(stats) }] = out.as_slice() else { panic!("{out:?}") };
    assert!(stats.text.chars().count() > 8, "{stats:?}");
    assert!((0.0..=1.0).contains(&stats.repeated_ngram_rate) && stats.sampler_entropy > 0.0, "{stats:?}");
    let greedy = SampleRequest { sampling: SamplingConfig { greedy: true, ..SamplingConfig::default() }, ..request };
    let out = events(s.handle(ToWorker::Sample(greedy)), 9);
    assert!(
        matches!(out.as_slice(), [RunEvent::Sample { sample: Ok(stats), .. }] if stats.sampler_entropy == 0.0),
        "greedy decoding keeps no entropy: {out:?}"
    );
    let bad = SampleRequest {
        prompt: String::new(),
        max_new_tokens: 8,
        sampling: SamplingConfig { temperature: 0.0, ..SamplingConfig::default() },
        seed: 3,
    };
    let out = events(s.handle(ToWorker::Sample(bad)), 9);
    assert!(
        matches!(out.as_slice(), [RunEvent::Sample { sample: Err(message), .. }] if message.contains("temperature")),
        "{out:?}"
    );
}

fn save(s: &mut Session, request: u32) -> (Vec<FromWorker>, Result<Bytes, String>) {
    let mut out = s.handle(ToWorker::SaveCheckpoint { request });
    let Some(FromWorker::Checkpoint { request: answered, result }) = out.pop() else { panic!("{out:?}") };
    assert_eq!(answered, request);
    (out, result)
}

#[test]
fn a_saved_run_loads_and_continues_with_the_same_losses() {
    let mut s = Session::new(native_clock);
    s.handle(ToWorker::Start { run: 1, config: Box::new(config(20)), paused: true, compute: Compute::Cpu });
    for _ in 0..3 {
        s.handle(ToWorker::Step);
    }
    let (before, bytes) = save(&mut s, 1);
    assert!(before.is_empty(), "a paused run is saved as it is: {before:?}");
    let bytes = bytes.unwrap();
    let expected: Vec<u32> = (0..2)
        .flat_map(|_| events(s.handle(ToWorker::Step), 1))
        .flat_map(|e| match e {
            RunEvent::Steps { records, .. } => records.into_iter().map(|r| r.loss.to_bits()).collect(),
            _ => Vec::new(),
        })
        .collect();
    s.handle(ToWorker::Reset);
    let mut out = s.handle(ToWorker::LoadCheckpoint { run: 2, bytes, paused: true, compute: Compute::Cpu });
    let rest = events(out.split_off(1), 2);
    let [FromWorker::CheckpointLoaded { run: 2, result: Ok(loaded) }] = out.as_slice() else { panic!("{out:?}") };
    assert_eq!((loaded.step, *loaded.config.clone()), (3, config(20)));
    assert!(matches!(rest.as_slice(), [RunEvent::Started(info)] if info.paused && info.steps == 20), "{rest:?}");
    let resumed: Vec<RunEvent> = (0..2).flat_map(|_| events(s.handle(ToWorker::Step), 2)).collect();
    assert_eq!(step_numbers(&resumed), [4, 5]);
    let losses: Vec<u32> = resumed
        .iter()
        .flat_map(|e| match e {
            RunEvent::Steps { records, .. } => records.iter().map(|r| r.loss.to_bits()).collect(),
            _ => Vec::new(),
        })
        .collect();
    assert_eq!(losses, expected, "the loaded run takes the steps the saved one would have taken");
}

#[test]
fn saving_a_running_run_pauses_it_first_and_saving_nothing_is_refused() {
    let mut s = Session::new(native_clock);
    let (_, nothing) = save(&mut s, 1);
    assert_eq!(nothing, Err("there is no run to save: start one first".to_string()));
    s.handle(ToWorker::Start { run: 3, config: Box::new(config(50)), paused: false, compute: Compute::Cpu });
    let trained = events(s.run_chunk(0.0), 3);
    let (before, bytes) = save(&mut s, 2);
    let mut seen = step_numbers(&trained);
    seen.extend(step_numbers(&events(before.clone(), 3)));
    assert_eq!(seen, [1]);
    assert!(matches!(before.last(), Some(FromWorker::Run { run: 3, event: RunEvent::Paused { step: 1 } })));
    assert!(bytes.unwrap().0.starts_with(b"FLCKPT"));
    assert!(!s.is_running(), "the run stays paused after the save");
}

#[test]
fn a_refused_file_keeps_the_run_in_progress() {
    let mut s = Session::new(native_clock);
    s.handle(ToWorker::Start { run: 1, config: Box::new(config(20)), paused: true, compute: Compute::Cpu });
    s.handle(ToWorker::Step);
    let out = s.handle(ToWorker::LoadCheckpoint {
        run: 2,
        bytes: Bytes(b"not a checkpoint".to_vec()),
        paused: true,
        compute: Compute::Cpu,
    });
    let [FromWorker::CheckpointLoaded { run: 2, result: Err(message) }] = out.as_slice() else { panic!("{out:?}") };
    assert!(message.starts_with("not a Faultline checkpoint"), "{message}");
    assert_eq!(step_numbers(&events(s.handle(ToWorker::Step), 1)), [2], "run 1 goes on where it was");
}

#[test]
fn a_loaded_run_that_had_finished_is_over() {
    let mut s = Session::new(native_clock);
    s.handle(ToWorker::Start { run: 1, config: Box::new(config(2)), paused: false, compute: Compute::Cpu });
    while s.is_running() {
        s.run_chunk(5.0);
    }
    let bytes = save(&mut s, 1).1.unwrap();
    let mut out = s.handle(ToWorker::LoadCheckpoint { run: 2, bytes, paused: false, compute: Compute::Cpu });
    let rest = events(out.split_off(1), 2);
    assert!(
        matches!(rest.as_slice(), [RunEvent::Started(_), RunEvent::Finished(summary)] if summary.steps_run == 2),
        "{rest:?}"
    );
    assert!(!s.is_running());
}

/// A JSONL log of `steps` steps whose loss falls from ln 64 and, from `nan_at` on, is NaN.
fn jsonl_log(steps: u64, nan_at: Option<u64>) -> String {
    (1..=steps)
        .map(|step| {
            let loss = if nan_at.is_some_and(|at| step >= at) {
                "NaN".to_string()
            } else {
                format!("{}", 4.16 - step as f64 * 0.01)
            };
            format!("{{\"step\": {step}, \"loss\": {loss}, \"grad_norm\": 1.0, \"lr\": 0.0003}}\n")
        })
        .collect()
}

/// Sends reading `request` of `files` as the page does, `chunk` bytes at a time, and returns every
/// answer to it.
fn send_logs(
    s: &mut Session,
    request: u32,
    files: &[(&str, &str)],
    chunk: usize,
    vocab_size: Option<usize>,
) -> Vec<LogEvent> {
    let mut parts = vec![LogPart::Begin { format: None }];
    for (name, text) in files {
        parts.push(LogPart::File { name: name.to_string() });
        parts.extend(text.as_bytes().chunks(chunk).map(|c| LogPart::Chunk(Bytes(c.to_vec()))));
    }
    parts.push(LogPart::End { vocab_size });
    parts.into_iter().flat_map(|part| log_events(s.handle(ToWorker::Log { request, part }), request)).collect()
}

fn log_events(out: Vec<FromWorker>, request: u32) -> Vec<LogEvent> {
    out.into_iter()
        .map(|m| match m {
            FromWorker::Log { request: r, event } if r == request => event,
            other => panic!("unexpected message {other:?}"),
        })
        .collect()
}

#[test]
fn a_log_sent_in_chunks_is_read_and_diagnosed_run_by_run() {
    let mut s = Session::new(native_clock);
    let log = jsonl_log(300, Some(200));
    let mut events = send_logs(&mut s, 1, &[("train.jsonl", &log)], 1000, None);
    let Some(LogEvent::Read(read)) = events.pop() else { panic!("{events:?}") };
    let received: Vec<u64> =
        events.iter().map(|e| if let LogEvent::Received { bytes } = e { *bytes } else { panic!("{e:?}") }).collect();
    assert_eq!(received.len(), log.len().div_ceil(1000), "every chunk is answered");
    assert_eq!(received.last().copied(), Some(log.len() as u64));
    assert!(received.windows(2).all(|w| w[0] < w[1]));

    assert_eq!((read.format, read.files.as_slice()), (faultline_logs::Format::Jsonl, &["train.jsonl".to_string()][..]));
    let [run] = read.runs.as_slice() else { panic!("{:?}", read.runs) };
    let first = &run.report.findings[0];
    assert_eq!((first.entry, first.first_step), (EntryId::LossBecomesNan, Some(200)), "{:?}", run.report);
    assert!(matches!(run.report.vocab, Vocab::Estimated { step: 1, .. }), "{:?}", run.report.vocab);
    let mut signals: Vec<Signal> = run.curves.iter().map(|c| c.signal.clone()).collect();
    signals.sort();
    assert_eq!(signals, [Signal::Loss, Signal::GradNorm, Signal::LearningRate]);
    let loss = run.curves.iter().find(|c| c.signal == Signal::Loss).expect("the loss is charted");
    assert!(loss.points.iter().any(|p| p.step == 200 && p.value.is_nan()), "the NaN reaches the chart");

    let again =
        log_events(s.handle(ToWorker::Log { request: 2, part: LogPart::Rediagnose { vocab_size: Some(64) } }), 2);
    let [LogEvent::Read(again)] = again.as_slice() else { panic!("{again:?}") };
    assert_eq!(again.runs[0].report.vocab, Vocab::Given { size: 64 }, "the same runs, with the size given");
}

#[test]
fn a_bad_log_names_its_file_and_line_and_the_last_log_stays() {
    let mut s = Session::new(native_clock);
    let healthy = jsonl_log(300, None);
    let events = send_logs(&mut s, 1, &[("healthy.jsonl", &healthy)], 1 << 20, Some(64));
    let Some(LogEvent::Read(read)) = events.last() else { panic!("{events:?}") };
    assert!(read.runs[0].report.findings.is_empty(), "{:?}", read.runs[0].report);

    let backwards = "{\"step\": 1, \"loss\": 4.0}\n{\"step\": 5, \"loss\": 3.9}\n{\"step\": 2, \"loss\": 3.8}\n";
    let first_failure = |events: Vec<LogEvent>| {
        let at = events.iter().position(|e| matches!(e, LogEvent::Failed { .. })).expect("a failure");
        assert!(events[at..].iter().all(|e| *e == events[at]), "later pieces fail the same way: {events:?}");
        match &events[at] {
            LogEvent::Failed { message } => message.clone(),
            other => panic!("{other:?}"),
        }
    };
    let message = first_failure(send_logs(&mut s, 2, &[("bad.jsonl", backwards)], 16, None));
    assert!(message.starts_with("bad.jsonl:3: "), "{message}");
    let notes = "just some notes\nnothing logged here\n";
    let message = first_failure(send_logs(&mut s, 3, &[("notes.txt", notes)], 8, None));
    assert!(message.starts_with("notes.txt: cannot tell which format"), "{message}");

    let kept = log_events(s.handle(ToWorker::Log { request: 4, part: LogPart::Rediagnose { vocab_size: None } }), 4);
    let [LogEvent::Read(kept)] = kept.as_slice() else { panic!("{kept:?}") };
    assert_eq!(kept.files, ["healthy.jsonl"], "a failed reading leaves the last log read");

    s.handle(ToWorker::Log { request: 5, part: LogPart::Begin { format: None } });
    s.handle(ToWorker::Log { request: 6, part: LogPart::Begin { format: None } });
    let stale = log_events(s.handle(ToWorker::Log { request: 5, part: LogPart::File { name: "old.jsonl".into() } }), 5);
    assert_eq!(stale, [LogEvent::Failed { message: "this reading was replaced by a newer one".into() }]);
    let refused = log_events(s.handle(ToWorker::Log { request: 6, part: LogPart::End { vocab_size: Some(1) } }), 6);
    assert_eq!(refused, [LogEvent::Failed { message: "the vocabulary size must be at least 2, not 1".into() }]);
}

fn align_events(out: Vec<FromWorker>, run: RunId) -> Vec<AlignEvent> {
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
    let started = align_events(s.handle(ToWorker::Align { run, config: Box::new(config), steps }), run);
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
    let mut direct = DpoRun::new(base, settings, native_clock).unwrap();
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
        let out = align_events(s.handle(ToWorker::Align { run: 2, config: Box::new(config), steps }), 2);
        let [AlignEvent::Failed { message }] = out.as_slice() else { panic!("{out:?}") };
        assert!(message.starts_with(&format!("{field}: ")), "{message}");
        assert!(!s.is_running());
    }
}

#[test]
fn one_run_at_a_time_a_reset_or_a_start_stops_fine_tuning_and_an_align_replaces_a_run() {
    let mut s = Session::new(native_clock);
    s.handle(ToWorker::Start { run: 1, config: Box::new(config(10)), paused: true, compute: Compute::Cpu });
    let align = |run| ToWorker::Align { run, config: Box::new(align_config(&[])), steps: 6 };
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
