//! The page's side of a training run: the run's view, and the commands the buttons send to the worker.

use crate::banner;
use crate::client::WorkerClient;
use crate::protocol::{FromWorker, RunEvent, RunId, ToWorker};
use crate::run_view::{RunState, RunView};
use faultline_engine::RunConfig;
use leptos::prelude::*;

/// Copyable handle shared by the page's components.
#[derive(Clone, Copy)]
pub struct Controller {
    pub view: RwSignal<RunView>,
    client: StoredValue<WorkerClient, LocalStorage>,
    next_run: StoredValue<RunId>,
}

impl Controller {
    /// Starts the worker; its messages update `view` from now on.
    pub fn new() -> Self {
        let view = RwSignal::new(RunView::default());
        let client = WorkerClient::spawn(move |msg| match msg {
            FromWorker::Run { run, event } => {
                let failure = match &event {
                    RunEvent::Failed { message } => Some(message.clone()),
                    _ => None,
                };
                let current = view.try_update(|v| v.apply(run, event)).unwrap_or(false);
                if let Some(message) = failure.filter(|_| current) {
                    banner::show(&message);
                }
            }
            FromWorker::Fatal { message } => {
                banner::show(&message);
                view.update(|v| {
                    if v.state.is_active() {
                        v.state = RunState::Error;
                        v.message = Some(message);
                    }
                });
            }
            FromWorker::Ready | FromWorker::BenchDone(_) => {}
        });
        Self { view, client: StoredValue::new_local(client), next_run: StoredValue::new(1) }
    }

    fn post(&self, msg: ToWorker) {
        self.client.with_value(|c| c.post(msg));
    }

    fn state(&self) -> RunState {
        self.view.with_untracked(|v| v.state)
    }

    /// Starts a new run with `config`, replacing any run in progress.
    pub fn start(&self, config: RunConfig, paused: bool) {
        banner::hide();
        let run = self.next_run.get_value();
        self.next_run.set_value(run.wrapping_add(1));
        self.view.set(RunView::starting(run));
        self.post(ToWorker::Start { run, config: Box::new(config), paused });
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
        self.view.update(RunView::reset);
    }
}
