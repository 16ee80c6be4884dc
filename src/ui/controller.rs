//! The page's side of a training run: the run's view, the commands the buttons send to the worker,
//! the memory estimates it asks for, the checkpoints it saves and loads, and the kept runs it adds to as
//! runs end or are replaced. The same worker reads the logs of the diagnose page ([`LogReader`]) and
//! runs the alignment page's fine-tuning ([`Aligner`]), one run at a time.

use super::align::Aligner;
use super::diagnose::LogReader;
use super::export::save_bytes;
use super::kept_runs::KeptRunsState;
use crate::banner;
use crate::client::WorkerClient;
use crate::export::checkpoint_file_name;
use crate::form::RunForm;
use crate::generation::GenerateForm;
use crate::protocol::{
    Bytes, Compute, EstimateResult, FromWorker, LoadedCheckpoint, RunEvent, RunId, SampleRequest, ToWorker,
};
use crate::range_view::RangeView;
use crate::run_view::{RunState, RunView};
use faultline_engine::align::Method;
use faultline_engine::lr_range::RangeSettings;
use faultline_engine::RunConfig;
use leptos::prelude::*;

/// The worker's latest memory estimate and the settings it is for.
#[derive(Clone, Debug, PartialEq)]
pub struct Estimate {
    pub config: RunConfig,
    pub result: EstimateResult,
}

/// What the checkpoint controls say about the last save or load.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CheckpointStatus {
    pub message: String,
    /// The last file was refused or the save failed.
    pub failed: bool,
}

/// Copyable handle shared by the page's components.
#[derive(Clone, Copy)]
pub struct Controller {
    pub view: RwSignal<RunView>,
    /// The last runs, and the ones the charts compare.
    pub runs: KeptRunsState,
    pub estimate: RwSignal<Option<Estimate>>,
    /// The latest learning-rate range test.
    pub lr_range: RwSignal<RangeView>,
    /// The logs the diagnose page reads.
    pub logs: LogReader,
    /// The alignment page's fine-tuning run.
    pub align: Aligner,
    /// The Generate panel's fields (an exercise's decoding fix fills them in).
    pub generation: RwSignal<GenerateForm>,
    /// The worker, from the moment it is spawned.
    client: StoredValue<Option<WorkerClient>, LocalStorage>,
    next_run: StoredValue<RunId>,
    /// The estimate request the page waits for, and its settings.
    pending_estimate: StoredValue<(u32, Option<RunConfig>)>,
    pub checkpoint: RwSignal<CheckpointStatus>,
    /// The backend the learner wants the next run on (the Compute setting).
    pub compute: RwSignal<Compute>,
    /// The save request the page waits for.
    pending_save: StoredValue<u32>,
    /// The run a loaded checkpoint will become, and the file's name, while the worker reads it.
    pending_load: StoredValue<Option<(RunId, String)>>,
    /// The threads the worker's CPU kernels split across, from its `Ready`; none while it loads.
    pub worker_threads: RwSignal<Option<usize>>,
    /// The page's link asked for one thread (`threads=1`).
    pub one_thread: bool,
}

