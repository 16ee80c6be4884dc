//! [`Real`]: the element types the CPU backend computes in (f32 to train, f64 to check gradients),
//! each with its `exp` for the fast kernels and its matrix product.

use super::{fast, matmul};
use matmul::Strides;
use ndarray::LinalgScalar;
use num_traits::Float;

/// Element types the CPU backend computes in.
pub trait Real: Float + LinalgScalar + Default + Send + Sync + std::fmt::Debug + 'static {
    /// `e^self` as the fast kernels compute it: [`fast::exp_f32`] in f32, libm's `exp` in f64.
    fn exp_fast(self) -> Self;
    /// The matrix product behind [`matmul::gemm`] (which checks the operands first).
    #[allow(clippy::too_many_arguments)]
    fn gemm(
        m: usize,
        k: usize,
        n: usize,
        alpha: Self,
        a: &[Self],
        sa: Strides,
        b: &[Self],
        sb: Strides,
        beta: Self,
        c: &mut [Self],
        sc: Strides,
    );
    fn of(v: f32) -> Self;
    fn of64(v: f64) -> Self;
    fn f32(self) -> f32;
    fn f64(self) -> f64;
}

impl Real for f32 {
    #[inline(always)]
    fn exp_fast(self) -> Self {
        fast::exp_f32(self)
    }
    fn gemm(
        m: usize,
        k: usize,
        n: usize,
        alpha: f32,
        a: &[f32],
        sa: Strides,
        b: &[f32],
        sb: Strides,
        beta: f32,
        c: &mut [f32],
        sc: Strides,
    ) {
        #[cfg(any(all(target_arch = "wasm32", target_feature = "simd128"), feature = "packed-matmul"))]
        matmul::packed_sgemm(m, k, n, alpha, a, sa, b, sb, beta, c, sc);
        #[cfg(not(any(all(target_arch = "wasm32", target_feature = "simd128"), feature = "packed-matmul")))]
        matmul::matrixmultiply_f32(m, k, n, alpha, a, sa, b, sb, beta, c, sc);
    }
    #[inline(always)]
    fn of(v: f32) -> Self {
        v
    }
    #[inline(always)]
    fn of64(v: f64) -> Self {
        v as f32
    }
    #[inline(always)]
    fn f32(self) -> f32 {
        self
    }
    #[inline(always)]
    fn f64(self) -> f64 {
        self as f64
    }
}

impl Real for f64 {
    #[inline(always)]
    fn exp_fast(self) -> Self {
        self.exp()
    }
    fn gemm(
        m: usize,
        k: usize,
        n: usize,
        alpha: f64,
        a: &[f64],
        sa: Strides,
        b: &[f64],
        sb: Strides,
        beta: f64,
        c: &mut [f64],
        sc: Strides,
    ) {
        matmul::matrixmultiply_f64(m, k, n, alpha, a, sa, b, sb, beta, c, sc);
    }
    #[inline(always)]
    fn of(v: f32) -> Self {
        v as f64
    }
    #[inline(always)]
    fn of64(v: f64) -> Self {
        v
    }
    #[inline(always)]
    fn f32(self) -> f32 {
        self as f32
    }
    #[inline(always)]
    fn f64(self) -> f64 {
        self
    }
}
