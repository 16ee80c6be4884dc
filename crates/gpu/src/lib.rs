//! Faultline's GPU backend: the engine's [`Backend`] trait on wgpu, natively on Vulkan and in the
//! browser on WebGPU.
//!
//! Buffers stay in GPU memory for the whole run. Each operation records a compute dispatch (or a
//! copy) into one command encoder; nothing is submitted until a readback ([`Backend::download`],
//! [`Backend::sum_squares`], [`Backend::read_steps`]) needs the results. Gradient clipping runs on the
//! GPU (the clip factor is computed in a kernel and read by the clip and optimiser kernels), and each
//! step's losses and per-tensor sums of squares are copied aside on the GPU ([`Backend::keep_step`]),
//! so the trainer's launch of several steps between evaluations is one submission and one readback.
//! The kernels are WGSL files under `src/kernels/`, one per family.

pub mod bench;
mod kernels;
pub mod wait;

use faultline_engine::backend::{
    Activation, AdamW, AttnShape, Backend, BackendKind, Sgd, SoftmaxForm, StepReadout, Tensors, TensorsMut,
};
use faultline_engine::rng::Rng;
use faultline_engine::EngineError;
use kernels::{Kernel, PipelineCache};
use std::fmt;
use std::sync::{Arc, Mutex};
use wgpu::util::DeviceExt;

/// Threads per workgroup of the element-wise kernels (their `@workgroup_size`).
const WORKGROUP: usize = 256;
/// Upper bound on the workgroups of a grid-stride kernel: each thread loops over the rest.
const MAX_GROUPS: usize = 1024;
/// Workgroups of the sum-of-squares reduction, at most: `sum_squares` reads their partial sums back
/// and adds them on the host; `clip_grad_norm` combines them on the GPU.
const REDUCE_GROUPS: usize = 64;
/// Rows (or columns) per workgroup of the one-thread-per-row kernels.
const ROW_GROUP: usize = 64;
/// The output tile of one matmul workgroup (`TILE` in matmul.wgsl).
const MATMUL_TILE: usize = 64;
/// Workgroup memory the kernels need at most (matmul's two 64×16 f32 slabs).
const WORKGROUP_STORAGE_NEEDED: u32 = 2 * 64 * 16 * 4;

/// Why no GPU backend could be created.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GpuInitError {
    /// No adapter (no WebGPU in this browser, no Vulkan driver natively).
    NoAdapter(String),
    /// The adapter exists but refused a device.
    NoDevice(String),
    /// The adapter's limits are below what the kernels need.
    Limits(String),
}

impl fmt::Display for GpuInitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GpuInitError::NoAdapter(m) => write!(f, "no GPU adapter: {m}"),
            GpuInitError::NoDevice(m) => write!(f, "the GPU adapter gave no device: {m}"),
            GpuInitError::Limits(m) => write!(f, "the GPU's limits are too small: {m}"),
        }
    }
}

impl std::error::Error for GpuInitError {}

/// Work counters since the backend was created.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GpuStats {
    /// Compute dispatches recorded.
    pub dispatches: u64,
    /// Command buffers submitted: one per readback, carrying everything recorded before it.
    pub submissions: u64,
    /// Readbacks (downloads and sums of squares), each a wait for the GPU.
    pub readbacks: u64,
    /// Bytes copied from the GPU to the host.
    pub bytes_read_back: u64,
    /// Bytes copied from the host to the GPU (uploads, tokens, dropout masks; not kernel parameters).
    pub bytes_uploaded: u64,
}

/// A shared view of a backend's counters, readable after the backend has moved into a trainer.
#[derive(Clone, Debug, Default)]
pub struct GpuStatsHandle(Arc<Mutex<GpuStats>>);

impl GpuStatsHandle {
    /// The counters now.
    pub fn get(&self) -> GpuStats {
        *self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn update(&self, f: impl FnOnce(&mut GpuStats)) {
        f(&mut self.0.lock().unwrap_or_else(|e| e.into_inner()));
    }
}

/// A buffer of `len` f32 in GPU memory.
#[derive(Debug)]
pub struct GpuBuf {
    buffer: wgpu::Buffer,
    len: usize,
}

/// The wgpu backend (f32).
pub struct GpuBackend {
    device: wgpu::Device,
    queue: wgpu::Queue,
    adapter: wgpu::AdapterInfo,
    limits: wgpu::Limits,
    pipelines: PipelineCache,
    /// The compute pass consecutive dispatches are recorded in, open until a copy, a clear or a
    /// submission needs the encoder (wgpu still orders the dispatches inside it). Declared before the
    /// encoder, so a backend dropped mid-recording ends its pass before the encoder goes.
    pass: Option<wgpu::ComputePass<'static>>,
    encoder: Option<wgpu::CommandEncoder>,
    /// The parameters of the dispatches recorded since the last submission.
    params: ParamArena,
    /// The attention backward pass's dS scratch, grown as needed.
    scratch: Option<wgpu::Buffer>,
    /// (clip factor, healthy) of the last `clip_grad_norm`, read by the clip and optimiser kernels;
    /// (1, healthy) until the first.
    status: wgpu::Buffer,
    /// The last `clip_grad_norm`'s (scale, ssq, saw NaN, saw Inf) per slot, and how many of the
    /// slots are gradients, for `keep_step`.
    norms: Option<(wgpu::Buffer, usize)>,
    /// Gradients (buffer, length) `clip_grad_norm` has yet to scale by the clip factor. The
    /// optimiser's update scales each as it reads it, one dispatch instead of two; anything else that
    /// uses one first records its scaling ([`GpuBackend::scale_unscaled`]).
    unscaled: Vec<(wgpu::Buffer, usize)>,
    /// The steps kept since the last `read_steps`, in GPU memory until then.
    kept: Vec<KeptStep>,
    budget: u64,
    used: u64,
    stats: GpuStatsHandle,
    /// The first failure since which the GPU's results cannot be trusted: an error the device
    /// reported outside any error scope (a kernel the browser's WebGPU refused), a lost device, a
    /// failed readback. [`Backend::lost`] reports it; readbacks return zeros from then on.
    failure: Arc<Mutex<Option<String>>>,
}

/// One step's losses and sums of squares, copied into one GPU buffer by `keep_step`: the loss
/// buffers' lengths in order, then `4 × gradients` floats of `clip_grad_norm`'s slots.
struct KeptStep {
    buffer: wgpu::Buffer,
    losses: Vec<usize>,
    gradients: usize,
}

impl KeptStep {
    /// Floats in the buffer of a step with these loss lengths and gradients.
    fn floats(losses: &[usize], gradients: usize) -> usize {
        losses.iter().sum::<usize>() + 4 * gradients
    }

