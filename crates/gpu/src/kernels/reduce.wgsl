// Reductions: the sums of squares behind the gradient norm, the global norm and clip factor, and
// the column sums of the bias gradient.

// sum_squares: `len` elements of x, their partial sums written from out[offset].
struct SumSquaresUniforms {
    len: u32,
    offset: u32,
}

// global_norm: `slots` slots of partial sums, `stride` floats apart, the first `gradients` of them
// the gradients', to clip to `max_norm` (0: no clipping).
struct GlobalNormUniforms {
    slots: u32,
    gradients: u32,
    stride: u32,
    max_norm: f32,
}

// bias_backward: `rows` rows of width `cols`.
struct BiasBackwardUniforms {
    rows: u32,
    cols: u32,
}

// Each entry point reads one of these, at a binding of its own: WGSL gives each resource variable
// of a module its own binding.
@group(0) @binding(0) var<uniform> sum_u: SumSquaresUniforms;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<storage, read> x: array<f32>;
// (clip factor, healthy): written by global_norm, read by the clip and optimiser kernels.
@group(0) @binding(3) var<storage, read_write> status: array<f32>;
@group(0) @binding(4) var<uniform> norm_u: GlobalNormUniforms;
@group(0) @binding(5) var<uniform> bias_u: BiasBackwardUniforms;

// Each workgroup reduces a grid-strided share of `x[..len]` to (scale, ssq, saw_nan, saw_inf) with
// Σ x² = scale² · ssq, written to out[offset + 4 · workgroup ..]. Keeping a running scale (as LAPACK's nrm2
// does) lets squares beyond f32's range, which the CPU sums in f64, come out finite here too; the
// host adds the partial sums in f64. NaN and Inf are detected from the exponent bits, so the
// host can return NaN or Inf exactly when the CPU's f64 sum would.
var<workgroup> wg_scale: array<f32, 256>;
var<workgroup> wg_ssq: array<f32, 256>;
var<workgroup> wg_nan: array<u32, 256>;
var<workgroup> wg_inf: array<u32, 256>;

// (s1, q1) and (s2, q2) each stand for s² · q; their sum as one such pair.
fn combine(s1: f32, q1: f32, s2: f32, q2: f32) -> vec2<f32> {
    let s = max(s1, s2);
    if (s == 0.0) {
        return vec2<f32>(0.0, 0.0);
    }
    let r1 = s1 / s;
    let r2 = s2 / s;
    return vec2<f32>(s, q1 * r1 * r1 + q2 * r2 * r2);
}

@compute @workgroup_size(256)
fn sum_squares(
    @builtin(global_invocation_id) gid: vec3<u32>,
    @builtin(local_invocation_id) lid: vec3<u32>,
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    var scale = 0.0;
    var ssq = 0.0;
    var saw_nan = 0u;
    var saw_inf = 0u;
    for (var i = gid.x; i < sum_u.len; i += nwg.x * 256u) {
        let bits = bitcast<u32>(x[i]);
        if ((bits & 0x7f800000u) == 0x7f800000u) {
            if ((bits & 0x007fffffu) != 0u) {
                saw_nan = 1u;
            } else {
                saw_inf = 1u;
            }
            continue;
        }
        let v = abs(x[i]);
        let c = combine(scale, ssq, v, 1.0);
        scale = c.x;
        ssq = c.y;
    }
    wg_scale[lid.x] = scale;
    wg_ssq[lid.x] = ssq;
    wg_nan[lid.x] = saw_nan;
    wg_inf[lid.x] = saw_inf;
    workgroupBarrier();
    for (var stride = 128u; stride > 0u; stride /= 2u) {
        if (lid.x < stride) {
            let c = combine(wg_scale[lid.x], wg_ssq[lid.x], wg_scale[lid.x + stride], wg_ssq[lid.x + stride]);
            wg_scale[lid.x] = c.x;
            wg_ssq[lid.x] = c.y;
            wg_nan[lid.x] = wg_nan[lid.x] | wg_nan[lid.x + stride];
            wg_inf[lid.x] = wg_inf[lid.x] | wg_inf[lid.x + stride];
        }
        workgroupBarrier();
    }
    if (lid.x == 0u) {
        let o = sum_u.offset + 4u * wg.x;
        out[o] = wg_scale[0];
        out[o + 1u] = wg_ssq[0];
        out[o + 2u] = f32(wg_nan[0]);
        out[o + 3u] = f32(wg_inf[0]);
    }
}

// One workgroup. Slot t's partial sums (those of `sum_squares`, `stride` floats from one slot to the
// next in x) are combined into out[4t ..] = (scale, ssq, saw_nan, saw_inf) for each of the `slots`
// slots. The first `gradients` slots are the gradients: their global norm ‖g‖ = scale · √ssq gives the
// clip factor max_norm / (‖g‖ + 1e-6) when it is above max_norm > 0 (else 1), as the CPU's
// clip_factor; the step is healthy when no slot saw a NaN or an Inf. status = (factor, healthy), and
// healthy stays 0 once a step was not, until the host's read_steps sets it back to 1: the steps
// recorded after a bad one, before the host has seen it, update nothing either.
@compute @workgroup_size(256)
fn global_norm(@builtin(local_invocation_id) lid: vec3<u32>) {
    for (var t = lid.x; t < norm_u.slots; t += 256u) {
        var scale = 0.0;
        var ssq = 0.0;
        var saw_nan = 0.0;
        var saw_inf = 0.0;
        for (var g = 0u; g < norm_u.stride / 4u; g++) {
            let i = t * norm_u.stride + 4u * g;
            let c = combine(scale, ssq, x[i], x[i + 1u]);
            scale = c.x;
            ssq = c.y;
            saw_nan = max(saw_nan, x[i + 2u]);
            saw_inf = max(saw_inf, x[i + 3u]);
        }
        out[4u * t] = scale;
        out[4u * t + 1u] = ssq;
        out[4u * t + 2u] = saw_nan;
        out[4u * t + 3u] = saw_inf;
    }
    storageBarrier();
    if (lid.x == 0u) {
        var scale = 0.0;
        var ssq = 0.0;
        var bad = false;
        for (var t = 0u; t < norm_u.slots; t++) {
            bad = bad || out[4u * t + 2u] != 0.0 || out[4u * t + 3u] != 0.0;
            if (t < norm_u.gradients) {
                let c = combine(scale, ssq, out[4u * t], out[4u * t + 1u]);
                scale = c.x;
                ssq = c.y;
            }
        }
        // The norm is compared as scale · √ssq (Inf still compares above) and divided without forming
        // it, so a norm beyond f32's range still gives a finite factor, as the CPU's f64 does.
        let root = sqrt(ssq);
        var factor = 1.0;
        if (!bad && norm_u.max_norm > 0.0 && scale * root > norm_u.max_norm) {
            factor = (norm_u.max_norm / scale) / (root + 1e-6 / scale);
        }
        status[0] = factor;
        status[1] = select(status[1], 0.0, bad);
    }
}

// out[c] += Σ_r x[r, c] for `rows` rows of width `cols`, rows added in order as on the CPU.
@compute @workgroup_size(256)
fn bias_backward(@builtin(global_invocation_id) gid: vec3<u32>) {
    let c = gid.x;
    if (c >= bias_u.cols) {
        return;
    }
    var acc = out[c];
    for (var r = 0u; r < bias_u.rows; r++) {
        acc = acc + x[r * bias_u.cols + c];
    }
    out[c] = acc;
}