impl Controller {
    /// Starts the worker (its single-thread build when `one_thread`); its messages update `view` from
    /// now on, and a loaded checkpoint's settings fill `form`. `align_form` is the alignment page's.
    pub fn new(form: RwSignal<RunForm>, align_form: RwSignal<RunForm>, compute: Compute, one_thread: bool) -> Self {
        let compute = RwSignal::new(compute);
        let view = RwSignal::new(RunView::default());
        let checkpoint = RwSignal::new(CheckpointStatus::default());
        let pending_save = StoredValue::new(0u32);
        let pending_load = StoredValue::new(None::<(RunId, String)>);
        let estimate = RwSignal::new(None::<Estimate>);
        let pending_estimate = StoredValue::new((0u32, None::<RunConfig>));
        let lr_range = RwSignal::new(RangeView::default());
        let runs = KeptRunsState::load();
        let worker_threads = RwSignal::new(None::<usize>);
        let client = StoredValue::new_local(None::<WorkerClient>);
        let logs = LogReader::new(client);
        let align = Aligner::new(align_form, client);
        let spawned = WorkerClient::spawn(one_thread, move |msg| match msg {
            FromWorker::Run { run, event } => {
                let failure = match &event {
                    RunEvent::Failed { message } => Some(message.clone()),
                    RunEvent::Moved { reason, .. } => Some(reason.clone()),
                    _ => None,
                };
                // A run is kept once it has ended and the detector has read it: its last reading comes just
                // before Finished, and just after Stopped or Failed.
                let settles = matches!(event, RunEvent::Finished(_) | RunEvent::Diagnosis { .. });
                let current = view.try_update(|v| v.apply(run, event)).unwrap_or(false);
                if current && settles {
                    view.with_untracked(|v| {
                        if matches!(v.state, RunState::Finished | RunState::Stopped | RunState::Error) {
                            runs.keep(v);
                        }
                    });
                }
                if let Some(message) = failure.filter(|_| current) {
                    banner::show(&message);
                }
            }
            FromWorker::Estimate { request, result } => {
                let (waiting, config) = pending_estimate.get_value();
                if let Some(config) = config.filter(|_| waiting == request) {
                    estimate.set(Some(Estimate { config, result }));
                }
            }
            FromWorker::Fatal { message } => {
                banner::show(&message);
                lr_range.update(|v| v.fail(&message));
                logs.worker_failed(&message);
                align.worker_failed(&message);
                view.update(|v| {
                    if v.state.is_active() {
                        v.state = RunState::Error;
                        v.message = Some(message);
                        runs.keep(v);
                    }
                });
            }
            FromWorker::LrRange { request, event } => {
                lr_range.try_update(|v| v.apply(request, event));
            }
            FromWorker::Checkpoint { request, result } if request == pending_save.get_value() => {
                let status = match result {
                    Ok(bytes) => {
                        let name = view.with_untracked(checkpoint_file_name);
                        match save_bytes(&bytes.0, &name, "application/octet-stream") {
                            Some(()) => CheckpointStatus { message: format!("Saved {name}."), failed: false },
                            None => CheckpointStatus {
                                message: "The browser did not let the page save the file.".into(),
                                failed: true,
                            },
                        }
                    }
                    Err(message) => CheckpointStatus { message: format!("Not saved: {message}."), failed: true },
                };
                checkpoint.set(status);
            }
            FromWorker::CheckpointLoaded { run, result } => {
                let Some((_, name)) = pending_load.get_value().filter(|(waiting, _)| *waiting == run) else {
                    return;
                };
                pending_load.set_value(None);
                let status = match result {
                    Ok(LoadedCheckpoint { config, step }) => {
                        banner::hide();
                        let message = format!(
                            "Resumed from step {step} of {} ({name}): press Resume or Step to continue.",
                            config.steps
                        );
                        form.update(|f| *f = RunForm::from_config(&config).keeping_own_text(f));
                        view.with_untracked(|v| runs.replace(v));
                        view.set(RunView { steps_done: step, ..RunView::starting(run, *config) });
                        CheckpointStatus { message, failed: false }
                    }
                    Err(message) => CheckpointStatus {
                        message: format!("{name} was not loaded: {message}. Your run and settings are unchanged."),
                        failed: true,
                    },
                };
                checkpoint.set(status);
            }
            FromWorker::Log { request, event } => logs.receive(request, event),
            FromWorker::Align { run, event } => align.receive(run, event),
            FromWorker::Ready { threads } => worker_threads.set(Some(threads)),
            FromWorker::BenchDone(_) | FromWorker::GpuBenchDone(_) | FromWorker::Checkpoint { .. } => {}
        });
        client.set_value(Some(spawned));
        Self {
            view,
            runs,
            estimate,
            lr_range,
            logs,
            align,
            generation: RwSignal::new(GenerateForm::default()),
            client,
            next_run: StoredValue::new(1),
            pending_estimate,
            checkpoint,
            compute,
            pending_save,
            pending_load,
            worker_threads,
            one_thread,
        }
    }

    fn post(&self, msg: ToWorker) {
        self.client.with_value(|c| {
            if let Some(c) = c {
                c.post(msg);
            }
        });
    }

    fn state(&self) -> RunState {
        self.view.with_untracked(|v| v.state)
    }

    /// Starts a new run with `config`, replacing any run in progress (which is kept if it can be).
    pub fn start(&self, config: RunConfig, paused: bool) {
        banner::hide();
        self.view.with_untracked(|v| self.runs.replace(v));
        let run = self.next_run.get_value();
        self.next_run.set_value(run.wrapping_add(1));
        self.view.set(RunView::starting(run, config.clone()));
        let compute = self.compute.get_untracked();
        self.post(ToWorker::Start { run, config: Box::new(config), paused, compute });
    }

