//! Gradient clipping on the GPU, and the deferred scaling it leaves behind.
//!
//! `clip_grad_norm` computes the clip factor in a kernel and writes it, with the step's health, to
//! the status buffer; it does not scale the gradients. Each stays [`Waiting`] for the factor until
//! the optimiser's update scales it as it reads it (one dispatch instead of two), or something else
//! uses it, which first records its `clip_scale`, or a clear zeroes it, which drops the wait.
//!
//! The compiler keeps that order, not the call sites: a tensor's wgpu buffer is private to this
//! module ([`GpuBuf`]), and a command reaches it only through [`Clipping::ready`] (which scales a
//! waiting gradient first), [`Clipping::for_update`] (the update, the one reader of a waiting
//! gradient's raw values, told that it waited) or [`Clipping::clear`] (which drops the wait). This
//! module itself binds tensors' buffers directly in one place: `clip_grad_norm`'s reductions, after
//! it has scaled every gradient still waiting.

use crate::encoder::Recorder;
use crate::kernels::{elementwise, reduce, stride_groups, REDUCE_GROUPS, WORKGROUP};
use faultline_engine::backend::Tensors;
use wgpu::util::DeviceExt;

/// A buffer of `len` f32 in GPU memory: one of the engine's tensors.
///
/// Its wgpu buffer is reachable only through the clip module's `Clipping`, so that no command can
/// read a gradient that still waits for its clip factor.
#[derive(Debug)]
pub struct GpuBuf {
    buffer: wgpu::Buffer,
    pub(crate) len: usize,
}

impl GpuBuf {
    pub(crate) fn new(buffer: wgpu::Buffer, len: usize) -> Self {
        Self { buffer, len }
    }
}

/// A buffer a command binds or copies.
#[derive(Clone, Copy)]
pub(crate) enum Operand<'a> {
    /// One of the engine's tensors: it may be a gradient waiting for its clip factor.
    Tensor(&'a GpuBuf),
    /// A buffer that waits for nothing: one of the backend's own (scratch, constants, partial sums,
    /// the clip status), or a tensor's that has been through [`Clipping`].
    Ready(&'a wgpu::Buffer),
}

impl<'a> From<&'a GpuBuf> for Operand<'a> {
    fn from(buf: &'a GpuBuf) -> Self {
        Operand::Tensor(buf)
    }
}

impl<'a> From<&'a mut GpuBuf> for Operand<'a> {
    fn from(buf: &'a mut GpuBuf) -> Self {
        Operand::Tensor(buf)
    }
}

/// A gradient `clip_grad_norm` has yet to scale by the clip factor it wrote to the status buffer.
/// Its buffer leaves this value scaled ([`Waiting::scale`]), read by the update that applies the
/// factor ([`Clipping::for_update`]), or cleared ([`Clipping::clear`]).
struct Waiting {
    buffer: wgpu::Buffer,
    len: usize,
}

impl Waiting {
    fn of(buf: &GpuBuf) -> Self {
        Self { buffer: buf.buffer.clone(), len: buf.len }
    }

    /// Records the gradient's `clip_scale` by the factor in `status`.
    fn scale(self, rec: &mut Recorder, status: &wgpu::Buffer) {
        use elementwise::Slot;
        let uniforms = elementwise::LenUniforms { len: self.len as u32 };
        let buffers = [(Slot::X, &self.buffer), (Slot::Status, status)];
        rec.record(elementwise::ClipScale, uniforms, buffers, (stride_groups(self.len), 1));
    }
}

/// A gradient as the optimiser's update reads it.
pub(crate) struct ForUpdate<'a> {
    /// Its buffer, bound as the update's gradient.
    pub(crate) buffer: &'a wgpu::Buffer,
    /// Whether it waited for the clip factor: the update then applies the factor as it reads each
    /// element and writes the product back, the multiplication `clip_scale` would have done.
    pub(crate) waited: bool,
}

/// The clip status, the last clip's sums of squares, and the gradients waiting for their scaling.
pub(crate) struct Clipping {
    /// (clip factor, healthy) of the last `clip_grad_norm`, read by the clip and optimiser kernels;
    /// (1, healthy) until the first.
    status: wgpu::Buffer,
    /// The last `clip_grad_norm`'s (scale, ssq, saw NaN, saw Inf) per slot, and how many of the
    /// slots are gradients, for `keep_step`.
    norms: Option<(wgpu::Buffer, usize)>,
    waiting: Vec<Waiting>,
}

