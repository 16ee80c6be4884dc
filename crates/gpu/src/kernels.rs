//! The compute kernels: which WGSL file and entry point each one is, their workgroup sizes, and the
//! cache that compiles each shader module and pipeline once, the first time it is dispatched.

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

/// Every compute entry point the backend dispatches.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Kernel {
    Matmul,
    MatmulVec4,
    Fill,
    Scale,
    AddAssign,
    MulAssign,
    AddBias,
    SumSquares,
    GlobalNorm,
    ClipScale,
    BiasBackward,
    Embed,
    EmbedBackwardTokens,
    EmbedBackwardPositions,
    Layernorm,
    LayernormBackwardInput,
    LayernormBackwardParams,
    Attention,
    AttentionBackwardScores,
    AttentionBackwardQkv,
    Activation,
    ActivationBackward,
    CrossEntropy,
    AdamW,
    Sgd,
}

/// A WGSL source file under `src/kernels/`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Source {
    Matmul,
    Elementwise,
    Reduce,
    Embed,
    Layernorm,
    Attention,
    Activation,
    CrossEntropy,
    Optim,
}

impl Source {
    fn file(self) -> (&'static str, &'static str) {
        match self {
            Source::Matmul => ("matmul.wgsl", include_str!("kernels/matmul.wgsl")),
            Source::Elementwise => ("elementwise.wgsl", include_str!("kernels/elementwise.wgsl")),
            Source::Reduce => ("reduce.wgsl", include_str!("kernels/reduce.wgsl")),
            Source::Embed => ("embed.wgsl", include_str!("kernels/embed.wgsl")),
            Source::Layernorm => ("layernorm.wgsl", include_str!("kernels/layernorm.wgsl")),
            Source::Attention => ("attention.wgsl", include_str!("kernels/attention.wgsl")),
            Source::Activation => ("activation.wgsl", include_str!("kernels/activation.wgsl")),
            Source::CrossEntropy => ("cross_entropy.wgsl", include_str!("kernels/cross_entropy.wgsl")),
            Source::Optim => ("optim.wgsl", include_str!("kernels/optim.wgsl")),
        }
    }
}

impl Kernel {
    /// The file and the entry point in it.
    fn entry(self) -> (Source, &'static str) {
        match self {
            Kernel::Matmul => (Source::Matmul, "matmul"),
            Kernel::MatmulVec4 => (Source::Matmul, "matmul_vec4"),
            Kernel::Fill => (Source::Elementwise, "fill"),
            Kernel::Scale => (Source::Elementwise, "scale"),
            Kernel::AddAssign => (Source::Elementwise, "add_assign"),
            Kernel::MulAssign => (Source::Elementwise, "mul_assign"),
            Kernel::AddBias => (Source::Elementwise, "add_bias"),
            Kernel::SumSquares => (Source::Reduce, "sum_squares"),
            Kernel::GlobalNorm => (Source::Reduce, "global_norm"),
            Kernel::ClipScale => (Source::Elementwise, "clip_scale"),
            Kernel::BiasBackward => (Source::Reduce, "bias_backward"),
            Kernel::Embed => (Source::Embed, "embed"),
            Kernel::EmbedBackwardTokens => (Source::Embed, "embed_backward_tokens"),
            Kernel::EmbedBackwardPositions => (Source::Embed, "embed_backward_positions"),
            Kernel::Layernorm => (Source::Layernorm, "layernorm"),
            Kernel::LayernormBackwardInput => (Source::Layernorm, "layernorm_backward_input"),
            Kernel::LayernormBackwardParams => (Source::Layernorm, "layernorm_backward_params"),
            Kernel::Attention => (Source::Attention, "attention"),
            Kernel::AttentionBackwardScores => (Source::Attention, "attention_backward_scores"),
            Kernel::AttentionBackwardQkv => (Source::Attention, "attention_backward_qkv"),
            Kernel::Activation => (Source::Activation, "activation"),
            Kernel::ActivationBackward => (Source::Activation, "activation_backward"),
            Kernel::CrossEntropy => (Source::CrossEntropy, "cross_entropy"),
            Kernel::AdamW => (Source::Optim, "adamw"),
            Kernel::Sgd => (Source::Optim, "sgd"),
        }
    }
}

/// Shader modules and pipelines, each created once. Pipelines use the layout WGSL implies
/// (`layout: None`), so a bind group lists exactly the bindings its entry point uses.
#[derive(Clone, Default)]
pub(crate) struct PipelineCache {
    modules: HashMap<Source, wgpu::ShaderModule>,
    pipelines: HashMap<Kernel, wgpu::ComputePipeline>,
}

impl PipelineCache {
    pub(crate) fn get(&mut self, device: &wgpu::Device, kernel: Kernel) -> wgpu::ComputePipeline {
        if let Some(p) = self.pipelines.get(&kernel) {
            return p.clone();
        }
        let (source, entry) = kernel.entry();
        let module = self.modules.entry(source).or_insert_with(|| {
            let (file, text) = source.file();
            device.create_shader_module(wgpu::ShaderModuleDescriptor {
                label: Some(file),
                source: wgpu::ShaderSource::Wgsl(Cow::Borrowed(text)),
            })
        });
        let pipeline = device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
            label: Some(entry),
            layout: None,
            module,
            entry_point: Some(entry),
            compilation_options: wgpu::PipelineCompilationOptions::default(),
            cache: None,
        });
        self.pipelines.insert(kernel, pipeline.clone());
        pipeline
    }

    /// Pipelines compiled so far.
    pub(crate) fn len(&self) -> usize {
        self.pipelines.len()
    }
}
