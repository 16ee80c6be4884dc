//! The [`Backend`] operations of [`CpuBackend`]: buffers in host memory counted against the memory
//! budget, the element-wise operations both kernel sets share, gradient clipping and the steps kept
//! for the readback, and the optimiser updates. Where the sets differ, the call goes to the
//! backend's [`super::Kernels`].

use super::{CpuBackend, Real};
use crate::backend::{
    Activation, AdamW, AttnShape, Backend, BackendKind, Gemm, Sgd, SoftmaxForm, StepReadout, Tensors, TensorsMut,
};
use crate::error::EngineError;
use crate::optim::{clip_factor, global_norm};
use crate::rng::Rng;

/// Σ x² in f64 (NaN or Inf when an element is not finite).
fn sum_sq<T: Real>(x: &[T]) -> f64 {
    x.iter().map(|v| v.f64() * v.f64()).sum()
}

impl<T: Real> Backend for CpuBackend<T> {
    type Buf = Vec<T>;

    fn name(&self) -> String {
        self.kernels.name().to_string()
    }

    fn kind(&self) -> BackendKind {
        BackendKind::Cpu
    }

    fn zeros(&mut self, len: usize) -> Vec<T> {
        vec![T::zero(); len]
    }

    fn alloc(&mut self, len: usize, what: &str) -> Result<Vec<T>, EngineError> {
        let bytes = (len * std::mem::size_of::<T>()) as u64;
        let oom = |requested_bytes| EngineError::OutOfMemory {
            requested_bytes,
            budget_bytes: self.budget,
            what: what.to_string(),
        };
        if self.used.saturating_add(bytes) > self.budget {
            return Err(oom(self.used + bytes));
        }
        let mut buf = Vec::new();
        buf.try_reserve_exact(len).map_err(|_| oom(self.used + bytes))?; // the allocator itself said no
        buf.resize(len, T::zero());
        self.used += bytes;
        Ok(buf)
    }

    fn set_memory_budget(&mut self, bytes: u64) {
        self.budget = bytes;
    }

    fn memory_used(&self) -> u64 {
        self.used
    }

    fn len(&self, buf: &Vec<T>) -> usize {
        buf.len()
    }

    fn upload(&mut self, buf: &mut Vec<T>, data: &[f32]) {
        for (b, &d) in buf.iter_mut().zip(data) {
            *b = T::of(d);
        }
    }

    fn download(&mut self, buf: &Vec<T>) -> Vec<f32> {
        buf.iter().map(|v| v.f32()).collect()
    }

    fn fill(&mut self, buf: &mut Vec<T>, value: f32) {
        buf.fill(T::of(value));
    }

    fn copy(&mut self, dst: &mut Vec<T>, src: &Vec<T>) {
        let n = dst.len().min(src.len());
        dst[..n].copy_from_slice(&src[..n]);
    }

    fn add_assign(&mut self, dst: &mut Vec<T>, src: &Vec<T>) {
        for (d, &s) in dst.iter_mut().zip(src) {
            *d = *d + s;
        }
    }

    fn scale(&mut self, buf: &mut Vec<T>, s: f32) {
        let s = T::of(s);
        for v in buf.iter_mut() {
            *v = *v * s;
        }
    }

    fn sum_squares(&mut self, buf: &Vec<T>, len: usize) -> f64 {
        sum_sq(&buf[..len])
    }

    fn matmul(&mut self, out: &mut Vec<T>, a: &Vec<T>, b: &Vec<T>, g: Gemm) {
        self.kernels.matmul(out, a, b, g);
    }

    fn add_bias(&mut self, out: &mut Vec<T>, bias: &Vec<T>, rows: usize, cols: usize) {
        for row in out[..rows * cols].chunks_exact_mut(cols) {
            for (o, &b) in row.iter_mut().zip(bias) {
                *o = *o + b;
            }
        }
    }

    fn bias_backward(&mut self, dbias: &mut Vec<T>, dout: &Vec<T>, rows: usize, cols: usize) {
        for row in dout[..rows * cols].chunks_exact(cols) {
            for (d, &g) in dbias.iter_mut().zip(row) {
                *d = *d + g;
            }
        }
    }

