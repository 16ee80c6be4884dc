//! The JavaScript side of the training worker: receives the page's messages, posts the session's
//! answers and keeps training in short chunks so the worker's event loop can deliver Pause and Reset.
//!
//! Between chunks the worker yields with a message on its own `MessageChannel`, a zero-delay macrotask:
//! a nested `setTimeout(0)` would be clamped to 4 ms each time.
//!
//! All the session's work happens in *turns*: a turn handles the messages that arrived, then trains
//! one chunk. Where the browser has JavaScript Promise Integration (JSPI) and the boot script
//! (`worker-boot.js`) installed it, a turn is called through `WebAssembly.promising`, so a WebGPU readback
//! inside it can suspend the turn until the GPU answers (see `faultline_gpu::wait`); messages that
//! arrive meanwhile wait in the inbox for the next turn. Only one turn runs at a time.

use super::session::Session;
use crate::protocol::{wire, FromWorker, ToWorker};
use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{DedicatedWorkerGlobalScope, MessageChannel, MessageEvent, MessagePort, Performance, WorkerGlobalScope};

/// Milliseconds of training per chunk: short enough that Pause feels immediate.
const CHUNK_MS: f64 = 30.0;

thread_local! {
    static PERFORMANCE: Option<Performance> = js_sys::global().unchecked_into::<WorkerGlobalScope>().performance();
    /// The worker, set once by [`run`]; it lives as long as the thread.
    static WORKER: Cell<Option<&'static Worker>> = const { Cell::new(None) };
    /// A panic has been reported to the page (the panic hook's `Fatal` carries its message).
    static PANICKED: Cell<bool> = const { Cell::new(false) };
}

/// The engine's clock inside the worker: `performance.now()`.
fn now() -> f64 {
    PERFORMANCE.with(|p| p.as_ref().map_or(0.0, Performance::now))
}

fn scope() -> DedicatedWorkerGlobalScope {
    js_sys::global().unchecked_into()
}

fn post(msg: &FromWorker) {
    let sent = wire::encode(msg).and_then(|value| scope().post_message(&value).map_err(|e| format!("{e:?}")));
    if let Err(e) = sent {
        web_sys::console::error_1(&format!("worker could not post a message: {e}").into());
    }
}

struct Worker {
    session: RefCell<Session>,
    /// Messages from the page not yet handled.
    inbox: RefCell<VecDeque<JsValue>>,
    /// The port whose messages wake the worker for the next chunk, and the one that sends them.
    wake: MessagePort,
    tick: MessagePort,
    /// A chunk is due (a tick arrived).
    chunk_due: Cell<bool>,
    /// A tick has been posted and not yet received.
    scheduled: Cell<bool>,
    /// A turn is running (or suspended, waiting for the GPU).
    busy: Cell<bool>,
    /// The exported [`faultline_worker_turn`] wrapped by `WebAssembly.promising`, when JSPI is on.
    promising_turn: RefCell<Option<js_sys::Function>>,
}

impl Worker {
    fn new() -> Self {
        let channel = MessageChannel::new().expect("MessageChannel is available in workers");
        Worker {
            session: RefCell::new(Session::new(now)),
            inbox: RefCell::new(VecDeque::new()),
            wake: channel.port2(),
            tick: channel.port1(),
            chunk_due: Cell::new(false),
            scheduled: Cell::new(false),
            busy: Cell::new(false),
            promising_turn: RefCell::new(None),
        }
    }

    /// Posts a tick for the next chunk when training wants one.
    fn schedule(&self) {
        if self.session.borrow().is_running() && !self.scheduled.replace(true) {
            self.wake.post_message(&JsValue::NULL).ok();
        }
    }

