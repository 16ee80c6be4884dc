// out[m, n] = op(a) · op(b), or += when `accumulate`, or op(a) · op(b) + bias[n] when `bias` (a linear
// layer: the bias added as each element is stored, the add elementwise.wgsl's add_bias would do).
//
// op(a) is [m, k]: `a` is stored [m, k], or [k, m] when `trans_a`. op(b) is [k, n]: `b` is stored
// [k, n], or [n, k] when `trans_b`. Each workgroup computes one 64×64 tile of `out`: it walks the
// k dimension in slabs of 16, staging a 64×16 slab of op(a) and a 16×64 slab of op(b) in workgroup
// memory, and each of its 256 threads keeps a 4×4 block of the tile in registers.
//
// `matmul_vec4` is the same product for operands whose stored rows are a multiple of 4 long (k or
// m for `a`, n or k for `b`): it loads each slab with one vec4 (16-byte) load per thread.

struct MatmulUniforms {
    m: u32,
    k: u32,
    n: u32,
    trans_a: u32,
    trans_b: u32,
    accumulate: u32,
    bias: u32,
}

@group(0) @binding(0) var<uniform> u: MatmulUniforms;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<storage, read> a: array<f32>;
@group(0) @binding(3) var<storage, read> b: array<f32>;
// The bias of a linear layer; a placeholder when `bias` is 0.
@group(0) @binding(6) var<storage, read> bias: array<f32>;

const TILE: u32 = 64u;
const SLAB: u32 = 16u;
const BLOCK: u32 = 4u;

// Slabs stored k-major so the inner product loop reads consecutive rows and columns.
var<workgroup> a_slab: array<f32, 1024>; // [SLAB][TILE]: a_slab[kk * TILE + row]
var<workgroup> b_slab: array<f32, 1024>; // [SLAB][TILE]: b_slab[kk * TILE + col]

// op(a)[row, kk], zero outside the matrix.
fn load_a(row: u32, kk: u32) -> f32 {
    if (row >= u.m || kk >= u.k) {
        return 0.0;
    }
    if (u.trans_a != 0u) {
        return a[kk * u.m + row];
    }
    return a[row * u.k + kk];
}

// op(b)[kk, col], zero outside the matrix.
fn load_b(kk: u32, col: u32) -> f32 {
    if (kk >= u.k || col >= u.n) {
        return 0.0;
    }
    if (u.trans_b != 0u) {
        return b[col * u.k + kk];
    }
    return b[kk * u.n + col];
}

// This thread's 4×4 block of the tile: row i of the block in acc[i], as four vec4 registers.
struct Block {
    r0: vec4<f32>,
    r1: vec4<f32>,
    r2: vec4<f32>,
    r3: vec4<f32>,
}

// The product of the two staged slabs, added into the block: per k, four rows of op(a) times
// four columns of op(b) as four vec4 fused multiply-adds.
fn multiply_slabs(lid: vec3<u32>, acc: Block) -> Block {
    var r = acc;
    for (var kk = 0u; kk < SLAB; kk++) {
        let ai = kk * TILE + lid.y * BLOCK;
        let bi = kk * TILE + lid.x * BLOCK;
        let av = vec4<f32>(a_slab[ai], a_slab[ai + 1u], a_slab[ai + 2u], a_slab[ai + 3u]);
        let bv = vec4<f32>(b_slab[bi], b_slab[bi + 1u], b_slab[bi + 2u], b_slab[bi + 3u]);
        r.r0 = fma(vec4<f32>(av.x), bv, r.r0);
        r.r1 = fma(vec4<f32>(av.y), bv, r.r1);
        r.r2 = fma(vec4<f32>(av.z), bv, r.r2);
        r.r3 = fma(vec4<f32>(av.w), bv, r.r3);
    }
    return r;
}

// Writes one row of the block (or adds it, when `accumulate`; or with the bias added, when `bias`),
// inside the matrix.
fn store_row(row: u32, col: u32, v: vec4<f32>) {
    if (row >= u.m) {
        return;
    }
    for (var j = 0u; j < BLOCK; j++) {
        if (col + j < u.n) {
            let o = row * u.n + col + j;
            if (u.accumulate != 0u) {
                out[o] = out[o] + v[j];
            } else if (u.bias != 0u) {
                out[o] = v[j] + bias[col + j];
            } else {
                out[o] = v[j];
            }
        }
    }
}

