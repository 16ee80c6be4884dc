// Token and position embeddings and their gradients.
//
// Row i of the batch holds token tokens[i] at position i % time; rows are `d` wide.

struct EmbedUniforms {
    rows: u32,
    time: u32,
    d: u32,
    vocab: u32,
}

@group(0) @binding(0) var<uniform> u: EmbedUniforms;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<storage, read> table: array<f32>;
@group(0) @binding(3) var<storage, read> pos: array<f32>;
@group(0) @binding(4) var<storage, read> tokens: array<u32>;

// out[i] = wte[tokens[i]] + wpe[i % time]: one thread per output element.
@compute @workgroup_size(256)
fn embed(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    for (var e = gid.x; e < u.rows * u.d; e += nwg.x * 256u) {
        let i = e / u.d;
        let c = e % u.d;
        out[e] = table[tokens[i] * u.d + c] + pos[(i % u.time) * u.d + c];
    }
}

// dwte[v, c] += Σ_{i: tokens[i] = v} dout[i, c]. Several rows may share a token and WGSL has no
// float atomics, so each thread owns one element of the table and gathers its rows in order (the
// CPU's order too); `out` is dwte and `table` is dout.
@compute @workgroup_size(256)
fn embed_backward_tokens(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    for (var e = gid.x; e < u.vocab * u.d; e += nwg.x * 256u) {
        let v = e / u.d;
        let c = e % u.d;
        var acc = out[e];
        for (var i = 0u; i < u.rows; i++) {
            if (tokens[i] == v) {
                acc = acc + table[i * u.d + c];
            }
        }
        out[e] = acc;
    }
}

// dwpe[t, c] += Σ_b dout[b · time + t, c]; `out` is dwpe and `table` is dout.
@compute @workgroup_size(256)
fn embed_backward_positions(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    for (var e = gid.x; e < u.time * u.d; e += nwg.x * 256u) {
        let t = e / u.d;
        let c = e % u.d;
        var acc = out[e];
        for (var i = t; i < u.rows; i += u.time) {
            acc = acc + table[i * u.d + c];
        }
        out[e] = acc;
    }
}
