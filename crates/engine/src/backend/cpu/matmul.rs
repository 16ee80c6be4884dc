//! Matrix products on strided operands.
//!
//! [`gemm`] is the one entry point: `C = alpha·A·B + beta·C` with every operand given by a slice and its
//! row and column strides, so transposes and the per-head blocks of attention are views, not copies.
//! f64 and native f32 go to the `matrixmultiply` crate (blocked, with AVX2/FMA micro-kernels picked at
//! run time); f32 on wasm32 goes to [`packed_sgemm`], this module's own blocked kernel, whose
//! micro-kernel is SIMD128 (`f32x4`) when the target has `+simd128` and plain Rust otherwise.
//! [`packed_sgemm`] is public so it is tested and benchmarked natively too.

#[cfg(doc)]
use super::parallel;
use super::Real;

/// Row and column strides of a matrix operand: element `(i, j)` is at `i * rows + j * cols`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Strides {
    pub rows: usize,
    pub cols: usize,
}

impl Strides {
    /// A row-major `[_, cols]` matrix.
    pub const fn row_major(cols: usize) -> Self {
        Strides { rows: cols, cols: 1 }
    }

    /// The same storage read transposed.
    pub const fn t(self) -> Self {
        Strides { rows: self.cols, cols: self.rows }
    }

    /// One past the last element a `[r, c]` matrix with these strides touches (0 when empty).
    fn extent(self, r: usize, c: usize) -> usize {
        if r == 0 || c == 0 {
            0
        } else {
            (r - 1) * self.rows + (c - 1) * self.cols + 1
        }
    }
}

/// `c[m,n] = alpha·a[m,k]·b[k,n] + beta·c` on strided operands. With `beta == 0`, `c` is overwritten
/// without being read (NaN or Inf already in `c` does not leak through).
///
/// Panics when an operand's slice is too short for its shape and strides.
#[allow(clippy::too_many_arguments)]
pub fn gemm<T: Real>(
    m: usize,
    k: usize,
    n: usize,
    alpha: T,
    a: &[T],
    sa: Strides,
    b: &[T],
    sb: Strides,
    beta: T,
    c: &mut [T],
    sc: Strides,
) {
    T::gemm(m, k, n, alpha, a, sa, b, sb, beta, c, sc);
}

/// Multiply-adds a thread's share of a product must reach before it is split off.
const MIN_THREAD_WORK: usize = 1 << 15;

/// The fewest rows of an `[m,k]·[k,n]` product worth a thread of their own
/// ([`super::parallel::split_mut`] hands each thread whole rows of `c`; every element is computed as in [`gemm`], so the result does
/// not depend on the thread count).
pub fn rows_per_thread(k: usize, n: usize) -> usize {
    (MIN_THREAD_WORK / (k * n).max(1)).max(MR)
}

/// Panics unless every element that the shapes and strides reach lies inside its operand's slice.
#[allow(clippy::too_many_arguments)]
fn check<T>(m: usize, k: usize, n: usize, a: &[T], sa: Strides, b: &[T], sb: Strides, c: &[T], sc: Strides) {
    assert!(sa.extent(m, k) <= a.len(), "matrix product: a is too short for its shape");
    assert!(sb.extent(k, n) <= b.len(), "matrix product: b is too short for its shape");
    assert!(sc.extent(m, n) <= c.len(), "matrix product: c is too short for its shape");
}

/// `matrixmultiply`'s f32 kernel: what [`gemm`] uses natively (on wasm32, its portable fallback).
#[allow(clippy::too_many_arguments)]
pub fn matrixmultiply_f32(
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
    check(m, k, n, a, sa, b, sb, c, sc);
    // SAFETY: `check` made sure every element the shapes and strides reach lies inside its slice, and
    // `c` is borrowed exclusively.
    unsafe {
        matrixmultiply::sgemm(
            m,
            k,
            n,
            alpha,
            a.as_ptr(),
            sa.rows as isize,
            sa.cols as isize,
            b.as_ptr(),
            sb.rows as isize,
            sb.cols as isize,
            beta,
            c.as_mut_ptr(),
            sc.rows as isize,
            sc.cols as isize,
        );
    }
}

/// `matrixmultiply`'s f64 kernel.
#[allow(clippy::too_many_arguments)]
pub fn matrixmultiply_f64(
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
    check(m, k, n, a, sa, b, sb, c, sc);
    // SAFETY: as in `matrixmultiply_f32`.
    unsafe {
        matrixmultiply::dgemm(
            m,
            k,
            n,
            alpha,
            a.as_ptr(),
            sa.rows as isize,
            sa.cols as isize,
            b.as_ptr(),
            sb.rows as isize,
            sb.cols as isize,
            beta,
            c.as_mut_ptr(),
            sc.rows as isize,
            sc.cols as isize,
        );
    }
}

