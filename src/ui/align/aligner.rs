//! The page's side of a fine-tuning run: the alignment page's form, the run's view and the messages to
//! the training worker. The run outlives the page, like a training run: it goes on while the learner
//! reads the guide.

use crate::align_view::AlignView;
use crate::client::WorkerClient;
use crate::form::RunForm;
use crate::protocol::{AlignEvent, RunId, ToWorker};
use faultline_engine::align::Method;
use faultline_engine::RunConfig;
use leptos::prelude::*;

/// Copyable handle shared by the controller (which hands it the worker's answers) and the page.
#[derive(Clone, Copy)]
pub struct Aligner {
    /// The alignment page's settings and faults (a form of [`crate::form::FormKind::Alignment`], whose method the run takes).
    pub form: RwSignal<RunForm>,
    pub view: RwSignal<AlignView>,
    /// The run before this one, once it reached fine-tuning: what a rerun is compared with.
    pub previous: RwSignal<Option<AlignView>>,
    client: StoredValue<Option<WorkerClient>, LocalStorage>,
    next_run: StoredValue<RunId>,
}

impl Aligner {
    /// A handle that posts through `client` once the controller has started the worker.
    pub fn new(form: RwSignal<RunForm>, client: StoredValue<Option<WorkerClient>, LocalStorage>) -> Self {
        Self {
            form,
            view: RwSignal::new(AlignView::default()),
            previous: RwSignal::new(None),
            client,
            next_run: StoredValue::new(1),
        }
    }

    fn post(&self, msg: ToWorker) {
        self.client.with_value(|c| {
            if let Some(c) = c {
                c.post(msg);
            }
        });
    }

    /// The settings of the form, when every field is right.
    pub fn config(&self) -> Option<RunConfig> {
        self.form.with_untracked(|f| f.to_config().ok())
    }

    /// The fine-tuning method the form is on.
    pub fn method(&self) -> Method {
        self.form.with_untracked(|f| f.method().unwrap_or(Method::Dpo))
    }

    /// Starts a fine-tuning run of `method` with `config`: its `steps` are the method's steps. It
    /// replaces any run in the worker (the controller retires the trainer's).
    pub fn start(&self, config: RunConfig, method: Method) {
        let run = self.next_run.get_value();
        self.next_run.set_value(run.wrapping_add(1));
        if let Some(last) = self.view.with_untracked(|v| v.info.is_some().then(|| v.clone())) {
            self.previous.set(Some(last));
        }
        let view = AlignView::starting(run, config.fine_tuning.pretrain_steps, config.steps, method);
        self.view.set(AlignView { config: Some(config.clone()), ..view });
        let steps = config.steps;
        self.post(ToWorker::Align { run, config: Box::new(config), steps, method });
    }

    /// Stops the run under way; the worker answers that it stopped.
    pub fn stop(&self) {
        if self.view.with_untracked(|v| v.state.is_active()) {
            self.post(ToWorker::Reset);
        }
    }

    /// Takes the worker's message about run `run`.
    pub fn receive(&self, run: RunId, event: AlignEvent) {
        self.view.maybe_update(|v| v.apply(run, event));
    }

    /// The worker crashed: a run under way will get no answer.
    pub fn worker_failed(&self, message: &str) {
        self.view.update(|v| v.worker_failed(message));
    }
}