impl Clipping {
    /// A fresh clip status, (clip factor 1, healthy), and nothing waiting.
    pub(crate) fn new(device: &wgpu::Device) -> Self {
        let status = device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: Some("clip status"),
            contents: bytemuck::cast_slice(&[1.0f32, 1.0, 0.0, 0.0]),
            usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_DST,
        });
        Self { status, norms: None, waiting: Vec::new() }
    }

    /// The status buffer, (clip factor, healthy), for the kernels that read it.
    pub(crate) fn status(&self) -> &wgpu::Buffer {
        &self.status
    }

    /// The last clip's (scale, ssq, saw NaN, saw Inf) per slot and how many slots are gradients.
    pub(crate) fn norms(&self) -> Option<(&wgpu::Buffer, usize)> {
        self.norms.as_ref().map(|(b, g)| (b, *g))
    }

    /// Records the status's return to (1, healthy): a fresh stretch, whose updates run unless a step
    /// in it is unhealthy itself.
    pub(crate) fn reset_health(&self, rec: &mut Recorder) {
        rec.write(&self.status, &[1.0, 1.0, 0.0, 0.0]);
    }

    /// The buffer behind `op`, for a command that binds or copies it. A gradient still waiting for
    /// its clip factor has its scaling recorded first.
    pub(crate) fn ready<'a>(&mut self, rec: &mut Recorder, op: impl Into<Operand<'a>>) -> &'a wgpu::Buffer {
        match op.into() {
            Operand::Ready(buffer) => buffer,
            Operand::Tensor(buf) => {
                if let Some(i) = self.waiting.iter().position(|w| w.buffer == buf.buffer) {
                    self.waiting.remove(i).scale(rec, &self.status);
                }
                &buf.buffer
            }
        }
    }

    /// The gradient the optimiser's update reads: the one use of a waiting gradient's buffer that
    /// does not scale it first, since the update applies the factor itself. It no longer waits.
    pub(crate) fn for_update<'a>(&mut self, grad: &'a GpuBuf) -> ForUpdate<'a> {
        let waiting = self.waiting.iter().position(|w| w.buffer == grad.buffer);
        let waited = waiting.map(|i| self.waiting.swap_remove(i)).is_some();
        ForUpdate { buffer: &grad.buffer, waited }
    }

    /// The buffer of `buf`, for a command that zeroes it all: a cleared gradient needs no scaling,
    /// so it no longer waits.
    pub(crate) fn clear<'a>(&mut self, buf: &'a GpuBuf) -> &'a wgpu::Buffer {
        if let Some(i) = self.waiting.iter().position(|w| w.buffer == buf.buffer) {
            self.waiting.swap_remove(i);
        }
        &buf.buffer
    }

    /// Records the clip of `grads` to `max_norm` by their global norm, with the sums of squares of
    /// `losses` alongside (for `keep_step`). Every gradient, then every loss buffer, is reduced into
    /// its slot of partial sums (up to [`REDUCE_GROUPS`] workgroups each, as `sum_squares`), combined
    /// per slot and over the gradients by one workgroup, which writes the clip factor and the health
    /// flag to the status buffer. The gradients then wait for the factor. Any still waiting from an
    /// earlier call are scaled first, by the factor they were clipped with.
    pub(crate) fn clip_grad_norm(
        &mut self,
        rec: &mut Recorder,
        grads: &(impl Tensors<GpuBuf> + ?Sized),
        losses: &(impl Tensors<GpuBuf> + ?Sized),
        max_norm: f32,
    ) {
        for w in std::mem::take(&mut self.waiting) {
            w.scale(rec, &self.status);
        }
        let gradients = grads.each().count();
        let slots = gradients + losses.each().count();
        let stride = 4 * REDUCE_GROUPS;
        let partials = rec.storage(stride * slots, "partial sums of squares");
        for (i, buf) in grads.each().chain(losses.each()).enumerate() {
            let groups = buf.len.div_ceil(WORKGROUP).clamp(1, REDUCE_GROUPS) as u32;
            let uniforms = reduce::SumSquaresUniforms { len: buf.len as u32, offset: (i * stride) as u32 };
            let buffers = [(reduce::Slot::Out, &partials), (reduce::Slot::X, &buf.buffer)];
            rec.record(reduce::SumSquares, uniforms, buffers, (groups, 1));
        }
        let norms = rec.storage(4 * slots, "sums of squares");
        let uniforms = reduce::GlobalNormUniforms {
            slots: slots as u32,
            gradients: gradients as u32,
            stride: stride as u32,
            max_norm,
        };
        let buffers = [(reduce::Slot::Out, &norms), (reduce::Slot::X, &partials), (reduce::Slot::Status, &self.status)];
        rec.record(reduce::GlobalNorm, uniforms, buffers, (1, 1));
        self.waiting = grads.each().map(Waiting::of).collect();
        self.norms = Some((norms, gradients));
    }
}
