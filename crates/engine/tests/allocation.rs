//! A training step in steady state allocates nothing: every buffer it needs was made when the run
//! started. The global allocator here counts the allocations this thread makes while the counter is
//! armed.
//!
//! It needs the `packed-matmul` feature, which gives native builds the matrix kernel the browser runs
//! (the engine's own, with packing buffers kept per thread): natively the engine otherwise calls
//! `matrixmultiply`, which allocates its packing buffers in every product. `cargo xtask test` runs
//! `cargo test --release -p faultline-engine --features packed-matmul --test allocation`.
#![cfg(feature = "packed-matmul")]

use faultline_engine::config::{OptimizerKind, RunConfig};
use faultline_engine::trainer::{native_clock, Trainer};
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

struct Counting;

thread_local! {
    /// `Some(n)`: armed on this thread, `n` allocations so far.
    static COUNT: Cell<Option<(usize, usize)>> = const { Cell::new(None) };
}

fn note(bytes: usize) {
    // `try_with`: the thread-local may already be gone while the thread shuts down.
    let _ = COUNT.try_with(|c| {
        if let Some((n, b)) = c.get() {
            c.set(Some((n + 1, b + bytes)));
        }
    });
}

// SAFETY: every call is passed on to the system allocator unchanged; the counting touches only a
// const-initialised thread-local `Cell`, which never allocates.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note(new_size);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// The allocations (count, bytes) `f` makes on this thread.
fn allocations(f: impl FnOnce()) -> (usize, usize) {
    COUNT.with(|c| c.set(Some((0, 0))));
    f();
    COUNT.with(|c| c.take()).expect("armed")
}

/// Steps a run past its warm-up, then counts the allocations of steps that are neither evaluations
/// nor the step before one (that one downloads the parameters to measure the update's size).
fn assert_steady_steps_allocate_nothing(cfg: RunConfig) {
    let label = format!("{:?} {:?}", cfg.preset, cfg.optimizer);
    let mut t = Trainer::cpu(RunConfig { steps: 40, eval_every: 20, ..cfg }, native_clock).unwrap();
    for _ in 0..3 {
        t.step().unwrap();
    }
    for step in 4..=10 {
        let (count, bytes) = allocations(|| {
            t.step().unwrap();
        });
        assert_eq!((count, bytes), (0, 0), "{label}: step {step} made {count} allocations ({bytes} bytes)");
    }
}

#[test]
fn a_steady_adamw_step_allocates_nothing() {
    assert_steady_steps_allocate_nothing(RunConfig::default());
}

#[test]
fn a_steady_sgd_step_with_accumulation_allocates_nothing() {
    assert_steady_steps_allocate_nothing(RunConfig {
        optimizer: OptimizerKind::Sgd,
        grad_accum: 2,
        ..RunConfig::default()
    });
}
