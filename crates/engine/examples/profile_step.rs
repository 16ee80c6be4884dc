//! Where a training step's time goes: trains a preset on the CPU backend wrapped in a timer that
//! adds up the wall time of every backend call by kernel name, then prints the shares.
//!
//! `cargo run --release -p faultline-engine --example profile_step -- [tiny|small] [steps] [reference]`
//! (`reference`: the reference kernels instead of the fast ones).

use faultline_engine::backend::{
    Activation, AdamW, AttnShape, Backend, BackendKind, CpuBackend, Gemm, Sgd, SoftmaxForm, StepReadout, Tensors,
    TensorsMut,
};
use faultline_engine::config::{Preset, RunConfig};
use faultline_engine::trainer::{native_clock, Trainer};
use faultline_engine::EngineError;
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::time::Instant;

thread_local! {
    /// Milliseconds and calls per kernel name.
    static TOTALS: RefCell<BTreeMap<String, (f64, u64)>> = const { RefCell::new(BTreeMap::new()) };
}

/// The CPU backend with a stopwatch around every call.
struct Timed {
    inner: CpuBackend,
}

impl Timed {
    fn time<R>(&mut self, name: &str, f: impl FnOnce(&mut CpuBackend) -> R) -> R {
        let start = Instant::now();
        let r = f(&mut self.inner);
        let ms = start.elapsed().as_secs_f64() * 1e3;
        TOTALS.with_borrow_mut(|t| {
            let entry = t.entry(name.to_string()).or_default();
            entry.0 += ms;
            entry.1 += 1;
        });
        r
    }
}

impl Backend for Timed {
    type Buf = Vec<f32>;

