//! Recording and reading back: the command encoder and its open compute pass, buffer creation and
//! uploads, the submission that carries everything recorded, and the readbacks that wait for it.

use crate::kernels::{EntryPoint, PipelineCache};
use crate::stats::GpuStatsHandle;
use crate::uniforms::{UniformArena, Uniforms, UNIFORM_SLOT};
use std::sync::{Arc, Mutex};

/// Bytes of a buffer of `len` f32: a whole number of vec4s (at least one), so any buffer can be
/// bound as `array<vec4<f32>>` and none is empty, which wgpu cannot bind.
pub(crate) fn byte_size(len: usize) -> u64 {
    (len.max(1).div_ceil(4) * 16) as u64
}

/// What records commands on one device and reads their results back. Nothing is submitted until a
/// readback needs the results.
pub(crate) struct Recorder {
    pub(crate) device: wgpu::Device,
    queue: wgpu::Queue,
    pub(crate) pipelines: PipelineCache,
    /// The compute pass consecutive dispatches are recorded in, open until a copy, a clear or a
    /// submission needs the encoder (wgpu still orders the dispatches inside it). Declared before the
    /// encoder, so a recorder dropped mid-recording ends its pass before the encoder goes.
    pass: Option<wgpu::ComputePass<'static>>,
    encoder: Option<wgpu::CommandEncoder>,
    /// The uniforms of the dispatches recorded since the last submission.
    uniforms: UniformArena,
    pub(crate) stats: GpuStatsHandle,
    /// The first failure since which the GPU's results cannot be trusted: an error the device
    /// reported outside any error scope (a kernel the browser's WebGPU refused), a lost device, a
    /// failed readback. Readbacks return zeros from then on.
    pub(crate) failure: Arc<Mutex<Option<String>>>,
}

impl Recorder {
    /// A recorder on an open device, with nothing recorded yet, zeroed counters, and the failure
    /// slot the device's callbacks write to.
    pub(crate) fn new(
        device: wgpu::Device,
        queue: wgpu::Queue,
        pipelines: PipelineCache,
        failure: Arc<Mutex<Option<String>>>,
    ) -> Self {
        Self {
            device,
            queue,
            pipelines,
            pass: None,
            encoder: None,
            uniforms: UniformArena::default(),
            stats: GpuStatsHandle::default(),
            failure,
        }
    }

    /// A recorder on the same device and queue, sharing the failure slot and the pipelines compiled
    /// so far, with nothing recorded and its own counters.
    pub(crate) fn sibling(&self) -> Self {
        Self::new(self.device.clone(), self.queue.clone(), self.pipelines.clone(), Arc::clone(&self.failure))
    }

    /// The first reason the GPU's results cannot be trusted, if any.
    pub(crate) fn lost(&self) -> Option<String> {
        self.failure.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Records the first reason the GPU's results cannot be trusted any more.
    fn fail(&self, why: String) {
        self.failure.lock().unwrap_or_else(|e| e.into_inner()).get_or_insert(why);
    }

    /// The command encoder, for a copy or a clear: the open compute pass, if any, ends first.
    pub(crate) fn encoder(&mut self) -> &mut wgpu::CommandEncoder {
        drop(self.pass.take());
        self.open_encoder()
    }

    /// The command encoder, created if there is none.
    fn open_encoder(&mut self) -> &mut wgpu::CommandEncoder {
        self.encoder
            .get_or_insert_with(|| self.device.create_command_encoder(&wgpu::CommandEncoderDescriptor::default()))
    }

    /// Records one dispatch of `entry` with `uniforms` and `buffers` at their bindings.
    pub(crate) fn record<E: EntryPoint, const N: usize>(
        &mut self,
        _entry: E,
        uniforms: E::Uniforms,
        buffers: [(E::Slot, &wgpu::Buffer); N],
        groups: (u32, u32),
    ) {
        let pipeline = self.pipelines.get::<E>(&self.device);
        let (block, offset) = self.uniforms.push(&self.device, &uniforms);
        let uniform = wgpu::BufferBinding { buffer: &block, offset, size: wgpu::BufferSize::new(UNIFORM_SLOT) };
        let mut entries = Vec::with_capacity(N + 1);
        entries.push(wgpu::BindGroupEntry {
            binding: <E::Uniforms as Uniforms>::BINDING,
            resource: wgpu::BindingResource::Buffer(uniform),
        });
        entries.extend(
            buffers.map(|(slot, b)| wgpu::BindGroupEntry { binding: slot.into(), resource: b.as_entire_binding() }),
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

    fn submit(&mut self) {
        drop(self.pass.take());
        if let Some(enc) = self.encoder.take() {
            self.uniforms.flush(&self.queue);
            self.queue.submit(Some(enc.finish()));
            self.stats.update(|s| s.submissions += 1);
        }
    }

    /// A new zeroed storage buffer of `len` f32 (wgpu zero-initialises new buffers).
    pub(crate) fn storage(&self, len: usize, label: &str) -> wgpu::Buffer {
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
    pub(crate) fn constant(&mut self, bytes: &[u8], label: &str) -> wgpu::Buffer {
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
    pub(crate) fn write(&mut self, dst: &wgpu::Buffer, data: &[f32]) {
        if data.is_empty() {
            return;
        }
        let staging = self.constant(bytemuck::cast_slice(data), "upload");
        self.encoder().copy_buffer_to_buffer(&staging, 0, dst, 0, (data.len() * 4) as u64);
    }

    /// Waits until the map requested with `done` as its callback's channel has finished; false (and
    /// the reason recorded for [`Recorder::lost`]) when it failed or the device has failed before.
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
                Err(std::sync::mpsc::TryRecvError::Empty) => crate::wait::suspend(),
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

    /// Copies the first `len` f32 of `src` to the host: submits everything recorded and waits.
    pub(crate) fn read_back(&mut self, src: &wgpu::Buffer, len: usize) -> Vec<f32> {
        self.read_back_many(&[(src, len)]).pop().unwrap_or_default()
    }

    /// Copies the first `len` f32 of each buffer to the host in one transfer: one staging buffer,
    /// one submission of everything recorded, one wait.
    pub(crate) fn read_back_many(&mut self, parts: &[(&wgpu::Buffer, usize)]) -> Vec<Vec<f32>> {
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
}
