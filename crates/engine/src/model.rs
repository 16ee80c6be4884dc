//! The GPT: parameters, activations, forward and backward passes.
//!
//! Read it like a textbook. Every line a learner can break is a named switch of [`Faults`] at the
//! exact line it changes, with the shapes in comments. `N = B·T` rows, `C = d_model`, `F = 4C`,
//! `H` heads of width `d_k = C / H`, `V` vocabulary entries.

use crate::backend::{Activation, AttnShape, Backend};
use crate::config::ModelConfig;
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

impl<P> ParamSet<P> {
    /// Every tensor, in a fixed order (embeddings, blocks, final norm, head).
    pub fn tensors(&self) -> Vec<&P> {
        let mut v = vec![&self.wte, &self.wpe];
        for b in &self.blocks {
            v.extend([
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
            ]);
        }
        v.extend([&self.lnf_gain, &self.lnf_bias, &self.w_head]);
        v
    }

    /// Every tensor, mutably, in the order of [`ParamSet::tensors`].
    pub fn tensors_mut(&mut self) -> Vec<&mut P> {
        let mut v = vec![&mut self.wte, &mut self.wpe];
        for b in &mut self.blocks {
            v.extend([
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
            ]);
        }
        v.extend([&mut self.lnf_gain, &mut self.lnf_bias, &mut self.w_head]);
        v
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
    pub fn describe(m: &ModelConfig) -> Self {
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
                        b_fc: p(n("mlp.b_fc"), &[f], Init::Zeros),
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
                Init::Normal(_) if faults.init_zero => vec![0.0; n], // faults.init_zero: every unit identical
                Init::Normal(std) => {
                    let std = faults.init_too_large.unwrap_or(std); // faults.init_too_large: std 1.0, not 0.02
                    (0..n).map(|_| (rng.normal() * std as f64) as f32).collect()
                }
            }
        })
    }
}

/// Saved activations of one block, everything the backward pass reads.
pub struct BlockActs<Buf> {
    /// LayerNorm 1 output `[N, C]`, its row means and 1/std `[N]`.
    pub ln1: Buf,
    pub ln1_mean: Buf,
    pub ln1_rstd: Buf,
    /// `[N, 3C]`
    pub qkv: Buf,
    /// Attention probabilities `[B, H, T, T]`.
    pub probs: Buf,
    /// Attention output before the projection `[N, C]`.
    pub attn: Buf,
    /// Output of the attention branch `[N, C]` (after the projection and dropout).
    pub attn_branch: Buf,
    pub attn_drop: Buf,
    /// Residual stream between the two sublayers `[N, C]`.
    pub x_mid: Buf,
    pub ln2: Buf,
    pub ln2_mean: Buf,
    pub ln2_rstd: Buf,
    /// MLP pre-activation and activation `[N, F]`.
    pub fc: Buf,
    pub act: Buf,
    /// Output of the MLP branch `[N, C]`.
    pub mlp_branch: Buf,
    pub mlp_drop: Buf,
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
    // Gradient scratch, reused by every block.
    d_resid: Buf,
    d_branch: Buf,
    d_ln: Buf,
    d_attn: Buf,
    d_qkv: Buf,
    d_act: Buf,
    d_fc: Buf,
}

