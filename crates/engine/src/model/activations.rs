//! What a forward pass saves for the backward pass, block by block, and the gradient scratch space
//! the backward pass reuses for every block.

use crate::backend::Backend;
use crate::config::ModelConfig;
use crate::error::EngineError;

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
