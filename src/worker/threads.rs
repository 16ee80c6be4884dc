//! The training worker's thread pool, in its threaded build.
//!
//! `cargo xtask dist` builds the worker a second time with the `threads` feature on nightly Rust
//! (`+atomics`, `-Z build-std`), so its memory is a `SharedArrayBuffer` that other workers can run in.
//! The boot script (`worker-boot.js`) loads that build only where the page is cross-origin isolated;
//! elsewhere the single-thread build runs and this module does not exist.
//!
//! [`start`] builds a rayon pool that this worker's own thread joins (`use_current_thread`), so the
//! engine's kernels, called here, split across the pool (`parallel::threads`) and this thread works on
//! its share instead of waiting. The other threads are Web Workers (`faultline-thread.js`): each
//! receives this module, its memory and a boxed `rayon::ThreadBuilder`, instantiates the same wasm on
//! the shared memory and runs the builder's loop in [`faultline_thread_run`]. Each posts "started"
//! first; the worker says it is ready once all have, or one failed, or [`START_TIMEOUT_MS`] passed. A
//! thread that has not started takes no work (this thread does it): the results are the same bits
//! whatever the thread count. A panic on a pool thread reaches the page too: the panic hook posts to
//! the thread's parent, this worker, which passes the message on.

use std::cell::{Cell, RefCell};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{DedicatedWorkerGlobalScope, Event, MessageEvent, Worker, WorkerGlobalScope};

/// The script each pool thread starts with (copied by Trunk, relative to this worker's script), and the
/// build whose glue it loads: this one (`cargo xtask dist` names the threaded builds, xtask/src/site.rs).
const THREAD_SCRIPT: &str = if cfg!(feature = "webgpu") {
    "./faultline-thread.js?build=faultline-worker-mt"
} else {
    "./faultline-thread.js?build=faultline-worker-cpu-mt"
};
/// What a pool thread posts once its module is instantiated (`faultline-thread.js`).
const STARTED_MESSAGE: &str = "started";
/// More threads than this only add waiting on the products `tiny` and `small` multiply.
const MAX_THREADS: usize = 8;
/// How long the worker waits for its threads before it says it is ready without them.
const START_TIMEOUT_MS: i32 = 5000;

thread_local! {
    /// The pool, kept for as long as this worker lives, and its size.
    static POOL: RefCell<Option<(rayon::ThreadPool, usize)>> = const { RefCell::new(None) };
    /// Threads that have posted "started".
    static STARTED: Cell<usize> = const { Cell::new(0) };
    /// The pool's workers, kept referenced for as long as this worker lives.
    static WORKERS: RefCell<Vec<Worker>> = const { RefCell::new(Vec::new()) };
    /// What [`start`] was told to do once the threads have started (or given up on).
    static ON_READY: RefCell<Option<Box<dyn FnOnce()>>> = const { RefCell::new(None) };
}

/// Runs the ready callback, once: all threads started, one failed, or the wait timed out.
fn ready() {
    if let Some(on_ready) = ON_READY.with(|r| r.borrow_mut().take()) {
        on_ready();
    }
}

/// The cores the browser reports (`navigator.hardwareConcurrency`), at most [`MAX_THREADS`].
fn cores() -> usize {
    let navigator = js_sys::Reflect::get(&js_sys::global(), &"navigator".into()).ok();
    let cores = navigator.and_then(|n| js_sys::Reflect::get(&n, &"hardwareConcurrency".into()).ok());
    cores.and_then(|c| c.as_f64()).map_or(1, |c| (c as usize).clamp(1, MAX_THREADS))
}

/// Starts a pool of one thread per core, this one included (no pool on a one-core machine), then
/// calls `on_ready` once the others have all started, or one failed, or [`START_TIMEOUT_MS`] passed.
pub fn start(on_ready: Box<dyn FnOnce()>) {
    ON_READY.with(|r| *r.borrow_mut() = Some(on_ready));
    let threads = cores();
    if threads < 2 {
        ready();
        return;
    }
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(|i| format!("faultline-thread-{i}"))
        .use_current_thread()
        .spawn_handler(spawn)
        .build();
    match pool {
        Ok(pool) => POOL.with(|p| *p.borrow_mut() = Some((pool, threads))),
        Err(e) => {
            web_sys::console::warn_1(&format!("training stays on one thread: {e}").into());
            ready();
            return;
        }
    }
    let timeout = Closure::once_into_js(ready);
    let scope: WorkerGlobalScope = js_sys::global().unchecked_into();
    scope.set_timeout_with_callback_and_timeout_and_arguments_0(timeout.unchecked_ref(), START_TIMEOUT_MS).ok();
}

/// Starts a Web Worker for one rayon thread and sends it what it needs to run `thread`.
fn spawn(thread: rayon::ThreadBuilder) -> std::io::Result<()> {
    let failed = |e: JsValue| std::io::Error::other(format!("cannot start a pool thread: {e:?}"));
    let worker = Worker::new(THREAD_SCRIPT).map_err(failed)?;
    let on_message = Closure::<dyn Fn(MessageEvent)>::new(|event: MessageEvent| {
        if event.data().as_string().as_deref() != Some(STARTED_MESSAGE) {
            // The panic hook's report from a pool thread (it posts to its parent, this worker): the page's.
            let scope: DedicatedWorkerGlobalScope = js_sys::global().unchecked_into();
            scope.post_message(&event.data()).ok();
            return;
        }
        STARTED.with(|s| s.set(s.get() + 1));
        // This thread is one of the pool's: the others have all started when the count is one short.
        if POOL.with(|p| p.borrow().as_ref().is_some_and(|(_, threads)| STARTED.with(Cell::get) + 1 >= *threads)) {
            ready();
        }
    });
    worker.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    on_message.forget();
    let on_error = Closure::<dyn Fn(Event)>::new(|event: Event| {
        web_sys::console::error_2(&"a pool thread failed".into(), &event);
        ready();
    });
    worker.set_onerror(Some(on_error.as_ref().unchecked_ref()));
    on_error.forget();
    let builder = Box::into_raw(Box::new(thread));
    let message = js_sys::Array::of3(&wasm_bindgen::module(), &wasm_bindgen::memory(), &(builder as u32).into());
    if let Err(e) = worker.post_message(&message) {
        // SAFETY: the message was not sent, so no other thread holds the pointer.
        drop(unsafe { Box::from_raw(builder) });
        return Err(failed(e));
    }
    WORKERS.with(|w| w.borrow_mut().push(worker));
    Ok(())
}

/// A pool thread's body, called by `faultline-thread.js` with the pointer [`spawn`] sent it.
#[wasm_bindgen]
pub fn faultline_thread_run(builder: u32) {
    // SAFETY: `spawn` boxed this `ThreadBuilder` and sent its address to exactly this thread.
    let thread = unsafe { Box::from_raw(builder as usize as *mut rayon::ThreadBuilder) };
    thread.run();
}
