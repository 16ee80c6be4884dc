use super::*;
use crate::protocol::{AlignEvent, Compute, Generated, LogEvent, LogPart, MethodInfo, RunInfo, SampleRequest};
use faultline_engine::align::{pretrain, DpoRun, DpoSettings, Method, RlRun, RlSettings};
use faultline_engine::backend::{BackendKind, CpuBackend};
use faultline_engine::checkpoint::Checkpoint;
use faultline_engine::config::CorpusSource;
use faultline_engine::diagnosis::Vocab;
use faultline_engine::faults::FaultId;
use faultline_engine::guide::EntryId;
use faultline_engine::lr_range::{RangePoint, RangeSettings};
use faultline_engine::sampling::SamplingConfig;
use faultline_engine::telemetry::log::Signal;
use faultline_engine::telemetry::Mode;
use faultline_engine::trainer::native_clock;
use faultline_engine::{OptimizerKind, Preset, RunConfig};

mod align;
mod align_rl;
mod logs;

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
    let (c, v) = (info.model.d_model, info.model.vocab_size);
    assert_eq!(info.shapes.len(), 2 + 12 * info.model.n_layers + 3, "every tensor's shape, as the model holds it");
    assert!(info.shapes.contains(&("block0.attn.w_qkv".to_string(), vec![c, 3 * c])), "{:?}", info.shapes);
    assert_eq!(info.shapes.last(), Some(&("w_head".to_string(), vec![c, v])));
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
    let modes: Vec<Option<Mode>> = all
        .iter()
        .flat_map(|e| match e {
            RunEvent::Steps { records, .. } => records.iter().map(|r| r.mode).collect(),
            RunEvent::Eval(r) => vec![r.mode],
            _ => Vec::new(),
        })
        .collect();
    let train = modes.iter().filter(|m| **m == Some(Mode::Train)).count();
    assert_eq!((train, modes.len() - train), (10, 2), "steps in training mode, evaluations in evaluation mode");
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
    let [RunEvent::Sample(Generated { step: 1, sampling, sample: Ok(stats) })] = out.as_slice() else {
        panic!("{out:?}")
    };
    assert_eq!(sampling, &request.sampling, "the answer says how it decoded");
    assert!(stats.text.chars().count() > 8, "{stats:?}");
    assert!((0.0..=1.0).contains(&stats.repeated_ngram_rate) && stats.sampler_entropy > 0.0, "{stats:?}");
    let greedy = SampleRequest { sampling: SamplingConfig { greedy: true, ..SamplingConfig::default() }, ..request };
    let out = events(s.handle(ToWorker::Sample(greedy)), 9);
    assert!(
        matches!(out.as_slice(), [RunEvent::Sample(Generated { sample: Ok(stats), .. })] if stats.sampler_entropy == 0.0),
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
        matches!(out.as_slice(), [RunEvent::Sample(Generated { sample: Err(message), .. })] if message.contains("temperature")),
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

/// A checkpoint whose text now gives another vocabulary (its settings edited, the checksum redone)
/// is refused with the tensor and both shapes; the run in progress goes on.
#[test]
fn a_checkpoint_of_another_vocabulary_is_refused_naming_the_tensor() {
    let mut s = Session::new(native_clock);
    s.handle(ToWorker::Start { run: 1, config: Box::new(config(20)), paused: true, compute: Compute::Cpu });
    s.handle(ToWorker::Step);
    let mut file = Checkpoint::from_bytes(&save(&mut s, 1).1.unwrap().0).unwrap();
    let saved = file.tensors[0].shape.clone();
    file.config.corpus = CorpusSource::Text { name: "digits".into(), text: "0123456789 ".repeat(1200) };
    let bytes = Bytes(file.to_bytes());
    let out = s.handle(ToWorker::LoadCheckpoint { run: 2, bytes, paused: true, compute: Compute::Cpu });
    let [FromWorker::CheckpointLoaded { run: 2, result: Err(message) }] = out.as_slice() else { panic!("{out:?}") };
    let needs = format!("checkpoint tensor `wte` is {saved:?}, the model needs [");
    assert!(message.starts_with(&needs), "{message}");
    assert!(message.contains("the checkpoint was trained on another vocabulary"), "{message}");
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
