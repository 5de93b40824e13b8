#if F16_TILE
enable f16;
#endif
// Batched, strided matrix multiply with a fused epilogue:
//   C[b, m, n] = act(alpha * sum_k A[b, m, k] * B[b, k, n] + bias[n]) + R[b, m, n]
// A is f32 activations. B is either an activation (f32) or a weight (f32 or f16 packed two
// per u32, define F16). With TRANS_B, B is stored [n, k] (a PyTorch Linear weight, or K for
// Q·Kᵀ); otherwise [k, n]. Strides and offsets are in elements, so heads of a [T, d_model]
// activation are addressed in place.
// Tiling (lib/tile.wgsl, lib/tile_store.wgsl): a 16×16 workgroup computes a 64×64 block of C, each thread a 4×4
// register tile, stepping K by 16 through workgroup memory.
// WALK (with TRANS_B and WIDE_B; the form for CPU drivers): no workgroup memory and no
// barriers; each of 64 threads computes a 4×4 block of C by walking its four rows of A and
// four rows of B along K, B 16 bytes at a time (lib/wide_rows.wgsl; the same A values for
// the four columns, loaded once where the compiler shares the loads). A workgroup covers
// 32×32 outputs.
// WIDE (with TRANS_B, WIDE_A and WIDE_B; GPU drivers, operands aligned to 16 bytes): the same
// tiling with 16-byte loads along K of both operands (lib/wide_tile.wgsl).

#include lib/gemm_io.wgsl

#if WALK
#include lib/walk_matmul.wgsl
#else
#include lib/tile_store.wgsl
#if WIDE
#include lib/wide_tile.wgsl
#else
#include lib/tile.wgsl

const TILE: u32 = 64u;

// The batch item of this workgroup.
var<private> batch: u32;

fn tile_a_at(row: u32, col: u32) -> f32 {
    if (row < p.m && col < p.k) {
        return a[p.a_off + batch * p.a_bs + row * p.lda + col];
    }
    return 0.0;
}

fn tile_b_at(k: u32, n: u32) -> f32 {
    if (k < p.k && n < p.n) {
        let base = p.b_off + batch * p.b_bs;
#if TRANS_B
        return load_b(base + n * p.ldb + k);
#else
        return load_b(base + k * p.ldb + n);
#endif
    }
    return 0.0;
}

fn tile_out(row: u32, col: u32, v: f32) {
    store(batch, row, col, v);
}

@compute @workgroup_size(16, 16, 1)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    batch = wid.z;
    let m0 = wid.y * TILE;
    let n0 = wid.x * TILE;
    let t = lid.y * 16u + lid.x;
    let acc = tile_product(lid, m0 + t / 4u, n0, p.k);
    store_tile(lid, m0, p.m, n0, p.n, acc);
}
#endif
#endif