    /// Starts a fine-tuning run with the alignment page's settings, if they are all right. The worker
    /// runs one thing at a time, so the trainer's run ends (and is kept if it can be), as on Reset.
    pub fn start_alignment(&self) {
        if let Some(config) = self.align.config() {
            self.start_alignment_of(config, self.align.method());
        }
    }

    /// Starts a fine-tuning run of `method` with `config` (a mystery round's, which the form does not
    /// show), ending the trainer's run as [`Controller::start_alignment`] does.
    pub fn start_alignment_of(&self, config: RunConfig, method: Method) {
        banner::hide();
        self.view.with_untracked(|v| self.runs.replace(v));
        self.view.update(RunView::reset);
        self.align.start(config, method);
    }

    /// Starts a mystery round's run, kept in the history as `name` so its settings stay hidden.
    pub fn start_hidden(&self, config: RunConfig, name: String) {
        self.start(config, false);
        self.runs.hide(self.view.with_untracked(|v| v.run), name);
    }

    pub fn pause(&self) {
        if matches!(self.state(), RunState::Starting | RunState::Running) {
            self.post(ToWorker::Pause);
        }
    }

    pub fn resume(&self) {
        if self.state() == RunState::Paused {
            self.post(ToWorker::Resume);
        }
    }

    /// Takes one step: pauses a running run first, and starts a paused run from `config` when there is
    /// no run to continue.
    pub fn step(&self, config: impl FnOnce() -> Option<RunConfig>) {
        match self.state() {
            RunState::Paused => {}
            RunState::Starting | RunState::Running => self.post(ToWorker::Pause),
            RunState::Idle | RunState::Finished | RunState::Stopped | RunState::Error => match config() {
                Some(config) => self.start(config, true),
                None => return,
            },
        }
        self.post(ToWorker::Step);
    }

    pub fn reset(&self) {
        banner::hide();
        self.post(ToWorker::Reset);
        self.view.with_untracked(|v| self.runs.replace(v));
        self.view.update(RunView::reset);
    }

    /// Asks the current run's model for text; the answer arrives in the view's `generated`.
    pub fn generate(&self, request: SampleRequest) {
        if self.view.with_untracked(|v| v.info.is_some()) {
            self.view.update(|v| v.generating = true);
            self.post(ToWorker::Sample(request));
        }
    }

    /// Starts the learning-rate range test for `config` on a fresh model (the guide's sweep).
    pub fn find_lr(&self, config: RunConfig) {
        let request = self.lr_range.with_untracked(|v| v.request).wrapping_add(1);
        let settings = RangeSettings::default();
        self.lr_range.set(RangeView::requested(request, settings));
        self.post(ToWorker::LrRange { request, config: Box::new(config), settings });
    }

    /// Saves the current run as a checkpoint file (pausing it first when it is running).
    pub fn save_checkpoint(&self) {
        let request = self.pending_save.get_value().wrapping_add(1);
        self.pending_save.set_value(request);
        self.checkpoint.set(CheckpointStatus { message: "Saving the checkpoint…".into(), failed: false });
        self.post(ToWorker::SaveCheckpoint { request });
    }

    /// Continues the run saved in checkpoint file `name` (its `bytes`), paused; until the worker has
    /// accepted the file the current run and the form stay as they are.
    pub fn load_checkpoint(&self, name: String, bytes: Vec<u8>) {
        let run = self.next_run.get_value();
        self.next_run.set_value(run.wrapping_add(1));
        self.checkpoint.set(CheckpointStatus { message: format!("Reading {name}…"), failed: false });
        self.pending_load.set_value(Some((run, name)));
        let compute = self.compute.get_untracked();
        self.post(ToWorker::LoadCheckpoint { run, bytes: Bytes(bytes), paused: true, compute });
    }

    /// Asks the worker what a run with `config` would need in memory; only the latest answer is kept.
    pub fn request_estimate(&self, config: RunConfig) {
        let request = self.pending_estimate.get_value().0.wrapping_add(1);
        self.pending_estimate.set_value((request, Some(config.clone())));
        self.post(ToWorker::Estimate { request, config: Box::new(config) });
    }
}
