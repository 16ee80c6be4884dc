//! The kernel sets: the operations whose fast and reference versions differ, behind [`Kernels`].
//!
//! A [`super::CpuBackend`] computes with one set, chosen when it is made: [`Fast`]
//! ([`super::CpuBackend::new`]) or [`Reference`] ([`super::CpuBackend::reference`]). It holds the set
//! as a `&'static dyn Kernels<T>`: no branch per call, and one backend type, so the trainer (generic
//! over the backend) is compiled once whichever set it runs with; the browser worker's bench page
//! trains with both, and a type parameter would compile a second trainer into it. Everything the two
//! sets share (buffers, element-wise arithmetic, clipping, SGD) is written once, in `ops.rs`.

use super::matmul::{self, Strides};
use super::{fast, parallel, reference, Real};
use crate::backend::{Activation, AdamW, AttnShape, Gemm, SoftmaxForm};

/// Elements of an element-wise kernel a thread's share must reach before it is split off.
const ELEMENTS_PER_THREAD: usize = 1 << 14;

/// One set of the CPU backend's kernels, in `T`. Each operation is the [`crate::backend::Backend`]
/// method of the same name, on slices.
pub trait Kernels<T: Real>: std::fmt::Debug + Send + Sync {
    /// What [`crate::backend::Backend::name`] says of a backend computing with this set.
    fn name(&self) -> &'static str;

    fn matmul(&self, out: &mut [T], a: &[T], b: &[T], g: Gemm);

    #[allow(clippy::too_many_arguments)]
    fn layernorm(
        &self,
        out: &mut [T],
        mean: &mut [T],
        rstd: &mut [T],
        x: &[T],
        gain: &[T],
        bias: &[T],
        rows: usize,
        cols: usize,
        eps: f32,
    );

    #[allow(clippy::too_many_arguments)]
    fn layernorm_backward(
        &self,
        dx: &mut [T],
        dgain: &mut [T],
        dbias: &mut [T],
        dout: &[T],
        x: &[T],
        mean: &[T],
        rstd: &[T],
        gain: &[T],
        rows: usize,
        cols: usize,
    );

    #[allow(clippy::too_many_arguments)]
    fn attention(
        &self,
        out: &mut [T],
        probs: &mut [T],
        qkv: &[T],
        shape: AttnShape,
        scale: f32,
        causal: bool,
        form: SoftmaxForm,
    );

    /// `scratch` is working space the backend keeps between calls, so a step allocates nothing.
    #[allow(clippy::too_many_arguments)]
    fn attention_backward(
        &self,
        dqkv: &mut [T],
        dout: &[T],
        qkv: &[T],
        probs: &[T],
        shape: AttnShape,
        scale: f32,
        causal: bool,
        scratch: &mut Vec<T>,
    );

    fn activation(&self, out: &mut [T], x: &[T], len: usize, f: Activation);

    fn activation_backward(&self, dx: &mut [T], dout: &[T], x: &[T], len: usize, f: Activation);

    #[allow(clippy::too_many_arguments)]
    fn cross_entropy(
        &self,
        losses: &mut [T],
        dlogits: &mut [T],
        logits: &[T],
        targets: &[u32],
        rows: usize,
        vocab: usize,
        form: SoftmaxForm,
    );

    fn adamw_update(&self, param: &mut [T], grad: &[T], m: &mut [T], v: &mut [T], h: AdamW);
}

/// The fused, allocation-free kernels of [`fast`]; the large ones split across a thread pool where
/// one is installed ([`parallel`]).
#[derive(Clone, Copy, Debug)]
pub struct Fast;

/// The plain formulas of [`reference`](mod@reference): the baseline the fast kernels are tested
/// and benchmarked against.
#[derive(Clone, Copy, Debug)]
pub struct Reference;