    fn len(&self) -> usize {
        Self::floats(&self.losses, self.gradients)
    }
}

/// (scale, ssq, saw NaN, saw Inf) per gradient, as `global_norm` writes them, to sums of squares:
/// NaN or Inf where a gradient held one.
fn sums_of_squares(slots: &[f32]) -> Vec<f64> {
    slots
        .chunks_exact(4)
        .map(|s| {
            if s[2] != 0.0 {
                f64::NAN
            } else if s[3] != 0.0 {
                f64::INFINITY
            } else {
                (s[0] as f64) * (s[0] as f64) * s[1] as f64
            }
        })
        .collect()
}

/// The uniform parameters of one dispatch, as 32-bit words in the WGSL struct's field order.
#[derive(Default)]
struct Params(Vec<u32>);

impl Params {
    fn u(mut self, v: usize) -> Self {
        self.0.push(v as u32);
        self
    }
    fn flag(mut self, v: bool) -> Self {
        self.0.push(v as u32);
        self
    }
    fn f(mut self, v: f32) -> Self {
        self.0.push(v.to_bits());
        self
    }
    /// Little-endian bytes, padded to a multiple of 16 as uniform buffers require.
    fn bytes(&self) -> Vec<u8> {
        let mut b: Vec<u8> = self.0.iter().flat_map(|w| w.to_le_bytes()).collect();
        b.resize(b.len().div_ceil(16).max(1) * 16, 0);
        b
    }
}

/// Bytes of one dispatch's parameters in the arena: WebGPU's largest uniform offset alignment, so any
/// adapter accepts every slot's offset. Each kernel's `Params` struct is far smaller.
const PARAM_SLOT: u64 = 256;
/// Slots per uniform buffer of the arena (256 KiB each).
const PARAM_SLOTS_PER_BLOCK: u64 = 1024;

/// Every dispatch's parameters between two submissions, in slots of uniform buffers kept for the whole
/// run. A dispatch takes the next slot; the slots' bytes gather on the host and reach the GPU as one
/// queue write per buffer, which lands before the submission that reads them (and after the
/// previous one, which read the slots before). One buffer and one write per thousand dispatches,
/// not one of each per dispatch.
#[derive(Default)]
struct ParamArena {
    blocks: Vec<wgpu::Buffer>,
    /// The used slots' bytes, slot after slot.
    host: Vec<u8>,
}

impl ParamArena {
    /// Takes the next slot for `bytes` (at most [`PARAM_SLOT`]): its buffer and offset.
    fn push(&mut self, device: &wgpu::Device, bytes: &[u8]) -> (wgpu::Buffer, u64) {
        assert!(bytes.len() as u64 <= PARAM_SLOT, "a kernel's parameters outgrew their slot");
        let at = self.host.len() as u64;
        let block = (at / (PARAM_SLOT * PARAM_SLOTS_PER_BLOCK)) as usize;
        if block == self.blocks.len() {
            self.blocks.push(device.create_buffer(&wgpu::BufferDescriptor {
                label: Some("params"),
                size: PARAM_SLOT * PARAM_SLOTS_PER_BLOCK,
                usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
                mapped_at_creation: false,
            }));
        }
        self.host.extend_from_slice(bytes);
        self.host.resize((at + PARAM_SLOT) as usize, 0);
        (self.blocks[block].clone(), at % (PARAM_SLOT * PARAM_SLOTS_PER_BLOCK))
    }

