//! Gradient clipping on the GPU, and its deferred scaling.
//!
//! `clip_grad_norm` computes the clip factor in a kernel and writes it, with the step's health, to
//! the status buffer; it leaves the gradients waiting for the factor. The optimiser's update scales
//! each as it reads it, one dispatch instead of two; anything else that uses one first records its
//! `clip_scale`, and clearing one drops its wait.

use crate::encoder::{f32_bytes, Recorder};
use crate::kernels::{stride_groups, Kernel};
use crate::uniforms::Params;
use wgpu::util::DeviceExt;

/// The clip status, the last clip's sums of squares, and the gradients waiting for their scaling.
pub(crate) struct Clipping {
    /// (clip factor, healthy) of the last `clip_grad_norm`, read by the clip and optimiser kernels;
    /// (1, healthy) until the first.
    pub(crate) status: wgpu::Buffer,
    /// The last `clip_grad_norm`'s (scale, ssq, saw NaN, saw Inf) per slot, and how many of the
    /// slots are gradients, for `keep_step`.
    pub(crate) norms: Option<(wgpu::Buffer, usize)>,
    /// Gradients (buffer, length) `clip_grad_norm` has yet to scale by the clip factor.
    pub(crate) unscaled: Vec<(wgpu::Buffer, usize)>,
}

impl Clipping {
    /// A fresh clip status, (clip factor 1, healthy), and nothing waiting.
    pub(crate) fn new(device: &wgpu::Device) -> Self {
        let status = device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: Some("clip status"),
            contents: &f32_bytes(&[1.0, 1.0, 0.0, 0.0]),
            usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_DST,
        });
        Self { status, norms: None, unscaled: Vec::new() }
    }

    /// Records the clip scaling of the gradients still waiting for it that `used` picks.
    pub(crate) fn scale_unscaled(&mut self, rec: &mut Recorder, used: impl Fn(&wgpu::Buffer) -> bool) {
        if self.unscaled.is_empty() {
            return;
        }
        let (due, waiting): (Vec<_>, Vec<_>) =
            std::mem::take(&mut self.unscaled).into_iter().partition(|(g, _)| used(g));
        self.unscaled = waiting;
        for (g, len) in due {
            let params = Params::default().u(len).u(0).f(0.0);
            rec.record(Kernel::ClipScale, params, &[(1, &g), (3, &self.status)], (stride_groups(len), 1));
        }
    }

    /// Whether `grad` waits for its clip scaling, which the caller's kernel then applies; it no
    /// longer waits.
    pub(crate) fn take_unscaled(&mut self, grad: &wgpu::Buffer) -> bool {
        let waiting = self.unscaled.iter().position(|(g, _)| g == grad);
        waiting.map(|i| self.unscaled.swap_remove(i)).is_some()
    }
}
