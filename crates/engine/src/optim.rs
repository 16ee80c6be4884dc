//! Optimisers, gradient clipping and the learning-rate schedule.

use crate::backend::{AdamW, Backend, Sgd};
use crate::config::{OptimizerKind, RunConfig};
use crate::error::EngineError;
use crate::model::{zeros_like, ParamSet, ParamSpec};

/// Learning rate for 0-based step `step` of `total`: linear warmup over `warmup` steps to `peak`,
/// then a cosine decay to `peak * min_ratio` at the last step.
pub fn lr_at(step: usize, total: usize, warmup: usize, peak: f32, min_ratio: f32) -> f32 {
    if step < warmup {
        return peak * (step + 1) as f32 / warmup as f32;
    }
    let span = total.saturating_sub(warmup).max(1) as f64;
    let progress = ((step - warmup) as f64 / span).min(1.0);
    let min = peak as f64 * min_ratio as f64;
    (min + 0.5 * (peak as f64 - min) * (1.0 + (std::f64::consts::PI * progress).cos())) as f32
}

/// The global L2 norm from per-tensor sums of squares.
pub fn global_norm(sums: &[f64]) -> f64 {
    sums.iter().sum::<f64>().sqrt()
}

/// The factor that brings a gradient of norm `norm` down to `max_norm` (1 when it is already below,
/// or when clipping is off with `max_norm == 0`).
pub fn clip_factor(norm: f64, max_norm: f32) -> f32 {
    if max_norm > 0.0 && norm > max_norm as f64 {
        (max_norm as f64 / (norm + 1e-6)) as f32
    } else {
        1.0
    }
}

/// The numbers one update needs.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct UpdateSettings {
    pub lr: f32,
    pub weight_decay: f32,
    pub beta1: f32,
    pub beta2: f32,
    pub eps: f32,
    pub momentum: f32,
}

impl From<&RunConfig> for UpdateSettings {
    fn from(c: &RunConfig) -> Self {
        Self {
            lr: c.lr,
            weight_decay: c.weight_decay,
            beta1: c.beta1,
            beta2: c.beta2,
            eps: c.adam_eps,
            momentum: c.momentum,
        }
    }
}

/// Optimiser state: one or two moment buffers per parameter tensor.
pub struct Optimizer<B: Backend> {
    first: ParamSet<B::Buf>,
    second: Option<ParamSet<B::Buf>>,
    steps: u32,
}

impl<B: Backend> Optimizer<B> {
    pub fn new(backend: &mut B, specs: &ParamSet<ParamSpec>, kind: OptimizerKind) -> Result<Self, EngineError> {
        let first = zeros_like(backend, specs, "optimizer state")?;
        let second = match kind {
            OptimizerKind::Adamw => Some(zeros_like(backend, specs, "optimizer state")?),
            OptimizerKind::Sgd => None,
        };
        Ok(Self { first, second, steps: 0 })
    }

    /// The state buffers: the first moments (AdamW) or velocities (SGD), then AdamW's second
    /// moments, each in [`ParamSet::tensors`] order.
    pub fn state(&self) -> Vec<&B::Buf> {
        let mut v = self.first.tensors();
        v.extend(self.second.iter().flat_map(|s| s.tensors()));
        v
    }

    /// [`Optimizer::state`], writable.
    pub fn state_mut(&mut self) -> Vec<&mut B::Buf> {
        let mut v = self.first.tensors_mut();
        v.extend(self.second.iter_mut().flat_map(|s| s.tensors_mut()));
        v
    }

    /// Updates applied so far (AdamW's bias correction counts them).
    pub fn steps(&self) -> u32 {
        self.steps
    }

    /// Continues the count of [`Optimizer::steps`] from a saved run.
    pub fn set_steps(&mut self, steps: u32) {
        self.steps = steps;
    }

