//! The parameter tensors: what each one is ([`ParamSpec`]: name, shape, kind, initialisation) and
//! [`ParamSet`], the one layout that the weights, their gradients, the optimiser's moments and the
//! specs themselves share.

use super::INIT_STD;
use crate::backend::{Backend, Tensors, TensorsMut};
use crate::config::ModelConfig;
use crate::error::EngineError;
use crate::faults::Faults;
use crate::rng::Rng;
pub use crate::telemetry::TensorKind;

/// How a parameter tensor starts.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Init {
    /// Normal with this standard deviation.
    Normal(f32),
    Zeros,
    Ones,
    /// Every element the same value.
    Const(f32),
}

/// Name, kind, shape and initialisation of one parameter tensor.
#[derive(Clone, Debug, PartialEq)]
pub struct ParamSpec {
    pub name: String,
    pub kind: TensorKind,
    pub shape: Vec<usize>,
    pub init: Init,
}

impl ParamSpec {
    fn new(name: String, kind: TensorKind, shape: &[usize], init: Init) -> Self {
        Self { name, kind, shape: shape.to_vec(), init }
    }

    pub fn numel(&self) -> usize {
        self.shape.iter().product()
    }
}

/// The tensors of one transformer block.
#[derive(Clone, Debug)]
pub struct Block<P> {
    pub ln1_gain: P,
    pub ln1_bias: P,
    /// `[C, 3C]`: the query, key and value projections side by side.
    pub w_qkv: P,
    pub b_qkv: P,
    /// `[C, C]`: the attention output projection.
    pub w_proj: P,
    pub b_proj: P,
    pub ln2_gain: P,
    pub ln2_bias: P,
    /// `[C, F]`: the MLP's expansion.
    pub w_fc: P,
    pub b_fc: P,
    /// `[F, C]`: the MLP's projection back to the residual stream.
    pub w_out: P,
    pub b_out: P,
}

/// One value per parameter tensor of the GPT: the weights, their gradients, optimiser moments or
/// their specs all share this layout.
#[derive(Clone, Debug)]
pub struct ParamSet<P> {
    /// `[V, C]` token embeddings.
    pub wte: P,
    /// `[T, C]` position embeddings.
    pub wpe: P,
    pub blocks: Vec<Block<P>>,
    pub lnf_gain: P,
    pub lnf_bias: P,
    /// `[C, V]` the language-model head.
    pub w_head: P,
}

impl<P> Tensors<P> for ParamSet<P> {
    fn each<'a>(&'a self) -> impl Iterator<Item = &'a P>
    where
        P: 'a,
    {
        self.iter()
    }
}

impl<P> TensorsMut<P> for ParamSet<P> {
    fn each_mut<'a>(&'a mut self) -> impl Iterator<Item = &'a mut P>
    where
        P: 'a,
    {
        self.iter_mut()
    }
}

impl<P> ParamSet<P> {
    /// Every tensor, in a fixed order (embeddings, blocks, final norm, head).
    pub fn tensors(&self) -> Vec<&P> {
        self.iter().collect()
    }

    /// Every tensor, mutably, in the order of [`ParamSet::tensors`].
    pub fn tensors_mut(&mut self) -> Vec<&mut P> {
        self.iter_mut().collect()
    }

    /// Every tensor in the order of [`ParamSet::tensors`], without collecting them (a training step
    /// allocates nothing).
    pub fn iter(&self) -> impl Iterator<Item = &P> {
        let blocks = self.blocks.iter().flat_map(|b| {
            [
                &b.ln1_gain,
                &b.ln1_bias,
                &b.w_qkv,
                &b.b_qkv,
                &b.w_proj,
                &b.b_proj,
                &b.ln2_gain,
                &b.ln2_bias,
                &b.w_fc,
                &b.b_fc,
                &b.w_out,
                &b.b_out,
            ]
        });
        [&self.wte, &self.wpe].into_iter().chain(blocks).chain([&self.lnf_gain, &self.lnf_bias, &self.w_head])
    }