/// Rows of the micro-kernel's tile.
pub const MR: usize = 4;
/// Columns of the micro-kernel's tile (two `f32x4`).
pub const NR: usize = 8;
/// Depth of one packed block: `MR·KC` and `KC·NR` floats stay in L1.
const KC: usize = 256;
/// Rows of `a` per packed block (a multiple of `MR`): `MC·KC` floats stay in L2.
const MC: usize = 96;
/// Columns of `b` per packed block (a multiple of `NR`).
const NC: usize = 1024;

/// The blocked f32 product: `b` is packed into `KC × NC` panels of `NR`-wide column strips, `a` into
/// `MC × KC` panels of `MR`-tall row strips (zero-padded at the edges, so the micro-kernel never
/// branches), and the micro-kernel multiplies one strip pair into an `MR × NR` tile held in registers.
/// Same contract as [`gemm`].
#[allow(clippy::too_many_arguments)]
pub fn packed_sgemm(
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
    check(m, k, n, a, sa, b, sb, c, sc);
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        scale_c(c, sc, m, n, beta);
        return;
    }
    PACKS.with_borrow_mut(|(apack, bpack)| {
        apack.resize(MC * KC, 0.0);
        bpack.resize(KC * NC, 0.0);
        for jc in (0..n).step_by(NC) {
            let nc = NC.min(n - jc);
            for pc in (0..k).step_by(KC) {
                let kc = KC.min(k - pc);
                // The first depth block applies `beta`; later ones add to what it left.
                let beta = if pc == 0 { beta } else { 1.0 };
                pack_b(bpack, b, sb, pc, kc, jc, nc);
                for ic in (0..m).step_by(MC) {
                    let mc = MC.min(m - ic);
                    pack_a(apack, a, sa, ic, mc, pc, kc);
                    for jr in (0..nc).step_by(NR) {
                        let bs = &bpack[jr * kc..jr * kc + kc * NR];
                        for ir in (0..mc).step_by(MR) {
                            let as_ = &apack[ir * kc..ir * kc + kc * MR];
                            let mut tile = [[0.0f32; NR]; MR];
                            kernel(kc, as_, bs, &mut tile);
                            let rows = MR.min(mc - ir);
                            let cols = NR.min(nc - jr);
                            store_tile(&tile, c, sc, ic + ir, jc + jr, rows, cols, alpha, beta);
                        }
                    }
                }
            }
        }
    });
}

std::thread_local! {
    /// The packing buffers, kept per thread so a training step allocates nothing.
    static PACKS: std::cell::RefCell<(Vec<f32>, Vec<f32>)> = const { std::cell::RefCell::new((Vec::new(), Vec::new())) };
}

/// `c *= beta` (and `c = 0` when `beta == 0`, whatever `c` held).
fn scale_c(c: &mut [f32], sc: Strides, m: usize, n: usize, beta: f32) {
    for i in 0..m {
        for j in 0..n {
            let x = &mut c[i * sc.rows + j * sc.cols];
            *x = if beta == 0.0 { 0.0 } else { beta * *x };
        }
    }
}

/// Packs rows `ic..ic + mc`, depth `pc..pc + kc` of `a` into `MR`-tall strips, each `kc` columns of
/// `MR` values, zero-padding the last strip.
fn pack_a(dst: &mut [f32], a: &[f32], sa: Strides, ic: usize, mc: usize, pc: usize, kc: usize) {
    for (s, ir) in (0..mc).step_by(MR).enumerate() {
        let strip = &mut dst[s * MR * kc..(s + 1) * MR * kc];
        let rows = MR.min(mc - ir);
        for p in 0..kc {
            let col = &mut strip[p * MR..(p + 1) * MR];
            let base = (pc + p) * sa.cols + (ic + ir) * sa.rows;
            for (i, x) in col.iter_mut().enumerate() {
                *x = if i < rows { a[base + i * sa.rows] } else { 0.0 };
            }
        }
    }
}

/// Packs depth `pc..pc + kc`, columns `jc..jc + nc` of `b` into `NR`-wide strips, each `kc` rows of
/// `NR` values, zero-padding the last strip.
fn pack_b(dst: &mut [f32], b: &[f32], sb: Strides, pc: usize, kc: usize, jc: usize, nc: usize) {
    for (s, jr) in (0..nc).step_by(NR).enumerate() {
        let strip = &mut dst[s * NR * kc..(s + 1) * NR * kc];
        let cols = NR.min(nc - jr);
        for p in 0..kc {
            let row = &mut strip[p * NR..(p + 1) * NR];
            let base = (pc + p) * sb.rows + (jc + jr) * sb.cols;
            if cols == NR && sb.cols == 1 {
                row.copy_from_slice(&b[base..base + NR]);
            } else {
                for (j, x) in row.iter_mut().enumerate() {
                    *x = if j < cols { b[base + j * sb.cols] } else { 0.0 };
                }
            }
        }
    }
}