    /// Writes the used slots to their buffers through `queue` and frees every slot for the
    /// dispatches after the next submission.
    fn flush(&mut self, queue: &wgpu::Queue) {
        let block_bytes = (PARAM_SLOT * PARAM_SLOTS_PER_BLOCK) as usize;
        for (buffer, bytes) in self.blocks.iter().zip(self.host.chunks(block_bytes)) {
            queue.write_buffer(buffer, 0, bytes);
        }
        self.host.clear();
    }
}

fn f32_bytes(data: &[f32]) -> Vec<u8> {
    data.iter().flat_map(|v| v.to_le_bytes()).collect()
}

fn u32_bytes(data: &[u32]) -> Vec<u8> {
    data.iter().flat_map(|v| v.to_le_bytes()).collect()
}

/// Bytes of a buffer of `len` f32: a whole number of vec4s (at least one), so any buffer can be
/// bound as `array<vec4<f32>>` and none is empty, which wgpu cannot bind.
fn byte_size(len: usize) -> u64 {
    (len.max(1).div_ceil(4) * 16) as u64
}

/// Workgroups for a grid-stride kernel over `n` elements.
fn stride_groups(n: usize) -> u32 {
    n.div_ceil(WORKGROUP).clamp(1, MAX_GROUPS) as u32
}

/// Workgroups for a one-thread-per-row kernel over `n` rows.
fn row_groups(n: usize) -> u32 {
    n.div_ceil(ROW_GROUP).max(1) as u32
}

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

/// The clip status buffer, (clip factor 1, healthy) until the first `clip_grad_norm`.
fn status_buffer(device: &wgpu::Device) -> wgpu::Buffer {
    device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
        label: Some("clip status"),
        contents: &f32_bytes(&[1.0, 1.0, 0.0, 0.0]),
        usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_DST,
    })
}

/// wgpu's "no adapter" message, less its clauses about backends this build never asked for: it
/// names every backend wgpu knows ("No suitable graphics adapter found; vulkan support not compiled
/// in, metal not requested, …"), while the learner needs only what happened to the ones it tried
/// ("webgpu found no adapters"). With none tried, its first sentence.
fn adapter_error_summary(message: &str) -> String {
    let irrelevant = ["support not compiled in", "not requested", "not explicitly enabled"];
    let Some((head, clauses)) = message.split_once("; ") else { return message.to_string() };
    let kept: Vec<&str> =
        clauses.split(", ").filter(|clause| !irrelevant.iter().any(|end| clause.ends_with(end))).collect();
    if kept.is_empty() {
        head.to_string()
    } else {
        kept.join(", ")
    }
}

impl GpuBackend {
    /// Finds an adapter and opens a device on it, waiting as [`wait::block_on`] does. In the browser
    /// that works only inside a suspendable worker turn ([`wait::can_wait`]); elsewhere it says so.
    pub fn new() -> Result<Self, GpuInitError> {
        if !wait::can_wait() {
            return Err(GpuInitError::NoAdapter(
                "this browser cannot wait for WebGPU inside the worker (it lacks JavaScript Promise Integration)"
                    .into(),
            ));
        }
        wait::block_on(Self::new_async())
    }

    /// Finds an adapter and opens a device on it, with the adapter's own limits.
    pub async fn new_async() -> Result<Self, GpuInitError> {
        let instance = wgpu::Instance::new(wgpu::InstanceDescriptor::new_without_display_handle_from_env());
        let adapter = instance
            .request_adapter(&wgpu::RequestAdapterOptions {
                power_preference: wgpu::PowerPreference::HighPerformance,
                ..Default::default()
            })
            .await
            .map_err(|e| GpuInitError::NoAdapter(adapter_error_summary(&e.to_string())))?;
        let limits = adapter.limits();
        if limits.max_compute_workgroup_storage_size < WORKGROUP_STORAGE_NEEDED
            || limits.max_compute_invocations_per_workgroup < WORKGROUP as u32
        {
            return Err(GpuInitError::Limits(format!(
                "{} bytes of workgroup memory and {} invocations per workgroup; the kernels need {} and {}",
                limits.max_compute_workgroup_storage_size,
                limits.max_compute_invocations_per_workgroup,
                WORKGROUP_STORAGE_NEEDED,
                WORKGROUP
            )));
        }
        let (device, queue) = adapter
            .request_device(&wgpu::DeviceDescriptor {
                label: Some("faultline"),
                required_limits: limits.clone(),
                ..Default::default()
            })
            .await
            .map_err(|e| GpuInitError::NoDevice(e.to_string()))?;
        let failure = Arc::new(Mutex::new(None::<String>));
        let slot = Arc::clone(&failure);
        device.on_uncaptured_error(Arc::new(move |e| {
            slot.lock()
                .unwrap_or_else(|e| e.into_inner())
                .get_or_insert_with(|| format!("the GPU reported an error: {e}"));
        }));
        let slot = Arc::clone(&failure);
        device.set_device_lost_callback(move |reason, message| {
            let why = format!("the GPU device was lost ({reason:?}: {message})");
            slot.lock().unwrap_or_else(|e| e.into_inner()).get_or_insert(why);
        });
        Ok(Self::on_device(device, queue, adapter.get_info(), limits, failure, PipelineCache::default()))
    }

    /// A backend on an open device, with nothing allocated or recorded yet: no budget, zeroed
    /// counters, a fresh clip status, and the failure slot the device's callbacks write to.
    fn on_device(
        device: wgpu::Device,
        queue: wgpu::Queue,
        adapter: wgpu::AdapterInfo,
        limits: wgpu::Limits,
        failure: Arc<Mutex<Option<String>>>,
        pipelines: PipelineCache,
    ) -> Self {
        Self {
            status: status_buffer(&device),
            device,
            queue,
            adapter,
            limits,
            pipelines,
            encoder: None,
            pass: None,
            params: ParamArena::default(),
            scratch: None,
            norms: None,
            unscaled: Vec::new(),
            kept: Vec::new(),
            budget: u64::MAX,
            used: 0,
            stats: GpuStatsHandle::default(),
            failure,
        }
    }

