//! The Web Worker that trains: the page never trains on its own thread.

pub mod compute;
#[cfg(target_arch = "wasm32")]
mod runtime;
pub mod session;
#[cfg(all(target_arch = "wasm32", feature = "threads", target_feature = "atomics"))]
mod threads;

#[cfg(target_arch = "wasm32")]
pub use runtime::{run, turn};