impl<Buf> Activations<Buf> {
    /// Allocates activations for `batch` sequences of up to `time` tokens.
    pub fn new<B: Backend<Buf = Buf>>(backend: &mut B, m: &ModelConfig, batch: usize, time: usize) -> Self {
        let n = batch * time;
        let (c, f, v, h) = (m.d_model, m.mlp_dim(), m.vocab_size, m.n_heads);
        let mut z = |len: usize| backend.zeros(len);
        let blocks = (0..m.n_layers)
            .map(|_| BlockActs {
                ln1: z(n * c),
                ln1_mean: z(n),
                ln1_rstd: z(n),
                qkv: z(n * 3 * c),
                probs: z(batch * h * time * time),
                attn: z(n * c),
                attn_branch: z(n * c),
                attn_drop: z(n * c),
                x_mid: z(n * c),
                ln2: z(n * c),
                ln2_mean: z(n),
                ln2_rstd: z(n),
                fc: z(n * f),
                act: z(n * f),
                mlp_branch: z(n * c),
                mlp_drop: z(n * c),
            })
            .collect();
        Self {
            batch,
            time,
            resid: (0..=m.n_layers).map(|_| z(n * c)).collect(),
            emb_drop: z(n * c),
            blocks,
            lnf: z(n * c),
            lnf_mean: z(n),
            lnf_rstd: z(n),
            logits: z(n * v),
            dlogits: z(n * v),
            losses: z(n),
            d_resid: z(n * c),
            d_branch: z(n * c),
            d_ln: z(n * c),
            d_attn: z(n * c),
            d_qkv: z(n * 3 * c),
            d_act: z(n * f),
            d_fc: z(n * f),
        }
    }
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
    /// A freshly initialised model.
    pub fn new(backend: &mut B, config: ModelConfig, faults: Faults, seed: u64) -> Self {
        let specs = ParamSet::describe(&config);
        let values = specs.initial_values(seed, &faults);
        let params = values.map(|v| {
            let mut buf = backend.zeros(v.len());
            backend.upload(&mut buf, v);
            buf
        });
        Self { config, faults, specs, params }
    }

    /// Number of trainable numbers.
    pub fn param_count(&self) -> usize {
        self.specs.tensors().iter().map(|s| s.numel()).sum()
    }

    /// Zero-filled buffers in the parameters' layout (gradients, optimiser moments).
    pub fn zeros_like_params(&self, backend: &mut B) -> ParamSet<B::Buf> {
        self.specs.map(|s| backend.zeros(s.numel()))
    }

    fn attn_scale(&self) -> f32 {
        if self.faults.no_attn_scale {
            1.0 // faults.no_attn_scale: raw q·k scores, their spread grows with d_k
        } else {
            1.0 / (self.config.head_dim() as f32).sqrt()
        }
    }

