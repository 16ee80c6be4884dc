//! The JavaScript side of the training worker: receives the page's messages, posts the session's
//! answers and keeps training in short chunks so the worker's event loop can deliver Pause and Reset.
//!
//! Between chunks the worker yields with a message on its own `MessageChannel`, a zero-delay macrotask:
//! a nested `setTimeout(0)` would be clamped to 4 ms each time.

use super::session::Session;
use crate::protocol::{wire, FromWorker, ToWorker};
use std::cell::{Cell, RefCell};
use std::rc::Rc;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{DedicatedWorkerGlobalScope, MessageChannel, MessageEvent, MessagePort, Performance, WorkerGlobalScope};

/// Milliseconds of training per chunk: short enough that Pause feels immediate.
const CHUNK_MS: f64 = 30.0;

thread_local! {
    static PERFORMANCE: Option<Performance> = js_sys::global().unchecked_into::<WorkerGlobalScope>().performance();
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
    /// The port whose messages wake the worker for the next chunk, and the one that sends them.
    wake: MessagePort,
    tick: MessagePort,
    scheduled: Cell<bool>,
}

impl Worker {
    fn schedule(&self) {
        if self.session.borrow().is_running() && !self.scheduled.replace(true) {
            self.wake.post_message(&JsValue::NULL).ok();
        }
    }

    fn on_message(&self, data: JsValue) {
        let replies = match wire::decode::<ToWorker>(data) {
            Ok(msg) => self.session.borrow_mut().handle(msg),
            Err(message) => vec![FromWorker::Fatal { message }],
        };
        replies.iter().for_each(post);
        self.schedule();
    }

    fn on_tick(&self) {
        self.scheduled.set(false);
        let replies = self.session.borrow_mut().run_chunk(CHUNK_MS);
        replies.iter().for_each(post);
        self.schedule();
    }
}

/// The worker's entry point: installs the panic reporter, starts listening, then posts `Ready`.
pub fn run() {
    std::panic::set_hook(Box::new(|info| {
        console_error_panic_hook::hook(info);
        post(&FromWorker::Fatal { message: format!("the training worker crashed: {info}") });
    }));
    let channel = MessageChannel::new().expect("MessageChannel is available in workers");
    let worker = Rc::new(Worker {
        session: RefCell::new(Session::new(now)),
        wake: channel.port2(),
        tick: channel.port1(),
        scheduled: Cell::new(false),
    });

    let on_tick = {
        let worker = Rc::clone(&worker);
        Closure::<dyn Fn(MessageEvent)>::new(move |_: MessageEvent| worker.on_tick())
    };
    worker.tick.set_onmessage(Some(on_tick.as_ref().unchecked_ref()));
    on_tick.forget();

    let on_message = {
        let worker = Rc::clone(&worker);
        Closure::<dyn Fn(MessageEvent)>::new(move |event: MessageEvent| worker.on_message(event.data()))
    };
    scope().set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    on_message.forget();

    post(&FromWorker::Ready);
}
