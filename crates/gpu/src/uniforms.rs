//! Kernel uniforms and the arena that carries them to the GPU.
//!
//! Each kernel's uniforms are a `#[repr(C)]` struct of 4-byte scalars ([`Uniforms`]), declared with
//! [`uniform_struct!`] beside the kernel's entry points, field for field as the struct of its WGSL
//! `var<uniform>`, which the layout test (`kernels/uniform_layout.rs`) checks with naga. A dispatch
//! copies the struct's bytes into the next slot of a uniform buffer kept for the whole run.

/// A kernel's uniform struct. `Pod` lets its bytes be copied as they lie in memory (the targets,
/// x86-64 natively and wasm32 in the browser, are little-endian, as WebGPU's buffers are), and
/// refuses a struct with padding.
pub(crate) trait Uniforms: bytemuck::Pod {
    /// The binding of the file's `var<uniform>` of this struct.
    const BINDING: u32;
    /// Its name, the same in Rust and WGSL.
    #[cfg(test)]
    const NAME: &'static str;
    /// Its fields in order, as `offset_of!` places them.
    #[cfg(test)]
    const FIELDS: &'static [Field];
}

/// One field of a [`Uniforms`] struct, as the layout test compares it with WGSL's.
#[cfg(test)]
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Field {
    pub(crate) name: &'static str,
    pub(crate) offset: usize,
    /// `u32` or `f32`.
    pub(crate) scalar: &'static str,
}

/// Declares kernel uniform structs: each `#[repr(C)]`, `Pod`, with its fields (`u32` or `f32`) in
/// its WGSL namesake's order, and its [`Uniforms`] impl with the binding given after `at`.
macro_rules! uniform_struct {
    ($(
        $(#[$doc:meta])*
        $name:ident at $binding:literal {
            $($(#[$field_doc:meta])* $field:ident: $scalar:ident,)+
        }
    )+) => {
        $(
            $(#[$doc])*
            #[repr(C)]
            #[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
            pub(crate) struct $name {
                $($(#[$field_doc])* pub(crate) $field: $scalar,)+
            }

            impl $crate::uniforms::Uniforms for $name {
                const BINDING: u32 = $binding;
                #[cfg(test)]
                const NAME: &'static str = stringify!($name);
                #[cfg(test)]
                const FIELDS: &'static [$crate::uniforms::Field] = &[$($crate::uniforms::Field {
                    name: stringify!($field),
                    offset: std::mem::offset_of!($name, $field),
                    scalar: stringify!($scalar),
                }),+];
            }
        )+
    };
}

pub(crate) use uniform_struct;

/// Bytes of one dispatch's uniforms in the arena: WebGPU's largest uniform offset alignment, so any
/// adapter accepts every slot's offset. Each kernel's uniform struct is far smaller.
pub(crate) const UNIFORM_SLOT: u64 = 256;
/// Slots per uniform buffer of the arena (256 KiB each).
const SLOTS_PER_BLOCK: u64 = 1024;

/// Every dispatch's uniforms between two submissions, in slots of uniform buffers kept for the whole
/// run. A dispatch takes the next slot; the slots' bytes gather on the host and reach the GPU as one
/// queue write per buffer, which lands before the submission that reads them (and after the
/// previous one, which read the slots before). One buffer and one write per thousand dispatches,
/// not one of each per dispatch.
#[derive(Default)]
pub(crate) struct UniformArena {
    blocks: Vec<wgpu::Buffer>,
    /// The used slots' bytes, slot after slot.
    host: Vec<u8>,
}

impl UniformArena {
    /// Takes the next slot for `uniforms`: its buffer and offset.
    pub(crate) fn push(&mut self, device: &wgpu::Device, uniforms: &impl Uniforms) -> (wgpu::Buffer, u64) {
        let bytes = bytemuck::bytes_of(uniforms);
        assert!(bytes.len() as u64 <= UNIFORM_SLOT, "a kernel's uniforms outgrew their slot");
        let at = self.host.len() as u64;
        let block = (at / (UNIFORM_SLOT * SLOTS_PER_BLOCK)) as usize;
        if block == self.blocks.len() {
            self.blocks.push(device.create_buffer(&wgpu::BufferDescriptor {
                label: Some("uniforms"),
                size: UNIFORM_SLOT * SLOTS_PER_BLOCK,
                usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
                mapped_at_creation: false,
            }));
        }
        self.host.extend_from_slice(bytes);
        self.host.resize((at + UNIFORM_SLOT) as usize, 0);
        (self.blocks[block].clone(), at % (UNIFORM_SLOT * SLOTS_PER_BLOCK))
    }

    /// Writes the used slots to their buffers through `queue` and frees every slot for the
    /// dispatches after the next submission.
    pub(crate) fn flush(&mut self, queue: &wgpu::Queue) {
        let block_bytes = (UNIFORM_SLOT * SLOTS_PER_BLOCK) as usize;
        for (buffer, bytes) in self.blocks.iter().zip(self.host.chunks(block_bytes)) {
            queue.write_buffer(buffer, 0, bytes);
        }
        self.host.clear();
    }
}