    /// A second backend on the same device: its own buffers, budget and counters, the pipelines
    /// compiled so far shared. Auto's calibration trains on one while the run keeps the other, so
    /// choosing a backend opens one device, not one per trial.
    pub fn sibling(&self) -> Self {
        Self::on_device(
            self.device.clone(),
            self.queue.clone(),
            self.adapter.clone(),
            self.limits.clone(),
            Arc::clone(&self.failure),
            self.pipelines.clone(),
        )
    }

    /// Takes over the pipelines `other` (a sibling) compiled, so this backend's first step does not
    /// compile them again.
    pub fn adopt_pipelines(&mut self, other: &GpuBackend) {
        if other.pipelines.len() > self.pipelines.len() {
            self.pipelines = other.pipelines.clone();
        }
    }

    /// The counters so far.
    pub fn stats(&self) -> GpuStats {
        self.stats.get()
    }

    /// A handle on the counters that stays valid when the backend moves into a `Trainer`.
    pub fn stats_handle(&self) -> GpuStatsHandle {
        self.stats.clone()
    }

    /// Whether the adapter is a software renderer running on the CPU (SwiftShader, lavapipe): it
    /// computes on the same cores as the CPU backend, without its SIMD kernels.
    pub fn is_software(&self) -> bool {
        self.adapter.device_type == wgpu::DeviceType::Cpu
    }

    /// The adapter's name, device type and driver backend (a browser names only some adapters).
    pub fn adapter_description(&self) -> String {
        let name = self.adapter.name.trim();
        let name = if name.is_empty() { "an unnamed adapter" } else { name };
        match (self.adapter.backend, self.adapter.device_type) {
            (wgpu::Backend::BrowserWebGpu, wgpu::DeviceType::Cpu) => format!("{name} (the browser's software GPU)"),
            (wgpu::Backend::BrowserWebGpu, _) => format!("{name} (the browser's WebGPU)"),
            (backend, kind) => format!("{name} ({kind:?}, {backend:?})"),
        }
    }

    /// Compute pipelines compiled so far (each kernel once).
    pub fn pipelines_compiled(&self) -> usize {
        self.pipelines.len()
    }

    /// The device, for what a driver reset or the browser reclaiming the GPU does to it
    /// (`destroy`: the tests lose the device this way).
    pub fn device(&self) -> &wgpu::Device {
        &self.device
    }

    /// The largest buffer, in bytes, a kernel can bind.
    pub fn max_buffer_bytes(&self) -> u64 {
        self.limits.max_storage_buffer_binding_size.min(self.limits.max_buffer_size)
    }

    /// The command encoder, for a copy or a clear: the open compute pass, if any, ends first. A
    /// caller that copies from or into a gradient first calls [`GpuBackend::scale_unscaled`] for it.
    fn encoder(&mut self) -> &mut wgpu::CommandEncoder {
        drop(self.pass.take());
        self.open_encoder()
    }

    /// The command encoder, created if there is none.
    fn open_encoder(&mut self) -> &mut wgpu::CommandEncoder {
        self.encoder
            .get_or_insert_with(|| self.device.create_command_encoder(&wgpu::CommandEncoderDescriptor::default()))
    }

    /// Records the clip scaling of the gradients still waiting for it that `used` picks.
    fn scale_unscaled(&mut self, used: impl Fn(&wgpu::Buffer) -> bool) {
        if self.unscaled.is_empty() {
            return;
        }
        let (due, waiting): (Vec<_>, Vec<_>) =
            std::mem::take(&mut self.unscaled).into_iter().partition(|(g, _)| used(g));
        self.unscaled = waiting;
        let status = self.status.clone();
        for (g, len) in due {
            let params = Params::default().u(len).u(0).f(0.0);
            self.record(Kernel::ClipScale, params, &[(1, &g), (3, &status)], (stride_groups(len), 1));
        }
    }

    /// Whether `grad` waits for its clip scaling, which the caller's kernel then applies; it no
    /// longer waits.
    fn take_unscaled(&mut self, grad: &wgpu::Buffer) -> bool {
        let waiting = self.unscaled.iter().position(|(g, _)| g == grad);
        waiting.map(|i| self.unscaled.swap_remove(i)).is_some()
    }

    fn submit(&mut self) {
        drop(self.pass.take());
        if let Some(enc) = self.encoder.take() {
            self.params.flush(&self.queue);
            self.queue.submit(Some(enc.finish()));
            self.stats.update(|s| s.submissions += 1);
        }
    }

    /// Records the first reason the GPU's results cannot be trusted any more.
    fn fail(&self, why: String) {
        self.failure.lock().unwrap_or_else(|e| e.into_inner()).get_or_insert(why);
    }

    /// Waits until the map requested with `done` as its callback's channel has finished; false (and
    /// the reason recorded for [`Backend::lost`]) when it failed or the device has failed before.
    fn wait_mapped(&self, done: &std::sync::mpsc::Receiver<Result<(), wgpu::BufferAsyncError>>) -> bool {
        #[cfg(not(target_arch = "wasm32"))]
        let result = match self.device.poll(wgpu::PollType::wait_indefinitely()) {
            Ok(_) => done.try_recv(),
            Err(e) => {
                self.fail(format!("the GPU device failed while waiting for its work: {e}"));
                return false;
            }
        };
        #[cfg(target_arch = "wasm32")]
        let result = loop {
            match done.try_recv() {
                Err(std::sync::mpsc::TryRecvError::Empty) => wait::suspend(),
                other => break other,
            }
        };
        match result {
            Ok(Ok(())) => self.lost().is_none(),
            Ok(Err(e)) => {
                self.fail(format!("reading a GPU buffer back failed: {e}"));
                false
            }
            Err(_) => {
                self.fail("the GPU readback never completed".into());
                false
            }
        }
    }