fn store_block(row0: u32, col0: u32, lid: vec3<u32>, acc: Block) {
    let row = row0 + lid.y * BLOCK;
    let col = col0 + lid.x * BLOCK;
    store_row(row, col, acc.r0);
    store_row(row + 1u, col, acc.r1);
    store_row(row + 2u, col, acc.r2);
    store_row(row + 3u, col, acc.r3);
}

@compute @workgroup_size(16, 16)
fn matmul(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    let row0 = wg.y * TILE;
    let col0 = wg.x * TILE;
    let tid = lid.y * 16u + lid.x;
    var acc = Block(vec4<f32>(0.0), vec4<f32>(0.0), vec4<f32>(0.0), vec4<f32>(0.0));
    for (var k0 = 0u; k0 < u.k; k0 += SLAB) {
        // 1024 elements per slab, 256 threads: four loads each. Consecutive threads take consecutive
        // rows (or columns) of the same k, so untransposed b and transposed a read contiguously.
        for (var e = 0u; e < 4u; e++) {
            let idx = e * 256u + tid;
            let kk = idx / TILE;
            let rc = idx % TILE;
            a_slab[kk * TILE + rc] = load_a(row0 + rc, k0 + kk);
            b_slab[kk * TILE + rc] = load_b(k0 + kk, col0 + rc);
        }
        workgroupBarrier();
        acc = multiply_slabs(lid, acc);
        workgroupBarrier();
    }
    store_block(row0, col0, lid, acc);
}

// The same matrices viewed as vec4s, for `matmul_vec4`.
@group(0) @binding(4) var<storage, read> a4: array<vec4<f32>>;
@group(0) @binding(5) var<storage, read> b4: array<vec4<f32>>;

@compute @workgroup_size(16, 16)
fn matmul_vec4(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    let row0 = wg.y * TILE;
    let col0 = wg.x * TILE;
    let tid = lid.y * 16u + lid.x;
    var acc = Block(vec4<f32>(0.0), vec4<f32>(0.0), vec4<f32>(0.0), vec4<f32>(0.0));
    for (var k0 = 0u; k0 < u.k; k0 += SLAB) {
        // Each slab is 256 vec4s: one load per thread, four consecutive floats of a stored row.
        if (u.trans_a == 0u) {
            // a is [m, k]: four consecutive k of one row.
            let row = tid / 4u;
            let kk = (tid % 4u) * 4u;
            var v = vec4<f32>(0.0);
            if (row0 + row < u.m && k0 + kk < u.k) {
                v = a4[((row0 + row) * u.k + k0 + kk) / 4u];
            }
            for (var e = 0u; e < 4u; e++) {
                a_slab[(kk + e) * TILE + row] = v[e];
            }
        } else {
            // a is [k, m]: four consecutive rows at one k.
            let kk = tid / 16u;
            let row = (tid % 16u) * 4u;
            var v = vec4<f32>(0.0);
            if (k0 + kk < u.k && row0 + row < u.m) {
                v = a4[((k0 + kk) * u.m + row0 + row) / 4u];
            }
            for (var e = 0u; e < 4u; e++) {
                a_slab[kk * TILE + row + e] = v[e];
            }
        }
        if (u.trans_b == 0u) {
            // b is [k, n]: four consecutive columns at one k.
            let kk = tid / 16u;
            let col = (tid % 16u) * 4u;
            var v = vec4<f32>(0.0);
            if (k0 + kk < u.k && col0 + col < u.n) {
                v = b4[((k0 + kk) * u.n + col0 + col) / 4u];
            }
            for (var e = 0u; e < 4u; e++) {
                b_slab[kk * TILE + col + e] = v[e];
            }
        } else {
            // b is [n, k]: four consecutive k of one column.
            let col = tid / 4u;
            let kk = (tid % 4u) * 4u;
            var v = vec4<f32>(0.0);
            if (col0 + col < u.n && k0 + kk < u.k) {
                v = b4[((col0 + col) * u.k + k0 + kk) / 4u];
            }
            for (var e = 0u; e < 4u; e++) {
                b_slab[(kk + e) * TILE + col] = v[e];
            }
        }
        workgroupBarrier();
        acc = multiply_slabs(lid, acc);
        workgroupBarrier();
    }
    store_block(row0, col0, lid, acc);
}
