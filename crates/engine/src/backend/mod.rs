//! The backend trait: every numeric kernel of a training step goes through it.
//!
//! The model code in [`crate::model`] holds opaque buffers (`B::Buf`) and calls these operations, so a
//! new backend (SIMD CPU, WebGPU) slots in without touching the model. Shapes are row-major and passed
//! explicitly; `N = batch * time` rows of width `C = d_model` unless a method says otherwise.
//! Gradient methods whose doc says "accumulates" add into their output (so gradient accumulation and
//! the `no-zero-grad` fault work naturally); the others overwrite it.

pub mod cpu;

pub use cpu::CpuBackend;

use crate::error::EngineError;
use serde::{Deserialize, Serialize};

/// Where a backend computes: what the page shows about the run's hardware, and whether the run's
/// state can vanish with a device (so the session keeps a copy on the host).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BackendKind {
    /// Host memory and the CPU's own cores: it cannot be lost.
    Cpu,
    /// A GPU device: buffers live on it, and a driver reset or an unplugged device loses them.
    Gpu,
}

/// One matrix product's shape and layout: `out[m,n] = op(a) · op(b)`, where `op(a)` is `[m,k]` (`a`
/// stored `[m,k]`, or `[k,m]` when `trans_a`) and `op(b)` is `[k,n]` (`b` stored `[k,n]`, or `[n,k]`
/// when `trans_b`); `accumulate` adds into `out` instead of overwriting it. Written
/// `Gemm::new(m, k, n).transpose_a().accumulate()`, so no call site passes bare booleans.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Gemm {
    pub m: usize,
    pub k: usize,
    pub n: usize,
    pub trans_a: bool,
    pub trans_b: bool,
    pub accumulate: bool,
}

impl Gemm {
    /// `[m,k] · [k,n]`, both stored as they are used, overwriting the output.
    pub const fn new(m: usize, k: usize, n: usize) -> Gemm {
        Gemm { m, k, n, trans_a: false, trans_b: false, accumulate: false }
    }

    /// `a` is stored `[k,m]`.
    pub const fn transpose_a(self) -> Gemm {
        Gemm { trans_a: true, ..self }
    }

    /// `b` is stored `[n,k]`.
    pub const fn transpose_b(self) -> Gemm {
        Gemm { trans_b: true, ..self }
    }

    /// Adds the product into the output.
    pub const fn accumulate(self) -> Gemm {
        Gemm { accumulate: true, ..self }
    }
}

/// Element-wise nonlinearities of the MLP.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Activation {
    /// GELU, tanh approximation (GPT-2).
    Gelu,
    /// max(0, x): a unit whose input stays negative passes no gradient ("dead").
    Relu,
    /// 1 / (1 + e^-x): its slope is at most 1/4 and vanishes when saturated.
    Sigmoid,
}

/// How a softmax is computed. The healthy form subtracts each row's maximum before `exp` and takes
/// log-probabilities as `z - logsumexp(z)`; each switch off is one of the guide's NaN causes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SoftmaxForm {
    /// Subtract the row maximum before `exp` (otherwise `exp` overflows for logits above ~88).
    pub subtract_max: bool,
    /// Log-probabilities as `z - logsumexp(z)` (otherwise `log(softmax(z))`, which is `log(0)` once a
    /// probability underflows).
    pub log_softmax: bool,
}

impl SoftmaxForm {
    pub const STABLE: SoftmaxForm = SoftmaxForm { subtract_max: true, log_softmax: true };
}

/// Hyper-parameters of one AdamW update.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AdamW {
    pub lr: f32,
    pub beta1: f32,
    pub beta2: f32,
    pub eps: f32,
    /// Decoupled weight decay (0 for tensors that are not decayed).
    pub weight_decay: f32,
    /// 1-based step count, for bias correction.
    pub step: u32,
}

/// Hyper-parameters of one SGD-with-momentum update.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Sgd {
    pub lr: f32,
    pub momentum: f32,
    pub weight_decay: f32,
}

