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
#include lib/tile.wgsl
#include lib/tile_store.wgsl

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

// The workgroup's chunk and its token rows [rows_start, rows_end).
var<private> chunk: u32;
var<private> rows_start: u32;
var<private> rows_end: u32;

// dW tile (lib/tile.wgsl): the product dYᵀ·X over the chunk's rows, A = dYᵀ (row n, column
// the chunk's row mm), B = X (row mm, column k). A 16×16 workgroup computes 64 (n) × 64 (k)
// outputs, 4×4 per thread, 16 rows at a time through workgroup memory.
fn tile_a_at(n: u32, mm: u32) -> f32 {
    return load_dy(rows_start + mm, rows_end, n);
}

fn tile_b_at(mm: u32, k: u32) -> f32 {
    return load_x(rows_start + mm, rows_end, k);
}

fn tile_out(n: u32, k: u32, v: f32) {
    partial[(chunk * p.n + n) * p.k + k] = v;
}

@compute @workgroup_size(16, 16, 1)
fn grad_weight_partial(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    let k0 = wid.x * 64u;
    let n0 = wid.y * 64u;
    let start = wid.z * p.chunk_rows;
    let end = min(start + p.chunk_rows, p.m);
    chunk = wid.z;
    rows_start = start;
    rows_end = end;
    let t = lid.y * 16u + lid.x;
    let acc = tile_product(lid, n0 + t / 4u, k0, max(end, start) - start);
    store_tile(lid, n0, p.n, k0, p.k, acc);
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
