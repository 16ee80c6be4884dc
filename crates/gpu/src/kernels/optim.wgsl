// Optimiser updates, one thread per parameter (grid-stride).

// Each update's hyperparameters over `len` parameters. In both, `clip` is 1 when the gradient still
// waits for clip_grad_norm's scaling, which the update applies.
struct AdamWUniforms {
    len: u32,
    lr: f32,
    beta1: f32,
    beta2: f32,
    eps: f32,
    weight_decay: f32,
    bias1: f32, // 1 - beta1^step, computed on the host as the CPU does
    bias2: f32, // 1 - beta2^step
    clip: u32,
}

struct SgdUniforms {
    len: u32,
    lr: f32,
    momentum: f32,
    weight_decay: f32,
    clip: u32,
}

@group(0) @binding(0) var<uniform> adamw_u: AdamWUniforms;
@group(0) @binding(1) var<storage, read_write> param: array<f32>;
@group(0) @binding(2) var<storage, read_write> grad: array<f32>;
@group(0) @binding(3) var<storage, read_write> m: array<f32>;
@group(0) @binding(4) var<storage, read_write> v: array<f32>;
// (clip factor, healthy) from reduce.wgsl's global_norm: an unhealthy step updates nothing.
@group(0) @binding(5) var<storage, read> status: array<f32>;
// At a binding of its own: WGSL gives each resource variable of a module its own binding.
@group(0) @binding(6) var<uniform> sgd_u: SgdUniforms;

// The gradient's element i, scaled by the clip factor first when it still waits for that (`clip`):
// the scaled value is written back, as elementwise.wgsl's clip_scale writes it.
fn clipped_grad(i: u32, clip: u32) -> f32 {
    if (clip == 0u) {
        return grad[i];
    }
    let g = grad[i] * status[0];
    grad[i] = g;
    return g;
}

// AdamW: moments, bias correction, and decoupled weight decay outside the adaptive step.
@compute @workgroup_size(256)
fn adamw(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    if (status[1] == 0.0) {
        return;
    }
    for (var i = gid.x; i < adamw_u.len; i += nwg.x * 256u) {
        let g = clipped_grad(i, adamw_u.clip);
        let mi = adamw_u.beta1 * m[i] + (1.0 - adamw_u.beta1) * g;
        let vi = adamw_u.beta2 * v[i] + (1.0 - adamw_u.beta2) * g * g;
        m[i] = mi;
        v[i] = vi;
        let m_hat = mi / adamw_u.bias1;
        let v_hat = vi / adamw_u.bias2;
        param[i] = param[i] - adamw_u.lr * (m_hat / (sqrt(v_hat) + adamw_u.eps) + adamw_u.weight_decay * param[i]);
    }
}

// SGD with momentum; `m` is the velocity. Weight decay is added to the gradient (L2).
@compute @workgroup_size(256)
fn sgd(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    if (status[1] == 0.0) {
        return;
    }
    for (var i = gid.x; i < sgd_u.len; i += nwg.x * 256u) {
        let g = clipped_grad(i, sgd_u.clip) + sgd_u.weight_decay * param[i];
        let vel = sgd_u.momentum * m[i] + g;
        m[i] = vel;
        param[i] = param[i] - sgd_u.lr * vel;
    }
}
