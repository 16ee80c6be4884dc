//! The plain-Rust CPU backend.
//!
//! Generic over the element type so the same kernels run in `f32` for training and in `f64` for the
//! finite-difference gradient checks. Its kernels are one of two sets, chosen once when the backend is
//! made: [`Fast`] (the default: the fused, allocation-free row kernels of [`fast`]) or [`Reference`]
//! (the plain formulas of [`reference`](mod@reference), kept as the baseline that the fast ones are
//! tested and benchmarked against; [`CpuBackend::reference`] trains with them). Matrix products go
//! through ndarray's `general_mat_mul` (the `matrixmultiply` crate's blocked kernels, AVX2/FMA when the
//! CPU has them) natively, and through the hand-written SIMD128 kernel of [`matmul`] on wasm32.
//!
//! Where to look:
//! - `mod.rs` (here): [`CpuBackend`], its constructors and what it keeps between calls.
//! - `real.rs`: [`Real`], the element types, with their `exp` and their matrix product.
//! - `kernels.rs`: [`Kernels`], the operations whose two sets differ, and how [`Fast`] splits them
//!   across threads.
//! - `ops.rs`: the [`Backend`](super::Backend) implementation: buffers and the memory budget, the
//!   operations both sets share, gradient clipping and the steps kept for the readback, the
//!   optimiser updates.
//! - [`fast`] and [`reference`](mod@reference): the kernels themselves; [`matmul`]: the packed
//!   matrix product; [`parallel`]: work split across a thread pool.

pub mod fast;
mod kernels;
pub mod matmul;
mod ops;
pub mod parallel;
mod real;
pub mod reference;

pub use kernels::{Fast, Kernels, Reference};
pub use real::Real;
pub use reference::activation_slope;

use super::StepReadout;

/// The CPU backend; `CpuBackend` (f32) trains, `CpuBackend<f64>` checks gradients.
#[derive(Clone, Debug)]
pub struct CpuBackend<T: Real = f32> {
    budget: u64,
    used: u64,
    /// The kernel set every kernel call goes to, [`Fast`] or [`Reference`].
    kernels: &'static dyn Kernels<T>,
    /// The fast attention kernels' working space (a score matrix per sequence, so threads can share
    /// it out), kept between calls so a step allocates nothing.
    scratch: Vec<T>,
    /// Per-gradient sums of squares of the last `Backend::clip_grad_norm`.
    grad_sq: Vec<f64>,
    /// A `Backend::clip_grad_norm` since the last `Backend::read_steps` saw a non-finite value:
    /// optimiser updates are skipped.
    unhealthy: bool,
    /// The steps kept since the last `Backend::read_steps`: the first `kept_steps` of `kept`
    /// (the rest are vectors to reuse).
    kept: Vec<StepReadout>,
    kept_steps: usize,
}

impl<T: Real> Default for CpuBackend<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Real> CpuBackend<T> {
    /// A backend with no memory budget, computing with the fast kernels.
    pub fn new() -> Self {
        Self::with_kernels(&Fast)
    }

    /// A backend with no memory budget, computing with the reference kernels (the baseline).
    pub fn reference() -> Self {
        Self::with_kernels(&Reference)
    }

    fn with_kernels(kernels: &'static dyn Kernels<T>) -> Self {
        Self {
            budget: u64::MAX,
            used: 0,
            kernels,
            scratch: Vec::new(),
            grad_sq: Vec::new(),
            unhealthy: false,
            kept: Vec::new(),
            kept_steps: 0,
        }
    }
}
