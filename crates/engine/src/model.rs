//! The GPT: parameters, activations, forward and backward passes.
//!
//! Read it like a textbook. Every line a learner can break is a named switch of [`Faults`] at the
//! exact line it changes, with the shapes in comments. `N = B·T` rows, `C = d_model`, `F = 4C`,
//! `H` heads of width `d_k = C / H`, `V` vocabulary entries.

use crate::backend::{Activation, AttnShape, Backend, SoftmaxForm, Tensors, TensorsMut};
use crate::config::ModelConfig;
use crate::error::EngineError;
use crate::faults::Faults;
use crate::rng::Rng;

/// LayerNorm's epsilon.
pub const LN_EPS: f32 = 1e-5;
/// Standard deviation of the initial weights (GPT-2).
pub const INIT_STD: f32 = 0.02;

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

/// Name, shape and treatment of one parameter tensor.
#[derive(Clone, Debug, PartialEq)]
pub struct ParamSpec {
    pub name: String,
    pub shape: Vec<usize>,
    pub init: Init,
    /// Whether weight decay applies (matrices and embeddings, not biases or LayerNorm).
    pub decay: bool,
}

impl ParamSpec {
    fn new(name: String, shape: &[usize], init: Init) -> Self {
        let decay = matches!(init, Init::Normal(_));
        Self { name, shape: shape.to_vec(), init, decay }
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
        let (v, t, c, f) = (m.vocab_size, m.context, m.d_model, m.mlp_dim());
        let std = INIT_STD;
        let residual_std = INIT_STD / ((2 * m.n_layers) as f32).sqrt();
        let p = |name: String, shape: &[usize], init| ParamSpec::new(name, shape, init);
        ParamSet {
            wte: p("wte".into(), &[v, c], Init::Normal(std)),
            wpe: p("wpe".into(), &[t, c], Init::Normal(std)),
            blocks: (0..m.n_layers)
                .map(|l| {
                    let n = |s: &str| format!("block{l}.{s}");
                    Block {
                        ln1_gain: p(n("ln1.gain"), &[c], Init::Ones),
                        ln1_bias: p(n("ln1.bias"), &[c], Init::Zeros),
                        w_qkv: p(n("attn.w_qkv"), &[c, 3 * c], Init::Normal(std)),
                        b_qkv: p(n("attn.b_qkv"), &[3 * c], Init::Zeros),
                        w_proj: p(n("attn.w_proj"), &[c, c], Init::Normal(residual_std)),
                        b_proj: p(n("attn.b_proj"), &[c], Init::Zeros),
                        ln2_gain: p(n("ln2.gain"), &[c], Init::Ones),
                        ln2_bias: p(n("ln2.bias"), &[c], Init::Zeros),
                        w_fc: p(n("mlp.w_fc"), &[c, f], Init::Normal(std)),
                        b_fc: p(n("mlp.b_fc"), &[f], faults.dead_relu.map_or(Init::Zeros, Init::Const)), // faults.dead_relu: units start below zero
                        w_out: p(n("mlp.w_out"), &[f, c], Init::Normal(residual_std)),
                        b_out: p(n("mlp.b_out"), &[c], Init::Zeros),
                    }
                })
                .collect(),
            lnf_gain: p("lnf.gain".into(), &[c], Init::Ones),
            lnf_bias: p("lnf.bias".into(), &[c], Init::Zeros),
            w_head: p("w_head".into(), &[c, v], Init::Normal(std)),
        }
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

/// Saved activations of the attention sublayer's core.
pub struct AttnActs<Buf> {
    /// `[N, 3C]`
    pub qkv: Buf,
    /// Attention probabilities `[B, H, T, T]`.
    pub probs: Buf,
    /// Attention output before the projection `[N, C]`.
    pub out: Buf,
    /// The sublayer's output `[N, C]` (after the projection and dropout), and its dropout mask.
    pub branch: Buf,
    pub drop: Buf,
}

/// Saved activations of the MLP sublayer's core.
pub struct MlpActs<Buf> {
    /// Pre-activation and activation `[N, F]`.
    pub fc: Buf,
    pub act: Buf,
    /// The sublayer's output `[N, C]`, and its dropout mask.
    pub branch: Buf,
    pub drop: Buf,
}

/// Saved activations of one block, everything the backward pass reads.
pub struct BlockActs<Buf> {
    /// LayerNorm 1: output `[N, C]` (pre-norm only), row means and 1/std `[N]`.
    pub ln1: Buf,
    pub ln1_mean: Buf,
    pub ln1_rstd: Buf,
    pub attn: AttnActs<Buf>,
    /// Residual stream between the two sublayers `[N, C]`.
    pub x_mid: Buf,
    pub ln2: Buf,
    pub ln2_mean: Buf,
    pub ln2_rstd: Buf,
    pub mlp: MlpActs<Buf>,
    /// Post-norm only: the residual sums that the two LayerNorms normalise `[N, C]`.
    pub sum1: Buf,
    pub sum2: Buf,
}

/// Gradient scratch space, reused by every block.
pub struct Scratch<Buf> {
    /// dL/dx of the residual stream at the current point `[N, C]`.
    pub resid: Buf,
    /// dL/d(sublayer output) `[N, C]`.
    pub branch: Buf,
    /// dL/d(sublayer input) `[N, C]`.
    pub input: Buf,
    /// Post-norm: dL/d(residual sum) `[N, C]`.
    pub sum: Buf,
    pub attn: Buf,
    pub qkv: Buf,
    pub act: Buf,
    pub fc: Buf,
}

/// Activations of one forward pass for up to `batch × time` tokens, plus gradient scratch space.
pub struct Activations<Buf> {
    pub batch: usize,
    pub time: usize,
    /// Residual stream at each block boundary: `resid[0]` the embeddings, `resid[l + 1]` block l's output.
    pub resid: Vec<Buf>,
    pub emb_drop: Buf,
    pub blocks: Vec<BlockActs<Buf>>,
    pub lnf: Buf,
    pub lnf_mean: Buf,
    pub lnf_rstd: Buf,
    /// `[N, V]`
    pub logits: Buf,
    pub dlogits: Buf,
    /// Per-token loss `[N]`.
    pub losses: Buf,
    pub scratch: Scratch<Buf>,
}

impl<Buf> Activations<Buf> {
    /// Allocates activations for `batch` sequences of up to `time` tokens, against the backend's
    /// memory budget.
    pub fn new<B: Backend<Buf = Buf>>(
        backend: &mut B,
        m: &ModelConfig,
        batch: usize,
        time: usize,
    ) -> Result<Self, EngineError> {
        let n = batch * time;
        let (c, f, v, h) = (m.d_model, m.mlp_dim(), m.vocab_size, m.n_heads);
        let mut z = |len: usize| backend.alloc(len, "activations");
        let mut blocks = Vec::with_capacity(m.n_layers);
        for _ in 0..m.n_layers {
            blocks.push(BlockActs {
                ln1: z(n * c)?,
                ln1_mean: z(n)?,
                ln1_rstd: z(n)?,
                attn: AttnActs {
                    qkv: z(n * 3 * c)?,
                    probs: z(batch * h * time * time)?,
                    out: z(n * c)?,
                    branch: z(n * c)?,
                    drop: z(n * c)?,
                },
                x_mid: z(n * c)?,
                ln2: z(n * c)?,
                ln2_mean: z(n)?,
                ln2_rstd: z(n)?,
                mlp: MlpActs { fc: z(n * f)?, act: z(n * f)?, branch: z(n * c)?, drop: z(n * c)? },
                sum1: z(n * c)?,
                sum2: z(n * c)?,
            });
        }
        let mut resid = Vec::with_capacity(m.n_layers + 1);
        for _ in 0..=m.n_layers {
            resid.push(z(n * c)?);
        }
        Ok(Self {
            batch,
            time,
            resid,
            emb_drop: z(n * c)?,
            blocks,
            lnf: z(n * c)?,
            lnf_mean: z(n)?,
            lnf_rstd: z(n)?,
            logits: z(n * v)?,
            dlogits: z(n * v)?,
            losses: z(n)?,
            scratch: Scratch {
                resid: z(n * c)?,
                branch: z(n * c)?,
                input: z(n * c)?,
                sum: z(n * c)?,
                attn: z(n * c)?,
                qkv: z(n * 3 * c)?,
                act: z(n * f)?,
                fc: z(n * f)?,
            },
        })
    }

    /// The numbers [`Activations::new`] allocates, without allocating them (for memory estimates).
    pub fn numel(m: &ModelConfig, batch: usize, time: usize) -> usize {
        let n = batch * time;
        let (c, f, v, h) = (m.d_model, m.mlp_dim(), m.vocab_size, m.n_heads);
        let per_block = 13 * n * c + 4 * n + 2 * n * f + batch * h * time * time;
        let scratch = 6 * n * c + 2 * n * f;
        m.n_layers * per_block + (m.n_layers + 1) * n * c + 2 * n * c + 3 * n + 2 * n * v + scratch
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

/// Seed of one dropout site's mask in one pass.
fn dropout_seed(pass: Pass, site: u64) -> u64 {
    pass.dropout_seed.wrapping_mul(0x9E37_79B9).wrapping_add(site)
}

/// How a forward pass runs.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Pass {
    /// Sequences and tokens per sequence in this pass (at most the activations' size).
    pub batch: usize,
    pub time: usize,
    /// Dropout probability (0 in evaluation and sampling).
    pub dropout: f32,
    /// Seed of this pass's dropout masks.
    pub dropout_seed: u64,
}

/// The model: shape, faults and parameters living on a backend.
pub struct Gpt<B: Backend> {
    pub config: ModelConfig,
    pub faults: Faults,
    pub specs: ParamSet<ParamSpec>,
    pub params: ParamSet<B::Buf>,
}

impl<B: Backend> Gpt<B> {
    /// A freshly initialised model, its parameters allocated against the backend's memory budget.
    pub fn new(backend: &mut B, config: ModelConfig, faults: Faults, seed: u64) -> Result<Self, EngineError> {
        let specs = ParamSet::describe(&config, &faults);
        let params = Self::upload(backend, &specs.initial_values(seed, &faults))?;
        Ok(Self { config, faults, specs, params })
    }

    /// Copies host values into freshly allocated backend buffers.
    pub fn upload(backend: &mut B, values: &ParamSet<Vec<f32>>) -> Result<ParamSet<B::Buf>, EngineError> {
        values.try_map(|v| {
            let mut buf = backend.alloc(v.len(), "parameters")?;
            backend.upload(&mut buf, v);
            Ok(buf)
        })
    }

    /// Number of trainable numbers.
    pub fn param_count(&self) -> usize {
        self.specs.tensors().iter().map(|s| s.numel()).sum()
    }

    /// Zero-filled buffers in the parameters' layout (gradients, optimiser moments), counted
    /// against the memory budget as `what`.
    pub fn zeros_like_params(&self, backend: &mut B, what: &str) -> Result<ParamSet<B::Buf>, EngineError> {
        zeros_like(backend, &self.specs, what)
    }

    /// The MLP's nonlinearity after the activation faults.
    pub fn mlp_activation(&self) -> Activation {
        if self.faults.dead_relu.is_some() {
            Activation::Relu // faults.dead_relu: ReLU, and the negative bias keeps its input below zero
        } else if self.faults.sigmoid_activation {
            Activation::Sigmoid // faults.sigmoid_activation: slope at most 1/4, saturating
        } else {
            Activation::Gelu
        }
    }

    fn softmax_form(&self) -> SoftmaxForm {
        SoftmaxForm {
            subtract_max: !self.faults.softmax_no_max_shift, // faults.softmax_no_max_shift: exp(x) overflows above ~88
            log_softmax: !self.faults.naive_log_softmax, // faults.naive_log_softmax: log(softmax(x)) is log(0) once p underflows
        }
    }

    fn ln_eps(&self) -> f32 {
        if self.faults.layernorm_no_eps {
            0.0 // faults.layernorm_no_eps: a constant row divides 0 by 0
        } else {
            LN_EPS
        }
    }

    fn attn_scale(&self) -> f32 {
        if self.faults.no_attn_scale {
            1.0 // faults.no_attn_scale: raw q·k scores, their spread grows with d_k
        } else {
            1.0 / (self.config.head_dim() as f32).sqrt()
        }
    }

    /// Runs the network on `tokens` (`pass.batch × pass.time`, row-major) and, when `targets` is
    /// given, the cross-entropy loss and its gradient `dlogits`. The results live in `acts`
    /// (`logits`, `losses`, `dlogits`).
    pub fn forward(
        &self,
        b: &mut B,
        acts: &mut Activations<B::Buf>,
        tokens: &[u32],
        targets: Option<&[u32]>,
        pass: Pass,
    ) {
        let m = &self.config;
        let (n, c, v) = (pass.batch * pass.time, m.d_model, m.vocab_size);
        let p = &self.params;
        let eps = self.ln_eps();

        b.embed(&mut acts.resid[0], &p.wte, &p.wpe, tokens, pass.time, c); // x = wte[tok] + wpe[pos]    [N, C]
        if pass.dropout > 0.0 {
            b.dropout_mask(&mut acts.emb_drop, n * c, pass.dropout, dropout_seed(pass, 0));
            b.mul_assign(&mut acts.resid[0], &acts.emb_drop, n * c);
        }
        for l in 0..m.n_layers {
            let (before, after) = acts.resid.split_at_mut(l + 1);
            let (x_in, x_out, a) = (&before[l], &mut after[0], &mut acts.blocks[l]);
            if self.faults.post_norm {
                self.block_forward_post_norm(b, l, a, x_in, x_out, pass); // faults.post_norm: x = LN(x + f(x))
            } else {
                self.block_forward(b, l, a, x_in, x_out, pass);
            }
        }
        let x_final = &acts.resid[m.n_layers];
        b.layernorm(
            &mut acts.lnf,
            &mut acts.lnf_mean,
            &mut acts.lnf_rstd,
            x_final,
            &p.lnf_gain,
            &p.lnf_bias,
            n,
            c,
            eps,
        );
        b.matmul(&mut acts.logits, &acts.lnf, &p.w_head, n, c, v, false, false, false); // logits  [N, V]
        if let Some(targets) = targets {
            // loss = mean(-log softmax(logits)[target])
            b.cross_entropy(&mut acts.losses, &mut acts.dlogits, &acts.logits, targets, n, v, self.softmax_form());
        }
    }

    /// The attention sublayer's core, shared by both block layouts: `h [N, C]` → `a.branch [N, C]`.
    fn attention_forward(&self, b: &mut B, l: usize, a: &mut AttnActs<B::Buf>, h: &B::Buf, pass: Pass) {
        let m = &self.config;
        let (n, c) = (pass.batch * pass.time, m.d_model);
        let w = &self.params.blocks[l];
        let shape = AttnShape { batch: pass.batch, time: pass.time, d_model: c, heads: m.n_heads };
        let causal = !self.faults.no_causal_mask; // faults.no_causal_mask: position i also sees j > i
        b.linear(&mut a.qkv, h, &w.w_qkv, &w.b_qkv, n, c, 3 * c); // qkv = h·W_qkv + b_qkv  [N, 3C]

        // softmax(q·kᵀ·scale [+ causal mask])·v, per head  [N, C]
        b.attention(&mut a.out, &mut a.probs, &a.qkv, shape, self.attn_scale(), causal, self.softmax_form());
        b.linear(&mut a.branch, &a.out, &w.w_proj, &w.b_proj, n, c, c); // out·W_proj + b_proj  [N, C]
        if pass.dropout > 0.0 {
            b.dropout_mask(&mut a.drop, n * c, pass.dropout, dropout_seed(pass, 2 * l as u64 + 1));
            b.mul_assign(&mut a.branch, &a.drop, n * c);
        }
    }

    /// The MLP sublayer's core: `h [N, C]` → `a.branch [N, C]`.
    fn mlp_forward(&self, b: &mut B, l: usize, a: &mut MlpActs<B::Buf>, h: &B::Buf, pass: Pass) {
        let m = &self.config;
        let (n, c, f) = (pass.batch * pass.time, m.d_model, m.mlp_dim());
        let w = &self.params.blocks[l];
        b.linear(&mut a.fc, h, &w.w_fc, &w.b_fc, n, c, f); // h·W_fc + b_fc  [N, F]
        b.activation(&mut a.act, &a.fc, n * f, self.mlp_activation()); // GELU  [N, F]
        b.linear(&mut a.branch, &a.act, &w.w_out, &w.b_out, n, f, c); // act·W_out + b_out  [N, C]
        if pass.dropout > 0.0 {
            b.dropout_mask(&mut a.drop, n * c, pass.dropout, dropout_seed(pass, 2 * l as u64 + 2));
            b.mul_assign(&mut a.branch, &a.drop, n * c);
        }
    }

    /// A pre-norm block: x = x + attn(LN1(x)); x = x + mlp(LN2(x)).
    fn block_forward(
        &self,
        b: &mut B,
        l: usize,
        a: &mut BlockActs<B::Buf>,
        x_in: &B::Buf,
        x_out: &mut B::Buf,
        pass: Pass,
    ) {
        let (n, c) = (pass.batch * pass.time, self.config.d_model);
        let (w, eps) = (&self.params.blocks[l], self.ln_eps());
        b.layernorm(&mut a.ln1, &mut a.ln1_mean, &mut a.ln1_rstd, x_in, &w.ln1_gain, &w.ln1_bias, n, c, eps); // h = LN1(x)  [N, C]
        self.attention_forward(b, l, &mut a.attn, &a.ln1, pass);
        if self.faults.no_residual {
            b.copy(&mut a.x_mid, &a.attn.branch); // faults.no_residual: x = attn(LN1(x)), the input is dropped
        } else {
            b.copy(&mut a.x_mid, x_in);
            b.add_assign(&mut a.x_mid, &a.attn.branch); // x = x + attn(LN1(x))  [N, C]
        }
        b.layernorm(&mut a.ln2, &mut a.ln2_mean, &mut a.ln2_rstd, &a.x_mid, &w.ln2_gain, &w.ln2_bias, n, c, eps); // h = LN2(x)
        self.mlp_forward(b, l, &mut a.mlp, &a.ln2, pass);
        if self.faults.no_residual {
            b.copy(x_out, &a.mlp.branch); // faults.no_residual: x = mlp(LN2(x))
        } else {
            b.copy(x_out, &a.x_mid);
            b.add_assign(x_out, &a.mlp.branch); // x = x + mlp(LN2(x))  [N, C]
        }
    }

    /// A post-norm block (the original Transformer's order): x = LN1(x + attn(x)); x = LN2(x + mlp(x)).
    fn block_forward_post_norm(
        &self,
        b: &mut B,
        l: usize,
        a: &mut BlockActs<B::Buf>,
        x_in: &B::Buf,
        x_out: &mut B::Buf,
        pass: Pass,
    ) {
        let (n, c) = (pass.batch * pass.time, self.config.d_model);
        let (w, eps) = (&self.params.blocks[l], self.ln_eps());
        self.attention_forward(b, l, &mut a.attn, x_in, pass);
        b.copy(&mut a.sum1, &a.attn.branch);
        if !self.faults.no_residual {
            b.add_assign(&mut a.sum1, x_in); // x + attn(x)
        }
        b.layernorm(&mut a.x_mid, &mut a.ln1_mean, &mut a.ln1_rstd, &a.sum1, &w.ln1_gain, &w.ln1_bias, n, c, eps); // LN1(x + attn(x))
        self.mlp_forward(b, l, &mut a.mlp, &a.x_mid, pass);
        b.copy(&mut a.sum2, &a.mlp.branch);
        if !self.faults.no_residual {
            b.add_assign(&mut a.sum2, &a.x_mid); // x + mlp(x)
        }
        b.layernorm(x_out, &mut a.ln2_mean, &mut a.ln2_rstd, &a.sum2, &w.ln2_gain, &w.ln2_bias, n, c, eps);
        // LN2(x + mlp(x))
    }

    /// Back-propagates the loss of the last [`Gpt::forward`] (same `tokens`, `pass`) into `grads`,
    /// accumulating (the trainer zeroes `grads` before each step unless `no-zero-grad` is on).
    pub fn backward(
        &self,
        b: &mut B,
        acts: &mut Activations<B::Buf>,
        grads: &mut ParamSet<B::Buf>,
        tokens: &[u32],
        pass: Pass,
    ) {
        let m = &self.config;
        let (n, c, v) = (pass.batch * pass.time, m.d_model, m.vocab_size);
        let p = &self.params;
        let Activations { resid, emb_drop, blocks, lnf, lnf_mean, lnf_rstd, dlogits, scratch: d, .. } = acts;

        // Head and final LayerNorm.
        b.matmul(&mut grads.w_head, lnf, dlogits, c, n, v, true, false, true); // dW_head += lnfᵀ·dlogits  [C, V]
        b.matmul(&mut d.input, dlogits, &p.w_head, n, v, c, false, true, false); // dlnf = dlogits·W_headᵀ  [N, C]
        b.fill(&mut d.resid, 0.0);
        let x_final = &resid[m.n_layers];
        b.layernorm_backward(
            &mut d.resid,
            &mut grads.lnf_gain,
            &mut grads.lnf_bias,
            &d.input,
            x_final,
            lnf_mean,
            lnf_rstd,
            &p.lnf_gain,
            n,
            c,
        );

        // d.resid holds dL/dx at the output of the block being processed.
        for l in (0..m.n_layers).rev() {
            let (a, g, x_in) = (&blocks[l], &mut grads.blocks[l], &resid[l]);
            if self.faults.post_norm {
                self.block_backward_post_norm(b, l, a, g, d, x_in, pass);
            } else {
                self.block_backward(b, l, a, g, d, x_in, pass);
            }
            if self.faults.detached_block && l + 1 == m.n_layers {
                b.fill(&mut d.resid, 0.0); // faults.detached_block: the last block's input is detached, nothing flows below
            }
        }
        if pass.dropout > 0.0 {
            b.mul_assign(&mut d.resid, emb_drop, n * c);
        }
        b.embed_backward(&mut grads.wte, &mut grads.wpe, &d.resid, tokens, pass.time, c);
        // dwte[tok] += d, dwpe[t] += d
    }

    /// Backward through the attention core, from `d.branch` (dL/d its output) to its weights; leaves
    /// dL/dh (its input) in `d.input`.
    #[allow(clippy::too_many_arguments)]
    fn attention_backward(
        &self,
        b: &mut B,
        l: usize,
        a: &AttnActs<B::Buf>,
        g: &mut Block<B::Buf>,
        d: &mut Scratch<B::Buf>,
        h: &B::Buf,
        pass: Pass,
    ) {
        let m = &self.config;
        let (n, c) = (pass.batch * pass.time, m.d_model);
        let w = &self.params.blocks[l];
        let shape = AttnShape { batch: pass.batch, time: pass.time, d_model: c, heads: m.n_heads };
        if pass.dropout > 0.0 {
            b.mul_assign(&mut d.branch, &a.drop, n * c);
        }
        b.matmul(&mut g.w_proj, &a.out, &d.branch, c, n, c, true, false, true); // dW_proj += outᵀ·d  [C, C]
        b.bias_backward(&mut g.b_proj, &d.branch, n, c);
        b.matmul(&mut d.attn, &d.branch, &w.w_proj, n, c, c, false, true, false); // d_out = d·W_projᵀ  [N, C]
        let causal = !self.faults.no_causal_mask; // as the forward pass masked
        b.attention_backward(&mut d.qkv, &d.attn, &a.qkv, &a.probs, shape, self.attn_scale(), causal); // [N, 3C]
        b.matmul(&mut g.w_qkv, h, &d.qkv, c, n, 3 * c, true, false, true); // dW_qkv += hᵀ·d_qkv  [C, 3C]
        b.bias_backward(&mut g.b_qkv, &d.qkv, n, 3 * c);
        b.matmul(&mut d.input, &d.qkv, &w.w_qkv, n, 3 * c, c, false, true, false);
        // dh = d_qkv·W_qkvᵀ  [N, C]
    }

    /// Backward through the MLP core, from `d.branch` to its weights; leaves dL/dh in `d.input`.
    #[allow(clippy::too_many_arguments)]
    fn mlp_backward(
        &self,
        b: &mut B,
        l: usize,
        a: &MlpActs<B::Buf>,
        g: &mut Block<B::Buf>,
        d: &mut Scratch<B::Buf>,
        h: &B::Buf,
        pass: Pass,
    ) {
        let (n, c, f) = (pass.batch * pass.time, self.config.d_model, self.config.mlp_dim());
        let w = &self.params.blocks[l];
        if pass.dropout > 0.0 {
            b.mul_assign(&mut d.branch, &a.drop, n * c);
        }
        b.matmul(&mut g.w_out, &a.act, &d.branch, f, n, c, true, false, true); // dW_out += actᵀ·d  [F, C]
        b.bias_backward(&mut g.b_out, &d.branch, n, c);
        b.matmul(&mut d.act, &d.branch, &w.w_out, n, c, f, false, true, false); // d_act = d·W_outᵀ  [N, F]
        b.activation_backward(&mut d.fc, &d.act, &a.fc, n * f, self.mlp_activation()); // through the nonlinearity  [N, F]
        b.matmul(&mut g.w_fc, h, &d.fc, c, n, f, true, false, true); // dW_fc += hᵀ·d_fc  [C, F]
        b.bias_backward(&mut g.b_fc, &d.fc, n, f);
        b.matmul(&mut d.input, &d.fc, &w.w_fc, n, f, c, false, true, false); // dh = d_fc·W_fcᵀ  [N, C]
    }

    /// Backward through a pre-norm block; `d.resid` goes from dL/dx_out to dL/dx_in.
    #[allow(clippy::too_many_arguments)]
    fn block_backward(
        &self,
        b: &mut B,
        l: usize,
        a: &BlockActs<B::Buf>,
        g: &mut Block<B::Buf>,
        d: &mut Scratch<B::Buf>,
        x_in: &B::Buf,
        pass: Pass,
    ) {
        let (n, c) = (pass.batch * pass.time, self.config.d_model);
        let w = &self.params.blocks[l];
        // MLP sublayer: x_out = x_mid + mlp(LN2(x_mid)).
        b.copy(&mut d.branch, &d.resid);
        self.mlp_backward(b, l, &a.mlp, g, d, &a.ln2, pass);
        if self.faults.no_residual {
            b.fill(&mut d.resid, 0.0); // faults.no_residual: no identity path carries the gradient past the MLP
        }
        b.layernorm_backward(
            &mut d.resid,
            &mut g.ln2_gain,
            &mut g.ln2_bias,
            &d.input,
            &a.x_mid,
            &a.ln2_mean,
            &a.ln2_rstd,
            &w.ln2_gain,
            n,
            c,
        );
        // d.resid is now dL/dx_mid. Attention sublayer: x_mid = x_in + attn(LN1(x_in)).
        b.copy(&mut d.branch, &d.resid);
        self.attention_backward(b, l, &a.attn, g, d, &a.ln1, pass);
        if self.faults.no_residual {
            b.fill(&mut d.resid, 0.0); // faults.no_residual: no identity path past attention either
        }
        b.layernorm_backward(
            &mut d.resid,
            &mut g.ln1_gain,
            &mut g.ln1_bias,
            &d.input,
            x_in,
            &a.ln1_mean,
            &a.ln1_rstd,
            &w.ln1_gain,
            n,
            c,
        ); // dL/dx_in
    }

    /// Backward through a post-norm block; `d.resid` goes from dL/dx_out to dL/dx_in.
    #[allow(clippy::too_many_arguments)]
    fn block_backward_post_norm(
        &self,
        b: &mut B,
        l: usize,
        a: &BlockActs<B::Buf>,
        g: &mut Block<B::Buf>,
        d: &mut Scratch<B::Buf>,
        x_in: &B::Buf,
        pass: Pass,
    ) {
        let (n, c) = (pass.batch * pass.time, self.config.d_model);
        let w = &self.params.blocks[l];
        // x_out = LN2(sum2), sum2 = x_mid + mlp(x_mid).
        b.fill(&mut d.sum, 0.0);
        b.layernorm_backward(
            &mut d.sum,
            &mut g.ln2_gain,
            &mut g.ln2_bias,
            &d.resid,
            &a.sum2,
            &a.ln2_mean,
            &a.ln2_rstd,
            &w.ln2_gain,
            n,
            c,
        ); // dL/dsum2
        b.copy(&mut d.branch, &d.sum);
        self.mlp_backward(b, l, &a.mlp, g, d, &a.x_mid, pass);
        b.copy(&mut d.resid, &d.input);
        if !self.faults.no_residual {
            b.add_assign(&mut d.resid, &d.sum); // dL/dx_mid: through the MLP plus the identity path
        }
        // x_mid = LN1(sum1), sum1 = x_in + attn(x_in).
        b.fill(&mut d.sum, 0.0);
        b.layernorm_backward(
            &mut d.sum,
            &mut g.ln1_gain,
            &mut g.ln1_bias,
            &d.resid,
            &a.sum1,
            &a.ln1_mean,
            &a.ln1_rstd,
            &w.ln1_gain,
            n,
            c,
        ); // dL/dsum1
        b.copy(&mut d.branch, &d.sum);
        self.attention_backward(b, l, &a.attn, g, d, x_in, pass);
        b.copy(&mut d.resid, &d.input);
        if !self.faults.no_residual {
            b.add_assign(&mut d.resid, &d.sum); // dL/dx_in
        }
    }
}
