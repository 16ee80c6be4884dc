//! A training step in steady state allocates nothing: every buffer it needs was made when the run
//! started. The global allocator here counts the allocations that the threads taking part make while
//! the counter is armed: the test's own thread and, with the `threads` feature, its pool's threads.
//!
//! It needs the `packed-matmul` feature, which gives native builds the matrix kernel the browser runs
//! (the engine's own, with packing buffers kept per thread): natively the engine otherwise calls
//! `matrixmultiply`, which allocates its packing buffers in every product. `cargo xtask test` runs
//! `cargo test --release -p faultline-engine --features packed-matmul,threads --test allocation`.
#![cfg(feature = "packed-matmul")]

use faultline_engine::config::{OptimizerKind, RunConfig};
use faultline_engine::trainer::{native_clock, Trainer};
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;

struct Counting;

thread_local! {
    /// This thread's allocations count while the counter is armed.
    static TAKES_PART: Cell<bool> = const { Cell::new(false) };
}

/// The counter is armed; what it has counted; one test at a time (a pool's threads take part in
/// whatever is armed, so no other test may arm the counter while they run).
static ARMED: AtomicBool = AtomicBool::new(false);
static COUNT: AtomicUsize = AtomicUsize::new(0);
static BYTES: AtomicUsize = AtomicUsize::new(0);
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn note(bytes: usize) {
    // `try_with`: the thread-local may already be gone while the thread shuts down.
    if ARMED.load(Ordering::SeqCst) && TAKES_PART.try_with(Cell::get).unwrap_or(false) {
        COUNT.fetch_add(1, Ordering::SeqCst);
        BYTES.fetch_add(bytes, Ordering::SeqCst);
    }
}

// SAFETY: every call is passed on to the system allocator unchanged; the counting touches only
// atomics and a const-initialised thread-local `Cell`, which never allocate.
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

/// The allocations (count, bytes) `f` makes on this thread and on the threads that take part.
fn allocations(f: impl FnOnce()) -> (usize, usize) {
    let took_part = TAKES_PART.with(|t| t.replace(true));
    COUNT.store(0, Ordering::SeqCst);
    BYTES.store(0, Ordering::SeqCst);
    ARMED.store(true, Ordering::SeqCst);
    f();
    ARMED.store(false, Ordering::SeqCst);
    TAKES_PART.with(|t| t.set(took_part));
    (COUNT.load(Ordering::SeqCst), BYTES.load(Ordering::SeqCst))
}

/// Steps a run past its warm-up, then counts the allocations of steps that are neither evaluations
/// nor the step before one (that one downloads the parameters to measure the update's size).
fn assert_steady_steps_allocate_nothing(cfg: RunConfig) {
    let _alone = ONE_AT_A_TIME.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
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

/// The same with the products, attention and GELU split across a pool of 2 (its threads take part).
#[cfg(feature = "threads")]
#[test]
fn a_steady_step_on_two_threads_allocates_nothing() {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .start_handler(|_| TAKES_PART.with(|t| t.set(true)))
        .build()
        .unwrap();
    pool.install(|| {
        assert_eq!(faultline_engine::backend::cpu::parallel::threads(), 2);
        assert_steady_steps_allocate_nothing(RunConfig::default());
    });
}