    fn storage(&self, len: usize, label: &str) -> wgpu::Buffer {
        self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some(label),
            size: byte_size(len),
            usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        })
    }

    /// A new storage buffer holding `bytes` (token ids, targets, data to copy), padded to whole words,
    /// at least one. It is written through the queue, which lands before the next submission; only
    /// commands recorded after its creation use it. Unlike a buffer mapped at creation this cannot
    /// panic on a lost device.
    fn constant(&mut self, bytes: &[u8], label: &str) -> wgpu::Buffer {
        self.stats.update(|s| s.bytes_uploaded += bytes.len() as u64);
        let size = bytes.len().div_ceil(4).max(1) * 4;
        let buffer = self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some(label),
            size: size as u64,
            usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        if size == bytes.len() {
            self.queue.write_buffer(&buffer, 0, bytes);
        } else {
            let mut padded = bytes.to_vec();
            padded.resize(size, 0);
            self.queue.write_buffer(&buffer, 0, &padded);
        }
        buffer
    }

    /// Records a copy of `data` into the start of `dst`, in order with the dispatches around it
    /// (`Queue::write_buffer` would land before everything recorded but not yet submitted).
    fn write(&mut self, dst: &wgpu::Buffer, data: &[f32]) {
        if data.is_empty() {
            return;
        }
        self.scale_unscaled(|g| g == dst);
        let staging = self.constant(&f32_bytes(data), "upload");
        self.encoder().copy_buffer_to_buffer(&staging, 0, dst, 0, (data.len() * 4) as u64);
    }

    /// Records one dispatch of `kernel` with `params` at binding 0 and `buffers` at their bindings,
    /// after the clip scaling of any gradient among them that still waits for it.
    fn dispatch(&mut self, kernel: Kernel, params: Params, buffers: &[(u32, &wgpu::Buffer)], groups: (u32, u32)) {
        self.scale_unscaled(|g| buffers.iter().any(|&(_, b)| b == g));
        self.record(kernel, params, buffers, groups);
    }

    /// Records `out = op(a) · op(b)` (or `+=`), with `bias` added to every row when given.
    fn product(&mut self, out: &GpuBuf, a: &GpuBuf, b: &GpuBuf, p: Product, bias: Option<&wgpu::Buffer>) {
        let Product { m, k, n, trans_a, trans_b, accumulate } = p;
        let params = Params::default().u(m).u(k).u(n).flag(trans_a).flag(trans_b).flag(accumulate).flag(bias.is_some());
        let groups = (n.div_ceil(MATMUL_TILE).max(1) as u32, m.div_ceil(MATMUL_TILE).max(1) as u32);
        // Without a bias the kernel never reads binding 6, which then holds a placeholder.
        let status = self.status.clone();
        let bias = bias.unwrap_or(&status);
        // vec4 loads need each operand's stored rows to be whole vec4s.
        let a_row = if trans_a { m } else { k };
        let b_row = if trans_b { k } else { n };
        if a_row.is_multiple_of(4) && b_row.is_multiple_of(4) {
            let buffers = [(1, &out.buffer), (4, &a.buffer), (5, &b.buffer), (6, bias)];
            self.dispatch(Kernel::MatmulVec4, params, &buffers, groups);
        } else {
            let buffers = [(1, &out.buffer), (2, &a.buffer), (3, &b.buffer), (6, bias)];
            self.dispatch(Kernel::Matmul, params, &buffers, groups);
        }
    }

    /// Records one dispatch, as [`GpuBackend::dispatch`] without the clip scaling.
    fn record(&mut self, kernel: Kernel, params: Params, buffers: &[(u32, &wgpu::Buffer)], groups: (u32, u32)) {
        let pipeline = self.pipelines.get(&self.device, kernel);
        let (block, offset) = self.params.push(&self.device, &params.bytes());
        let uniform = wgpu::BufferBinding { buffer: &block, offset, size: wgpu::BufferSize::new(PARAM_SLOT) };
        let mut entries = vec![wgpu::BindGroupEntry { binding: 0, resource: wgpu::BindingResource::Buffer(uniform) }];
        entries.extend(
            buffers.iter().map(|&(binding, b)| wgpu::BindGroupEntry { binding, resource: b.as_entire_binding() }),
        );
        let bind_group = self.device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: None,
            layout: &pipeline.get_bind_group_layout(0),
            entries: &entries,
        });
        if self.pass.is_none() {
            let pass = self.open_encoder().begin_compute_pass(&wgpu::ComputePassDescriptor::default());
            self.pass = Some(pass.forget_lifetime());
        }
        let pass = self.pass.as_mut().expect("a compute pass was opened just now");
        pass.set_pipeline(&pipeline);
        pass.set_bind_group(0, &bind_group, &[]);
        pass.dispatch_workgroups(groups.0, groups.1, 1);
        self.stats.update(|s| s.dispatches += 1);
    }

    /// Copies the first `len` f32 of `src` to the host: submits everything recorded and waits.
    fn read_back(&mut self, src: &wgpu::Buffer, len: usize) -> Vec<f32> {
        self.read_back_many(&[(src, len)]).pop().unwrap_or_default()
    }

    /// Copies the first `len` f32 of each buffer to the host in one transfer: one staging buffer,
    /// one submission of everything recorded, one wait.
    fn read_back_many(&mut self, parts: &[(&wgpu::Buffer, usize)]) -> Vec<Vec<f32>> {
        let bytes: u64 = parts.iter().map(|&(_, len)| (len * 4) as u64).sum();
        if bytes == 0 {
            return vec![Vec::new(); parts.len()];
        }
        let staging = self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("readback"),
            size: bytes,
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        self.scale_unscaled(|g| parts.iter().any(|&(src, _)| src == g));
        let mut offset = 0;
        for &(src, len) in parts {
            if len > 0 {
                self.encoder().copy_buffer_to_buffer(src, 0, &staging, offset, (len * 4) as u64);
            }
            offset += (len * 4) as u64;
        }
        self.submit();
        let (tx, rx) = std::sync::mpsc::channel();
        staging.slice(..).map_async(wgpu::MapMode::Read, move |r| {
            // The receiver waits below; it is gone only if this thread has already panicked.
            let _ = tx.send(r);
        });
        let data: Vec<f32> = if self.wait_mapped(&rx) {
            let view = staging.slice(..).get_mapped_range().expect("a buffer mapped just now");
            let data = view.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
            drop(view);
            staging.unmap();
            data
        } else {
            // Nothing came back: zeros of the right lengths keep the caller going until it asks
            // `lost()`, which says why these numbers mean nothing.
            vec![0.0; (bytes / 4) as usize]
        };
        self.stats.update(|s| {
            s.readbacks += 1;
            s.bytes_read_back += bytes;
        });
        let mut rest = data.as_slice();
        parts
            .iter()
            .map(|&(_, len)| {
                let (part, tail) = rest.split_at(len);
                rest = tail;
                part.to_vec()
            })
            .collect()
    }

    fn scratch(&mut self, len: usize) -> wgpu::Buffer {
        match &self.scratch {
            Some(b) if b.size() >= byte_size(len) => b.clone(),
            _ => {
                let b = self.storage(len, "attention scratch");
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
        self.failure.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn zeros(&mut self, len: usize) -> GpuBuf {
        // wgpu zero-initialises new buffers.
        GpuBuf { buffer: self.storage(len, "zeros"), len }
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
        let scope = self.device.push_error_scope(wgpu::ErrorFilter::OutOfMemory);
        let buffer = self.storage(len, what);
        if wait::block_on(scope.pop()).is_some() {
            return Err(EngineError::OutOfMemory {
                requested_bytes: self.used.saturating_add(bytes),
                budget_bytes: self.used,
                what: format!("{what} (the GPU has no memory left)"),
            });
        }
        self.used += bytes;
        Ok(GpuBuf { buffer, len })
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
        self.write(&buf.buffer, &data[..n]);
    }

    fn download(&mut self, buf: &GpuBuf) -> Vec<f32> {
        self.read_back(&buf.buffer, buf.len)
    }

    fn fill(&mut self, buf: &mut GpuBuf, value: f32) {
        if value.to_bits() == 0 {
            // A cleared gradient needs no scaling: it no longer waits for one.
            self.take_unscaled(&buf.buffer);
            self.encoder().clear_buffer(&buf.buffer, 0, None);
        } else {
            let params = Params::default().u(buf.len).u(0).f(value);
            self.dispatch(Kernel::Fill, params, &[(1, &buf.buffer)], (stride_groups(buf.len), 1));
        }
    }

    fn copy(&mut self, dst: &mut GpuBuf, src: &GpuBuf) {
        let n = dst.len.min(src.len);
        if n > 0 {
            self.scale_unscaled(|g| *g == src.buffer || *g == dst.buffer);
            self.encoder().copy_buffer_to_buffer(&src.buffer, 0, &dst.buffer, 0, (n * 4) as u64);
        }
    }

    fn add_assign(&mut self, dst: &mut GpuBuf, src: &GpuBuf) {
        let n = dst.len.min(src.len);
        let params = Params::default().u(n).u(0).f(0.0);
        self.dispatch(Kernel::AddAssign, params, &[(1, &dst.buffer), (2, &src.buffer)], (stride_groups(n), 1));
    }

    fn scale(&mut self, buf: &mut GpuBuf, s: f32) {
        let params = Params::default().u(buf.len).u(0).f(s);
        self.dispatch(Kernel::Scale, params, &[(1, &buf.buffer)], (stride_groups(buf.len), 1));
    }

    fn sum_squares(&mut self, buf: &GpuBuf, len: usize) -> f64 {
        let groups = len.div_ceil(WORKGROUP).clamp(1, REDUCE_GROUPS);
        let partials = self.storage(4 * groups, "sum of squares");
        let params = Params::default().u(len).u(0).u(0).f(0.0);
        self.dispatch(Kernel::SumSquares, params, &[(1, &partials), (2, &buf.buffer)], (groups as u32, 1));
        let parts = self.read_back(&partials, 4 * groups);
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
        self.product(out, x, w, product, Some(&bias.buffer));
    }

    fn add_bias(&mut self, out: &mut GpuBuf, bias: &GpuBuf, rows: usize, cols: usize) {
        let params = Params::default().u(rows * cols).u(cols).f(0.0);
        let groups = (stride_groups(rows * cols), 1);
        self.dispatch(Kernel::AddBias, params, &[(1, &out.buffer), (2, &bias.buffer)], groups);
    }

    fn bias_backward(&mut self, dbias: &mut GpuBuf, dout: &GpuBuf, rows: usize, cols: usize) {
        let params = Params::default().u(rows).u(cols);
        let groups = (cols.div_ceil(WORKGROUP).max(1) as u32, 1);
        self.dispatch(Kernel::BiasBackward, params, &[(1, &dbias.buffer), (2, &dout.buffer)], groups);
    }

    fn embed(&mut self, out: &mut GpuBuf, wte: &GpuBuf, wpe: &GpuBuf, tokens: &[u32], time: usize, d: usize) {
        let toks = self.constant(&u32_bytes(tokens), "tokens");
        let params = Params::default().u(tokens.len()).u(time).u(d).u(wte.len / d.max(1));
        let buffers = [(1, &out.buffer), (2, &wte.buffer), (3, &wpe.buffer), (4, &toks)];
        self.dispatch(Kernel::Embed, params, &buffers, (stride_groups(tokens.len() * d), 1));
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
        let toks = self.constant(&u32_bytes(tokens), "tokens");
        let vocab = dwte.len / d.max(1);
        let params = || Params::default().u(tokens.len()).u(time).u(d).u(vocab);
        let buffers = [(1, &dwte.buffer), (2, &dout.buffer), (4, &toks)];
        self.dispatch(Kernel::EmbedBackwardTokens, params(), &buffers, (stride_groups(vocab * d), 1));
        let buffers = [(1, &dwpe.buffer), (2, &dout.buffer)];
        self.dispatch(Kernel::EmbedBackwardPositions, params(), &buffers, (stride_groups(time * d), 1));
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
        let buffers = [
            (1, &out.buffer),
            (2, &mean.buffer),
            (3, &rstd.buffer),
            (4, &x.buffer),
            (5, &gain.buffer),
            (6, &bias.buffer),
        ];
        self.dispatch(Kernel::Layernorm, params, &buffers, (row_groups(rows), 1));
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
        let buffers = [
            (7, &dx.buffer),
            (10, &dout.buffer),
            (4, &x.buffer),
            (11, &mean.buffer),
            (12, &rstd.buffer),
            (5, &gain.buffer),
        ];
        self.dispatch(Kernel::LayernormBackwardInput, params(), &buffers, (row_groups(rows), 1));
        let buffers = [
            (8, &dgain.buffer),
            (9, &dbias.buffer),
            (10, &dout.buffer),
            (4, &x.buffer),
            (11, &mean.buffer),
            (12, &rstd.buffer),
        ];
        self.dispatch(Kernel::LayernormBackwardParams, params(), &buffers, (row_groups(cols), 1));
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
        let buffers = [(1, &out.buffer), (2, &probs.buffer), (3, &qkv.buffer)];
        let rows = shape.batch * shape.heads * shape.time;
        self.dispatch(Kernel::Attention, params, &buffers, (row_groups(rows), 1));
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
        let buffers = [(5, &ds), (6, &dout.buffer), (3, &qkv.buffer), (7, &probs.buffer)];
        let rows = shape.batch * shape.heads * shape.time;
        self.dispatch(Kernel::AttentionBackwardScores, params(), &buffers, (row_groups(rows), 1));
        let buffers = [(4, &dqkv.buffer), (5, &ds), (6, &dout.buffer), (3, &qkv.buffer), (7, &probs.buffer)];
        let n = shape.batch * shape.time * 3 * shape.d_model;
        self.dispatch(Kernel::AttentionBackwardQkv, params(), &buffers, (stride_groups(n), 1));
    }

    fn activation(&mut self, out: &mut GpuBuf, x: &GpuBuf, len: usize, f: Activation) {
        let params = Params::default().u(len).u(activation_id(f));
        self.dispatch(Kernel::Activation, params, &[(1, &out.buffer), (2, &x.buffer)], (stride_groups(len), 1));
    }

    fn activation_backward(&mut self, dx: &mut GpuBuf, dout: &GpuBuf, x: &GpuBuf, len: usize, f: Activation) {
        let params = Params::default().u(len).u(activation_id(f));
        let buffers = [(1, &dx.buffer), (2, &x.buffer), (3, &dout.buffer)];
        self.dispatch(Kernel::ActivationBackward, params, &buffers, (stride_groups(len), 1));
    }

    fn dropout_mask(&mut self, mask: &mut GpuBuf, len: usize, p: f32, seed: u64) {
        // The CPU's sequential generator, run on the host and uploaded, so both backends drop the
        // same units for the same seed.
        let mut rng = Rng::new(seed);
        let keep = (1.0 / (1.0 - p as f64)) as f32;
        let values: Vec<f32> =
            (0..len.min(mask.len)).map(|_| if rng.uniform() < p as f64 { 0.0 } else { keep }).collect();
        self.write(&mask.buffer, &values);
    }

    fn mul_assign(&mut self, x: &mut GpuBuf, mask: &GpuBuf, len: usize) {
        let params = Params::default().u(len).u(0).f(0.0);
        self.dispatch(Kernel::MulAssign, params, &[(1, &x.buffer), (2, &mask.buffer)], (stride_groups(len), 1));
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
        let targets = self.constant(&u32_bytes(&targets[..rows]), "targets");
        let params = Params::default().u(rows).u(vocab).flag(form.subtract_max).flag(form.log_softmax);
        let buffers = [(1, &losses.buffer), (2, &dlogits.buffer), (3, &logits.buffer), (4, &targets)];
        self.dispatch(Kernel::CrossEntropy, params, &buffers, (row_groups(rows), 1));
    }

    fn clip_grad_norm(
        &mut self,
        grads: &mut (impl TensorsMut<GpuBuf> + ?Sized),
        losses: &(impl Tensors<GpuBuf> + ?Sized),
        max_norm: f32,
    ) {
        // Every gradient, then every loss buffer, reduced into its slot of partial sums (up to
        // REDUCE_GROUPS workgroups each, as `sum_squares`), combined per slot and over the gradients
        // by one workgroup, which writes the clip factor and the health flag to `status`. The
        // gradients are scaled by it later: by the update, or before anything else uses them. Any
        // still waiting from an earlier call are scaled first, by the factor they were clipped with.
        self.scale_unscaled(|_| true);
        let slots: Vec<(wgpu::Buffer, usize)> = grads
            .each()
            .map(|g| (g.buffer.clone(), g.len))
            .chain(losses.each().map(|l| (l.buffer.clone(), l.len)))
            .collect();
        let gradients = grads.each().count();
        let stride = 4 * REDUCE_GROUPS;
        let partials = self.storage(stride * slots.len(), "partial sums of squares");
        for (i, (buffer, len)) in slots.iter().enumerate() {
            let groups = len.div_ceil(WORKGROUP).clamp(1, REDUCE_GROUPS) as u32;
            let params = Params::default().u(*len).u(0).u(i * stride).f(0.0);
            self.dispatch(Kernel::SumSquares, params, &[(1, &partials), (2, buffer)], (groups, 1));
        }
        let norms = self.storage(4 * slots.len(), "sums of squares");
        let status = self.status.clone();
        let params = Params::default().u(slots.len()).u(gradients).u(stride).f(max_norm);
        self.dispatch(Kernel::GlobalNorm, params, &[(1, &norms), (2, &partials), (3, &status)], (1, 1));
        self.unscaled = grads.each().map(|g| (g.buffer.clone(), g.len)).collect();
        self.norms = Some((norms, gradients));
    }

    fn keep_step(&mut self, losses: &(impl Tensors<GpuBuf> + ?Sized)) {
        let lens: Vec<usize> = losses.each().map(|l| l.len).collect();
        let gradients = self.norms.as_ref().map_or(0, |(_, g)| *g);
        let buffer = self.storage(KeptStep::floats(&lens, gradients), "kept step");
        let mut offset = 0;
        for l in losses.each() {
            if l.len > 0 {
                self.encoder().copy_buffer_to_buffer(&l.buffer, 0, &buffer, offset, (l.len * 4) as u64);
            }
            offset += (l.len * 4) as u64;
        }
        if let Some((norms, g)) = self.norms.clone() {
            self.encoder().copy_buffer_to_buffer(&norms, 0, &buffer, offset, (g * 16) as u64);
        }
        self.kept.push(KeptStep { buffer, losses: lens, gradients });
    }

    fn read_steps(&mut self, out: &mut Vec<StepReadout>) {
        let kept = std::mem::take(&mut self.kept);
        let parts: Vec<(&wgpu::Buffer, usize)> = kept.iter().map(|k| (&k.buffer, k.len())).collect();
        let read = self.read_back_many(&parts);
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
        // A fresh stretch: the next step's updates run unless it is unhealthy itself.
        let status = self.status.clone();
        self.write(&status, &[1.0, 1.0, 0.0, 0.0]);
    }

    fn adamw_update(&mut self, param: &mut GpuBuf, grad: &GpuBuf, m: &mut GpuBuf, v: &mut GpuBuf, h: AdamW) {
        // Bias corrections in f32 with powi, as the CPU computes them.
        let bias1 = 1.0 - h.beta1.powi(h.step as i32);
        let clip = self.take_unscaled(&grad.buffer);
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
            .flag(clip);
        let status = self.status.clone();
        let buffers = [(1, &param.buffer), (2, &grad.buffer), (3, &m.buffer), (4, &v.buffer), (5, &status)];
        self.dispatch(Kernel::AdamW, params, &buffers, (stride_groups(param.len), 1));
    }

    fn sgd_update(&mut self, param: &mut GpuBuf, grad: &GpuBuf, velocity: &mut GpuBuf, h: Sgd) {
        let clip = self.take_unscaled(&grad.buffer);
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
            .flag(clip);
        let status = self.status.clone();
        let buffers = [(1, &param.buffer), (2, &grad.buffer), (3, &velocity.buffer), (5, &status)];
        self.dispatch(Kernel::Sgd, params, &buffers, (stride_groups(param.len), 1));
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

#[cfg(test)]
mod tests {
    use super::adapter_error_summary;

    #[test]
    fn an_adapter_error_keeps_only_the_backends_that_were_tried() {
        let browser = "No suitable graphics adapter found; noop not explicitly enabled, vulkan support not compiled \
                       in, metal support not compiled in, dx12 support not compiled in, gl support not compiled in, \
                       webgpu found no adapters";
        assert_eq!(adapter_error_summary(browser), "webgpu found no adapters");
        let nothing_tried = "No suitable graphics adapter found; noop not requested, vulkan not requested";
        assert_eq!(adapter_error_summary(nothing_tried), "No suitable graphics adapter found");
        assert_eq!(adapter_error_summary("WGPU_ADAPTER_NAME not set"), "WGPU_ADAPTER_NAME not set");
    }
}