    /// Applies one update to every parameter (weight decay only where the spec allows it).
    pub fn update(
        &mut self,
        b: &mut B,
        params: &mut ParamSet<B::Buf>,
        grads: &ParamSet<B::Buf>,
        specs: &ParamSet<ParamSpec>,
        h: UpdateSettings,
    ) {
        self.steps += 1;
        let specs = specs.iter();
        let grads = grads.iter();
        let firsts = self.first.iter_mut();
        let decay = |s: &ParamSpec| if s.kind.decays() { h.weight_decay } else { 0.0 };
        match &mut self.second {
            Some(second) => {
                let tensors = params.iter_mut().zip(grads).zip(firsts).zip(second.iter_mut()).zip(specs);
                for ((((p, g), m), v), s) in tensors {
                    let a = AdamW {
                        lr: h.lr,
                        beta1: h.beta1,
                        beta2: h.beta2,
                        eps: h.eps,
                        weight_decay: decay(s),
                        step: self.steps,
                    };
                    b.adamw_update(p, g, m, v, a);
                }
            }
            None => {
                for (((p, g), vel), s) in params.iter_mut().zip(grads).zip(firsts).zip(specs) {
                    b.sgd_update(p, g, vel, Sgd { lr: h.lr, momentum: h.momentum, weight_decay: decay(s) });
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::CpuBackend;
    use crate::model::TensorKind;

    #[test]
    fn warmup_is_linear_then_cosine_reaches_the_floor() {
        let (peak, total, warm) = (1e-3f32, 100, 10);
        assert!((lr_at(0, total, warm, peak, 0.1) - 1e-4).abs() < 1e-9);
        assert!((lr_at(4, total, warm, peak, 0.1) - 5e-4).abs() < 1e-9);
        assert!((lr_at(10, total, warm, peak, 0.1) - peak).abs() < 1e-9);
        let mid = lr_at(55, total, warm, peak, 0.1);
        assert!((mid - 0.55e-3).abs() < 1e-6, "{mid}");
        assert!((lr_at(100, total, warm, peak, 0.1) - 1e-4).abs() < 1e-9);
        for s in warm..total - 1 {
            assert!(lr_at(s + 1, total, warm, peak, 0.1) <= lr_at(s, total, warm, peak, 0.1));
        }
        assert_eq!(lr_at(0, total, 0, peak, 0.1), peak);
    }

    #[test]
    fn clipping_scales_to_the_threshold_only_when_above_it() {
        assert_eq!(clip_factor(0.5, 1.0), 1.0);
        assert_eq!(clip_factor(50.0, 0.0), 1.0);
        assert!((clip_factor(4.0, 1.0) * 4.0 - 1.0).abs() < 1e-6);
    }

    fn one_tensor_set(v: Vec<f32>) -> ParamSet<Vec<f32>> {
        ParamSet { wte: v, wpe: vec![], blocks: vec![], lnf_gain: vec![], lnf_bias: vec![], w_head: vec![] }
    }

    /// Specs of a set whose one non-empty tensor is decayed (a matrix) or not (a bias).
    fn spec(decay: bool) -> ParamSet<ParamSpec> {
        let kind = if decay { TensorKind::Matrix } else { TensorKind::Bias };
        let s = |n: usize| ParamSpec { name: "t".into(), kind, shape: vec![n], init: crate::model::Init::Zeros };
        ParamSet { wte: s(2), wpe: s(0), blocks: vec![], lnf_gain: s(0), lnf_bias: s(0), w_head: s(0) }
    }

    #[test]
    fn adamw_matches_a_hand_computed_step() {
        let mut b = CpuBackend::<f32>::new();
        let specs = spec(true);
        let mut opt = Optimizer::new(&mut b, &specs, OptimizerKind::Adamw).unwrap();
        let mut params = one_tensor_set(vec![1.0, -2.0]);
        let grads = one_tensor_set(vec![0.5, -0.1]);
        let h = UpdateSettings { lr: 0.01, weight_decay: 0.1, ..UpdateSettings::from(&RunConfig::default()) };
        opt.update(&mut b, &mut params, &grads, &specs, h);
        // First step: m̂ = g, v̂ = g², so the adaptive step is sign(g)·lr (up to eps), plus lr·wd·p.
        assert!((params.wte[0] - (1.0 - 0.01 - 0.01 * 0.1 * 1.0)).abs() < 1e-6, "{}", params.wte[0]);
        assert!((params.wte[1] - (-2.0 + 0.01 - 0.01 * 0.1 * -2.0)).abs() < 1e-6, "{}", params.wte[1]);
    }

    #[test]
    fn sgd_momentum_accumulates_velocity() {
        let mut b = CpuBackend::<f32>::new();
        let specs = spec(false);
        let mut opt = Optimizer::new(&mut b, &specs, OptimizerKind::Sgd).unwrap();
        let mut params = one_tensor_set(vec![0.0, 0.0]);
        let grads = one_tensor_set(vec![1.0, 2.0]);
        let h =
            UpdateSettings { lr: 0.1, momentum: 0.9, weight_decay: 0.0, ..UpdateSettings::from(&RunConfig::default()) };
        opt.update(&mut b, &mut params, &grads, &specs, h);
        opt.update(&mut b, &mut params, &grads, &specs, h);
        // velocity: 1, then 1.9; position: -0.1 - 0.19
        assert!((params.wte[0] + 0.29).abs() < 1e-6);
        assert!((params.wte[1] + 0.58).abs() < 1e-6);
    }
}
