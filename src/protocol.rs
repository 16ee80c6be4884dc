//! The messages between the page and the training worker.
//!
//! Both directions are typed enums; on the wire they travel as structured-clone JavaScript values made
//! by `serde-wasm-bindgen`, which keeps NaN and infinities intact (JSON would turn them into `null`).
//! Every message about a training run carries the run's id, chosen by the page, so telemetry still in
//! flight from a run the learner has already reset is recognised and dropped. A fine-tuning run's
//! messages are in [`align`].

mod align;

pub use align::{method_name, AlignEvent, AlignInfo, MethodInfo, RlInfo};

use faultline_engine::align::Method;
use faultline_engine::backend::BackendKind;
use faultline_engine::bench::BenchResult;
use faultline_engine::data::CorpusInfo;
use faultline_engine::diagnosis::{Finding, LogReport};
use faultline_engine::lr_range::{RangePoint, RangeResult, RangeSettings};
use faultline_engine::memory::MemoryEstimate;
use faultline_engine::sampling::SamplingConfig;
use faultline_engine::telemetry::log::Series;
use faultline_engine::telemetry::SampleStats;
use faultline_engine::{EvalRecord, ModelConfig, Preset, RunConfig, RunSummary, StepRecord};
use faultline_gpu::bench::GpuBench;
use faultline_logs::Format;
use serde::{Deserialize, Serialize};

/// Identifies one training run; the page picks a fresh one for every Start.
pub type RunId = u32;

/// What the page asks the worker to do.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ToWorker {
    /// Build a trainer for `config` (replacing any run in progress) and start training, or wait for
    /// `Step`/`Resume` when `paused`.
    Start {
        run: RunId,
        config: Box<RunConfig>,
        paused: bool,
        compute: Compute,
    },
    Pause,
    Resume,
    /// Take exactly one optimiser step of a paused run.
    Step,
    /// Drop the current run: a training run, or a fine-tuning run (which answers
    /// [`AlignEvent::Stopped`]).
    Reset,
    /// Generate text from the current model.
    Sample(SampleRequest),
    /// Run the training benchmark (no run may be in progress; the worker is busy until it answers).
    Bench {
        config: Preset,
        steps: usize,
        seed: u64,
    },
    /// Run the WebGPU training benchmark, answered with [`FromWorker::GpuBenchDone`].
    GpuBench {
        config: Preset,
        steps: usize,
        seed: u64,
    },
    /// Estimate the memory a run with `config` would need, without starting it (the vocabulary size
    /// comes from the corpus, which only the worker loads). Answered with [`FromWorker::Estimate`].
    Estimate {
        request: u32,
        config: Box<RunConfig>,
    },
    /// Run the learning-rate range test for `config` on a fresh model of its own, in slices like
    /// training. Refused while a training run is running or paused; a later request, a Start or a
    /// Reset ends it. Answered with [`FromWorker::LrRange`] events for `request`.
    LrRange {
        request: u32,
        config: Box<RunConfig>,
        settings: RangeSettings,
    },
    /// Save the current run as checkpoint bytes; a running run is paused first (its `Paused` event
    /// comes before the answer). Answered with [`FromWorker::Checkpoint`].
    SaveCheckpoint {
        request: u32,
    },
    /// Continue the run saved in checkpoint `bytes` as run `run`, replacing the run in progress, or
    /// wait for `Step`/`Resume` when `paused`. Answered with [`FromWorker::CheckpointLoaded`]; a
    /// file that is refused leaves the run in progress as it was.
    LoadCheckpoint {
        run: RunId,
        bytes: Bytes,
        paused: bool,
        compute: Compute,
    },
    /// Fine-tune a base model as run `run` (the alignment page): pretrain a model with `config`'s
    /// settings for its `pretrain-steps`, then take `steps` steps of `method` (DPO, or the policy
    /// gradient against learned reward models) with its fine-tuning settings and faults, in slices
    /// like training. It replaces any training run or fine-tuning run
    /// and ends a range test; `Reset`, a `Start` or another `Align` stop it. Answered with
    /// [`FromWorker::Align`] events for `run`.
    Align {
        run: RunId,
        config: Box<RunConfig>,
        steps: usize,
        #[serde(with = "method_name")]
        method: Method,
    },
    /// One piece of reading training logs another program wrote, to diagnose them run by run: a
    /// [`LogPart::Begin`], each file's [`LogPart::File`] and [`LogPart::Chunk`]s, then [`LogPart::End`].
    /// A `Begin` drops any reading before it. Answered with [`FromWorker::Log`] events for `request`.
    Log {
        request: u32,
        part: LogPart,
    },
}

