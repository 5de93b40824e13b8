// Training: weight and bias gradients of a Linear y = x·Wᵀ + b whose W [n, k] and b [n]
// are trainable f32. Core WebGPU has no f32 atomics, so the sums over token rows run in two
// passes: `grad_weight_partial` / `grad_bias_partial` write one partial sum per chunk of
// `chunk_rows` rows, and `reduce_chunks` adds the chunks up (scaled, optionally accumulated
// onto the existing gradient for gradient accumulation).
//   dW[n, k] = Σ_m dY[m, n] · X[m, k]        db[n] = Σ_m dY[m, n]
// The input gradient dX = dY·W is an ordinary product and runs on the forward matmul kernel,
// except where the contraction is long and the output small (the logits' hidden-state
// gradient: dH[s, j] = Σ_v dZ[s, v]·E[v, j] over a vocabulary chunk): then the same
// chunked kernel runs with TRANS_DY (dY read as [n, m]) and X a stored weight (F16:
// packed f16) starting at element x_off.

struct Params {
    m: u32, n: u32, k: u32, chunk_rows: u32,
    ldy: u32, ldx: u32, chunks: u32, len: u32,
    accumulate: u32, scale: f32, x_off: u32, _pad1: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read> x: array<Packed>;
@group(0) @binding(3) var<storage, read_write> partial: array<f32>;
@group(0) @binding(4) var<storage, read> part_in: array<f32>;
@group(0) @binding(5) var<storage, read_write> grad: array<f32>;

#include lib/f16.wgsl
#include lib/grid.wgsl

// dW tile: a 16×16 workgroup computes 64 (n) × 64 (k) outputs, 4×4 per thread, stepping
// over the chunk's rows 16 at a time through workgroup memory.
var<workgroup> tile_dy: array<vec4<f32>, 256>;
var<workgroup> tile_x: array<vec4<f32>, 256>;

fn load_dy(row: u32, end: u32, col: u32) -> f32 {
    if (row < end && col < p.n) {
#if TRANS_DY
        return dy[col * p.ldy + row];
#else
        return dy[row * p.ldy + col];
#endif
    }
    return 0.0;
}

fn load_x(row: u32, end: u32, col: u32) -> f32 {
    if (row < end && col < p.k) {
        let i = p.x_off + row * p.ldx + col;
        return unpack_at(x[packed_index(i)], i);
    }
    return 0.0;
}

@compute @workgroup_size(16, 16, 1)
fn grad_weight_partial(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    let k0 = wid.x * 64u;
    let n0 = wid.y * 64u;
    let chunk = wid.z;
    let t = lid.y * 16u + lid.x;
    let start = chunk * p.chunk_rows;
    let end = min(start + p.chunk_rows, p.m);
    let lr = t / 16u;
    let lc = (t % 16u) * 4u;
    var acc: array<vec4<f32>, 4>;
    for (var i = 0u; i < 4u; i++) {
        acc[i] = vec4<f32>(0.0);
    }
    for (var m0 = start; m0 < end; m0 += 16u) {
        let row = m0 + lr;
        tile_dy[t] = vec4<f32>(
            load_dy(row, end, n0 + lc),
            load_dy(row, end, n0 + lc + 1u),
            load_dy(row, end, n0 + lc + 2u),
            load_dy(row, end, n0 + lc + 3u),
        );
        tile_x[t] = vec4<f32>(
            load_x(row, end, k0 + lc),
            load_x(row, end, k0 + lc + 1u),
            load_x(row, end, k0 + lc + 2u),
            load_x(row, end, k0 + lc + 3u),
        );
        workgroupBarrier();
        for (var mm = 0u; mm < 16u; mm++) {
            let a = tile_dy[mm * 16u + lid.y];
            let b = tile_x[mm * 16u + lid.x];
            acc[0] += a[0] * b;
            acc[1] += a[1] * b;
            acc[2] += a[2] * b;
            acc[3] += a[3] * b;
        }
        workgroupBarrier();
    }
    for (var i = 0u; i < 4u; i++) {
        let n = n0 + lid.y * 4u + i;
        if (n >= p.n) {
            break;
        }
        for (var j = 0u; j < 4u; j++) {
            let k = k0 + lid.x * 4u + j;
            if (k >= p.k) {
                break;
            }
            partial[(chunk * p.n + n) * p.k + k] = acc[i][j];
        }
    }
}

@compute @workgroup_size(64, 1, 1)
fn grad_bias_partial(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
    let n = gid.x;
    let chunk = wid.y;
    if (n >= p.n) {
        return;
    }
    let start = chunk * p.chunk_rows;
    let end = min(start + p.chunk_rows, p.m);
    var s = 0.0;
    for (var m = start; m < end; m++) {
        s += dy[m * p.ldy + n];
    }
    partial[chunk * p.n + n] = s;
}

@compute @workgroup_size(256, 1, 1)
fn reduce_chunks(wg: Workgroup, @builtin(local_invocation_id) lid: vec3<u32>) {
    let i = thread_index(wg, lid);
    if (i >= p.len) {
        return;
    }
    var s = 0.0;
    for (var c = 0u; c < p.chunks; c++) {
        s += part_in[c * p.len + i];
    }
    s *= p.scale;
    if (p.accumulate != 0u) {
        grad[i] += s;
    } else {
        grad[i] = s;
    }
}
