//! The engine's [`Backend`] on the GPU: each operation records its kernels' dispatches (or a copy)
//! through the [`Recorder`](crate::encoder::Recorder), and reaches the engine's tensors as the clip
//! protocol allows.

use crate::clip::Operand;
use crate::encoder::{byte_size, u32_bytes};
use crate::kernels::{row_groups, stride_groups, Kernel, MATMUL_TILE, REDUCE_GROUPS, WORKGROUP};
use crate::steps::{sums_of_squares, KeptStep};
use crate::uniforms::Params;
use crate::{wait, GpuBackend, GpuBuf};
use faultline_engine::backend::{
    Activation, AdamW, AttnShape, Backend, BackendKind, Sgd, SoftmaxForm, StepReadout, Tensors, TensorsMut,
};
use faultline_engine::rng::Rng;
use faultline_engine::EngineError;

/// The shape and layout of one matrix product (see [`Backend::matmul`]).
#[derive(Clone, Copy)]
struct Product {
    m: usize,
    k: usize,
    n: usize,
    trans_a: bool,
    trans_b: bool,
    accumulate: bool,
}

impl GpuBackend {
    /// Records a copy of `data` into the start of `dst`, after the clip scaling of `dst` if it still
    /// waits for it (the rest of it keeps its values).
    fn write(&mut self, dst: &GpuBuf, data: &[f32]) {
        if data.is_empty() {
            return;
        }
        let dst = self.clip.ready(&mut self.rec, dst);
        self.rec.write(dst, data);
    }

