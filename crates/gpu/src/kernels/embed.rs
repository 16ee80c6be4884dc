//! embed.wgsl: token and position embeddings and their gradients.

use super::{entry_points, slots, Source};
use crate::uniforms::uniform_struct;

pub(crate) const SOURCE: Source = Source { file: "embed.wgsl", text: include_str!("embed.wgsl") };

slots! {
    /// The embeddings, or the table's gradient (dwte or dwpe).
    Out = 1,
    /// The token table (wte), or the output's gradient.
    Table = 2,
    /// The position table (wpe).
    Pos = 3,
    Tokens = 4,
}

uniform_struct! {
    /// `rows` tokens at positions `i % time`, rows `d` wide, `vocab` tokens in the table.
    EmbedUniforms at 0 {
        rows: u32,
        time: u32,
        d: u32,
        vocab: u32,
    }
}

entry_points! {
    /// `out[i] = wte[tokens[i]] + wpe[i % time]`
    Embed = "embed", EmbedUniforms;
    /// `dwte[v]` += the rows of dout whose token is v
    EmbedBackwardTokens = "embed_backward_tokens", EmbedUniforms;
    /// `dwpe[t]` += the rows of dout at position t
    EmbedBackwardPositions = "embed_backward_positions", EmbedUniforms;
}