/// One piece of a log reading ([`ToWorker::Log`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LogPart {
    /// A new reading, of `format` (none: tell it from the first file).
    Begin { format: Option<Format> },
    /// The next file, under the name the learner's browser gave it.
    File { name: String },
    /// The next bytes of the current file, answered with [`LogEvent::Received`] (the page sends one
    /// chunk at a time).
    Chunk(Bytes),
    /// Every file is sent: read them and diagnose each run, with the vocabulary size the learner gave.
    End { vocab_size: Option<usize> },
    /// Diagnose the runs read last again, with another vocabulary size.
    Rediagnose { vocab_size: Option<usize> },
}

/// The most bytes one log reading takes, all files together: the worker reads them as they come, but
/// keeps every point it reads.
pub const MAX_LOG_BYTES: u64 = 256 * 1024 * 1024;

/// Which backend the learner wants runs trained on (the Compute setting, `?compute=` in the URL).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Compute {
    /// WebGPU when the browser has it and a short calibration finds it faster for the run's
    /// configuration, else the CPU.
    #[default]
    Auto,
    Cpu,
    /// WebGPU whenever the browser has it (the CPU, with the reason, when it has not).
    Webgpu,
}

impl Compute {
    pub const ALL: [Compute; 3] = [Compute::Auto, Compute::Cpu, Compute::Webgpu];

    /// The id used in the URL and in storage.
    pub fn id(self) -> &'static str {
        match self {
            Compute::Auto => "auto",
            Compute::Cpu => "cpu",
            Compute::Webgpu => "webgpu",
        }
    }

    /// The label of the setting's option.
    pub fn label(self) -> &'static str {
        match self {
            Compute::Auto => "Auto (the faster here)",
            Compute::Cpu => "CPU (WebAssembly SIMD)",
            Compute::Webgpu => "WebGPU",
        }
    }

    /// Reads an id; the error says what is accepted.
    pub fn parse(id: &str) -> Result<Compute, String> {
        Compute::ALL
            .into_iter()
            .find(|c| c.id() == id.trim())
            .ok_or_else(|| format!("there is no backend '{}' (expected auto, cpu or webgpu)", id.trim()))
    }

    /// The page's starting choice: a link's `?compute=` first, then the one this browser stored, then
    /// auto; with a notice for a link value that cannot be used (a stored one that cannot is dropped
    /// quietly: the learner never typed it).
    pub fn initial(link: Option<&str>, stored: Option<&str>) -> (Compute, Option<String>) {
        let remembered = stored.and_then(|s| Compute::parse(s).ok()).unwrap_or_default();
        match link.map(Compute::parse) {
            None => (remembered, None),
            Some(Ok(chosen)) => (chosen, None),
            Some(Err(why)) => {
                let notice =
                    format!("The link's compute={}: {why}; using {}.", link.unwrap_or_default(), remembered.id());
                (remembered, Some(notice))
            }
        }
    }
}

/// The settings of one generated sample.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SampleRequest {
    pub prompt: String,
    pub max_new_tokens: usize,
    pub sampling: SamplingConfig,
    pub seed: u64,
}

