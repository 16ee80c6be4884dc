//! The page's handle on the training worker.
//!
//! A worker built from Rust only listens once its WebAssembly module has loaded, and it drops anything
//! posted before then, so messages wait in a queue until the worker says `Ready`. A worker that crashed
//! (it reports `Fatal`) or never loaded is replaced by a fresh one on the next message.

use crate::protocol::{wire, FromWorker, ToWorker};
use std::cell::RefCell;
use std::rc::{Rc, Weak};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{ErrorEvent, Event, MessageEvent, Worker};

/// The worker's boot script (`src/worker/worker-boot.js`, copied by Trunk), which turns JSPI on and then
/// loads the loader Trunk writes for the worker binary (`data-loader-shim`); relative to the page.
pub const WORKER_SCRIPT: &str = "./worker-boot.js";

type Handler = Rc<dyn Fn(FromWorker)>;

struct Live {
    worker: Worker,
    ready: bool,
    queue: Vec<ToWorker>,
    _on_message: Closure<dyn Fn(MessageEvent)>,
    _on_error: Closure<dyn Fn(Event)>,
}

struct Inner {
    handler: Handler,
    /// The boot script with its query: [`worker_script`].
    script: String,
    live: Option<Live>,
    /// The last failed worker, kept until the next failure: its callbacks may still be on the stack.
    retired: Option<Live>,
}

/// Cheap to clone; every clone talks to the same worker.
#[derive(Clone)]
pub struct WorkerClient {
    inner: Rc<RefCell<Inner>>,
}

impl WorkerClient {
    /// Starts the worker, its single-thread build when `one_thread` (and every replacement after a
    /// failure the same); `handler` receives every message, `Ready` once what waited for it is sent.
    pub fn spawn(one_thread: bool, handler: impl Fn(FromWorker) + 'static) -> Self {
        let inner = Inner { handler: Rc::new(handler), script: worker_script(one_thread), live: None, retired: None };
        let client = Self { inner: Rc::new(RefCell::new(inner)) };
        client.ensure_live();
        client
    }

    /// Sends `msg`, after the worker's `Ready` if it is still loading.
    pub fn post(&self, msg: ToWorker) {
        self.ensure_live();
        let failure = {
            let mut inner = self.inner.borrow_mut();
            let Some(live) = inner.live.as_mut() else { return };
            if !live.ready {
                live.queue.push(msg);
                return;
            }
            send(&live.worker, &msg).err()
        };
        if let Some(message) = failure {
            self.fail(message);
        }
    }

    fn ensure_live(&self) {
        if self.inner.borrow().live.is_some() {
            return;
        }
        let script = self.inner.borrow().script.clone();
        let started = spawn_worker(&script, Rc::downgrade(&self.inner));
        match started {
            Ok(live) => self.inner.borrow_mut().live = Some(live),
            Err(message) => self.fail(message),
        }
    }

    /// Drops the worker (it is replaced on the next message) and reports `message` as fatal.
    fn fail(&self, message: String) {
        let handler = {
            let mut inner = self.inner.borrow_mut();
            if let Some(live) = inner.live.take() {
                live.worker.terminate();
                inner.retired = Some(live);
            }
            Rc::clone(&inner.handler)
        };
        handler(FromWorker::Fatal { message });
    }
}

fn send(worker: &Worker, msg: &ToWorker) -> Result<(), String> {
    let value = wire::encode(msg)?;
    worker.post_message(&value).map_err(|e| format!("cannot reach the training worker: {e:?}"))
}

/// The query parameter that asks for the worker's single-thread build: `threads=1`.
pub const THREADS_PARAM: &str = "threads";

/// Whether a page's query asks for one thread (`threads=1`). The page reads it once, at load: its own
/// address bar is rewritten as the form changes.
pub fn one_thread_asked(query: &[(String, String)]) -> bool {
    query.iter().any(|(k, v)| k == THREADS_PARAM && v == "1")
}

/// [`WORKER_SCRIPT`], with `?threads=1` when the page asks for one thread: the boot script then loads
/// the single-thread build even on a cross-origin isolated page.
fn worker_script(one_thread: bool) -> String {
    if one_thread {
        format!("{WORKER_SCRIPT}?{THREADS_PARAM}=1")
    } else {
        WORKER_SCRIPT.to_string()
    }
}

fn spawn_worker(script: &str, inner: Weak<RefCell<Inner>>) -> Result<Live, String> {
    let worker = Worker::new(script).map_err(|e| format!("cannot start the training worker: {e:?}"))?;
    let on_message = {
        let inner = inner.clone();
        Closure::<dyn Fn(MessageEvent)>::new(move |event: MessageEvent| {
            if let Some(inner) = inner.upgrade() {
                receive(&WorkerClient { inner }, event.data());
            }
        })
    };
    let on_error = Closure::<dyn Fn(Event)>::new(move |event: Event| {
        event.prevent_default();
        let detail = event.dyn_ref::<ErrorEvent>().map(ErrorEvent::message).filter(|m| !m.is_empty());
        let message = match detail {
            Some(detail) => format!("the training worker failed: {detail}"),
            None => "the training worker could not be loaded".to_string(),
        };
        if let Some(inner) = inner.upgrade() {
            WorkerClient { inner }.fail(message);
        }
    });
    worker.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    worker.set_onerror(Some(on_error.as_ref().unchecked_ref()));
    Ok(Live { worker, ready: false, queue: Vec::new(), _on_message: on_message, _on_error: on_error })
}

fn receive(client: &WorkerClient, data: JsValue) {
    let msg = match wire::decode::<FromWorker>(data) {
        Ok(msg) => msg,
        Err(message) => return client.fail(message),
    };
    match msg {
        FromWorker::Ready { threads } => {
            // Visible to the end-to-end tests: the worker has loaded everything it fetches (its
            // WebAssembly and, in the threaded build, its threads' scripts), so a reload aborts nothing.
            if let Some(root) = web_sys::window().and_then(|w| w.document()).and_then(|d| d.document_element()) {
                root.set_attribute("data-worker", "ready").ok();
            }
            let failure = {
                let mut inner = client.inner.borrow_mut();
                let Some(live) = inner.live.as_mut() else { return };
                live.ready = true;
                let queue = std::mem::take(&mut live.queue);
                queue.iter().find_map(|m| send(&live.worker, m).err())
            };
            if let Some(message) = failure {
                return client.fail(message);
            }
            let handler = Rc::clone(&client.inner.borrow().handler);
            handler(FromWorker::Ready { threads });
        }
        FromWorker::Fatal { message } => client.fail(message),
        other => {
            let handler = Rc::clone(&client.inner.borrow().handler);
            handler(other);
        }
    }
}
