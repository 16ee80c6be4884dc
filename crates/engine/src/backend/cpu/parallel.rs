//! Threads for the CPU backend's large kernels (the `threads` feature; without it everything here runs
//! on the calling thread).
//!
//! Work splits only on a thread of a rayon pool: inside `ThreadPool::install` (the command line's
//! `--threads`), or on a thread that joined its pool with `use_current_thread` (the browser's threaded
//! worker), it splits across that pool; anywhere else it runs on the calling thread. Nothing starts
//! threads on its own, so the tests, the command line without `--threads`, and the browser's
//! single-thread build train on one thread.
//!
//! A split hands each thread whole output rows (of a product), whole sequences (of attention) or a run
//! of elements (of an element-wise kernel), each computed by the single-thread code in the
//! single-thread order: results are bit-identical whatever the thread count (`tests/threads.rs`).

use std::ops::Range;

#[cfg(feature = "threads")]
mod pool {
    pub fn threads() -> usize {
        if rayon::current_thread_index().is_some() {
            rayon::current_num_threads()
        } else {
            1
        }
    }

    pub fn join(a: impl FnOnce() + Send, b: impl FnOnce() + Send) {
        rayon::join(a, b);
    }
}

#[cfg(not(feature = "threads"))]
mod pool {
    pub fn threads() -> usize {
        1
    }

    pub fn join(a: impl FnOnce() + Send, b: impl FnOnce() + Send) {
        a();
        b();
    }
}

/// The threads a kernel called here would split across (1 without a pool).
pub fn threads() -> usize {
    pool::threads()
}

/// Runs `work` over `0..items` in up to [`threads`] contiguous pieces of at least `min_items` each,
/// concurrently. Item `i` owns `a[i·a_len .. (i+1)·a_len]` and `b[i·b_len .. (i+1)·b_len]`: each piece
/// gets its items' parts of both (the last piece also whatever follows), cut with `split_at_mut`.
#[allow(clippy::too_many_arguments)]
pub fn split_mut<A: Send, B: Send>(
    items: usize,
    min_items: usize,
    a: &mut [A],
    a_len: usize,
    b: &mut [B],
    b_len: usize,
    work: &(impl Fn(Range<usize>, &mut [A], &mut [B]) + Sync),
) {
    let parts = (items / min_items.max(1)).min(threads());
    pieces(0..items, parts, a, a_len, b, b_len, work);
}

/// Halves `items` (and the parts) until each part is one piece, running the halves with `join`.
#[allow(clippy::too_many_arguments)]
fn pieces<A: Send, B: Send>(
    items: Range<usize>,
    parts: usize,
    a: &mut [A],
    a_len: usize,
    b: &mut [B],
    b_len: usize,
    work: &(impl Fn(Range<usize>, &mut [A], &mut [B]) + Sync),
) {
    if parts <= 1 {
        work(items, a, b);
        return;
    }
    let left = parts / 2;
    let mid = items.len() * left / parts;
    let (a0, a1) = a.split_at_mut(mid * a_len);
    let (b0, b1) = b.split_at_mut(mid * b_len);
    let (first, rest) = (items.start..items.start + mid, items.start + mid..items.end);
    pool::join(
        || pieces(first, left, a0, a_len, b0, b_len, work),
        || pieces(rest, parts - left, a1, a_len, b1, b_len, work),
    );
}