/// Dimensions of one attention call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AttnShape {
    pub batch: usize,
    pub time: usize,
    /// Model width C; `qkv` rows hold `[q (C) | k (C) | v (C)]`.
    pub d_model: usize,
    pub heads: usize,
}

impl AttnShape {
    pub fn head_dim(&self) -> usize {
        self.d_model / self.heads
    }

    /// Length of the attention-probability buffer `[batch, heads, time, time]`.
    pub fn probs_len(&self) -> usize {
        self.batch * self.heads * self.time * self.time
    }
}

/// A fixed list of buffers, visited in order as often as needed, without collecting references into
/// a vector: a training step passes its gradients and loss rows this way and allocates nothing.
pub trait Tensors<T> {
    fn each<'a>(&'a self) -> impl Iterator<Item = &'a T>
    where
        T: 'a;
}

/// [`Tensors`] that can also be changed in place.
pub trait TensorsMut<T>: Tensors<T> {
    fn each_mut<'a>(&'a mut self) -> impl Iterator<Item = &'a mut T>
    where
        T: 'a;
}

impl<T> Tensors<T> for [T] {
    fn each<'a>(&'a self) -> impl Iterator<Item = &'a T>
    where
        T: 'a,
    {
        self.iter()
    }
}

impl<T> TensorsMut<T> for [T] {
    fn each_mut<'a>(&'a mut self) -> impl Iterator<Item = &'a mut T>
    where
        T: 'a,
    {
        self.iter_mut()
    }
}

/// Some buffers and one more after them (a step's earlier micro-batches' loss rows and its last).
impl<T> Tensors<T> for (&[T], &T) {
    fn each<'a>(&'a self) -> impl Iterator<Item = &'a T>
    where
        T: 'a,
    {
        self.0.iter().chain(std::iter::once(self.1))
    }
}

/// The host's view of one training step, kept by [`Backend::keep_step`] and read back by
/// [`Backend::read_steps`].
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StepReadout {
    /// The per-row losses of each buffer asked for, in full.
    pub losses: Vec<Vec<f32>>,
    /// Sum of squares of each gradient given to the last [`Backend::clip_grad_norm`], in its order.
    pub grad_sq: Vec<f64>,
}

/// The operations a training step needs.
pub trait Backend {
    /// A buffer of numbers living wherever the backend computes (host memory, GPU memory).
    type Buf;

    /// Human-readable name ("CPU (ndarray)", "WebGPU", ...).
    fn name(&self) -> String;

    /// Where this backend computes.
    fn kind(&self) -> BackendKind;

    /// Why this backend's results can no longer be trusted (a lost GPU device, a kernel its driver
    /// refused), once that has happened: the run must continue elsewhere from a saved state. Never
    /// for backends that cannot fail this way.
    fn lost(&self) -> Option<String> {
        None
    }

    /// A zero-filled buffer of `len` numbers (for kernels and tests; models allocate with [`Backend::alloc`]).
    fn zeros(&mut self, len: usize) -> Self::Buf;
    /// A zero-filled buffer of `len` numbers counted against the memory budget: fails with
    /// [`EngineError::OutOfMemory`] when the budget or the machine's memory runs out.
    fn alloc(&mut self, len: usize, what: &str) -> Result<Self::Buf, EngineError>;
    /// Limits what [`Backend::alloc`] may hand out in total, in bytes.
    fn set_memory_budget(&mut self, bytes: u64);
    /// Bytes handed out by [`Backend::alloc`] so far.
    fn memory_used(&self) -> u64;
    fn len(&self, buf: &Self::Buf) -> usize;
    fn upload(&mut self, buf: &mut Self::Buf, data: &[f32]);
    fn download(&mut self, buf: &Self::Buf) -> Vec<f32>;
    fn fill(&mut self, buf: &mut Self::Buf, value: f32);
    fn copy(&mut self, dst: &mut Self::Buf, src: &Self::Buf);
    /// `dst += src`.
    fn add_assign(&mut self, dst: &mut Self::Buf, src: &Self::Buf);
    /// `buf *= s`.
    fn scale(&mut self, buf: &mut Self::Buf, s: f32);
    /// Sum of squares of the first `len` elements, in f64; NaN or Inf when any element is not finite.
    fn sum_squares(&mut self, buf: &Self::Buf, len: usize) -> f64;

