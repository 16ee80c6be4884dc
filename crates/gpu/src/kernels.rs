//! The compute kernels: one module per WGSL file under `src/kernels/`, naming each entry point with
//! the uniforms it reads and its file's bindings; their workgroup sizes; and the cache that compiles
//! each shader module and pipeline once, the first time it is dispatched.

pub(crate) mod activation;
pub(crate) mod attention;
pub(crate) mod cross_entropy;
pub(crate) mod elementwise;
pub(crate) mod embed;
pub(crate) mod layernorm;
pub(crate) mod matmul;
pub(crate) mod optim;
pub(crate) mod reduce;
#[cfg(test)]
mod uniform_layout;

use crate::uniforms::Uniforms;
use std::any::TypeId;
use std::borrow::Cow;
use std::collections::HashMap;

/// Threads per workgroup of the element-wise kernels (their `@workgroup_size`).
pub(crate) const WORKGROUP: usize = 256;
/// Upper bound on the workgroups of a grid-stride kernel: each thread loops over the rest.
const MAX_GROUPS: usize = 1024;
/// Workgroups of the sum-of-squares reduction, at most: `sum_squares` reads their partial sums back
/// and adds them on the host; `clip_grad_norm` combines them on the GPU.
pub(crate) const REDUCE_GROUPS: usize = 64;
/// Rows (or columns) per workgroup of the one-thread-per-row kernels.
const ROW_GROUP: usize = 64;
/// The output tile of one matmul workgroup (`TILE` in matmul.wgsl).
pub(crate) const MATMUL_TILE: usize = 64;
/// Workgroup memory the kernels need at most (matmul's two 64×16 f32 slabs).
pub(crate) const WORKGROUP_STORAGE_NEEDED: u32 = 2 * 64 * 16 * 4;

/// Workgroups for a grid-stride kernel over `n` elements.
pub(crate) fn stride_groups(n: usize) -> u32 {
    n.div_ceil(WORKGROUP).clamp(1, MAX_GROUPS) as u32
}

/// Workgroups for a one-thread-per-row kernel over `n` rows.
pub(crate) fn row_groups(n: usize) -> u32 {
    n.div_ceil(ROW_GROUP).max(1) as u32
}

/// A WGSL file under `src/kernels/`: its name, and its text, compiled into the binary.
#[derive(Clone, Copy)]
pub(crate) struct Source {
    pub(crate) file: &'static str,
    pub(crate) text: &'static str,
}

/// A WGSL file's storage bindings, by name: its module's `Slot` enum, declared with `slots!`.
pub(crate) trait Slots: Copy + Into<u32> {
    /// Every variant's name and binding, for the layout test.
    #[cfg(test)]
    const ALL: &'static [(&'static str, u32)];
}

/// One compute entry point: its file and name, the uniform struct it reads, and the names of its
/// file's bindings. A dispatch of it can only be given those uniforms and those bindings.
pub(crate) trait EntryPoint: 'static {
    const SOURCE: Source;
    /// The `@compute` function's name in [`EntryPoint::SOURCE`].
    const NAME: &'static str;
    type Uniforms: Uniforms;
    type Slot: Slots;
}

/// Declares a WGSL file's storage bindings as its module's `Slot` enum: binding numbers, one variant
/// per `var<storage>` of the file, named after it.
macro_rules! slots {
    ($($(#[$doc:meta])* $variant:ident = $binding:literal,)+) => {
        /// This file's storage bindings, named after their WGSL variables.
        #[derive(Clone, Copy, Debug)]
        pub(crate) enum Slot {
            $($(#[$doc])* $variant = $binding,)+
        }

        impl From<Slot> for u32 {
            fn from(slot: Slot) -> u32 {
                slot as u32
            }
        }

        impl $crate::kernels::Slots for Slot {
            #[cfg(test)]
            const ALL: &'static [(&'static str, u32)] = &[$((stringify!($variant), $binding)),+];
        }
    };
}

/// Declares a WGSL file's entry points: a unit type for each, implementing [`EntryPoint`] with the
/// file's `SOURCE` and `Slot`, and the uniform struct given.
macro_rules! entry_points {
    ($($(#[$doc:meta])* $marker:ident = $name:literal, $uniforms:ty;)+) => {
        $(
            $(#[$doc])*
            pub(crate) struct $marker;

            impl $crate::kernels::EntryPoint for $marker {
                const SOURCE: $crate::kernels::Source = SOURCE;
                const NAME: &'static str = $name;
                type Uniforms = $uniforms;
                type Slot = Slot;
            }
        )+
    };
}

pub(crate) use {entry_points, slots};

/// Shader modules and pipelines, each created once. Pipelines use the layout WGSL implies
/// (`layout: None`), so a bind group lists exactly the bindings its entry point uses.
#[derive(Clone, Default)]
pub(crate) struct PipelineCache {
    /// By file name.
    modules: HashMap<&'static str, wgpu::ShaderModule>,
    /// By entry point type.
    pipelines: HashMap<TypeId, wgpu::ComputePipeline>,
}

impl PipelineCache {
    /// `E`'s pipeline, compiled (with its file's module, the first time) if it has not been yet.
    pub(crate) fn get<E: EntryPoint>(&mut self, device: &wgpu::Device) -> wgpu::ComputePipeline {
        if let Some(p) = self.pipelines.get(&TypeId::of::<E>()) {
            return p.clone();
        }
        let Source { file, text } = E::SOURCE;
        let module = self.modules.entry(file).or_insert_with(|| {
            device.create_shader_module(wgpu::ShaderModuleDescriptor {
                label: Some(file),
                source: wgpu::ShaderSource::Wgsl(Cow::Borrowed(text)),
            })
        });
        let pipeline = device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
            label: Some(E::NAME),
            layout: None,
            module,
            entry_point: Some(E::NAME),
            compilation_options: wgpu::PipelineCompilationOptions::default(),
            cache: None,
        });
        self.pipelines.insert(TypeId::of::<E>(), pipeline.clone());
        pipeline
    }

    /// Pipelines compiled so far.
    pub(crate) fn len(&self) -> usize {
        self.pipelines.len()
    }
}
