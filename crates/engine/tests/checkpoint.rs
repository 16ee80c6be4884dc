//! Checkpoints: a resumed run continues the uninterrupted one bit for bit, and every damaged file is
//! refused with a message that says what is wrong.

use faultline_engine::backend::CpuBackend;
use faultline_engine::checkpoint::{Checkpoint, VERSION};
use faultline_engine::config::{CorpusSource, OptimizerKind, RunConfig};
use faultline_engine::faults::Faults;
use faultline_engine::trainer::{native_clock, Trainer};
use faultline_engine::EngineError;

fn steps(t: &mut Trainer, n: usize) -> Vec<u32> {
    (0..n).map(|_| t.step().unwrap().loss.to_bits()).collect()
}

/// Trains `n + m` steps in one go, and `n`, saves, loads and trains `m`: the last `m` losses must
/// be the same bits (the CPU backend is deterministic, so nothing less than equality is right).
fn assert_resume_is_exact(cfg: RunConfig, n: usize, m: usize) {
    let mut whole = Trainer::cpu(cfg.clone(), native_clock).unwrap();
    let expected = steps(&mut whole, n + m);
    let mut first = Trainer::cpu(cfg, native_clock).unwrap();
    steps(&mut first, n);
    let bytes = first.checkpoint().unwrap();
    let mut resumed = Trainer::from_checkpoint(&bytes, CpuBackend::new(), native_clock).unwrap();
    assert_eq!(resumed.steps_done(), n);
    assert_eq!(steps(&mut resumed, m), expected[n..]);
}

fn refusal(bytes: &[u8]) -> String {
    match refusal_error(bytes) {
        EngineError::Checkpoint(message) => message,
        other => panic!("expected a checkpoint error, got {other:?}"),
    }
}

fn refusal_error(bytes: &[u8]) -> EngineError {
    match Trainer::<CpuBackend>::from_checkpoint(bytes, CpuBackend::new(), native_clock) {
        Err(e) => e,
        Ok(_) => panic!("a damaged checkpoint was accepted"),
    }
}

fn small_checkpoint() -> Vec<u8> {
    let mut t = Trainer::cpu(RunConfig { steps: 20, ..RunConfig::default() }, native_clock).unwrap();
    steps(&mut t, 2);
    t.checkpoint().unwrap()
}

#[test]
fn resuming_with_adamw_and_dropout_matches_the_uninterrupted_run() {
    assert_resume_is_exact(RunConfig { steps: 20, dropout: 0.1, ..RunConfig::default() }, 3, 3);
}

#[test]
fn resuming_with_sgd_and_accumulated_gradients_matches_too() {
    let faults = Faults { no_zero_grad: true, ..Faults::default() };
    let cfg = RunConfig { steps: 20, optimizer: OptimizerKind::Sgd, grad_accum: 2, faults, ..RunConfig::default() };
    assert_resume_is_exact(cfg, 2, 2);
}

#[test]
fn a_checkpoint_keeps_the_settings_faults_and_step_count() {
    let faults = Faults { no_grad_clip: true, ..Faults::default() };
    let cfg = RunConfig { steps: 20, seed: 9, lr: 2e-3, faults, ..RunConfig::default() };
    let mut t = Trainer::cpu(cfg.clone(), native_clock).unwrap();
    steps(&mut t, 2);
    let bytes = t.checkpoint().unwrap();
    let file = Checkpoint::from_bytes(&bytes).unwrap();
    assert_eq!(file.config, cfg);
    assert_eq!(Checkpoint::read_config(&bytes).unwrap(), cfg, "the settings alone, tensors not decoded");
    assert_eq!(file.steps_done, 2);
    let resumed: Trainer = Trainer::from_checkpoint(&bytes, CpuBackend::new(), native_clock).unwrap();
    assert_eq!(resumed.config(), &cfg);
    assert_eq!(resumed.steps_done(), 2);
    assert_eq!(file.to_bytes(), bytes, "writing what was read gives the same file");
}

#[test]
fn a_flipped_byte_fails_the_checksum() {
    let mut bytes = small_checkpoint();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x10;
    assert_eq!(refusal(&bytes), "the checkpoint is damaged: its checksum does not match its contents");
    let settings_only = Checkpoint::read_config(&bytes).map(|_| ()).unwrap_err();
    assert_eq!(settings_only.to_string(), refusal_error(&bytes).to_string(), "reading the settings checks it too");
}

