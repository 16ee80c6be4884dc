//! The page's side of a training run: the run's view, the commands the buttons send to the worker,
//! the memory estimates it asks for, and the kept runs it adds to as runs end or are replaced.

use super::history::RunHistory;
use crate::banner;
use crate::client::WorkerClient;
use crate::protocol::{EstimateResult, FromWorker, RunEvent, RunId, SampleRequest, ToWorker};
use crate::range_view::RangeView;
use crate::run_view::{RunState, RunView};
use faultline_engine::lr_range::RangeSettings;
use faultline_engine::RunConfig;
use leptos::prelude::*;

/// The worker's latest memory estimate and the settings it is for.
#[derive(Clone, Debug, PartialEq)]
pub struct Estimate {
    pub config: RunConfig,
    pub result: EstimateResult,
}

/// Copyable handle shared by the page's components.
#[derive(Clone, Copy)]
pub struct Controller {
    pub view: RwSignal<RunView>,
    /// The last runs, and the ones the charts compare.
    pub runs: RunHistory,
    pub estimate: RwSignal<Option<Estimate>>,
    /// The latest learning-rate range test.
    pub lr_range: RwSignal<RangeView>,
    client: StoredValue<WorkerClient, LocalStorage>,
    next_run: StoredValue<RunId>,
    /// The estimate request the page waits for, and its settings.
    pending_estimate: StoredValue<(u32, Option<RunConfig>)>,
}

impl Controller {
    /// Starts the worker; its messages update `view` from now on.
    pub fn new() -> Self {
        let view = RwSignal::new(RunView::default());
        let estimate = RwSignal::new(None::<Estimate>);
        let pending_estimate = StoredValue::new((0u32, None::<RunConfig>));
        let lr_range = RwSignal::new(RangeView::default());
        let runs = RunHistory::load();
        let client = WorkerClient::spawn(move |msg| match msg {
            FromWorker::Run { run, event } => {
                let failure = match &event {
                    RunEvent::Failed { message } => Some(message.clone()),
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
            FromWorker::Ready | FromWorker::BenchDone(_) => {}
        });
        Self {
            view,
            runs,
            estimate,
            lr_range,
            client: StoredValue::new_local(client),
            next_run: StoredValue::new(1),
            pending_estimate,
        }
    }

    fn post(&self, msg: ToWorker) {
        self.client.with_value(|c| c.post(msg));
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
        self.post(ToWorker::Start { run, config: Box::new(config), paused });
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

    /// Asks the worker what a run with `config` would need in memory; only the latest answer is kept.
    pub fn request_estimate(&self, config: RunConfig) {
        let request = self.pending_estimate.get_value().0.wrapping_add(1);
        self.pending_estimate.set_value((request, Some(config.clone())));
        self.post(ToWorker::Estimate { request, config: Box::new(config) });
    }
}
