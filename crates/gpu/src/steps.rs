//! Steps kept on the GPU until the trainer reads them: each step's losses and per-tensor sums of
//! squares, copied aside by `keep_step` and read back together by `read_steps`.

/// One step's losses and sums of squares, copied into one GPU buffer by `keep_step`: the loss
/// buffers' lengths in order, then `4 × gradients` floats of `clip_grad_norm`'s slots.
pub(crate) struct KeptStep {
    pub(crate) buffer: wgpu::Buffer,
    pub(crate) losses: Vec<usize>,
    pub(crate) gradients: usize,
}

impl KeptStep {
    /// Floats in the buffer of a step with these loss lengths and gradients.
    pub(crate) fn floats(losses: &[usize], gradients: usize) -> usize {
        losses.iter().sum::<usize>() + 4 * gradients
    }

    pub(crate) fn len(&self) -> usize {
        Self::floats(&self.losses, self.gradients)
    }
}

/// (scale, ssq, saw NaN, saw Inf) per gradient, as `global_norm` writes them, to sums of squares:
/// NaN or Inf where a gradient held one.
pub(crate) fn sums_of_squares(slots: &[f32]) -> Vec<f64> {
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
