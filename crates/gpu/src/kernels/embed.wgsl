// Token and position embeddings and their gradients.
//
// Row i of the batch holds token tokens[i] at position i % time; rows are `d` wide.

struct Params {
    rows: u32,
    time: u32,
    d: u32,
    vocab: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<storage, read> table: array<f32>;
@group(0) @binding(3) var<storage, read> pos: array<f32>;
@group(0) @binding(4) var<storage, read> tokens: array<u32>;

// out[i] = wte[tokens[i]] + wpe[i % time]: one thread per output element.
@compute @workgroup_size(256)
fn embed(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    for (var e = gid.x; e < p.rows * p.d; e += nwg.x * 256u) {
        let i = e / p.d;
        let c = e % p.d;
        out[e] = table[tokens[i] * p.d + c] + pos[(i % p.time) * p.d + c];
    }
}

// dwte[v, c] += Σ_{i: tokens[i] = v} dout[i, c]. Several rows may share a token and WGSL has no
// float atomics, so each thread owns one element of the table and gathers its rows in order (the
// CPU's order too); `out` is dwte and `table` is dout.
@compute @workgroup_size(256)
fn embed_backward_tokens(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    for (var e = gid.x; e < p.vocab * p.d; e += nwg.x * 256u) {
        let v = e / p.d;
        let c = e % p.d;
        var acc = out[e];
        for (var i = 0u; i < p.rows; i++) {
            if (tokens[i] == v) {
                acc = acc + table[i * p.d + c];
            }
        }
        out[e] = acc;
    }
}

// dwpe[t, c] += Σ_b dout[b · time + t, c]; `out` is dwpe and `table` is dout.
@compute @workgroup_size(256)
fn embed_backward_positions(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    for (var e = gid.x; e < p.time * p.d; e += nwg.x * 256u) {
        let t = e / p.d;
        let c = e % p.d;
        var acc = out[e];
        for (var i = t; i < p.rows; i += p.time) {
            acc = acc + table[i * p.d + c];
        }
        out[e] = acc;
    }
}
