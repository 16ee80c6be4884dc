// Cross-entropy of `rows` rows of `vocab` logits against their targets, with the gradient of the
// mean loss: one thread per row, in the CPU's formulas and order.
//
// Healthy form: loss = logsumexp(z) - z_t with the row maximum subtracted inside the exp. With
// `subtract_max` off, exp overflows for logits above ~88 (Inf, then NaN); with `log_softmax` off the
// loss is -log(softmax(z)_t), which is +Inf once p_t underflows to 0.

struct CrossEntropyUniforms {
    rows: u32,
    vocab: u32,
    subtract_max: u32,
    log_softmax: u32,
}

@group(0) @binding(0) var<uniform> u: CrossEntropyUniforms;
@group(0) @binding(1) var<storage, read_write> losses: array<f32>;
@group(0) @binding(2) var<storage, read_write> dlogits: array<f32>;
@group(0) @binding(3) var<storage, read> logits: array<f32>;
@group(0) @binding(4) var<storage, read> targets: array<u32>;

// -Inf, made at run time: browsers' WGSL compilers reject an infinite constant expression.
fn neg_inf() -> f32 {
    var bits = 0xff800000u;
    return bitcast<f32>(bits);
}

@compute @workgroup_size(64)
fn cross_entropy(@builtin(global_invocation_id) gid: vec3<u32>) {
    let r = gid.x;
    if (r >= u.rows) {
        return;
    }
    let base = r * u.vocab;
    var mx = neg_inf();
    for (var j = 0u; j < u.vocab; j++) {
        let z = logits[base + j];
        if (z > mx) {
            mx = z;
        }
    }
    var shift = 0.0;
    if (u.subtract_max != 0u) {
        shift = mx;
    }
    var sum_exp = 0.0;
    for (var j = 0u; j < u.vocab; j++) {
        sum_exp = sum_exp + exp(logits[base + j] - shift);
    }
    let lse = shift + log(sum_exp);
    let target_index = targets[r];
    let zt = logits[base + target_index];
    if (u.log_softmax != 0u) {
        losses[r] = lse - zt;
    } else {
        losses[r] = -log(exp(zt - shift) / sum_exp);
    }
    let inv_rows = 1.0 / f32(u.rows);
    for (var j = 0u; j < u.vocab; j++) {
        let prob = exp(logits[base + j] - lse);
        let onehot = select(0.0, 1.0, j == target_index);
        dlogits[base + j] = (prob - onehot) * inv_rows;
    }
}
