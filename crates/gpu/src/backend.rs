//! The engine's [`Backend`] on the GPU: each operation records its kernels' dispatches (or a copy)
//! through the [`Recorder`](crate::encoder::Recorder), and reaches the engine's tensors as the clip
//! protocol allows.

use crate::clip::Operand;
use crate::encoder::byte_size;
use crate::kernels::{
    activation, attention, cross_entropy, elementwise, embed, layernorm, matmul, optim, reduce, row_groups,
    stride_groups, EntryPoint, MATMUL_TILE, REDUCE_GROUPS, WORKGROUP,
};
use crate::steps::{sums_of_squares, KeptStep};
use crate::{wait, GpuBackend, GpuBuf};
use faultline_engine::backend::{
    Activation, AdamW, AttnShape, Backend, BackendKind, Gemm, Sgd, SoftmaxForm, StepReadout, Tensors, TensorsMut,
};
use faultline_engine::rng::Rng;
use faultline_engine::EngineError;

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

    /// Records one dispatch of `entry` with `uniforms` and `operands` at their bindings, after the
    /// clip scaling of any gradient among them that still waits for it.
    fn dispatch<E: EntryPoint, const N: usize>(
        &mut self,
        entry: E,
        uniforms: E::Uniforms,
        operands: [(E::Slot, Operand<'_>); N],
        groups: (u32, u32),
    ) {
        let buffers = operands.map(|(slot, op)| (slot, self.clip.ready(&mut self.rec, op)));
        self.rec.record(entry, uniforms, buffers, groups);
    }

    /// Records `out = op(a) · op(b)` (or `+=`), with `bias` added to every row when given.
    fn product(&mut self, out: &GpuBuf, a: &GpuBuf, b: &GpuBuf, p: Gemm, bias: Option<&GpuBuf>) {
        use matmul::Slot;
        let Gemm { m, k, n, trans_a, trans_b, accumulate } = p;
        let uniforms = matmul::MatmulUniforms {
            m: m as u32,
            k: k as u32,
            n: n as u32,
            trans_a: trans_a.into(),
            trans_b: trans_b.into(),
            accumulate: accumulate.into(),
            bias: bias.is_some().into(),
        };
        let groups = (n.div_ceil(MATMUL_TILE).max(1) as u32, m.div_ceil(MATMUL_TILE).max(1) as u32);
        // Without a bias the kernel never reads its bias binding, which then holds a placeholder.
        let status = self.clip.status().clone();
        let bias = bias.map_or(Operand::Ready(&status), Operand::Tensor);
        // vec4 loads need each operand's stored rows to be whole vec4s.
        let a_row = if trans_a { m } else { k };
        let b_row = if trans_b { k } else { n };
        if a_row.is_multiple_of(4) && b_row.is_multiple_of(4) {
            let operands = [(Slot::Out, out.into()), (Slot::A4, a.into()), (Slot::B4, b.into()), (Slot::Bias, bias)];
            self.dispatch(matmul::MatmulVec4, uniforms, operands, groups);
        } else {
            let operands = [(Slot::Out, out.into()), (Slot::A, a.into()), (Slot::B, b.into()), (Slot::Bias, bias)];
            self.dispatch(matmul::Matmul, uniforms, operands, groups);
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
            let uniforms = elementwise::ValueUniforms { len: buf.len as u32, value };
            let groups = (stride_groups(buf.len), 1);
            self.dispatch(elementwise::Fill, uniforms, [(elementwise::Slot::X, buf.into())], groups);
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
        use elementwise::Slot;
        let uniforms = elementwise::LenUniforms { len: n as u32 };
        let operands = [(Slot::X, dst.into()), (Slot::Y, src.into())];
        self.dispatch(elementwise::AddAssign, uniforms, operands, (stride_groups(n), 1));
    }

    fn scale(&mut self, buf: &mut GpuBuf, s: f32) {
        let uniforms = elementwise::ValueUniforms { len: buf.len as u32, value: s };
        let groups = (stride_groups(buf.len), 1);
        self.dispatch(elementwise::Scale, uniforms, [(elementwise::Slot::X, buf.into())], groups);
    }

    fn sum_squares(&mut self, buf: &GpuBuf, len: usize) -> f64 {
        let groups = len.div_ceil(WORKGROUP).clamp(1, REDUCE_GROUPS);
        let partials = self.rec.storage(4 * groups, "sum of squares");
        let uniforms = reduce::SumSquaresUniforms { len: len as u32, offset: 0 };
        let operands = [(reduce::Slot::Out, Operand::Ready(&partials)), (reduce::Slot::X, buf.into())];
        self.dispatch(reduce::SumSquares, uniforms, operands, (groups as u32, 1));
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

    fn matmul(&mut self, out: &mut GpuBuf, a: &GpuBuf, b: &GpuBuf, g: Gemm) {
        self.product(out, a, b, g, None);
    }

    fn linear(&mut self, out: &mut GpuBuf, x: &GpuBuf, w: &GpuBuf, bias: &GpuBuf, g: Gemm) {
        self.product(out, x, w, g, Some(bias));
    }

    fn add_bias(&mut self, out: &mut GpuBuf, bias: &GpuBuf, rows: usize, cols: usize) {
        use elementwise::Slot;
        let uniforms = elementwise::AddBiasUniforms { len: (rows * cols) as u32, cols: cols as u32 };
        let groups = (stride_groups(rows * cols), 1);
        self.dispatch(elementwise::AddBias, uniforms, [(Slot::X, out.into()), (Slot::Y, bias.into())], groups);
    }

    fn bias_backward(&mut self, dbias: &mut GpuBuf, dout: &GpuBuf, rows: usize, cols: usize) {
        use reduce::Slot;
        let uniforms = reduce::BiasBackwardUniforms { rows: rows as u32, cols: cols as u32 };
        let groups = (cols.div_ceil(WORKGROUP).max(1) as u32, 1);
        self.dispatch(reduce::BiasBackward, uniforms, [(Slot::Out, dbias.into()), (Slot::X, dout.into())], groups);
    }

    fn embed(&mut self, out: &mut GpuBuf, wte: &GpuBuf, wpe: &GpuBuf, tokens: &[u32], time: usize, d: usize) {
        use embed::Slot;
        let toks = self.rec.constant(bytemuck::cast_slice(tokens), "tokens");
        let uniforms = embed::EmbedUniforms {
            rows: tokens.len() as u32,
            time: time as u32,
            d: d as u32,
            vocab: (wte.len / d.max(1)) as u32,
        };
        let operands = [
            (Slot::Out, out.into()),
            (Slot::Table, wte.into()),
            (Slot::Pos, wpe.into()),
            (Slot::Tokens, Operand::Ready(&toks)),
        ];
        self.dispatch(embed::Embed, uniforms, operands, (stride_groups(tokens.len() * d), 1));
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
        use embed::Slot;
        let toks = self.rec.constant(bytemuck::cast_slice(tokens), "tokens");
        let vocab = dwte.len / d.max(1);
        let uniforms =
            embed::EmbedUniforms { rows: tokens.len() as u32, time: time as u32, d: d as u32, vocab: vocab as u32 };
        let operands = [(Slot::Out, dwte.into()), (Slot::Table, dout.into()), (Slot::Tokens, Operand::Ready(&toks))];
        self.dispatch(embed::EmbedBackwardTokens, uniforms, operands, (stride_groups(vocab * d), 1));
        let operands = [(Slot::Out, dwpe.into()), (Slot::Table, dout.into())];
        self.dispatch(embed::EmbedBackwardPositions, uniforms, operands, (stride_groups(time * d), 1));
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
        use layernorm::Slot;
        let uniforms = layernorm::LayernormUniforms { rows: rows as u32, cols: cols as u32, eps };
        let operands = [
            (Slot::Out, out.into()),
            (Slot::Mean, mean.into()),
            (Slot::Rstd, rstd.into()),
            (Slot::X, x.into()),
            (Slot::Gain, gain.into()),
            (Slot::Bias, bias.into()),
        ];
        self.dispatch(layernorm::Layernorm, uniforms, operands, (row_groups(rows), 1));
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
        use layernorm::Slot;
        let uniforms = layernorm::LayernormBackwardUniforms { rows: rows as u32, cols: cols as u32 };
        let operands = [
            (Slot::Dx, dx.into()),
            (Slot::Dout, dout.into()),
            (Slot::X, x.into()),
            (Slot::SavedMean, mean.into()),
            (Slot::SavedRstd, rstd.into()),
            (Slot::Gain, gain.into()),
        ];
        self.dispatch(layernorm::LayernormBackwardInput, uniforms, operands, (row_groups(rows), 1));
        let operands = [
            (Slot::Dgain, dgain.into()),
            (Slot::Dbias, dbias.into()),
            (Slot::Dout, dout.into()),
            (Slot::X, x.into()),
            (Slot::SavedMean, mean.into()),
            (Slot::SavedRstd, rstd.into()),
        ];
        self.dispatch(layernorm::LayernormBackwardParams, uniforms, operands, (row_groups(cols), 1));
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
        use attention::Slot;
        let uniforms = attention::AttentionUniforms {
            batch: shape.batch as u32,
            time: shape.time as u32,
            d_model: shape.d_model as u32,
            heads: shape.heads as u32,
            scale,
            causal: causal.into(),
            subtract_max: form.subtract_max.into(),
        };
        let operands = [(Slot::Out, out.into()), (Slot::Probs, probs.into()), (Slot::Qkv, qkv.into())];
        let rows = shape.batch * shape.heads * shape.time;
        self.dispatch(attention::Attention, uniforms, operands, (row_groups(rows), 1));
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
        use attention::Slot;
        let ds = self.scratch(shape.probs_len());
        let uniforms = attention::AttentionBackwardUniforms {
            batch: shape.batch as u32,
            time: shape.time as u32,
            d_model: shape.d_model as u32,
            heads: shape.heads as u32,
            scale,
        };
        let operands = [
            (Slot::Ds, Operand::Ready(&ds)),
            (Slot::Dout, dout.into()),
            (Slot::Qkv, qkv.into()),
            (Slot::SavedProbs, probs.into()),
        ];
        let rows = shape.batch * shape.heads * shape.time;
        self.dispatch(attention::AttentionBackwardScores, uniforms, operands, (row_groups(rows), 1));
        let operands = [
            (Slot::Dqkv, dqkv.into()),
            (Slot::Ds, Operand::Ready(&ds)),
            (Slot::Dout, dout.into()),
            (Slot::Qkv, qkv.into()),
            (Slot::SavedProbs, probs.into()),
        ];
        let n = shape.batch * shape.time * 3 * shape.d_model;
        self.dispatch(attention::AttentionBackwardQkv, uniforms, operands, (stride_groups(n), 1));
    }

    fn activation(&mut self, out: &mut GpuBuf, x: &GpuBuf, len: usize, f: Activation) {
        use activation::Slot;
        let uniforms = activation::ActivationUniforms { len: len as u32, kind: activation_kind(f) };
        let operands = [(Slot::Out, out.into()), (Slot::X, x.into())];
        self.dispatch(activation::Activation, uniforms, operands, (stride_groups(len), 1));
    }

    fn activation_backward(&mut self, dx: &mut GpuBuf, dout: &GpuBuf, x: &GpuBuf, len: usize, f: Activation) {
        use activation::Slot;
        let uniforms = activation::ActivationUniforms { len: len as u32, kind: activation_kind(f) };
        let operands = [(Slot::Out, dx.into()), (Slot::X, x.into()), (Slot::Dout, dout.into())];
        self.dispatch(activation::ActivationBackward, uniforms, operands, (stride_groups(len), 1));
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
        use elementwise::Slot;
        let uniforms = elementwise::LenUniforms { len: len as u32 };
        let operands = [(Slot::X, x.into()), (Slot::Y, mask.into())];
        self.dispatch(elementwise::MulAssign, uniforms, operands, (stride_groups(len), 1));
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
        use cross_entropy::Slot;
        let targets = self.rec.constant(bytemuck::cast_slice(&targets[..rows]), "targets");
        let uniforms = cross_entropy::CrossEntropyUniforms {
            rows: rows as u32,
            vocab: vocab as u32,
            subtract_max: form.subtract_max.into(),
            log_softmax: form.log_softmax.into(),
        };
        let operands = [
            (Slot::Losses, losses.into()),
            (Slot::Dlogits, dlogits.into()),
            (Slot::Logits, logits.into()),
            (Slot::Targets, Operand::Ready(&targets)),
        ];
        self.dispatch(cross_entropy::CrossEntropy, uniforms, operands, (row_groups(rows), 1));
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
        use optim::Slot;
        let grad = self.clip.for_update(grad);
        // Bias corrections in f32 with powi, as the CPU computes them.
        let uniforms = optim::AdamWUniforms {
            len: param.len as u32,
            lr: h.lr,
            beta1: h.beta1,
            beta2: h.beta2,
            eps: h.eps,
            weight_decay: h.weight_decay,
            bias1: 1.0 - h.beta1.powi(h.step as i32),
            bias2: 1.0 - h.beta2.powi(h.step as i32),
            clip: grad.waited.into(),
        };
        let status = self.clip.status().clone();
        let groups = (stride_groups(param.len), 1);
        let operands = [
            (Slot::Param, param.into()),
            (Slot::Grad, Operand::Ready(grad.buffer)),
            (Slot::M, m.into()),
            (Slot::V, v.into()),
            (Slot::Status, Operand::Ready(&status)),
        ];
        self.dispatch(optim::AdamW, uniforms, operands, groups);
    }

    fn sgd_update(&mut self, param: &mut GpuBuf, grad: &GpuBuf, velocity: &mut GpuBuf, h: Sgd) {
        use optim::Slot;
        let grad = self.clip.for_update(grad);
        let uniforms = optim::SgdUniforms {
            len: param.len as u32,
            lr: h.lr,
            momentum: h.momentum,
            weight_decay: h.weight_decay,
            clip: grad.waited.into(),
        };
        let status = self.clip.status().clone();
        let groups = (stride_groups(param.len), 1);
        let operands = [
            (Slot::Param, param.into()),
            (Slot::Grad, Operand::Ready(grad.buffer)),
            (Slot::M, velocity.into()),
            (Slot::Status, Operand::Ready(&status)),
        ];
        self.dispatch(optim::Sgd, uniforms, operands, groups);
    }
}

/// The nonlinearity's number in activation.wgsl.
fn activation_kind(f: Activation) -> u32 {
    match f {
        Activation::Gelu => 0,
        Activation::Relu => 1,
        Activation::Sigmoid => 2,
    }
}
