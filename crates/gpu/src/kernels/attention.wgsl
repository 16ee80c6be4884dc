// Multi-head self-attention on packed qkv [N, 3C] (row = [q | k | v], head h at columns h·hd..),
// and its backward pass. Probabilities are [B, H, T, T].

// The forward pass: the shape, the score scale, and the causal mask and max subtraction (nonzero:
// on).
struct AttentionUniforms {
    batch: u32,
    time: u32,
    d_model: u32,
    heads: u32,
    scale: f32,
    causal: u32,
    subtract_max: u32,
}

// The backward passes: the shape and the score scale. They need no mask: dS is zero wherever the
// saved probabilities are.
struct AttentionBackwardUniforms {
    batch: u32,
    time: u32,
    d_model: u32,
    heads: u32,
    scale: f32,
}

@group(0) @binding(0) var<uniform> fwd_u: AttentionUniforms;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<storage, read_write> probs: array<f32>;
@group(0) @binding(3) var<storage, read> qkv: array<f32>;

// Index of the first element of head h's `part` (0 q, 1 k, 2 v) in row `row` of qkv, whose rows
// are 3 · `c` wide; the head's `hd` elements follow it.
fn qkv_at(row: u32, part: u32, h: u32, hd: u32, c: u32) -> u32 {
    return row * 3u * c + part * c + h * hd;
}

// One thread per query row (b, h, i): scores q·k·scale against every key, the softmax over the
// visible ones (keys ≤ i when causal) exactly as the CPU computes it, zero weight on the rest, then
// the weighted sum of values. With `subtract_max` off, exp overflows for scores above ~88 and the
// row turns to Inf/NaN, the fault's symptom.
// -Inf, made at run time: browsers' WGSL compilers reject an infinite constant expression.
fn neg_inf() -> f32 {
    var bits = 0xff800000u;
    return bitcast<f32>(bits);
}

@compute @workgroup_size(64)
fn attention(@builtin(global_invocation_id) gid: vec3<u32>) {
    let t = fwd_u.time;
    if (gid.x >= fwd_u.batch * fwd_u.heads * t) {
        return;
    }
    let i = gid.x % t;
    let bh = gid.x / t;
    let h = bh % fwd_u.heads;
    let b = bh / fwd_u.heads;
    let hd = fwd_u.d_model / fwd_u.heads;
    let p_off = (bh * t + i) * t;
    var visible = t;
    if (fwd_u.causal != 0u) {
        visible = i + 1u;
    }
    var mx = neg_inf();
    let q = qkv_at(b * t + i, 0u, h, hd, fwd_u.d_model);
    for (var j = 0u; j < t; j++) {
        let k = qkv_at(b * t + j, 1u, h, hd, fwd_u.d_model);
        var dot = 0.0;
        for (var d = 0u; d < hd; d++) {
            dot = dot + qkv[q + d] * qkv[k + d];
        }
        let s = dot * fwd_u.scale;
        probs[p_off + j] = s;
        if (j < visible && s > mx) {
            mx = s;
        }
    }
    var shift = 0.0;
    if (fwd_u.subtract_max != 0u) {
        shift = mx;
    }
    var sum = 0.0;
    for (var j = 0u; j < visible; j++) {
        let e = exp(probs[p_off + j] - shift);
        probs[p_off + j] = e;
        sum = sum + e;
    }
    let inv = 1.0 / sum;
    for (var j = 0u; j < t; j++) {
        if (j < visible) {
            probs[p_off + j] = probs[p_off + j] * inv;
        } else {
            probs[p_off + j] = 0.0; // the causal mask: no weight on later positions
        }
    }
    let o = (b * t + i) * fwd_u.d_model + h * hd;
    for (var d = 0u; d < hd; d++) {
        out[o + d] = 0.0;
    }
    for (var j = 0u; j < t; j++) {
        let w = probs[p_off + j];
        let v = qkv_at(b * t + j, 2u, h, hd, fwd_u.d_model);
        for (var d = 0u; d < hd; d++) {
            out[o + d] = out[o + d] + w * qkv[v + d];
        }
    }
}

// The backward pass, with its own bindings; `ds` is a [B, H, T, T] scratch buffer.
@group(0) @binding(4) var<storage, read_write> dqkv: array<f32>;
@group(0) @binding(5) var<storage, read_write> ds: array<f32>;
@group(0) @binding(6) var<storage, read> dout: array<f32>;
@group(0) @binding(7) var<storage, read> saved_probs: array<f32>;
// At a binding of its own: WGSL gives each resource variable of a module its own binding.
@group(0) @binding(8) var<uniform> bwd_u: AttentionBackwardUniforms;

// One thread per query row (b, h, i): dP = dO·Vᵀ, then through the softmax
// dS = P ⊙ (dP - rowsum(P ⊙ dP)) · scale.
@compute @workgroup_size(64)
fn attention_backward_scores(@builtin(global_invocation_id) gid: vec3<u32>) {
    let t = bwd_u.time;
    if (gid.x >= bwd_u.batch * bwd_u.heads * t) {
        return;
    }
    let i = gid.x % t;
    let bh = gid.x / t;
    let h = bh % bwd_u.heads;
    let b = bh / bwd_u.heads;
    let hd = bwd_u.d_model / bwd_u.heads;
    let p_off = (bh * t + i) * t;
    let o = (b * t + i) * bwd_u.d_model + h * hd;
    var dot = 0.0;
    for (var j = 0u; j < t; j++) {
        let v = qkv_at(b * t + j, 2u, h, hd, bwd_u.d_model);
        var dp = 0.0;
        for (var d = 0u; d < hd; d++) {
            dp = dp + dout[o + d] * qkv[v + d];
        }
        ds[p_off + j] = dp;
        dot = dot + dp * saved_probs[p_off + j];
    }
    for (var j = 0u; j < t; j++) {
        ds[p_off + j] = saved_probs[p_off + j] * (ds[p_off + j] - dot) * bwd_u.scale;
    }
}

// One thread per element of dqkv: dQ = dS·K, dK = dSᵀ·Q, dV = Pᵀ·dO (overwritten).
@compute @workgroup_size(256)
fn attention_backward_qkv(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let t = bwd_u.time;
    let c = bwd_u.d_model;
    let hd = c / bwd_u.heads;
    for (var e = gid.x; e < bwd_u.batch * t * 3u * c; e += nwg.x * 256u) {
        let col = e % (3u * c);
        let row = e / (3u * c);
        let part = col / c;
        let h = (col % c) / hd;
        let d = col % hd;
        let b = row / t;
        let s = row % t;
        let base = (b * bwd_u.heads + h) * t * t;
        var acc = 0.0;
        if (part == 0u) {
            for (var j = 0u; j < t; j++) {
                acc = acc + ds[base + s * t + j] * qkv[qkv_at(b * t + j, 1u, h, hd, c) + d];
            }
        } else if (part == 1u) {
            for (var i = 0u; i < t; i++) {
                acc = acc + ds[base + i * t + s] * qkv[qkv_at(b * t + i, 0u, h, hd, c) + d];
            }
        } else {
            for (var i = 0u; i < t; i++) {
                acc = acc + saved_probs[base + i * t + s] * dout[(b * t + i) * c + h * hd + d];
            }
        }
        dqkv[e] = acc;
    }
}