/// What the worker reports.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FromWorker {
    /// The worker's module is loaded and listening (anything posted before this is lost), with the
    /// threads its CPU kernels split across: 1 in the single-thread build, the pool's size in the
    /// threaded one.
    Ready { threads: usize },
    /// Something about training run `run`.
    Run { run: RunId, event: RunEvent },
    /// The answer to [`ToWorker::Bench`].
    BenchDone(BenchResult),
    /// The answer to [`ToWorker::GpuBench`] (its error says why when there is no usable WebGPU).
    GpuBenchDone(Box<GpuBench>),
    /// The answer to [`ToWorker::Estimate`] number `request`.
    Estimate { request: u32, result: EstimateResult },
    /// The worker itself failed (a panic, a message it could not read): nothing it runs can be trusted.
    Fatal { message: String },
    /// Progress of the learning-rate range test number `request`.
    LrRange { request: u32, event: LrRangeEvent },
    /// The answer to [`ToWorker::SaveCheckpoint`] number `request`: the file's bytes, or why there
    /// are none.
    Checkpoint { request: u32, result: Result<Bytes, String> },
    /// The answer to [`ToWorker::LoadCheckpoint`] for run `run`: the settings and step the run
    /// continues from (its `Started` event follows), or why the file was refused.
    CheckpointLoaded { run: RunId, result: Result<LoadedCheckpoint, String> },
    /// Progress, or the end, of the log reading number `request`.
    Log { request: u32, event: LogEvent },
    /// Progress, or the end, of fine-tuning run `run` ([`ToWorker::Align`]).
    Align { run: RunId, event: AlignEvent },
}

/// The life of one log reading.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LogEvent {
    /// A chunk was taken in: `bytes` of all the files so far.
    Received { bytes: u64 },
    /// What the files hold, diagnosed.
    Read(Box<LogDiagnosis>),
    /// The files could not be read (the message names the file and the line where it can), or the
    /// reading was dropped.
    Failed { message: String },
}

/// Logs read and diagnosed, run by run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LogDiagnosis {
    pub format: Format,
    /// The files read, in order.
    pub files: Vec<String>,
    /// Every run the files hold, in the order they first appear.
    pub runs: Vec<DiagnosedRun>,
}

/// One run of a log and what the detector made of it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DiagnosedRun {
    pub name: String,
    pub report: LogReport,
    /// The series the charts draw (losses, gradient norms, learning rate, time per step), each thinned
    /// to at most [`crate::chart::logged::CURVE_POINTS`] points with NaN and infinities kept.
    pub curves: Vec<Series>,
}

/// A file's bytes. They travel as one `Uint8Array` (serde's bytes) rather than as an array of a
/// million numbers; JSON, in the tests, spells them as an array.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Bytes(pub Vec<u8>);

impl Serialize for Bytes {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_bytes(&self.0)
    }
}

impl<'de> Deserialize<'de> for Bytes {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_byte_buf(BytesVisitor).map(Bytes)
    }
}

struct BytesVisitor;

impl<'de> serde::de::Visitor<'de> for BytesVisitor {
    type Value = Vec<u8>;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("bytes")
    }

    fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<Vec<u8>, E> {
        Ok(v.to_vec())
    }

    fn visit_byte_buf<E: serde::de::Error>(self, v: Vec<u8>) -> Result<Vec<u8>, E> {
        Ok(v)
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<u8>, A::Error> {
        let mut bytes = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(b) = seq.next_element()? {
            bytes.push(b);
        }
        Ok(bytes)
    }
}

/// What a loaded checkpoint continues.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LoadedCheckpoint {
    /// The saved run's settings, faults included.
    pub config: Box<RunConfig>,
    /// Steps the saved run had taken.
    pub step: usize,
}

/// The life of one learning-rate range test.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LrRangeEvent {
    /// The model is built; `planned` rates will be tried unless the loss blows up first.
    Started { planned: usize },
    /// The steps taken since the last message, in order.
    Points(Vec<RangePoint>),
    /// The sweep ended: every point, why it ended and the suggested rate.
    Done(RangeResult),
    /// The test was refused, could not start, or was ended by another request.
    Failed { message: String },
}