    /// Runs the network on `tokens` (`pass.batch × pass.time`, row-major) and, when `targets` is
    /// given, the cross-entropy loss and its gradient `dlogits`. Returns nothing: the results live in
    /// `acts` (`logits`, `losses`, `dlogits`).
    pub fn forward(
        &self,
        b: &mut B,
        acts: &mut Activations<B::Buf>,
        tokens: &[u32],
        targets: Option<&[u32]>,
        pass: Pass,
    ) {
        let m = &self.config;
        let (n, c, f, v) = (pass.batch * pass.time, m.d_model, m.mlp_dim(), m.vocab_size);
        let shape = AttnShape { batch: pass.batch, time: pass.time, d_model: c, heads: m.n_heads };
        let scale = self.attn_scale();
        let causal = !self.faults.no_causal_mask; // faults.no_causal_mask: position i also sees j > i
        let p = &self.params;
        let dropout = pass.dropout > 0.0;
        let mask_seed = |site: u64| pass.dropout_seed.wrapping_mul(0x9E37_79B9).wrapping_add(site);

        b.embed(&mut acts.resid[0], &p.wte, &p.wpe, tokens, pass.time, c); // x = wte[tok] + wpe[pos]    [N, C]
        if dropout {
            b.dropout_mask(&mut acts.emb_drop, n * c, pass.dropout, mask_seed(0));
            b.mul_assign(&mut acts.resid[0], &acts.emb_drop, n * c);
        }

        for (l, (w, a)) in p.blocks.iter().zip(acts.blocks.iter_mut()).enumerate() {
            let (before, after) = acts.resid.split_at_mut(l + 1);
            let (x_in, x_out) = (&before[l], &mut after[0]);

            // Attention sublayer.
            b.layernorm(&mut a.ln1, &mut a.ln1_mean, &mut a.ln1_rstd, x_in, &w.ln1_gain, &w.ln1_bias, n, c, LN_EPS); // h = LN1(x)  [N, C]
            b.matmul(&mut a.qkv, &a.ln1, &w.w_qkv, n, c, 3 * c, false, false, false); // qkv = h·W_qkv  [N, 3C]
            b.add_bias(&mut a.qkv, &w.b_qkv, n, 3 * c);
            b.attention(&mut a.attn, &mut a.probs, &a.qkv, shape, scale, causal); // softmax(q·kᵀ·scale [+ mask])·v  [N, C]
            b.matmul(&mut a.attn_branch, &a.attn, &w.w_proj, n, c, c, false, false, false); // [N, C]
            b.add_bias(&mut a.attn_branch, &w.b_proj, n, c);
            if dropout {
                b.dropout_mask(&mut a.attn_drop, n * c, pass.dropout, mask_seed(2 * l as u64 + 1));
                b.mul_assign(&mut a.attn_branch, &a.attn_drop, n * c);
            }
            if self.faults.no_residual {
                b.copy(&mut a.x_mid, &a.attn_branch); // faults.no_residual: x = attn(LN1(x)), the input is dropped
            } else {
                b.copy(&mut a.x_mid, x_in);
                b.add_assign(&mut a.x_mid, &a.attn_branch); // x = x + attn(LN1(x))  [N, C]
            }

            // MLP sublayer.
            b.layernorm(&mut a.ln2, &mut a.ln2_mean, &mut a.ln2_rstd, &a.x_mid, &w.ln2_gain, &w.ln2_bias, n, c, LN_EPS);
            b.matmul(&mut a.fc, &a.ln2, &w.w_fc, n, c, f, false, false, false); // [N, F]
            b.add_bias(&mut a.fc, &w.b_fc, n, f);
            b.activation(&mut a.act, &a.fc, n * f, Activation::Gelu); // GELU  [N, F]
            b.matmul(&mut a.mlp_branch, &a.act, &w.w_out, n, f, c, false, false, false); // [N, C]
            b.add_bias(&mut a.mlp_branch, &w.b_out, n, c);
            if dropout {
                b.dropout_mask(&mut a.mlp_drop, n * c, pass.dropout, mask_seed(2 * l as u64 + 2));
                b.mul_assign(&mut a.mlp_branch, &a.mlp_drop, n * c);
            }
            if self.faults.no_residual {
                b.copy(x_out, &a.mlp_branch); // faults.no_residual: x = mlp(LN2(x))
            } else {
                b.copy(x_out, &a.x_mid);
                b.add_assign(x_out, &a.mlp_branch); // x = x + mlp(LN2(x))  [N, C]
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
            LN_EPS,
        );
        b.matmul(&mut acts.logits, &acts.lnf, &p.w_head, n, c, v, false, false, false); // logits  [N, V]
        if let Some(targets) = targets {
            b.cross_entropy(&mut acts.losses, &mut acts.dlogits, &acts.logits, targets, n, v);
            // loss = mean(-log softmax(logits)[target])
        }
    }

    /// Back-propagates the loss of the last [`Gpt::forward`] (same `tokens`, `pass`) into `grads`,
    /// accumulating (the trainer zeroes `grads` before each step).
    pub fn backward(
        &self,
        b: &mut B,
        acts: &mut Activations<B::Buf>,
        grads: &mut ParamSet<B::Buf>,
        tokens: &[u32],
        pass: Pass,
    ) {
        let m = &self.config;
        let (n, c, f, v) = (pass.batch * pass.time, m.d_model, m.mlp_dim(), m.vocab_size);
        let shape = AttnShape { batch: pass.batch, time: pass.time, d_model: c, heads: m.n_heads };
        let scale = self.attn_scale();
        let p = &self.params;
        let dropout = pass.dropout > 0.0;
        let Activations {
            resid,
            emb_drop,
            blocks,
            lnf,
            lnf_mean,
            lnf_rstd,
            dlogits,
            d_resid,
            d_branch,
            d_ln,
            d_attn,
            d_qkv,
            d_act,
            d_fc,
            ..
        } = acts;

        // Head and final LayerNorm.
        b.matmul(&mut grads.w_head, lnf, dlogits, c, n, v, true, false, true); // dW_head += lnfᵀ·dlogits  [C, V]
        b.matmul(d_ln, dlogits, &p.w_head, n, v, c, false, true, false); // dlnf = dlogits·W_headᵀ  [N, C]
        b.fill(d_resid, 0.0);
        b.layernorm_backward(
            d_resid,
            &mut grads.lnf_gain,
            &mut grads.lnf_bias,
            d_ln,
            &resid[m.n_layers],
            lnf_mean,
            lnf_rstd,
            &p.lnf_gain,
            n,
            c,
        );

        // d_resid holds dL/dx at the output of the block being processed.
        for l in (0..m.n_layers).rev() {
            let (w, a, g) = (&p.blocks[l], &blocks[l], &mut grads.blocks[l]);

            // MLP sublayer: x_out = x_mid + mlp_branch.
            let d_mlp = if dropout {
                b.copy(d_branch, d_resid);
                b.mul_assign(d_branch, &a.mlp_drop, n * c);
                &*d_branch
            } else {
                &*d_resid
            };
            b.matmul(&mut g.w_out, &a.act, d_mlp, f, n, c, true, false, true); // dW_out += actᵀ·d  [F, C]
            b.bias_backward(&mut g.b_out, d_mlp, n, c);
            b.matmul(d_act, d_mlp, &w.w_out, n, c, f, false, true, false); // d_act = d·W_outᵀ  [N, F]
            b.activation_backward(d_fc, d_act, &a.fc, n * f, Activation::Gelu); // through GELU  [N, F]
            b.matmul(&mut g.w_fc, &a.ln2, d_fc, c, n, f, true, false, true); // dW_fc += ln2ᵀ·d_fc  [C, F]
            b.bias_backward(&mut g.b_fc, d_fc, n, f);
            b.matmul(d_ln, d_fc, &w.w_fc, n, f, c, false, true, false); // d_ln2 = d_fc·W_fcᵀ  [N, C]
            if self.faults.no_residual {
                b.fill(d_resid, 0.0); // faults.no_residual: no identity path carries the gradient past the MLP
            }
            b.layernorm_backward(
                d_resid,
                &mut g.ln2_gain,
                &mut g.ln2_bias,
                d_ln,
                &a.x_mid,
                &a.ln2_mean,
                &a.ln2_rstd,
                &w.ln2_gain,
                n,
                c,
            ); // now dL/dx_mid

            // Attention sublayer: x_mid = x_in + attn_branch.
            let d_att = if dropout {
                b.copy(d_branch, d_resid);
                b.mul_assign(d_branch, &a.attn_drop, n * c);
                &*d_branch
            } else {
                &*d_resid
            };
            b.matmul(&mut g.w_proj, &a.attn, d_att, c, n, c, true, false, true); // dW_proj += attnᵀ·d  [C, C]
            b.bias_backward(&mut g.b_proj, d_att, n, c);
            b.matmul(d_attn, d_att, &w.w_proj, n, c, c, false, true, false); // d_attn = d·W_projᵀ  [N, C]
            b.attention_backward(d_qkv, d_attn, &a.qkv, &a.probs, shape, scale); // [N, 3C]
            b.matmul(&mut g.w_qkv, &a.ln1, d_qkv, c, n, 3 * c, true, false, true); // dW_qkv += ln1ᵀ·d_qkv  [C, 3C]
            b.bias_backward(&mut g.b_qkv, d_qkv, n, 3 * c);
            b.matmul(d_ln, d_qkv, &w.w_qkv, n, 3 * c, c, false, true, false); // d_ln1 = d_qkv·W_qkvᵀ  [N, C]
            if self.faults.no_residual {
                b.fill(d_resid, 0.0); // faults.no_residual: no identity path past attention either
            }
            b.layernorm_backward(
                d_resid,
                &mut g.ln1_gain,
                &mut g.ln1_bias,
                d_ln,
                &resid[l],
                &a.ln1_mean,
                &a.ln1_rstd,
                &w.ln1_gain,
                n,
                c,
            ); // now dL/dx_in
        }

        if dropout {
            b.mul_assign(d_resid, emb_drop, n * c);
        }
        b.embed_backward(&mut grads.wte, &mut grads.wpe, d_resid, tokens, pass.time, c);
        // dwte[tok] += d, dwpe[t] += d
    }
}