    /// `out[m,n] = op(a) · op(b)` (or `+=` when accumulating), with the shapes and layouts of `g`.
    fn matmul(&mut self, out: &mut Self::Buf, a: &Self::Buf, b: &Self::Buf, g: Gemm);
    /// `out[m,n] = x[m,k] · w[k,n] + bias[n]`, a linear layer's forward pass: the product, then the
    /// bias added to every row, as [`Backend::matmul`] and [`Backend::add_bias`] give them (a backend
    /// may do both in one kernel, with the same roundings).
    /// `g` is the product's shape; a linear layer neither transposes nor accumulates.
    fn linear(&mut self, out: &mut Self::Buf, x: &Self::Buf, w: &Self::Buf, bias: &Self::Buf, g: Gemm) {
        self.matmul(out, x, w, g);
        self.add_bias(out, bias, g.m, g.n);
    }
    /// `out[r, c] += bias[c]` for `rows` rows of width `cols`.
    fn add_bias(&mut self, out: &mut Self::Buf, bias: &Self::Buf, rows: usize, cols: usize);
    /// Accumulates `dbias[c] += Σ_r dout[r, c]`.
    fn bias_backward(&mut self, dbias: &mut Self::Buf, dout: &Self::Buf, rows: usize, cols: usize);

    /// `out[b·T + t] = wte[tokens[b·T + t]] + wpe[t]`.
    fn embed(&mut self, out: &mut Self::Buf, wte: &Self::Buf, wpe: &Self::Buf, tokens: &[u32], time: usize, d: usize);
    /// Accumulates the embedding gradients: `dwte[tok] += dout`, `dwpe[t] += dout`.
    #[allow(clippy::too_many_arguments)]
    fn embed_backward(
        &mut self,
        dwte: &mut Self::Buf,
        dwpe: &mut Self::Buf,
        dout: &Self::Buf,
        tokens: &[u32],
        time: usize,
        d: usize,
    );

    /// LayerNorm over rows of width `cols`: saves each row's mean and 1/std for the backward pass.
    #[allow(clippy::too_many_arguments)]
    fn layernorm(
        &mut self,
        out: &mut Self::Buf,
        mean: &mut Self::Buf,
        rstd: &mut Self::Buf,
        x: &Self::Buf,
        gain: &Self::Buf,
        bias: &Self::Buf,
        rows: usize,
        cols: usize,
        eps: f32,
    );
    /// Accumulates `dx`, `dgain` and `dbias` from `dout`.
    #[allow(clippy::too_many_arguments)]
    fn layernorm_backward(
        &mut self,
        dx: &mut Self::Buf,
        dgain: &mut Self::Buf,
        dbias: &mut Self::Buf,
        dout: &Self::Buf,
        x: &Self::Buf,
        mean: &Self::Buf,
        rstd: &Self::Buf,
        gain: &Self::Buf,
        rows: usize,
        cols: usize,
    );

    /// Multi-head self-attention on packed `qkv [N, 3C]`: writes `out [N, C]` and the probabilities
    /// `probs [B, H, T, T]` (zero above the diagonal when `causal`). Scores are `q·k * scale`.
    #[allow(clippy::too_many_arguments)]
    fn attention(
        &mut self,
        out: &mut Self::Buf,
        probs: &mut Self::Buf,
        qkv: &Self::Buf,
        shape: AttnShape,
        scale: f32,
        causal: bool,
        form: SoftmaxForm,
    );
    /// Overwrites `dqkv [N, 3C]` with the gradient of the attention output `dout [N, C]`. `causal`
    /// is the forward pass's: `probs` is then zero above the diagonal, which a backend may skip.
    #[allow(clippy::too_many_arguments)]
    fn attention_backward(
        &mut self,
        dqkv: &mut Self::Buf,
        dout: &Self::Buf,
        qkv: &Self::Buf,
        probs: &Self::Buf,
        shape: AttnShape,
        scale: f32,
        causal: bool,
    );