/// Writes the valid `rows × cols` corner of a tile: `c = alpha·tile + beta·c` (`beta == 0` overwrites).
#[allow(clippy::too_many_arguments)]
fn store_tile(
    tile: &[[f32; NR]; MR],
    c: &mut [f32],
    sc: Strides,
    i0: usize,
    j0: usize,
    rows: usize,
    cols: usize,
    alpha: f32,
    beta: f32,
) {
    for (i, t) in tile.iter().enumerate().take(rows) {
        let base = (i0 + i) * sc.rows + j0 * sc.cols;
        if sc.cols == 1 {
            let out = &mut c[base..base + cols];
            if beta == 0.0 {
                for (o, &v) in out.iter_mut().zip(t) {
                    *o = alpha * v;
                }
            } else {
                for (o, &v) in out.iter_mut().zip(t) {
                    *o = alpha * v + beta * *o;
                }
            }
        } else {
            for (j, &v) in t.iter().enumerate().take(cols) {
                let o = &mut c[base + j * sc.cols];
                *o = if beta == 0.0 { alpha * v } else { alpha * v + beta * *o };
            }
        }
    }
}

/// `tile = Σ_p a[p]ᵀ·b[p]` over one strip pair: `a` is `kc × MR`, `b` is `kc × NR`. SIMD128: the
/// 4×8 tile is eight `f32x4` accumulators in locals; per depth step four splat loads of the `a`
/// values (a broadcast straight from memory, which keeps lane shuffles off the arithmetic's ports),
/// two loads of `b`, eight multiplies and eight adds.
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
#[inline(always)]
fn kernel(kc: usize, a: &[f32], b: &[f32], tile: &mut [[f32; NR]; MR]) {
    use core::arch::wasm32::{f32x4_add, f32x4_mul, f32x4_splat, v128, v128_load, v128_load32_splat, v128_store};
    assert!(a.len() >= kc * MR && b.len() >= kc * NR);
    let z = f32x4_splat(0.0);
    let (mut c00, mut c01, mut c10, mut c11, mut c20, mut c21, mut c30, mut c31) = (z, z, z, z, z, z, z, z);
    let (ap, bp) = (a.as_ptr() as *const u32, b.as_ptr() as *const v128);
    for p in 0..kc {
        // SAFETY: `p < kc`, so `a[p·4 .. p·4 + 4]` and `b[p·8 .. p·8 + 8]` are inside the slices
        // (asserted above); wasm loads have no alignment requirement.
        let (a0, a1, a2, a3, b0, b1) = unsafe {
            let at = ap.add(4 * p);
            (
                v128_load32_splat(at),
                v128_load32_splat(at.add(1)),
                v128_load32_splat(at.add(2)),
                v128_load32_splat(at.add(3)),
                v128_load(bp.add(2 * p)),
                v128_load(bp.add(2 * p + 1)),
            )
        };
        c00 = f32x4_add(c00, f32x4_mul(a0, b0));
        c01 = f32x4_add(c01, f32x4_mul(a0, b1));
        c10 = f32x4_add(c10, f32x4_mul(a1, b0));
        c11 = f32x4_add(c11, f32x4_mul(a1, b1));
        c20 = f32x4_add(c20, f32x4_mul(a2, b0));
        c21 = f32x4_add(c21, f32x4_mul(a2, b1));
        c30 = f32x4_add(c30, f32x4_mul(a3, b0));
        c31 = f32x4_add(c31, f32x4_mul(a3, b1));
    }
    for (t, (lo, hi)) in tile.iter_mut().zip([(c00, c01), (c10, c11), (c20, c21), (c30, c31)]) {
        // SAFETY: each tile row is 8 f32: two unaligned v128 stores.
        unsafe {
            let tp = t.as_mut_ptr() as *mut v128;
            v128_store(tp, lo);
            v128_store(tp.add(1), hi);
        }
    }
}

/// `tile = Σ_p a[p]ᵀ·b[p]` over one strip pair, in plain Rust: fixed-size rows, so the compiler keeps
/// the tile in registers and vectorises each row.
#[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
#[inline(always)]
fn kernel(kc: usize, a: &[f32], b: &[f32], tile: &mut [[f32; NR]; MR]) {
    let mut acc = [[0.0f32; NR]; MR];
    for (ap, bp) in a[..kc * MR].chunks_exact(MR).zip(b[..kc * NR].chunks_exact(NR)) {
        let ap: &[f32; MR] = ap.try_into().expect("a strip row");
        let bp: &[f32; NR] = bp.try_into().expect("b strip row");
        for (row, &av) in acc.iter_mut().zip(ap) {
            for (t, &bv) in row.iter_mut().zip(bp) {
                *t += av * bv;
            }
        }
    }
    *tile = acc;
}