    fn embed(&mut self, out: &mut Vec<T>, wte: &Vec<T>, wpe: &Vec<T>, tokens: &[u32], time: usize, d: usize) {
        for (i, &tok) in tokens.iter().enumerate() {
            let t = i % time;
            let tok_row = &wte[tok as usize * d..(tok as usize + 1) * d];
            let pos_row = &wpe[t * d..(t + 1) * d];
            for ((o, &a), &b) in out[i * d..(i + 1) * d].iter_mut().zip(tok_row).zip(pos_row) {
                *o = a + b;
            }
        }
    }

    fn embed_backward(
        &mut self,
        dwte: &mut Vec<T>,
        dwpe: &mut Vec<T>,
        dout: &Vec<T>,
        tokens: &[u32],
        time: usize,
        d: usize,
    ) {
        for (i, &tok) in tokens.iter().enumerate() {
            let t = i % time;
            let g = &dout[i * d..(i + 1) * d];
            for (w, &gv) in dwte[tok as usize * d..(tok as usize + 1) * d].iter_mut().zip(g) {
                *w = *w + gv;
            }
            for (w, &gv) in dwpe[t * d..(t + 1) * d].iter_mut().zip(g) {
                *w = *w + gv;
            }
        }
    }

    fn layernorm(
        &mut self,
        out: &mut Vec<T>,
        mean: &mut Vec<T>,
        rstd: &mut Vec<T>,
        x: &Vec<T>,
        gain: &Vec<T>,
        bias: &Vec<T>,
        rows: usize,
        cols: usize,
        eps: f32,
    ) {
        self.kernels.layernorm(out, mean, rstd, x, gain, bias, rows, cols, eps);
    }

    fn layernorm_backward(
        &mut self,
        dx: &mut Vec<T>,
        dgain: &mut Vec<T>,
        dbias: &mut Vec<T>,
        dout: &Vec<T>,
        x: &Vec<T>,
        mean: &Vec<T>,
        rstd: &Vec<T>,
        gain: &Vec<T>,
        rows: usize,
        cols: usize,
    ) {
        self.kernels.layernorm_backward(dx, dgain, dbias, dout, x, mean, rstd, gain, rows, cols);
    }

    fn attention(
        &mut self,
        out: &mut Vec<T>,
        probs: &mut Vec<T>,
        qkv: &Vec<T>,
        shape: AttnShape,
        scale: f32,
        causal: bool,
        form: SoftmaxForm,
    ) {
        self.kernels.attention(out, probs, qkv, shape, scale, causal, form);
    }

    fn attention_backward(
        &mut self,
        dqkv: &mut Vec<T>,
        dout: &Vec<T>,
        qkv: &Vec<T>,
        probs: &Vec<T>,
        shape: AttnShape,
        scale: f32,
        causal: bool,
    ) {
        self.kernels.attention_backward(dqkv, dout, qkv, probs, shape, scale, causal, &mut self.scratch);
    }

    fn activation(&mut self, out: &mut Vec<T>, x: &Vec<T>, len: usize, f: Activation) {
        self.kernels.activation(out, x, len, f);
    }

    fn activation_backward(&mut self, dx: &mut Vec<T>, dout: &Vec<T>, x: &Vec<T>, len: usize, f: Activation) {
        self.kernels.activation_backward(dx, dout, x, len, f);
    }

    fn dropout_mask(&mut self, mask: &mut Vec<T>, len: usize, p: f32, seed: u64) {
        let mut rng = Rng::new(seed);
        let keep = T::of64(1.0 / (1.0 - p as f64));
        for m in mask[..len].iter_mut() {
            *m = if rng.uniform() < p as f64 { T::zero() } else { keep };
        }
    }

    fn mul_assign(&mut self, x: &mut Vec<T>, mask: &Vec<T>, len: usize) {
        for (v, &m) in x[..len].iter_mut().zip(&mask[..len]) {
            *v = *v * m;
        }
    }

    fn cross_entropy(
        &mut self,
        losses: &mut Vec<T>,
        dlogits: &mut Vec<T>,
        logits: &Vec<T>,
        targets: &[u32],
        rows: usize,
        vocab: usize,
        form: SoftmaxForm,
    ) {
        self.kernels.cross_entropy(losses, dlogits, logits, targets, rows, vocab, form);
    }

