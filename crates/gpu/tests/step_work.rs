//! The GPU's work per training step, from the backend's counters: a step between evaluations is one
//! submission and one small readback; the `sync-every-step` fault still reads everything every step.

mod common;

use common::gpu;
use faultline_engine::config::RunConfig;
use faultline_engine::faults::FaultId;
use faultline_engine::trainer::{native_clock, Trainer, GPU_STEPS_PER_READBACK};
use faultline_gpu::GpuStats;

/// Per step of `cfg` (evaluating whenever one is due): the counters' change over the step alone, and
/// whether an evaluation followed it. Also the number of parameter tensors.
fn work_per_step(cfg: RunConfig) -> Option<(Vec<(GpuStats, bool)>, usize)> {
    let g = gpu()?;
    let stats = g.stats_handle();
    let mut t = Trainer::new(cfg, g, native_clock).unwrap();
    let mut steps = Vec::new();
    while !t.is_done() {
        let before = stats.get();
        t.step().unwrap();
        let after = stats.get();
        let delta = GpuStats {
            dispatches: after.dispatches - before.dispatches,
            submissions: after.submissions - before.submissions,
            readbacks: after.readbacks - before.readbacks,
            bytes_read_back: after.bytes_read_back - before.bytes_read_back,
            bytes_uploaded: after.bytes_uploaded - before.bytes_uploaded,
        };
        let evaluates = t.should_evaluate();
        if evaluates {
            t.evaluate();
        }
        steps.push((delta, evaluates));
    }
    let tensors = t.history().evals.last().map(|e| e.tensors.len()).unwrap_or(0);
    Some((steps, tensors))
}

/// `tiny` for `steps` steps, evaluating every 4 on one batch, with these faults.
fn tiny(steps: &str, faults: &[FaultId]) -> RunConfig {
    let mut pairs = vec![("steps", steps), ("eval-every", "4"), ("batch", "4"), ("sample-tokens", "0")];
    pairs.extend(faults.iter().map(|f| ("fault", f.as_str())));
    let cfg = RunConfig::from_pairs(pairs.iter().copied()).expect("the scenario parses");
    RunConfig { eval_batches: 1, ..cfg }
}

#[test]
fn a_step_between_evaluations_is_one_submission_and_one_small_readback() {
    let cfg = tiny("8", &[]);
    let rows = cfg.effective_batch() * cfg.preset.model(1).context;
    let Some((steps, tensors)) = work_per_step(cfg) else { return };
    assert!(tensors > 10, "the evaluations must list the parameter tensors: {tensors}");
    // The one readback holds what the trainer records every step: the loss rows (their mean is summed
    // in f64 on the host, as on the CPU, so the loss is the same number) and one (scale, ssq, saw NaN,
    // saw Inf) per gradient tensor for the global norm. Nothing else: no parameter, activation or
    // gradient tensor comes back between evaluations.
    let bound = (rows * 4 + tensors * 16) as u64;
    let plain: Vec<&GpuStats> = steps.iter().filter(|(_, evaluates)| !evaluates).map(|(s, _)| s).collect();
    assert_eq!(plain.len(), 6, "steps 1-3 and 5-7 are followed by no evaluation: {steps:?}");
    for s in &plain {
        eprintln!("a step between evaluations: {s:?} (bound {bound} bytes)");
        assert_eq!((s.submissions, s.readbacks), (1, 1), "{s:?}");
        assert!(s.bytes_read_back <= bound, "{} bytes read back, bound {bound}", s.bytes_read_back);
        assert!(s.dispatches > 100, "the step's work is recorded on the GPU: {s:?}");
    }
    // A step an evaluation follows also reads the parameters before and after its update (for the
    // update ratios the evaluation reports).
    for (s, _) in steps.iter().filter(|(_, evaluates)| *evaluates) {
        assert!(s.readbacks > 2 * tensors as u64, "{s:?}");
    }
}

#[test]
fn a_launch_of_steps_is_one_submission_and_one_readback() {
    let Some(g) = gpu() else { return };
    let stats = g.stats_handle();
    let cfg = RunConfig { eval_every: 10, ..tiny("10", &[]) };
    let rows = cfg.effective_batch() * cfg.preset.model(1).context;
    let mut t = Trainer::new(cfg, g, native_clock).unwrap();
    let n = GPU_STEPS_PER_READBACK;
    assert_eq!(t.steps_per_readback(), n);
    let before = stats.get();
    assert_eq!(t.steps(n).unwrap(), n);
    let after = stats.get();
    let (submissions, readbacks) = (after.submissions - before.submissions, after.readbacks - before.readbacks);
    let bytes = after.bytes_read_back - before.bytes_read_back;
    eprintln!("{n} steps launched: {submissions} submission, {readbacks} readback, {bytes} bytes");
    assert_eq!((submissions, readbacks), (1, 1));
    // The next launch stops before the evaluation at step 10.
    assert_eq!(t.steps(n).unwrap(), 10 - n);
    assert!(t.should_evaluate());
    t.evaluate();
    // Each step's loss rows and one slot per gradient tensor, as a single step reads them.
    let tensors = t.history().evals[0].tensors.len();
    assert_eq!(bytes, (n * (rows * 4 + tensors * 16)) as u64);
}

#[test]
fn sync_every_step_still_reads_every_statistic_back_every_step() {
    let cfg = tiny("3", &[FaultId::SyncEveryStep]);
    let Some((steps, tensors)) = work_per_step(cfg) else { return };
    for (s, _) in &steps {
        assert!(s.submissions > 2 * tensors as u64, "sync-every-step must wait on the GPU all step long: {s:?}");
    }
}