    /// Records one dispatch of `kernel` with `params` at binding 0 and `operands` at their bindings,
    /// after the clip scaling of any gradient among them that still waits for it.
    fn dispatch<const N: usize>(
        &mut self,
        kernel: Kernel,
        params: Params,
        operands: [(u32, Operand<'_>); N],
        groups: (u32, u32),
    ) {
        let buffers = operands.map(|(binding, op)| (binding, self.clip.ready(&mut self.rec, op)));
        self.rec.record(kernel, params, &buffers, groups);
    }

    /// Records `out = op(a) · op(b)` (or `+=`), with `bias` added to every row when given.
    fn product(&mut self, out: &GpuBuf, a: &GpuBuf, b: &GpuBuf, p: Product, bias: Option<&GpuBuf>) {
        let Product { m, k, n, trans_a, trans_b, accumulate } = p;
        let params = Params::default().u(m).u(k).u(n).flag(trans_a).flag(trans_b).flag(accumulate).flag(bias.is_some());
        let groups = (n.div_ceil(MATMUL_TILE).max(1) as u32, m.div_ceil(MATMUL_TILE).max(1) as u32);
        // Without a bias the kernel never reads binding 6, which then holds a placeholder.
        let status = self.clip.status().clone();
        let bias = bias.map_or(Operand::Ready(&status), Operand::Tensor);
        // vec4 loads need each operand's stored rows to be whole vec4s.
        let a_row = if trans_a { m } else { k };
        let b_row = if trans_b { k } else { n };
        if a_row.is_multiple_of(4) && b_row.is_multiple_of(4) {
            let operands = [(1, out.into()), (4, a.into()), (5, b.into()), (6, bias)];
            self.dispatch(Kernel::MatmulVec4, params, operands, groups);
        } else {
            let operands = [(1, out.into()), (2, a.into()), (3, b.into()), (6, bias)];
            self.dispatch(Kernel::Matmul, params, operands, groups);
        }
    }

    fn scratch(&mut self, len: usize) -> wgpu::Buffer {
        match &self.scratch {
            Some(b) if b.size() >= byte_size(len) => b.clone(),
            _ => {
                let b = self.rec.storage(len, "attention scratch");
                self.scratch = Some(b.clone());
                b
            }
        }
    }
}

impl Backend for GpuBackend {
    type Buf = GpuBuf;

    fn name(&self) -> String {
        format!("WebGPU (wgpu on {})", self.adapter_description())
    }

    fn kind(&self) -> BackendKind {
        BackendKind::Gpu
    }

    fn lost(&self) -> Option<String> {
        self.rec.lost()
    }

    fn zeros(&mut self, len: usize) -> GpuBuf {
        // wgpu zero-initialises new buffers.
        GpuBuf::new(self.rec.storage(len, "zeros"), len)
    }

    fn alloc(&mut self, len: usize, what: &str) -> Result<GpuBuf, EngineError> {
        let bytes = (len as u64).saturating_mul(4);
        if self.used.saturating_add(bytes) > self.budget {
            return Err(EngineError::OutOfMemory {
                requested_bytes: self.used.saturating_add(bytes),
                budget_bytes: self.budget,
                what: what.to_string(),
            });
        }
        let max = self.max_buffer_bytes();
        if bytes > max {
            return Err(EngineError::OutOfMemory {
                requested_bytes: bytes,
                budget_bytes: max,
                what: format!("{what} (one buffer beyond the GPU's largest storage binding)"),
            });
        }
        let scope = self.rec.device.push_error_scope(wgpu::ErrorFilter::OutOfMemory);
        let buffer = self.rec.storage(len, what);
        if wait::block_on(scope.pop()).is_some() {
            return Err(EngineError::OutOfMemory {
                requested_bytes: self.used.saturating_add(bytes),
                budget_bytes: self.used,
                what: format!("{what} (the GPU has no memory left)"),
            });
        }
        self.used += bytes;
        Ok(GpuBuf::new(buffer, len))
    }

    fn set_memory_budget(&mut self, bytes: u64) {
        self.budget = bytes;
    }

    fn memory_used(&self) -> u64 {
        self.used
    }

    fn len(&self, buf: &GpuBuf) -> usize {
        buf.len
    }

    fn upload(&mut self, buf: &mut GpuBuf, data: &[f32]) {
        let n = buf.len.min(data.len());
        self.write(buf, &data[..n]);
    }

    fn download(&mut self, buf: &GpuBuf) -> Vec<f32> {
        if buf.len == 0 {
            return Vec::new();
        }
        let src = self.clip.ready(&mut self.rec, buf);
        self.rec.read_back(src, buf.len)
    }

    fn fill(&mut self, buf: &mut GpuBuf, value: f32) {
        if value.to_bits() == 0 {
            let buffer = self.clip.clear(buf);
            self.rec.encoder().clear_buffer(buffer, 0, None);
        } else {
            let params = Params::default().u(buf.len).u(0).f(value);
            let groups = (stride_groups(buf.len), 1);
            self.dispatch(Kernel::Fill, params, [(1, buf.into())], groups);
        }
    }

    fn copy(&mut self, dst: &mut GpuBuf, src: &GpuBuf) {
        let n = dst.len.min(src.len);
        if n > 0 {
            let src = self.clip.ready(&mut self.rec, src);
            let dst = self.clip.ready(&mut self.rec, dst);
            self.rec.encoder().copy_buffer_to_buffer(src, 0, dst, 0, (n * 4) as u64);
        }
    }

    fn add_assign(&mut self, dst: &mut GpuBuf, src: &GpuBuf) {
        let n = dst.len.min(src.len);
        let params = Params::default().u(n).u(0).f(0.0);
        self.dispatch(Kernel::AddAssign, params, [(1, dst.into()), (2, src.into())], (stride_groups(n), 1));
    }

    fn scale(&mut self, buf: &mut GpuBuf, s: f32) {
        let params = Params::default().u(buf.len).u(0).f(s);
        let groups = (stride_groups(buf.len), 1);
        self.dispatch(Kernel::Scale, params, [(1, buf.into())], groups);
    }

    fn sum_squares(&mut self, buf: &GpuBuf, len: usize) -> f64 {
        let groups = len.div_ceil(WORKGROUP).clamp(1, REDUCE_GROUPS);
        let partials = self.rec.storage(4 * groups, "sum of squares");
        let params = Params::default().u(len).u(0).u(0).f(0.0);
        self.dispatch(
            Kernel::SumSquares,
            params,
            [(1, Operand::Ready(&partials)), (2, buf.into())],
            (groups as u32, 1),
        );
        let parts = self.rec.read_back(&partials, 4 * groups);
        let (mut sum, mut nan, mut inf) = (0.0f64, false, false);
        for p in parts.chunks_exact(4) {
            sum += (p[0] as f64) * (p[0] as f64) * p[1] as f64;
            nan |= p[2] != 0.0;
            inf |= p[3] != 0.0;
        }
        if nan {
            f64::NAN
        } else if inf {
            f64::INFINITY
        } else {
            sum
        }
    }

    fn matmul(
        &mut self,
        out: &mut GpuBuf,
        a: &GpuBuf,
        b: &GpuBuf,
        m: usize,
        k: usize,
        n: usize,
        trans_a: bool,
        trans_b: bool,
        accumulate: bool,
    ) {
        let product = Product { m, k, n, trans_a, trans_b, accumulate };
        self.product(out, a, b, product, None);
    }

    fn linear(&mut self, out: &mut GpuBuf, x: &GpuBuf, w: &GpuBuf, bias: &GpuBuf, m: usize, k: usize, n: usize) {
        let product = Product { m, k, n, trans_a: false, trans_b: false, accumulate: false };
        self.product(out, x, w, product, Some(bias));
    }

    fn add_bias(&mut self, out: &mut GpuBuf, bias: &GpuBuf, rows: usize, cols: usize) {
        let params = Params::default().u(rows * cols).u(cols).f(0.0);
        let groups = (stride_groups(rows * cols), 1);
        self.dispatch(Kernel::AddBias, params, [(1, out.into()), (2, bias.into())], groups);
    }

    fn bias_backward(&mut self, dbias: &mut GpuBuf, dout: &GpuBuf, rows: usize, cols: usize) {
        let params = Params::default().u(rows).u(cols);
        let groups = (cols.div_ceil(WORKGROUP).max(1) as u32, 1);
        self.dispatch(Kernel::BiasBackward, params, [(1, dbias.into()), (2, dout.into())], groups);
    }

    fn embed(&mut self, out: &mut GpuBuf, wte: &GpuBuf, wpe: &GpuBuf, tokens: &[u32], time: usize, d: usize) {
        let toks = self.rec.constant(&u32_bytes(tokens), "tokens");
        let params = Params::default().u(tokens.len()).u(time).u(d).u(wte.len / d.max(1));
        let buffers = [(1, out.into()), (2, wte.into()), (3, wpe.into()), (4, Operand::Ready(&toks))];
        self.dispatch(Kernel::Embed, params, buffers, (stride_groups(tokens.len() * d), 1));
    }

    fn embed_backward(
        &mut self,
        dwte: &mut GpuBuf,
        dwpe: &mut GpuBuf,
        dout: &GpuBuf,
        tokens: &[u32],
        time: usize,
        d: usize,
    ) {
        let toks = self.rec.constant(&u32_bytes(tokens), "tokens");
        let vocab = dwte.len / d.max(1);
        let params = || Params::default().u(tokens.len()).u(time).u(d).u(vocab);
        let buffers = [(1, dwte.into()), (2, dout.into()), (4, Operand::Ready(&toks))];
        self.dispatch(Kernel::EmbedBackwardTokens, params(), buffers, (stride_groups(vocab * d), 1));
        let buffers = [(1, dwpe.into()), (2, dout.into())];
        self.dispatch(Kernel::EmbedBackwardPositions, params(), buffers, (stride_groups(time * d), 1));
    }

    fn layernorm(
        &mut self,
        out: &mut GpuBuf,
        mean: &mut GpuBuf,
        rstd: &mut GpuBuf,
        x: &GpuBuf,
        gain: &GpuBuf,
        bias: &GpuBuf,
        rows: usize,
        cols: usize,
        eps: f32,
    ) {
        let params = Params::default().u(rows).u(cols).f(eps);
        let buffers =
            [(1, out.into()), (2, mean.into()), (3, rstd.into()), (4, x.into()), (5, gain.into()), (6, bias.into())];
        self.dispatch(Kernel::Layernorm, params, buffers, (row_groups(rows), 1));
    }

    fn layernorm_backward(
        &mut self,
        dx: &mut GpuBuf,
        dgain: &mut GpuBuf,
        dbias: &mut GpuBuf,
        dout: &GpuBuf,
        x: &GpuBuf,
        mean: &GpuBuf,
        rstd: &GpuBuf,
        gain: &GpuBuf,
        rows: usize,
        cols: usize,
    ) {
        let params = || Params::default().u(rows).u(cols).f(0.0);
        let buffers =
            [(7, dx.into()), (10, dout.into()), (4, x.into()), (11, mean.into()), (12, rstd.into()), (5, gain.into())];
        self.dispatch(Kernel::LayernormBackwardInput, params(), buffers, (row_groups(rows), 1));
        let buffers = [
            (8, dgain.into()),
            (9, dbias.into()),
            (10, dout.into()),
            (4, x.into()),
            (11, mean.into()),
            (12, rstd.into()),
        ];
        self.dispatch(Kernel::LayernormBackwardParams, params(), buffers, (row_groups(cols), 1));
    }

    fn attention(
        &mut self,
        out: &mut GpuBuf,
        probs: &mut GpuBuf,
        qkv: &GpuBuf,
        shape: AttnShape,
        scale: f32,
        causal: bool,
        form: SoftmaxForm,
    ) {
        let params = attn_params(shape, scale).flag(causal).flag(form.subtract_max);
        let buffers = [(1, out.into()), (2, probs.into()), (3, qkv.into())];
        let rows = shape.batch * shape.heads * shape.time;
        self.dispatch(Kernel::Attention, params, buffers, (row_groups(rows), 1));
    }

    fn attention_backward(
        &mut self,
        dqkv: &mut GpuBuf,
        dout: &GpuBuf,
        qkv: &GpuBuf,
        probs: &GpuBuf,
        shape: AttnShape,
        scale: f32,
        _causal: bool, // the kernels zero dS where probs are zero: no work is skipped
    ) {
        let ds = self.scratch(shape.probs_len());
        let params = || attn_params(shape, scale).flag(false).flag(false);
        let buffers = [(5, Operand::Ready(&ds)), (6, dout.into()), (3, qkv.into()), (7, probs.into())];
        let rows = shape.batch * shape.heads * shape.time;
        self.dispatch(Kernel::AttentionBackwardScores, params(), buffers, (row_groups(rows), 1));
        let buffers =
            [(4, dqkv.into()), (5, Operand::Ready(&ds)), (6, dout.into()), (3, qkv.into()), (7, probs.into())];
        let n = shape.batch * shape.time * 3 * shape.d_model;
        self.dispatch(Kernel::AttentionBackwardQkv, params(), buffers, (stride_groups(n), 1));
    }

    fn activation(&mut self, out: &mut GpuBuf, x: &GpuBuf, len: usize, f: Activation) {
        let params = Params::default().u(len).u(activation_id(f));
        self.dispatch(Kernel::Activation, params, [(1, out.into()), (2, x.into())], (stride_groups(len), 1));
    }

    fn activation_backward(&mut self, dx: &mut GpuBuf, dout: &GpuBuf, x: &GpuBuf, len: usize, f: Activation) {
        let params = Params::default().u(len).u(activation_id(f));
        let buffers = [(1, dx.into()), (2, x.into()), (3, dout.into())];
        self.dispatch(Kernel::ActivationBackward, params, buffers, (stride_groups(len), 1));
    }

    fn dropout_mask(&mut self, mask: &mut GpuBuf, len: usize, p: f32, seed: u64) {
        // The CPU's sequential generator, run on the host and uploaded, so both backends drop the
        // same units for the same seed.
        let mut rng = Rng::new(seed);
        let keep = (1.0 / (1.0 - p as f64)) as f32;
        let values: Vec<f32> =
            (0..len.min(mask.len)).map(|_| if rng.uniform() < p as f64 { 0.0 } else { keep }).collect();
        self.write(mask, &values);
    }

    fn mul_assign(&mut self, x: &mut GpuBuf, mask: &GpuBuf, len: usize) {
        let params = Params::default().u(len).u(0).f(0.0);
        self.dispatch(Kernel::MulAssign, params, [(1, x.into()), (2, mask.into())], (stride_groups(len), 1));
    }

    fn cross_entropy(
        &mut self,
        losses: &mut GpuBuf,
        dlogits: &mut GpuBuf,
        logits: &GpuBuf,
        targets: &[u32],
        rows: usize,
        vocab: usize,
        form: SoftmaxForm,
    ) {
        let targets = self.rec.constant(&u32_bytes(&targets[..rows]), "targets");
        let params = Params::default().u(rows).u(vocab).flag(form.subtract_max).flag(form.log_softmax);
        let buffers = [(1, losses.into()), (2, dlogits.into()), (3, logits.into()), (4, Operand::Ready(&targets))];
        self.dispatch(Kernel::CrossEntropy, params, buffers, (row_groups(rows), 1));
    }

    fn clip_grad_norm(
        &mut self,
        grads: &mut (impl TensorsMut<GpuBuf> + ?Sized),
        losses: &(impl Tensors<GpuBuf> + ?Sized),
        max_norm: f32,
    ) {
        self.clip.clip_grad_norm(&mut self.rec, grads, losses, max_norm);
    }

    fn keep_step(&mut self, losses: &(impl Tensors<GpuBuf> + ?Sized)) {
        let lens: Vec<usize> = losses.each().map(|l| l.len).collect();
        let gradients = self.clip.norms().map_or(0, |(_, g)| g);
        let buffer = self.rec.storage(KeptStep::floats(&lens, gradients), "kept step");
        let mut offset = 0;
        for l in losses.each() {
            if l.len > 0 {
                let src = self.clip.ready(&mut self.rec, l);
                self.rec.encoder().copy_buffer_to_buffer(src, 0, &buffer, offset, (l.len * 4) as u64);
            }
            offset += (l.len * 4) as u64;
        }
        if let Some((norms, g)) = self.clip.norms() {
            self.rec.encoder().copy_buffer_to_buffer(norms, 0, &buffer, offset, (g * 16) as u64);
        }
        self.kept.push(KeptStep { buffer, losses: lens, gradients });
    }

    fn read_steps(&mut self, out: &mut Vec<StepReadout>) {
        let kept = std::mem::take(&mut self.kept);
        let parts: Vec<(&wgpu::Buffer, usize)> = kept.iter().map(|k| (&k.buffer, k.len())).collect();
        let read = self.rec.read_back_many(&parts);
        out.resize_with(kept.len(), StepReadout::default);
        for ((o, k), data) in out.iter_mut().zip(&kept).zip(read) {
            let mut rest = data.as_slice();
            o.losses.clear();
            for &len in &k.losses {
                let (rows, tail) = rest.split_at(len);
                o.losses.push(rows.to_vec());
                rest = tail;
            }
            o.grad_sq = sums_of_squares(rest);
        }
        self.clip.reset_health(&mut self.rec);
    }

    fn adamw_update(&mut self, param: &mut GpuBuf, grad: &GpuBuf, m: &mut GpuBuf, v: &mut GpuBuf, h: AdamW) {
        // Bias corrections in f32 with powi, as the CPU computes them.
        let bias1 = 1.0 - h.beta1.powi(h.step as i32);
        let grad = self.clip.for_update(grad);
        let bias2 = 1.0 - h.beta2.powi(h.step as i32);
        let params = Params::default()
            .u(param.len)
            .f(h.lr)
            .f(h.beta1)
            .f(h.beta2)
            .f(h.eps)
            .f(h.weight_decay)
            .f(bias1)
            .f(bias2)
            .f(0.0)
            .flag(grad.waited);
        let status = self.clip.status().clone();
        let groups = (stride_groups(param.len), 1);
        let buffers = [
            (1, param.into()),
            (2, Operand::Ready(grad.buffer)),
            (3, m.into()),
            (4, v.into()),
            (5, Operand::Ready(&status)),
        ];
        self.dispatch(Kernel::AdamW, params, buffers, groups);
    }

    fn sgd_update(&mut self, param: &mut GpuBuf, grad: &GpuBuf, velocity: &mut GpuBuf, h: Sgd) {
        let grad = self.clip.for_update(grad);
        let params = Params::default()
            .u(param.len)
            .f(h.lr)
            .f(0.0)
            .f(0.0)
            .f(0.0)
            .f(h.weight_decay)
            .f(0.0)
            .f(0.0)
            .f(h.momentum)
            .flag(grad.waited);
        let status = self.clip.status().clone();
        let groups = (stride_groups(param.len), 1);
        let buffers =
            [(1, param.into()), (2, Operand::Ready(grad.buffer)), (3, velocity.into()), (5, Operand::Ready(&status))];
        self.dispatch(Kernel::Sgd, params, buffers, groups);
    }
}

fn attn_params(s: AttnShape, scale: f32) -> Params {
    Params::default().u(s.batch).u(s.time).u(s.d_model).u(s.heads).f(scale)
}

fn activation_id(f: Activation) -> usize {
    match f {
        Activation::Gelu => 0,
        Activation::Relu => 1,
        Activation::Sigmoid => 2,
    }
}
