// Element-wise kernels over the first `len` elements: fill, scale, clip, add, multiply, bias.
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
// (clip factor, healthy) from reduce.wgsl's global_norm.
@group(0) @binding(3) var<storage, read> status: array<f32>;

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

// x *= the clip factor, when the step is healthy (otherwise x stays as it is)
@compute @workgroup_size(256)
fn clip_scale(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    if (status[1] == 0.0) {
        return;
    }
    let factor = status[0];
    for (var i = gid.x; i < p.len; i += nwg.x * 256u) {
        x[i] = x[i] * factor;
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
