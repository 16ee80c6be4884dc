//! The compute kernels: which WGSL file and entry point each one is, and the cache that compiles
//! each shader module and pipeline once, the first time it is dispatched.

use std::borrow::Cow;
use std::collections::HashMap;

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