impl<T: Real> Kernels<T> for Fast {
    fn name(&self) -> &'static str {
        "CPU (fused)"
    }

    fn matmul(&self, out: &mut [T], a: &[T], b: &[T], g: Gemm) {
        let Gemm { m, k, n, trans_a, trans_b, accumulate } = g;
        let sa = if trans_a { Strides::row_major(m).t() } else { Strides::row_major(k) };
        let sb = if trans_b { Strides::row_major(k).t() } else { Strides::row_major(n) };
        let beta = if accumulate { T::one() } else { T::zero() };
        // Each thread takes whole rows of `out`.
        parallel::split_mut(m, matmul::rows_per_thread(k, n), out, n, &mut [(); 0], 0, &|rows, out, _| {
            let a = &a[rows.start * sa.rows..];
            matmul::gemm(rows.len(), k, n, T::one(), a, sa, b, sb, beta, out, Strides::row_major(n));
        });
    }

    fn layernorm(
        &self,
        out: &mut [T],
        mean: &mut [T],
        rstd: &mut [T],
        x: &[T],
        gain: &[T],
        bias: &[T],
        rows: usize,
        cols: usize,
        eps: f32,
    ) {
        fast::layernorm(out, mean, rstd, x, gain, bias, rows, cols, eps);
    }

    fn layernorm_backward(
        &self,
        dx: &mut [T],
        dgain: &mut [T],
        dbias: &mut [T],
        dout: &[T],
        x: &[T],
        mean: &[T],
        rstd: &[T],
        gain: &[T],
        rows: usize,
        cols: usize,
    ) {
        fast::layernorm_backward(dx, dgain, dbias, dout, x, mean, rstd, gain, rows, cols);
    }

    fn attention(
        &self,
        out: &mut [T],
        probs: &mut [T],
        qkv: &[T],
        shape: AttnShape,
        scale: f32,
        causal: bool,
        form: SoftmaxForm,
    ) {
        // Each thread takes whole sequences: their output rows, probabilities and inputs.
        let AttnShape { time, d_model: c, heads, .. } = shape;
        let (out_len, probs_len) = (time * c, heads * time * time);
        parallel::split_mut(shape.batch, 1, out, out_len, probs, probs_len, &|seqs, out, probs| {
            let part = AttnShape { batch: seqs.len(), ..shape };
            let qkv = &qkv[seqs.start * time * 3 * c..];
            fast::attention(out, probs, qkv, part, scale, causal, form);
        });
    }

    fn attention_backward(
        &self,
        dqkv: &mut [T],
        dout: &[T],
        qkv: &[T],
        probs: &[T],
        shape: AttnShape,
        scale: f32,
        causal: bool,
        scratch: &mut Vec<T>,
    ) {
        // Each thread takes whole sequences, with a score-sized working space per sequence.
        let AttnShape { batch, time, d_model: c, heads } = shape;
        scratch.resize(batch * time * time, T::zero());
        let (scratch, square) = (&mut scratch[..batch * time * time], time * time);
        parallel::split_mut(batch, 1, dqkv, time * 3 * c, scratch, square, &|seqs, dqkv, ds| {
            let part = AttnShape { batch: seqs.len(), ..shape };
            let (dout, qkv) = (&dout[seqs.start * time * c..], &qkv[seqs.start * time * 3 * c..]);
            let probs = &probs[seqs.start * heads * square..];
            fast::attention_backward(dqkv, dout, qkv, probs, part, scale, causal, ds);
        });
    }

    fn activation(&self, out: &mut [T], x: &[T], len: usize, f: Activation) {
        // Each thread takes a contiguous run of elements.
        parallel::split_mut(len, ELEMENTS_PER_THREAD, &mut out[..len], 1, &mut [(); 0], 0, &|run, out, _| {
            fast::activation(out, &x[run.clone()], run.len(), f);
        });
    }

    fn activation_backward(&self, dx: &mut [T], dout: &[T], x: &[T], len: usize, f: Activation) {
        parallel::split_mut(len, ELEMENTS_PER_THREAD, &mut dx[..len], 1, &mut [(); 0], 0, &|run, dx, _| {
            fast::activation_backward(dx, &dout[run.clone()], &x[run.clone()], run.len(), f);
        });
    }

    fn cross_entropy(
        &self,
        losses: &mut [T],
        dlogits: &mut [T],
        logits: &[T],
        targets: &[u32],
        rows: usize,
        vocab: usize,
        form: SoftmaxForm,
    ) {
        fast::cross_entropy(losses, dlogits, logits, targets, rows, vocab, form);
    }

    fn adamw_update(&self, param: &mut [T], grad: &[T], m: &mut [T], v: &mut [T], h: AdamW) {
        fast::adamw_update(param, grad, m, v, h);
    }
}

impl<T: Real> Kernels<T> for Reference {
    fn name(&self) -> &'static str {
        "CPU (reference)"
    }

    fn matmul(&self, out: &mut [T], a: &[T], b: &[T], g: Gemm) {
        let Gemm { m, k, n, trans_a, trans_b, accumulate } = g;
        reference::matmul(out, a, b, m, k, n, trans_a, trans_b, accumulate);
    }

    fn layernorm(
        &self,
        out: &mut [T],
        mean: &mut [T],
        rstd: &mut [T],
        x: &[T],
        gain: &[T],
        bias: &[T],
        rows: usize,
        cols: usize,
        eps: f32,
    ) {
        reference::layernorm(out, mean, rstd, x, gain, bias, rows, cols, eps);
    }

    fn layernorm_backward(
        &self,
        dx: &mut [T],
        dgain: &mut [T],
        dbias: &mut [T],
        dout: &[T],
        x: &[T],
        mean: &[T],
        rstd: &[T],
        gain: &[T],
        rows: usize,
        cols: usize,
    ) {
        reference::layernorm_backward(dx, dgain, dbias, dout, x, mean, rstd, gain, rows, cols);
    }

    fn attention(
        &self,
        out: &mut [T],
        probs: &mut [T],
        qkv: &[T],
        shape: AttnShape,
        scale: f32,
        causal: bool,
        form: SoftmaxForm,
    ) {
        reference::attention(out, probs, qkv, shape, scale, causal, form);
    }

    /// The whole matrices need no working space, and the masked half of `probs` is zero, so the
    /// plain formulas take no notice of `causal` either.
    fn attention_backward(
        &self,
        dqkv: &mut [T],
        dout: &[T],
        qkv: &[T],
        probs: &[T],
        shape: AttnShape,
        scale: f32,
        _causal: bool,
        _scratch: &mut Vec<T>,
    ) {
        reference::attention_backward(dqkv, dout, qkv, probs, shape, scale);
    }

    fn activation(&self, out: &mut [T], x: &[T], len: usize, f: Activation) {
        reference::activation(out, x, len, f);
    }

    fn activation_backward(&self, dx: &mut [T], dout: &[T], x: &[T], len: usize, f: Activation) {
        reference::activation_backward(dx, dout, x, len, f);
    }

    fn cross_entropy(
        &self,
        losses: &mut [T],
        dlogits: &mut [T],
        logits: &[T],
        targets: &[u32],
        rows: usize,
        vocab: usize,
        form: SoftmaxForm,
    ) {
        reference::cross_entropy(losses, dlogits, logits, targets, rows, vocab, form);
    }

    fn adamw_update(&self, param: &mut [T], grad: &[T], m: &mut [T], v: &mut [T], h: AdamW) {
        reference::adamw_update(param, grad, m, v, h);
    }
}
