//! Waiting for the GPU without an `async` backend trait.
//!
//! The engine's [`Backend`](faultline_engine::backend::Backend) is synchronous: a readback returns the
//! numbers. Natively that is a blocking wait (`pollster`, `Device::poll`). A browser never lets a
//! script block, and WebGPU only answers through promises, so in the browser the training worker runs
//! every turn through JavaScript Promise Integration (JSPI): the worker's boot script
//! (`src/worker/worker-boot.js` in the app) makes `faultlineSuspendYield` (the `suspend` import below) a
//! `WebAssembly.Suspending` import and the worker calls its turns through `WebAssembly.promising`.
//! A wait is then a loop that suspends the WebAssembly stack until the next macrotask, during which
//! the browser delivers WebGPU's answers, and polls again.

use std::future::Future;

/// Runs `future` to completion: natively by blocking the thread, in the browser by suspending the
/// worker's turn (see the module docs) until it is ready.
#[cfg(not(target_arch = "wasm32"))]
pub fn block_on<F: Future>(future: F) -> F::Output {
    pollster::block_on(future)
}

/// Runs `future` to completion: natively by blocking the thread, in the browser by suspending the
/// worker's turn (see the module docs) until it is ready.
#[cfg(target_arch = "wasm32")]
pub fn block_on<F: Future>(future: F) -> F::Output {
    use std::task::{Context, Poll, Waker};
    let mut future = std::pin::pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(value) = future.as_mut().poll(&mut cx) {
            return value;
        }
        suspend();
    }
}

/// Whether this thread can wait for the GPU: always natively; in the browser only inside a worker
/// whose boot script installed JSPI (`globalThis.faultlineJspi === true`).
pub fn can_wait() -> bool {
    #[cfg(target_arch = "wasm32")]
    {
        js_sys::Reflect::get(&js_sys::global(), &"faultlineJspi".into()).is_ok_and(|v| v.as_bool() == Some(true))
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        true
    }
}

#[cfg(target_arch = "wasm32")]
mod jspi {
    use wasm_bindgen::prelude::*;

    #[wasm_bindgen]
    extern "C" {
        /// A promise that resolves (to 0) on the next macrotask. Called as a `WebAssembly.Suspending`
        /// import it returns 0 after the suspension; called plainly it returns the promise, which
        /// arrives here as NaN.
        #[wasm_bindgen(js_namespace = globalThis, js_name = faultlineSuspendYield)]
        pub fn suspend_yield() -> f64;
    }
}

/// Gives the browser one macrotask (WebGPU's answers arrive in it), suspending this WebAssembly stack.
#[cfg(target_arch = "wasm32")]
pub fn suspend() {
    if jspi::suspend_yield().is_nan() {
        panic!("the GPU was waited for outside a suspendable worker turn (JSPI is not active)");
    }
}
