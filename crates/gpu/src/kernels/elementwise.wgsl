// Element-wise kernels over the first `len` elements: fill, scale, add, multiply, bias.
// Every entry point walks its elements with a grid-stride loop, so any length fits in a bounded
// number of workgroups.

struct Params {
    len: u32,
    cols: u32,
    value: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> x: array<f32>;
@group(0) @binding(2) var<storage, read> y: array<f32>;

// x = value
@compute @workgroup_size(256)
fn fill(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    for (var i = gid.x; i < p.len; i += nwg.x * 256u) {
        x[i] = p.value;
    }
}

// x *= value
@compute @workgroup_size(256)
fn scale(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    for (var i = gid.x; i < p.len; i += nwg.x * 256u) {
        x[i] = x[i] * p.value;
    }
}

// x += y
@compute @workgroup_size(256)
fn add_assign(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    for (var i = gid.x; i < p.len; i += nwg.x * 256u) {
        x[i] = x[i] + y[i];
    }
}

// x *= y (the dropout mask)
@compute @workgroup_size(256)
fn mul_assign(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    for (var i = gid.x; i < p.len; i += nwg.x * 256u) {
        x[i] = x[i] * y[i];
    }
}

// x[r, c] += y[c] over rows of width `cols`; `len` = rows · cols.
@compute @workgroup_size(256)
fn add_bias(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    for (var i = gid.x; i < p.len; i += nwg.x * 256u) {
        x[i] = x[i] + y[i % p.cols];
    }
}