    /// Every tensor mutably, in the order of [`ParamSet::tensors`], without collecting them.
    pub fn iter_mut(&mut self) -> impl Iterator<Item = &mut P> {
        let blocks = self.blocks.iter_mut().flat_map(|b| {
            [
                &mut b.ln1_gain,
                &mut b.ln1_bias,
                &mut b.w_qkv,
                &mut b.b_qkv,
                &mut b.w_proj,
                &mut b.b_proj,
                &mut b.ln2_gain,
                &mut b.ln2_bias,
                &mut b.w_fc,
                &mut b.b_fc,
                &mut b.w_out,
                &mut b.b_out,
            ]
        });
        [&mut self.wte, &mut self.wpe].into_iter().chain(blocks).chain([
            &mut self.lnf_gain,
            &mut self.lnf_bias,
            &mut self.w_head,
        ])
    }

    /// A new set with the fallible `f` applied to every tensor, in order; the first error wins.
    pub fn try_map<Q, E>(&self, mut f: impl FnMut(&P) -> Result<Q, E>) -> Result<ParamSet<Q>, E> {
        let mut failed = None;
        let set = self.map(|p| match f(p) {
            Ok(q) => Some(q),
            Err(e) => {
                failed.get_or_insert(e);
                None
            }
        });
        match failed {
            Some(e) => Err(e),
            None => Ok(set.into_map(|q| q.expect("no tensor failed"))),
        }
    }

    /// Consumes the set, applying `f` to every tensor, in order.
    pub fn into_map<Q>(self, mut f: impl FnMut(P) -> Q) -> ParamSet<Q> {
        ParamSet {
            wte: f(self.wte),
            wpe: f(self.wpe),
            blocks: self
                .blocks
                .into_iter()
                .map(|b| Block {
                    ln1_gain: f(b.ln1_gain),
                    ln1_bias: f(b.ln1_bias),
                    w_qkv: f(b.w_qkv),
                    b_qkv: f(b.b_qkv),
                    w_proj: f(b.w_proj),
                    b_proj: f(b.b_proj),
                    ln2_gain: f(b.ln2_gain),
                    ln2_bias: f(b.ln2_bias),
                    w_fc: f(b.w_fc),
                    b_fc: f(b.b_fc),
                    w_out: f(b.w_out),
                    b_out: f(b.b_out),
                })
                .collect(),
            lnf_gain: f(self.lnf_gain),
            lnf_bias: f(self.lnf_bias),
            w_head: f(self.w_head),
        }
    }

    /// A new set with `f` applied to every tensor, in order.
    pub fn map<Q>(&self, mut f: impl FnMut(&P) -> Q) -> ParamSet<Q> {
        ParamSet {
            wte: f(&self.wte),
            wpe: f(&self.wpe),
            blocks: self
                .blocks
                .iter()
                .map(|b| Block {
                    ln1_gain: f(&b.ln1_gain),
                    ln1_bias: f(&b.ln1_bias),
                    w_qkv: f(&b.w_qkv),
                    b_qkv: f(&b.b_qkv),
                    w_proj: f(&b.w_proj),
                    b_proj: f(&b.b_proj),
                    ln2_gain: f(&b.ln2_gain),
                    ln2_bias: f(&b.ln2_bias),
                    w_fc: f(&b.w_fc),
                    b_fc: f(&b.b_fc),
                    w_out: f(&b.w_out),
                    b_out: f(&b.b_out),
                })
                .collect(),
            lnf_gain: f(&self.lnf_gain),
            lnf_bias: f(&self.lnf_bias),
            w_head: f(&self.w_head),
        }
    }
}