/// The life of one training run, as the worker tells it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RunEvent {
    /// The trainer is built; training begins (or waits, when started paused).
    Started(RunInfo),
    /// The step records since the last batch, oldest first, and the training throughput they show.
    Steps {
        records: Vec<StepRecord>,
        tokens_per_s: Option<f64>,
    },
    Eval(EvalRecord),
    /// What the symptom detector reads in the run's telemetry so far, most likely first (empty when
    /// it finds nothing). Sent after every evaluation and when the run stops or cannot start.
    Diagnosis {
        /// Steps taken when the detector ran.
        step: usize,
        /// The run's vocabulary size (0 when the corpus could not be loaded).
        vocab_size: usize,
        findings: Vec<Finding>,
        /// Entries the evidence points to too weakly to name: what "nothing conclusive yet" is
        /// watching (older pages send none).
        #[serde(default)]
        watching: Vec<Finding>,
    },
    /// The answer to [`ToWorker::Sample`].
    Sample(Generated),
    Paused {
        step: usize,
    },
    Resumed {
        step: usize,
    },
    /// Every planned step ran.
    Finished(RunSummary),
    /// A NaN or Inf appeared: the run stopped at `step`, in `tensor`.
    Stopped {
        step: usize,
        tensor: String,
        message: String,
    },
    /// The run could not start or continue (bad settings, out of memory, unusable text).
    Failed {
        message: String,
    },
    /// The run's backend failed (a lost GPU device): it continues on `backend` from the state saved
    /// at `step`, so the records after `step` are void and come again.
    Moved {
        step: usize,
        backend: String,
        backend_kind: BackendKind,
        reason: String,
    },
}

/// Text generated by the current model at the page's request ([`ToWorker::Sample`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Generated {
    /// Steps the model had taken.
    pub step: usize,
    /// The decoding it was generated with: the request's.
    pub sampling: SamplingConfig,
    /// The text, measured, or why it could not be generated.
    pub sample: Result<SampleStats, String>,
}

/// What the page shows about a run that has just started.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunInfo {
    /// Steps planned.
    pub steps: usize,
    pub backend: String,
    /// Where it computes (the panel's notes on GPU timing depend on it).
    pub backend_kind: BackendKind,
    /// Why the run got this backend (the Compute setting, or what the calibration measured).
    pub backend_reason: String,
    /// The threads the CPU backend's large kernels split across (1 unless the worker runs its
    /// threaded build); runs stored before threads existed read as 1.
    #[serde(default = "one_thread")]
    pub threads: usize,
    pub param_count: usize,
    pub model: ModelConfig,
    /// Name and shape of every parameter tensor as the model holds them (`block0.attn.w_qkv`,
    /// `[64, 192]`), in the engine's order; none from a worker that did not send them.
    #[serde(default)]
    pub shapes: Vec<(String, Vec<usize>)>,
    pub corpus: CorpusInfo,
    /// The start of the training split, decoded back to text: what the model will learn from.
    pub data_sample: String,
    pub paused: bool,
}

fn one_thread() -> usize {
    1
}

/// The memory a configuration needs, or why it cannot be estimated (its text cannot be loaded).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EstimateResult {
    Known { vocab_size: usize, memory: MemoryEstimate },
    Unavailable { message: String },
}

/// Conversions to and from the JavaScript values `postMessage` carries.
#[cfg(target_arch = "wasm32")]
pub mod wire {
    use serde::{de::DeserializeOwned, Serialize};
    use wasm_bindgen::JsValue;

    /// Serialises `msg`; 64-bit integers become BigInts so seeds above 2^53 survive.
    pub fn encode<T: Serialize>(msg: &T) -> Result<JsValue, String> {
        let serializer = serde_wasm_bindgen::Serializer::new().serialize_large_number_types_as_bigints(true);
        msg.serialize(&serializer).map_err(|e| format!("cannot encode message: {e}"))
    }