    /// Starts a turn unless one is running; when it ends, starts another if work arrived meanwhile.
    fn pump(&'static self) {
        if self.busy.get() || (self.inbox.borrow().is_empty() && !self.chunk_due.get()) {
            return;
        }
        self.busy.set(true);
        let promising = self.promising_turn.borrow().clone();
        match promising {
            None => {
                self.turn();
                self.busy.set(false);
                self.pump();
            }
            Some(turn) => {
                let promise = turn.call0(&JsValue::UNDEFINED).map(js_sys::Promise::from);
                wasm_bindgen_futures::spawn_local(async move {
                    let ended = match promise {
                        Ok(p) => wasm_bindgen_futures::JsFuture::from(p).await.map(drop),
                        Err(e) => Err(e),
                    };
                    if let Err(e) = ended {
                        // The panic hook has already said why, unless the turn trapped without a panic.
                        if !PANICKED.with(Cell::get) {
                            post(&FromWorker::Fatal { message: format!("the training worker's turn failed: {e:?}") });
                        }
                        // A turn cut short leaves the session mid-change: it takes no more turns, as a
                        // worker whose plain call panicked does not either.
                        return;
                    }
                    self.busy.set(false);
                    self.pump();
                });
            }
        }
    }

    /// Handles every message waiting, then trains one chunk if one is due.
    fn turn(&self) {
        loop {
            let Some(data) = self.inbox.borrow_mut().pop_front() else { break };
            let replies = match wire::decode::<ToWorker>(data) {
                Ok(msg) => self.session.borrow_mut().handle(msg),
                Err(message) => vec![FromWorker::Fatal { message }],
            };
            replies.iter().for_each(post);
        }
        if self.chunk_due.replace(false) {
            let replies = self.session.borrow_mut().run_chunk(CHUNK_MS);
            replies.iter().for_each(post);
        }
        self.schedule();
    }
}

/// The name the worker's binary exports [`turn`] under (`src/bin/faultline-worker.rs`).
const TURN_EXPORT: &str = "faultline_worker_turn";

/// One turn of the worker; called by the worker itself through `WebAssembly.promising` (not by the
/// page), as the worker binary's export [`TURN_EXPORT`].
pub fn turn() {
    if let Some(worker) = WORKER.with(Cell::get) {
        worker.turn();
    }
}

/// The exported turn wrapped by `WebAssembly.promising`, when the boot script turned JSPI on.
fn promising_turn() -> Option<js_sys::Function> {
    if !cfg!(feature = "webgpu") || !faultline_gpu::wait::can_wait() {
        return None;
    }
    let webassembly = js_sys::Reflect::get(&js_sys::global(), &"WebAssembly".into()).ok()?;
    let promising: js_sys::Function = js_sys::Reflect::get(&webassembly, &"promising".into()).ok()?.dyn_into().ok()?;
    let export = js_sys::Reflect::get(&wasm_bindgen::exports(), &TURN_EXPORT.into()).ok()?;
    promising.call1(&webassembly, &export).ok()?.dyn_into().ok()
}

/// The worker's entry point: installs the panic reporter, starts listening (and, in the threaded build,
/// its pool's threads), then posts `Ready`.
pub fn run() {
    std::panic::set_hook(Box::new(|info| {
        PANICKED.with(|p| p.set(true));
        console_error_panic_hook::hook(info);
        post(&FromWorker::Fatal { message: format!("the training worker crashed: {info}") });
    }));
    // The worker lives as long as the thread, so turns and callbacks can hold it.
    let worker: &'static Worker = Box::leak(Box::new(Worker::new()));
    WORKER.with(|w| w.set(Some(worker)));
    *worker.promising_turn.borrow_mut() = promising_turn();

    let on_tick = Closure::<dyn Fn(MessageEvent)>::new(move |_: MessageEvent| {
        worker.scheduled.set(false);
        worker.chunk_due.set(true);
        worker.pump();
    });
    worker.tick.set_onmessage(Some(on_tick.as_ref().unchecked_ref()));
    on_tick.forget();

    let on_message = Closure::<dyn Fn(MessageEvent)>::new(move |event: MessageEvent| {
        worker.inbox.borrow_mut().push_back(event.data());
        worker.pump();
    });
    scope().set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    on_message.forget();

    let ready = || post(&FromWorker::Ready { threads: faultline_engine::backend::cpu::parallel::threads() });
    #[cfg(all(feature = "threads", target_feature = "atomics"))]
    super::threads::start(Box::new(ready));
    #[cfg(not(all(feature = "threads", target_feature = "atomics")))]
    ready();
}