    fn name(&self) -> String {
        self.inner.name()
    }
    fn kind(&self) -> BackendKind {
        self.inner.kind()
    }
    fn zeros(&mut self, len: usize) -> Vec<f32> {
        self.inner.zeros(len)
    }
    fn alloc(&mut self, len: usize, what: &str) -> Result<Vec<f32>, EngineError> {
        self.inner.alloc(len, what)
    }
    fn set_memory_budget(&mut self, bytes: u64) {
        self.inner.set_memory_budget(bytes)
    }
    fn memory_used(&self) -> u64 {
        self.inner.memory_used()
    }
    fn len(&self, buf: &Vec<f32>) -> usize {
        buf.len()
    }
    fn upload(&mut self, buf: &mut Vec<f32>, data: &[f32]) {
        self.time("upload", |b| b.upload(buf, data))
    }
    fn download(&mut self, buf: &Vec<f32>) -> Vec<f32> {
        self.time("download", |b| b.download(buf))
    }
    fn fill(&mut self, buf: &mut Vec<f32>, value: f32) {
        self.time("fill", |b| b.fill(buf, value))
    }
    fn copy(&mut self, dst: &mut Vec<f32>, src: &Vec<f32>) {
        self.time("copy", |b| b.copy(dst, src))
    }
    fn add_assign(&mut self, dst: &mut Vec<f32>, src: &Vec<f32>) {
        self.time("add_assign", |b| b.add_assign(dst, src))
    }
    fn scale(&mut self, buf: &mut Vec<f32>, s: f32) {
        self.time("scale", |b| b.scale(buf, s))
    }
    fn sum_squares(&mut self, buf: &Vec<f32>, len: usize) -> f64 {
        self.time("sum_squares", |b| b.sum_squares(buf, len))
    }
    fn matmul(&mut self, out: &mut Vec<f32>, a: &Vec<f32>, w: &Vec<f32>, g: Gemm) {
        let Gemm { m, k, n, trans_a, trans_b, .. } = g;
        let name =
            format!("matmul {m}x{k}x{n}{}{}", if trans_a { " Aᵀ" } else { "" }, if trans_b { " Bᵀ" } else { "" });
        self.time(&name, |b| b.matmul(out, a, w, g))
    }
    fn add_bias(&mut self, out: &mut Vec<f32>, bias: &Vec<f32>, rows: usize, cols: usize) {
        self.time("add_bias", |b| b.add_bias(out, bias, rows, cols))
    }
    fn bias_backward(&mut self, dbias: &mut Vec<f32>, dout: &Vec<f32>, rows: usize, cols: usize) {
        self.time("bias_backward", |b| b.bias_backward(dbias, dout, rows, cols))
    }
    fn embed(&mut self, out: &mut Vec<f32>, wte: &Vec<f32>, wpe: &Vec<f32>, tokens: &[u32], time: usize, d: usize) {
        self.time("embed", |b| b.embed(out, wte, wpe, tokens, time, d))
    }
    fn embed_backward(
        &mut self,
        dwte: &mut Vec<f32>,
        dwpe: &mut Vec<f32>,
        dout: &Vec<f32>,
        tokens: &[u32],
        time: usize,
        d: usize,
    ) {
        self.time("embed_backward", |b| b.embed_backward(dwte, dwpe, dout, tokens, time, d))
    }
    fn layernorm(
        &mut self,
        out: &mut Vec<f32>,
        mean: &mut Vec<f32>,
        rstd: &mut Vec<f32>,
        x: &Vec<f32>,
        gain: &Vec<f32>,
        bias: &Vec<f32>,
        rows: usize,
        cols: usize,
        eps: f32,
    ) {
        self.time("layernorm", |b| b.layernorm(out, mean, rstd, x, gain, bias, rows, cols, eps))
    }
    fn layernorm_backward(
        &mut self,
        dx: &mut Vec<f32>,
        dgain: &mut Vec<f32>,
        dbias: &mut Vec<f32>,
        dout: &Vec<f32>,
        x: &Vec<f32>,
        mean: &Vec<f32>,
        rstd: &Vec<f32>,
        gain: &Vec<f32>,
        rows: usize,
        cols: usize,
    ) {
        self.time("layernorm_backward", |b| {
            b.layernorm_backward(dx, dgain, dbias, dout, x, mean, rstd, gain, rows, cols)
        })
    }
    fn attention(
        &mut self,
        out: &mut Vec<f32>,
        probs: &mut Vec<f32>,
        qkv: &Vec<f32>,
        shape: AttnShape,
        scale: f32,
        causal: bool,
        form: SoftmaxForm,
    ) {
        self.time("attention", |b| b.attention(out, probs, qkv, shape, scale, causal, form))
    }
    fn attention_backward(
        &mut self,
        dqkv: &mut Vec<f32>,
        dout: &Vec<f32>,
        qkv: &Vec<f32>,
        probs: &Vec<f32>,
        shape: AttnShape,
        scale: f32,
        causal: bool,
    ) {
        self.time("attention_backward", |b| b.attention_backward(dqkv, dout, qkv, probs, shape, scale, causal))
    }
    fn activation(&mut self, out: &mut Vec<f32>, x: &Vec<f32>, len: usize, f: Activation) {
        self.time("activation", |b| b.activation(out, x, len, f))
    }
    fn activation_backward(&mut self, dx: &mut Vec<f32>, dout: &Vec<f32>, x: &Vec<f32>, len: usize, f: Activation) {
        self.time("activation_backward", |b| b.activation_backward(dx, dout, x, len, f))
    }
    fn dropout_mask(&mut self, mask: &mut Vec<f32>, len: usize, p: f32, seed: u64) {
        self.time("dropout_mask", |b| b.dropout_mask(mask, len, p, seed))
    }
    fn mul_assign(&mut self, x: &mut Vec<f32>, mask: &Vec<f32>, len: usize) {
        self.time("mul_assign", |b| b.mul_assign(x, mask, len))
    }
    fn cross_entropy(
        &mut self,
        losses: &mut Vec<f32>,
        dlogits: &mut Vec<f32>,
        logits: &Vec<f32>,
        targets: &[u32],
        rows: usize,
        vocab: usize,
        form: SoftmaxForm,
    ) {
        self.time("cross_entropy", |b| b.cross_entropy(losses, dlogits, logits, targets, rows, vocab, form))
    }
    fn adamw_update(&mut self, param: &mut Vec<f32>, grad: &Vec<f32>, m: &mut Vec<f32>, v: &mut Vec<f32>, h: AdamW) {
        self.time("adamw_update", |b| b.adamw_update(param, grad, m, v, h))
    }
    fn sgd_update(&mut self, param: &mut Vec<f32>, grad: &Vec<f32>, velocity: &mut Vec<f32>, h: Sgd) {
        self.time("sgd_update", |b| b.sgd_update(param, grad, velocity, h))
    }
    fn clip_grad_norm(
        &mut self,
        grads: &mut (impl TensorsMut<Vec<f32>> + ?Sized),
        losses: &(impl Tensors<Vec<f32>> + ?Sized),
        max_norm: f32,
    ) {
        self.time("clip_grad_norm", |b| b.clip_grad_norm(grads, losses, max_norm))
    }
    fn keep_step(&mut self, losses: &(impl Tensors<Vec<f32>> + ?Sized)) {
        self.time("keep_step", |b| b.keep_step(losses))
    }
    fn read_steps(&mut self, out: &mut Vec<StepReadout>) {
        self.time("read_steps", |b| b.read_steps(out))
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let preset = Preset::parse(args.first().map_or("tiny", |s| s.as_str())).expect("preset: tiny or small");
    let steps: usize = args.get(1).map_or(30, |s| s.parse().expect("steps: a number"));
    let cfg = RunConfig { steps, seed: 1, ..RunConfig::preset(preset) };
    let inner = if args.get(2).is_some_and(|a| a == "reference") { CpuBackend::reference() } else { CpuBackend::new() };
    let backend = Timed { inner };
    let mut trainer = Trainer::new(cfg, backend, native_clock).expect("trainer");
    trainer.step().expect("warm-up step");
    TOTALS.with_borrow_mut(|t| t.clear());
    let start = Instant::now();
    for _ in 1..steps {
        trainer.step().expect("step");
    }
    let total = start.elapsed().as_secs_f64() * 1e3 / (steps - 1) as f64;
    let mut rows: Vec<(String, f64, u64)> =
        TOTALS.with_borrow(|t| t.iter().map(|(k, &(ms, n))| (k.clone(), ms / (steps - 1) as f64, n)).collect());
    rows.sort_by(|a, b| b.1.total_cmp(&a.1));
    let kernels: f64 = rows.iter().map(|r| r.1).sum();
    println!("{} step: {total:.2} ms ({:.1} steps/s), kernels {kernels:.2} ms", preset.id(), 1e3 / total);
    for (name, ms, calls) in rows {
        println!("{:>6.2} ms {:>5.1} %  {:>5} calls  {name}", ms, 100.0 * ms / total, calls / (steps - 1) as u64);
    }
    println!("{:>6.2} ms {:>5.1} %  outside the backend", total - kernels, 100.0 * (total - kernels) / total);
}
