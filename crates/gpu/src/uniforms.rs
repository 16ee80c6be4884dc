//! Kernel parameters and the arena that carries them to the GPU: every dispatch's uniforms take a
//! slot of a uniform buffer kept for the whole run.

/// The uniform parameters of one dispatch, as 32-bit words in the WGSL struct's field order.
#[derive(Default)]
pub(crate) struct Params(Vec<u32>);

impl Params {
    pub(crate) fn u(mut self, v: usize) -> Self {
        self.0.push(v as u32);
        self
    }
    pub(crate) fn flag(mut self, v: bool) -> Self {
        self.0.push(v as u32);
        self
    }
    pub(crate) fn f(mut self, v: f32) -> Self {
        self.0.push(v.to_bits());
        self
    }
    /// Little-endian bytes, padded to a multiple of 16 as uniform buffers require.
    pub(crate) fn bytes(&self) -> Vec<u8> {
        let mut b: Vec<u8> = self.0.iter().flat_map(|w| w.to_le_bytes()).collect();
        b.resize(b.len().div_ceil(16).max(1) * 16, 0);
        b
    }
}

/// Bytes of one dispatch's parameters in the arena: WebGPU's largest uniform offset alignment, so any
/// adapter accepts every slot's offset. Each kernel's `Params` struct is far smaller.
pub(crate) const PARAM_SLOT: u64 = 256;
/// Slots per uniform buffer of the arena (256 KiB each).
const PARAM_SLOTS_PER_BLOCK: u64 = 1024;

/// Every dispatch's parameters between two submissions, in slots of uniform buffers kept for the whole
/// run. A dispatch takes the next slot; the slots' bytes gather on the host and reach the GPU as one
/// queue write per buffer, which lands before the submission that reads them (and after the
/// previous one, which read the slots before). One buffer and one write per thousand dispatches,
/// not one of each per dispatch.
#[derive(Default)]
pub(crate) struct ParamArena {
    blocks: Vec<wgpu::Buffer>,
    /// The used slots' bytes, slot after slot.
    host: Vec<u8>,
}

impl ParamArena {
    /// Takes the next slot for `bytes` (at most [`PARAM_SLOT`]): its buffer and offset.
    pub(crate) fn push(&mut self, device: &wgpu::Device, bytes: &[u8]) -> (wgpu::Buffer, u64) {
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
    pub(crate) fn flush(&mut self, queue: &wgpu::Queue) {
        let block_bytes = (PARAM_SLOT * PARAM_SLOTS_PER_BLOCK) as usize;
        for (buffer, bytes) in self.blocks.iter().zip(self.host.chunks(block_bytes)) {
            queue.write_buffer(buffer, 0, bytes);
        }
        self.host.clear();
    }
}
