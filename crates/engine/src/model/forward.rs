//! The forward pass: embeddings, the blocks (each an attention and an MLP sublayer around the
//! residual stream), the final LayerNorm, the head and the loss.

use super::{dropout_seed, Activations, AttnActs, BlockActs, Gpt, MlpActs, Pass};
use crate::backend::{AttnShape, Backend, Gemm};

impl<B: Backend> Gpt<B> {
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
        b.matmul(&mut acts.logits, &acts.lnf, &p.w_head, Gemm::new(n, c, v)); // logits  [N, V]
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
        b.linear(&mut a.qkv, h, &w.w_qkv, &w.b_qkv, Gemm::new(n, c, 3 * c)); // qkv = h·W_qkv + b_qkv  [N, 3C]

        // softmax(q·kᵀ·scale [+ causal mask])·v, per head  [N, C]
        b.attention(&mut a.out, &mut a.probs, &a.qkv, shape, self.attn_scale(), causal, self.softmax_form());
        b.linear(&mut a.branch, &a.out, &w.w_proj, &w.b_proj, Gemm::new(n, c, c)); // out·W_proj + b_proj  [N, C]
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
        b.linear(&mut a.fc, h, &w.w_fc, &w.b_fc, Gemm::new(n, c, f)); // h·W_fc + b_fc  [N, F]
        b.activation(&mut a.act, &a.fc, n * f, self.mlp_activation()); // GELU  [N, F]
        b.linear(&mut a.branch, &a.act, &w.w_out, &w.b_out, Gemm::new(n, f, c)); // act·W_out + b_out  [N, C]
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
}