#[test]
fn a_truncated_file_says_how_much_is_missing() {
    let bytes = small_checkpoint();
    let message = refusal(&bytes[..bytes.len() - 100]);
    assert_eq!(
        message,
        format!("the checkpoint is truncated: {} of its {} bytes are there", bytes.len() - 100, bytes.len())
    );
    assert!(refusal(&bytes[..12]).starts_with("the checkpoint is truncated"), "{}", refusal(&bytes[..12]));
}

#[test]
fn another_file_is_not_a_checkpoint() {
    assert_eq!(refusal(b"hello, world"), "not a Faultline checkpoint (the file does not start with FLCKPT)");
    assert_eq!(refusal(b""), "not a Faultline checkpoint (the file does not start with FLCKPT)");
}

#[test]
fn a_newer_format_asks_for_a_newer_faultline() {
    let mut bytes = small_checkpoint();
    bytes[6..10].copy_from_slice(&(VERSION + 1).to_le_bytes());
    assert_eq!(
        refusal(&bytes),
        format!(
            "checkpoint format version {} is newer than this Faultline reads (version {VERSION}); update Faultline to load it",
            VERSION + 1
        )
    );
}

#[test]
fn nan_in_a_tensor_is_refused_by_name() {
    let mut file = Checkpoint::from_bytes(&small_checkpoint()).unwrap();
    file.tensors[1].values[3] = f32::NAN;
    let name = file.tensors[1].name.clone();
    assert_eq!(refusal(&file.to_bytes()), format!("the checkpoint holds NaN or Inf in {name}; it cannot be resumed"));
}

#[test]
fn tensors_that_do_not_fit_the_settings_are_refused() {
    let mut file = Checkpoint::from_bytes(&small_checkpoint()).unwrap();
    file.config.optimizer = OptimizerKind::Sgd;
    assert!(refusal(&file.to_bytes()).contains("tensors but its settings describe a run with"));
    let mut file = Checkpoint::from_bytes(&small_checkpoint()).unwrap();
    file.tensors[0].shape.reverse();
    file.tensors[0].shape.push(1);
    let message = refusal(&file.to_bytes());
    let saved = format!("checkpoint tensor `wte` is {:?}, the model needs [", file.tensors[0].shape);
    assert!(message.starts_with(&saved), "{message}");
    assert!(message.ends_with("the checkpoint does not fit the model its settings describe"), "{message}");
}

/// A checkpoint whose text now gives another vocabulary: the first tensor of the vocabulary's width
/// is named with both shapes, and the message says why.
#[test]
fn a_checkpoint_of_another_vocabulary_names_the_tensor_and_both_shapes() {
    let mut file = Checkpoint::from_bytes(&small_checkpoint()).unwrap();
    let saved = file.tensors[0].shape.clone();
    file.config.corpus = CorpusSource::Text { name: "digits".into(), text: "0123456789 ".repeat(1200) };
    let message = refusal(&file.to_bytes());
    let vocab =
        Trainer::cpu(RunConfig { steps: 1, ..file.config.clone() }, native_clock).unwrap().model_config().vocab_size;
    assert_ne!(vocab, saved[0]);
    assert_eq!(
        message,
        format!(
            "checkpoint tensor `wte` is {saved:?}, the model needs [{vocab}, {}]: the checkpoint was trained on another \
             vocabulary (its text gives {vocab} tokens here)",
            saved[1]
        )
    );
}

/// Steps 31 to 40 of the run kept in `fixtures/tiny-step30.flckpt` (tiny, seed 7, dropout 0.1,
/// `lr-too-low=10` and `no-grad-clip`, 60 steps planned), as the code that wrote the file trained them
/// without a pause: the loss bits of its uninterrupted run.
const FIXTURE_NEXT_LOSSES: [u32; 10] = [
    1078032152, 1077990967, 1077909471, 1077926461, 1077778408, 1077780065, 1077682342, 1077563431, 1077668927,
    1077510884,
];

/// A file written by an earlier version of the code (before the typed ids): its settings and faults
/// still read, and the run resumes with the losses the earlier code computed, bit for bit.
#[test]
fn a_checkpoint_written_by_earlier_code_still_resumes_bit_for_bit() {
    let bytes = include_bytes!("fixtures/tiny-step30.flckpt");
    let mut resumed = Trainer::from_checkpoint(bytes, CpuBackend::new(), native_clock).unwrap();
    assert_eq!(resumed.steps_done(), 30);
    let faults = resumed.config().faults.clone();
    assert_eq!(faults.lr_too_low, Some(10.0));
    assert!(faults.no_grad_clip);
    assert_eq!(steps(&mut resumed, 10), FIXTURE_NEXT_LOSSES);
}
