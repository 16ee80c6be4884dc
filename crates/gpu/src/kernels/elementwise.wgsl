// Element-wise kernels over the first `len` elements: fill, scale, clip, add, multiply, bias.
// Every entry point walks its elements with a grid-stride loop, so any length fits in a bounded
// number of workgroups.

// `len` elements, for the kernels that read nothing else.
struct LenUniforms {
    len: u32,
}

// `len` elements and the value `fill` writes or `scale` multiplies by.
struct ValueUniforms {
    len: u32,
    value: f32,
}

// `len` = rows · cols elements, in rows of width `cols`.
struct AddBiasUniforms {
    len: u32,
    cols: u32,
}

// Each entry point reads one of these, at a binding of its own: WGSL gives each resource variable
// of a module its own binding.
@group(0) @binding(0) var<uniform> len_u: LenUniforms;
@group(0) @binding(1) var<storage, read_write> x: array<f32>;
@group(0) @binding(2) var<storage, read> y: array<f32>;
// (clip factor, healthy) from reduce.wgsl's global_norm.
@group(0) @binding(3) var<storage, read> status: array<f32>;
@group(0) @binding(4) var<uniform> value_u: ValueUniforms;
@group(0) @binding(5) var<uniform> bias_u: AddBiasUniforms;

// x = value
@compute @workgroup_size(256)
fn fill(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    for (var i = gid.x; i < value_u.len; i += nwg.x * 256u) {
        x[i] = value_u.value;
    }
}

// x *= value
@compute @workgroup_size(256)
fn scale(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    for (var i = gid.x; i < value_u.len; i += nwg.x * 256u) {
        x[i] = x[i] * value_u.value;
    }
}

// x *= the clip factor, when the step is healthy (otherwise x stays as it is)
@compute @workgroup_size(256)
fn clip_scale(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    if (status[1] == 0.0) {
        return;
    }
    let factor = status[0];
    for (var i = gid.x; i < len_u.len; i += nwg.x * 256u) {
        x[i] = x[i] * factor;
    }
}

// x += y
@compute @workgroup_size(256)
fn add_assign(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    for (var i = gid.x; i < len_u.len; i += nwg.x * 256u) {
        x[i] = x[i] + y[i];
    }
}

// x *= y (the dropout mask)
@compute @workgroup_size(256)
fn mul_assign(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    for (var i = gid.x; i < len_u.len; i += nwg.x * 256u) {
        x[i] = x[i] * y[i];
    }
}

// x[r, c] += y[c] over rows of width `cols`; `len` = rows · cols.
@compute @workgroup_size(256)
fn add_bias(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    for (var i = gid.x; i < bias_u.len; i += nwg.x * 256u) {
        x[i] = x[i] + y[i % bias_u.cols];
    }
}
