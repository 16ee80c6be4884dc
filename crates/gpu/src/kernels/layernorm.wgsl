// LayerNorm over rows of width `cols`, and its backward pass.
//
// One thread per row (or per column for the parameter gradients), summing in the CPU's order: the
// rows are at most a few hundred wide, and there are thousands of them.

// The forward pass: `rows` rows of width `cols`, and the epsilon under the square root.
struct LayernormUniforms {
    rows: u32,
    cols: u32,
    eps: f32,
}

// The backward passes: `rows` rows of width `cols` (the saved rstd already holds the epsilon).
struct LayernormBackwardUniforms {
    rows: u32,
    cols: u32,
}

@group(0) @binding(0) var<uniform> fwd_u: LayernormUniforms;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<storage, read_write> mean: array<f32>;
@group(0) @binding(3) var<storage, read_write> rstd: array<f32>;
@group(0) @binding(4) var<storage, read> x: array<f32>;
@group(0) @binding(5) var<storage, read> gain: array<f32>;
@group(0) @binding(6) var<storage, read> bias: array<f32>;

// out = (x - μ) · rstd · gain + bias, saving μ and rstd = 1 / sqrt(var + eps) per row.
@compute @workgroup_size(64)
fn layernorm(@builtin(global_invocation_id) gid: vec3<u32>) {
    let r = gid.x;
    if (r >= fwd_u.rows) {
        return;
    }
    let base = r * fwd_u.cols;
    let n = f32(fwd_u.cols);
    var sum = 0.0;
    for (var c = 0u; c < fwd_u.cols; c++) {
        sum = sum + x[base + c];
    }
    let mu = sum / n;
    var var_sum = 0.0;
    for (var c = 0u; c < fwd_u.cols; c++) {
        let dev = x[base + c] - mu;
        var_sum = var_sum + dev * dev;
    }
    let rs = 1.0 / sqrt(var_sum / n + fwd_u.eps);
    mean[r] = mu;
    rstd[r] = rs;
    for (var c = 0u; c < fwd_u.cols; c++) {
        out[base + c] = (x[base + c] - mu) * rs * gain[c] + bias[c];
    }
}


// The backward pass, with its own bindings.
@group(0) @binding(7) var<storage, read_write> dx: array<f32>;
@group(0) @binding(8) var<storage, read_write> dgain: array<f32>;
@group(0) @binding(9) var<storage, read_write> dbias: array<f32>;
@group(0) @binding(10) var<storage, read> dout: array<f32>;
@group(0) @binding(11) var<storage, read> saved_mean: array<f32>;
@group(0) @binding(12) var<storage, read> saved_rstd: array<f32>;
// At a binding of its own: WGSL gives each resource variable of a module its own binding.
@group(0) @binding(13) var<uniform> bwd_u: LayernormBackwardUniforms;

// With x̂ = (x - μ)·rstd and dx̂ = dout·gain, accumulates
// dx += rstd · (dx̂ - mean(dx̂) - x̂ · mean(dx̂ · x̂)): one thread per row.
@compute @workgroup_size(64)
fn layernorm_backward_input(@builtin(global_invocation_id) gid: vec3<u32>) {
    let r = gid.x;
    if (r >= bwd_u.rows) {
        return;
    }
    let base = r * bwd_u.cols;
    let n = f32(bwd_u.cols);
    let mu = saved_mean[r];
    let rs = saved_rstd[r];
    var sum_dxhat = 0.0;
    var sum_dxhat_xhat = 0.0;
    for (var c = 0u; c < bwd_u.cols; c++) {
        let xhat = (x[base + c] - mu) * rs;
        let dxhat = dout[base + c] * gain[c];
        sum_dxhat = sum_dxhat + dxhat;
        sum_dxhat_xhat = sum_dxhat_xhat + dxhat * xhat;
    }
    let mean_dxhat = sum_dxhat / n;
    let mean_dxhat_xhat = sum_dxhat_xhat / n;
    for (var c = 0u; c < bwd_u.cols; c++) {
        let xhat = (x[base + c] - mu) * rs;
        let dxhat = dout[base + c] * gain[c];
        dx[base + c] = dx[base + c] + rs * (dxhat - mean_dxhat - xhat * mean_dxhat_xhat);
    }
}

// Accumulates dgain[c] += Σ_r dout[r, c] · x̂[r, c] and dbias[c] += Σ_r dout[r, c]: one thread per
// column, rows in order.
@compute @workgroup_size(64)
fn layernorm_backward_params(@builtin(global_invocation_id) gid: vec3<u32>) {
    let c = gid.x;
    if (c >= bwd_u.cols) {
        return;
    }
    var g = dgain[c];
    var b = dbias[c];
    for (var r = 0u; r < bwd_u.rows; r++) {
        let xhat = (x[r * bwd_u.cols + c] - saved_mean[r]) * saved_rstd[r];
        g = g + dout[r * bwd_u.cols + c] * xhat;
        b = b + dout[r * bwd_u.cols + c];
    }
    dgain[c] = g;
    dbias[c] = b;
}