    pub fn decode<T: DeserializeOwned>(value: JsValue) -> Result<T, String> {
        serde_wasm_bindgen::from_value(value).map_err(|e| format!("cannot decode message: {e}"))
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests;

/// Small, valid messages for the tests of the modules that consume them.
#[cfg(all(test, not(target_arch = "wasm32")))]
pub mod test_support {
    use super::{AlignInfo, MethodInfo, RlInfo, RunInfo};
    use faultline_engine::align::FineTuneMemory;
    use faultline_engine::backend::BackendKind;
    use faultline_engine::data::CorpusInfo;
    use faultline_engine::model::ParamSet;
    use faultline_engine::telemetry::{Mode, SampleStats};
    use faultline_engine::trainer::{native_clock, Trainer};
    use faultline_engine::{EvalRecord, Faults, PhaseTimes, Preset, RunConfig, RunSummary, StepRecord};
    use std::sync::OnceLock;

    pub fn run_info(paused: bool) -> RunInfo {
        RunInfo {
            steps: 100,
            backend: "CPU (scalar)".into(),
            backend_kind: BackendKind::Cpu,
            backend_reason: "the CPU, as chosen in the Compute setting".into(),
            threads: 1,
            param_count: 1234,
            model: Preset::Tiny.model(40),
            shapes: tiny_shapes(),
            corpus: CorpusInfo {
                id: "toy-english".into(),
                description: "simple sentences".into(),
                chars: 1000,
                vocab_size: 40,
                tokenizer: "char".into(),
                entropy_rate: Some(0.9),
                train_tokens: 900,
                val_tokens: 100,
            },
            data_sample: "the dog runs.".into(),
            paused,
        }
    }

    /// The parameter shapes of a tiny model of 40 tokens, as the engine describes them.
    pub fn tiny_shapes() -> Vec<(String, Vec<usize>)> {
        ParamSet::describe(&Preset::Tiny.model(40), &Faults::default()).shapes()
    }

    /// A real evaluation record (from an untrained tiny model) with the given headline values.
    pub fn eval_record(step: usize, train_loss: f32, val_loss: Option<f32>, sample: Option<&str>) -> EvalRecord {
        static TEMPLATE: OnceLock<EvalRecord> = OnceLock::new();
        let template = TEMPLATE.get_or_init(|| {
            let config = RunConfig { steps: 1, batch_size: 1, eval_batches: 1, ..RunConfig::preset(Preset::Tiny) };
            Trainer::cpu(config, native_clock).expect("the tiny preset builds").evaluate()
        });
        EvalRecord {
            step,
            train_loss,
            val_loss,
            sample: sample.map(|text| SampleStats {
                text: text.into(),
                ..template.sample.clone().expect("evaluations of the tiny preset carry a sample")
            }),
            ..template.clone()
        }
    }

    /// What a small fine-tuning run says as DPO begins.
    pub fn align_info() -> AlignInfo {
        AlignInfo {
            corpus: "sorting".into(),
            pretrain_steps: 30,
            steps: 6,
            eval_every: 25,
            method: MethodInfo::Dpo { pairs_per_step: 8, beta: 0.1 },
            lr: 1e-4,
            lora_rank: 4,
            memory: FineTuneMemory {
                weights: 1000,
                trainable: 100,
                gradients: 1100,
                optimizer_state: 200,
                frozen_copy: 800,
                total_bytes: 1 << 20,
            },
            backend: "CPU (fused)".into(),
        }
    }

    /// What a small policy-gradient run says as it begins.
    pub fn rl_info() -> AlignInfo {
        let rl = RlInfo {
            prompts_per_step: 16,
            quality_prompts: 64,
            kl_coef: 1.0,
            entropy_bonus: 0.0,
            reward_models: 3,
            reward_pairs: 64,
            reward_accuracy: 0.875,
        };
        AlignInfo { corpus: "toy-english".into(), method: MethodInfo::Rl(rl), ..align_info() }
    }

    pub fn step_record(step: usize, loss: f32) -> StepRecord {
        StepRecord {
            step,
            loss,
            grad_norm: 1.5,
            lr: 3e-3,
            tokens: 1024,
            times: PhaseTimes::default(),
            mode: Some(Mode::Train),
        }
    }

    pub fn summary(steps_run: usize) -> RunSummary {
        RunSummary {
            steps_run,
            vocab_size: 40,
            corpus: "toy-english".into(),
            train_loss: Some(1.0),
            val_loss: None,
            diverged_at: None,
            first_bad_tensor: None,
            tokens_per_s: 5000.0,
            entropy_rate: Some(0.9),
            diagnosis: Vec::new(),
            backend: "CPU (scalar)".into(),
        }
    }
}