    fn clip_grad_norm(
        &mut self,
        grads: &mut (impl TensorsMut<Vec<T>> + ?Sized),
        losses: &(impl Tensors<Vec<T>> + ?Sized),
        max_norm: f32,
    ) {
        self.grad_sq.clear();
        self.grad_sq.extend(grads.each().map(|g| sum_sq(g)));
        let norm = global_norm(&self.grad_sq);
        self.unhealthy |= !norm.is_finite() || losses.each().any(|l| l.iter().any(|v| !v.is_finite()));
        if self.unhealthy {
            return;
        }
        let factor = clip_factor(norm, max_norm);
        if factor != 1.0 {
            for g in grads.each_mut() {
                self.scale(g, factor);
            }
        }
    }

    fn keep_step(&mut self, losses: &(impl Tensors<Vec<T>> + ?Sized)) {
        if self.kept.len() == self.kept_steps {
            self.kept.push(StepReadout::default());
        }
        let out = &mut self.kept[self.kept_steps];
        self.kept_steps += 1;
        let count = losses.each().count();
        out.losses.resize_with(count, Vec::new);
        for (rows, l) in out.losses.iter_mut().zip(losses.each()) {
            rows.clear();
            rows.extend(l.iter().map(|v| v.f32()));
        }
        out.grad_sq.clone_from(&self.grad_sq);
    }

    fn read_steps(&mut self, out: &mut Vec<StepReadout>) {
        // The kept readouts change places with `out`'s, whose vectors are reused for the next steps.
        std::mem::swap(out, &mut self.kept);
        out.truncate(self.kept_steps);
        self.kept_steps = 0;
        self.unhealthy = false;
    }

    fn adamw_update(&mut self, param: &mut Vec<T>, grad: &Vec<T>, m: &mut Vec<T>, v: &mut Vec<T>, h: AdamW) {
        if self.unhealthy {
            return;
        }
        self.kernels.adamw_update(param, grad, m, v, h);
    }

    fn sgd_update(&mut self, param: &mut Vec<T>, grad: &Vec<T>, velocity: &mut Vec<T>, h: Sgd) {
        if self.unhealthy {
            return;
        }
        let (lr, mu, wd) = (T::of(h.lr), T::of(h.momentum), T::of(h.weight_decay));
        for i in 0..param.len() {
            let g = grad[i] + wd * param[i];
            velocity[i] = mu * velocity[i] + g;
            param[i] = param[i] - lr * velocity[i];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unhealthy_step_skips_every_update_until_the_readback() {
        let mut b = CpuBackend::<f32>::new();
        let h = Sgd { lr: 0.1, momentum: 0.0, weight_decay: 0.0 };
        let (mut param, mut velocity) = (vec![1.0f32; 4], vec![0.0f32; 4]);
        let grad = vec![1.0f32; 4];
        let nan = vec![vec![f32::NAN; 4]];
        let fine = vec![vec![0.5f32; 4]];
        let losses = vec![vec![2.0f32; 3]];
        b.clip_grad_norm(nan.clone().as_mut_slice(), losses.as_slice(), 1.0);
        b.keep_step(losses.as_slice());
        // A healthy step recorded after the unhealthy one, before the readback, updates nothing.
        b.clip_grad_norm(fine.clone().as_mut_slice(), losses.as_slice(), 1.0);
        b.keep_step(losses.as_slice());
        b.sgd_update(&mut param, &grad, &mut velocity, h);
        assert_eq!(param, [1.0; 4]);
        let mut read = Vec::new();
        b.read_steps(&mut read);
        assert_eq!(read.len(), 2);
        assert!(read[0].grad_sq[0].is_nan() && read[1].grad_sq[0] == 1.0, "{read:?}");
        assert_eq!(read[1].losses, losses);
        // After the readback a healthy step updates again.
        b.clip_grad_norm(fine.clone().as_mut_slice(), losses.as_slice(), 1.0);
        b.sgd_update(&mut param, &grad, &mut velocity, h);
        assert_eq!(param, [0.9; 4]);
    }
}