impl ParamSet<ParamSpec> {
    /// The parameter tensors of a GPT of shape `m`, GPT-2 style initialisation: std 0.02, and
    /// 0.02/sqrt(2·layers) for the two projections that write into the residual stream.
    pub fn describe(m: &ModelConfig, faults: &Faults) -> Self {
        use TensorKind::{Bias, LayerNormBias, LayerNormGain, Matrix, PositionEmbedding, TokenEmbedding};
        let (v, t, c, f) = (m.vocab_size, m.context, m.d_model, m.mlp_dim());
        let std = INIT_STD;
        let residual_std = INIT_STD / ((2 * m.n_layers) as f32).sqrt();
        let p = |name: String, kind, shape: &[usize], init| ParamSpec::new(name, kind, shape, init);
        ParamSet {
            wte: p("wte".into(), TokenEmbedding, &[v, c], Init::Normal(std)),
            wpe: p("wpe".into(), PositionEmbedding, &[t, c], Init::Normal(std)),
            blocks: (0..m.n_layers)
                .map(|l| {
                    let n = |s: &str| format!("block{l}.{s}");
                    Block {
                        ln1_gain: p(n("ln1.gain"), LayerNormGain, &[c], Init::Ones),
                        ln1_bias: p(n("ln1.bias"), LayerNormBias, &[c], Init::Zeros),
                        w_qkv: p(n("attn.w_qkv"), Matrix, &[c, 3 * c], Init::Normal(std)),
                        b_qkv: p(n("attn.b_qkv"), Bias, &[3 * c], Init::Zeros),
                        w_proj: p(n("attn.w_proj"), Matrix, &[c, c], Init::Normal(residual_std)),
                        b_proj: p(n("attn.b_proj"), Bias, &[c], Init::Zeros),
                        ln2_gain: p(n("ln2.gain"), LayerNormGain, &[c], Init::Ones),
                        ln2_bias: p(n("ln2.bias"), LayerNormBias, &[c], Init::Zeros),
                        w_fc: p(n("mlp.w_fc"), Matrix, &[c, f], Init::Normal(std)),
                        b_fc: p(n("mlp.b_fc"), Bias, &[f], faults.dead_relu.map_or(Init::Zeros, Init::Const)), // faults.dead_relu: units start below zero
                        w_out: p(n("mlp.w_out"), Matrix, &[f, c], Init::Normal(residual_std)),
                        b_out: p(n("mlp.b_out"), Bias, &[c], Init::Zeros),
                    }
                })
                .collect(),
            lnf_gain: p("lnf.gain".into(), LayerNormGain, &[c], Init::Ones),
            lnf_bias: p("lnf.bias".into(), LayerNormBias, &[c], Init::Zeros),
            w_head: p("w_head".into(), Matrix, &[c, v], Init::Normal(std)),
        }
    }

    /// Name and shape of every tensor, in the order of [`ParamSet::tensors`]: `block0.attn.w_qkv`
    /// `[64, 192]`, ...
    pub fn shapes(&self) -> Vec<(String, Vec<usize>)> {
        self.iter().map(|s| (s.name.clone(), s.shape.clone())).collect()
    }

    /// Initial values of every tensor, drawn from `seed` in tensor order.
    pub fn initial_values(&self, seed: u64, faults: &Faults) -> ParamSet<Vec<f32>> {
        let mut rng = Rng::derive(seed, "init");
        self.map(|spec| {
            let n = spec.numel();
            match spec.init {
                Init::Ones => vec![1.0; n],
                Init::Zeros => vec![0.0; n],
                Init::Const(c) => vec![c; n],
                Init::Normal(_) if faults.init_zero => vec![0.0; n], // faults.init_zero: every unit identical
                Init::Normal(std) => {
                    let std = faults.init_too_large.unwrap_or(std); // faults.init_too_large: std 1.0, not 0.02
                    (0..n).map(|_| (rng.normal() * std as f64) as f32).collect()
                }
            }
        })
    }
}

/// Zero-filled buffers in the layout of `specs`, counted against the memory budget as `what`.
pub fn zeros_like<B: Backend>(
    backend: &mut B,
    specs: &ParamSet<ParamSpec>,
    what: &str,
) -> Result<ParamSet<B::Buf>, EngineError> {
    specs.try_map(|s| backend.alloc(s.numel(), what))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Preset;

    #[test]
    fn each_tensor_has_the_kind_its_name_says_and_decay_follows_the_kind() {
        let faults = Faults { dead_relu: Some(-1.0), ..Faults::default() };
        let specs = ParamSet::describe(&Preset::Tiny.model(40), &faults);
        for s in specs.tensors() {
            let leaf = s.name.rsplit('.').next().expect("a name");
            let named = match leaf {
                "wte" => TensorKind::TokenEmbedding,
                "wpe" => TensorKind::PositionEmbedding,
                "gain" => TensorKind::LayerNormGain,
                "bias" => TensorKind::LayerNormBias,
                w if w.starts_with("w_") => TensorKind::Matrix,
                b if b.starts_with("b_") => TensorKind::Bias,
                other => panic!("no kind for {other}"),
            };
            assert_eq!(s.kind, named, "{}", s.name);
            // Before tensors had kinds, decay applied exactly to the tensors drawn from a normal.
            assert_eq!(s.kind.decays(), matches!(s.init, Init::Normal(_)), "{}", s.name);
        }
    }
}