    /// `out = f(x)` element-wise over `len` elements.
    fn activation(&mut self, out: &mut Self::Buf, x: &Self::Buf, len: usize, f: Activation);
    /// `dx = f'(x) * dout` over `len` elements.
    fn activation_backward(&mut self, dx: &mut Self::Buf, dout: &Self::Buf, x: &Self::Buf, len: usize, f: Activation);

    /// Fills `mask` (len elements) with 0 (dropped, probability `p`) or `1/(1-p)`, from `seed`.
    fn dropout_mask(&mut self, mask: &mut Self::Buf, len: usize, p: f32, seed: u64);
    /// `x *= mask` element-wise over `len` elements.
    fn mul_assign(&mut self, x: &mut Self::Buf, mask: &Self::Buf, len: usize);

    /// Cross-entropy (through log-softmax in the stable form) for `rows` rows of `vocab` logits: writes each row's loss and
    /// `dlogits = (softmax - onehot) / rows`, the gradient of the mean loss.
    #[allow(clippy::too_many_arguments)]
    fn cross_entropy(
        &mut self,
        losses: &mut Self::Buf,
        dlogits: &mut Self::Buf,
        logits: &Self::Buf,
        targets: &[u32],
        rows: usize,
        vocab: usize,
        form: SoftmaxForm,
    );

    /// Gradient clipping by global norm where the gradients live, with no readback: the sum of squares
    /// of each of `grads`, the global norm `‖g‖` over all of them, and, when every element of `grads`
    /// and of `losses` is finite, every gradient scaled in place by
    /// [`clip_factor`](crate::optim::clip_factor)`(‖g‖, max_norm)` (`max_norm` 0: no clipping).
    /// When any element is not finite the step is *unhealthy*: nothing is scaled, and every
    /// optimiser update until the next [`Backend::read_steps`] leaves its parameter and state
    /// untouched (later steps recorded before that readback included), so the parameters keep the
    /// values of the last good step. The sums are kept for [`Backend::keep_step`].
    fn clip_grad_norm(
        &mut self,
        grads: &mut (impl TensorsMut<Self::Buf> + ?Sized),
        losses: &(impl Tensors<Self::Buf> + ?Sized),
        max_norm: f32,
    );
    /// Keeps what the step just recorded needs on the host, without waiting for it: each of
    /// `losses` in full, and the per-gradient sums of squares (f64, NaN or Inf as
    /// [`Backend::sum_squares`] gives them) of the last [`Backend::clip_grad_norm`]. A GPU keeps
    /// them in its own memory until [`Backend::read_steps`].
    fn keep_step(&mut self, losses: &(impl Tensors<Self::Buf> + ?Sized));
    /// Every step kept since the last call, oldest first, written into `out` (one [`StepReadout`]
    /// each, their vectors reused): one transfer and one wait for all of them. It also ends the
    /// stretch in which an unhealthy step skips every later update.
    fn read_steps(&mut self, out: &mut Vec<StepReadout>);

    /// One AdamW update of `param` from `grad`, with first/second moments `m` and `v`.
    fn adamw_update(&mut self, param: &mut Self::Buf, grad: &Self::Buf, m: &mut Self::Buf, v: &mut Self::Buf, h: AdamW);
    /// One SGD-with-momentum update of `param` from `grad` with momentum buffer `velocity`.
    fn sgd_update(&mut self, param: &mut Self::Buf, grad: &Self::Buf, velocity: &mut Self::Buf, h: Sgd);
}
