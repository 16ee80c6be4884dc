//! The backward pass, written by hand: from `dlogits` back through the head, the final LayerNorm and
//! the blocks in reverse order to the embeddings, accumulating into the gradients.

use super::{Activations, AttnActs, Block, BlockActs, Gpt, MlpActs, ParamSet, Pass, Scratch};
use crate::backend::{AttnShape, Backend, Gemm};

impl<B: Backend> Gpt<B> {
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
        b.matmul(&mut grads.w_head, lnf, dlogits, Gemm::new(c, n, v).transpose_a().accumulate()); // dW_head += lnfᵀ·dlogits  [C, V]
        b.matmul(&mut d.input, dlogits, &p.w_head, Gemm::new(n, v, c).transpose_b()); // dlnf = dlogits·W_headᵀ  [N, C]
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
        b.matmul(&mut g.w_proj, &a.out, &d.branch, Gemm::new(c, n, c).transpose_a().accumulate()); // dW_proj += outᵀ·d  [C, C]
        b.bias_backward(&mut g.b_proj, &d.branch, n, c);
        b.matmul(&mut d.attn, &d.branch, &w.w_proj, Gemm::new(n, c, c).transpose_b()); // d_out = d·W_projᵀ  [N, C]
        let causal = !self.faults.no_causal_mask; // as the forward pass masked
        b.attention_backward(&mut d.qkv, &d.attn, &a.qkv, &a.probs, shape, self.attn_scale(), causal); // [N, 3C]
        b.matmul(&mut g.w_qkv, h, &d.qkv, Gemm::new(c, n, 3 * c).transpose_a().accumulate()); // dW_qkv += hᵀ·d_qkv  [C, 3C]
        b.bias_backward(&mut g.b_qkv, &d.qkv, n, 3 * c);
        b.matmul(&mut d.input, &d.qkv, &w.w_qkv, Gemm::new(n, 3 * c, c).transpose_b());
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
        b.matmul(&mut g.w_out, &a.act, &d.branch, Gemm::new(f, n, c).transpose_a().accumulate()); // dW_out += actᵀ·d  [F, C]
        b.bias_backward(&mut g.b_out, &d.branch, n, c);
        b.matmul(&mut d.act, &d.branch, &w.w_out, Gemm::new(n, c, f).transpose_b()); // d_act = d·W_outᵀ  [N, F]
        b.activation_backward(&mut d.fc, &d.act, &a.fc, n * f, self.mlp_activation()); // through the nonlinearity  [N, F]
        b.matmul(&mut g.w_fc, h, &d.fc, Gemm::new(c, n, f).transpose_a().accumulate()); // dW_fc += hᵀ·d_fc  [C, F]
        b.bias_backward(&mut g.b_fc, &d.fc, n, f);
        b.matmul(&mut d.input, &d.fc, &w.w_fc, Gemm::new(n, f, c).transpose_b());
        // dh = d_fc·W_fcᵀ  [N, C]
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
