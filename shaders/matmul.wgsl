// Batched, strided matrix multiply with a fused epilogue:
//   C[b, m, n] = act(alpha * sum_k A[b, m, k] * B[b, k, n] + bias[n]) + R[b, m, n]
// A is f32 activations. B is either an activation (f32) or a weight (f32 or f16 packed two
// per u32, define F16). With TRANS_B, B is stored [n, k] (a PyTorch Linear weight, or K for
// Q·Kᵀ); otherwise [k, n]. Strides and offsets are in elements, so heads of a [T, d_model]
// activation are addressed in place.
// Tiling: a 16×16 workgroup computes a 64×64 block of C, each thread a 4×4 register tile,
// stepping K by 16 through workgroup memory.

struct Params {
    m: u32, n: u32, k: u32, batch: u32,
    a_off: u32, lda: u32, a_bs: u32, b_off: u32,
    ldb: u32, b_bs: u32, c_off: u32, ldc: u32,
    c_bs: u32, r_off: u32, ldr: u32, r_bs: u32,
    bias_off: u32, alpha: f32, _pad0: u32, _pad1: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
#if F16
@group(0) @binding(2) var<storage, read> b: array<u32>;
#else
@group(0) @binding(2) var<storage, read> b: array<f32>;
#endif
@group(0) @binding(3) var<storage, read_write> c: array<f32>;
#if BIAS
#if F16
@group(0) @binding(4) var<storage, read> bias: array<u32>;
#else
@group(0) @binding(4) var<storage, read> bias: array<f32>;
#endif
#endif
#if RESIDUAL
@group(0) @binding(5) var<storage, read> r: array<f32>;
#endif

fn load_b(i: u32) -> f32 {
#if F16
    let pair = unpack2x16float(b[i >> 1u]);
    return select(pair.x, pair.y, (i & 1u) == 1u);
#else
    return b[i];
#endif
}

#if BIAS
fn load_bias(i: u32) -> f32 {
#if F16
    let pair = unpack2x16float(bias[i >> 1u]);
    return select(pair.x, pair.y, (i & 1u) == 1u);
#else
    return bias[i];
#endif
}
#endif

#if GELU
#include gelu.wgsl
#endif

const TILE: u32 = 64u;
const TK: u32 = 16u;

// Workgroup tiles hold vec4s so the inner loop does one load per four values:
// tile_a[m * 4 + k/4] packs four consecutive k of row m; tile_b[k * 16 + n/4] four
// consecutive n of row k.
var<workgroup> tile_a: array<vec4<f32>, 256>;
var<workgroup> tile_b: array<vec4<f32>, 256>;

fn load_a(base: u32, row: u32, col: u32) -> f32 {
    if (row < p.m && col < p.k) {
        return a[base + row * p.lda + col];
    }
    return 0.0;
}

fn load_b_kn(base: u32, k: u32, n: u32) -> f32 {
    if (k < p.k && n < p.n) {
#if TRANS_B
        return load_b(base + n * p.ldb + k);
#else
        return load_b(base + k * p.ldb + n);
#endif
    }
    return 0.0;
}

@compute @workgroup_size(16, 16, 1)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    let batch = wid.z;
    let m0 = wid.y * TILE;
    let n0 = wid.x * TILE;
    let t = lid.y * 16u + lid.x;
    let a_base = p.a_off + batch * p.a_bs;
    let b_base = p.b_off + batch * p.b_bs;
    // This thread's share of the tile loads: one vec4 of A and one of B per K step.
    let a_row = m0 + t / 4u;
    let a_col = (t % 4u) * 4u;
    let b_k = t / 16u;
    let b_col = n0 + (t % 16u) * 4u;

    var acc: array<vec4<f32>, 4>;
    for (var i = 0u; i < 4u; i++) {
        acc[i] = vec4<f32>(0.0);
    }

    for (var k0 = 0u; k0 < p.k; k0 += TK) {
        let ak = k0 + a_col;
        tile_a[t] = vec4<f32>(
            load_a(a_base, a_row, ak),
            load_a(a_base, a_row, ak + 1u),
            load_a(a_base, a_row, ak + 2u),
            load_a(a_base, a_row, ak + 3u),
        );
        let bk = k0 + b_k;
        tile_b[t] = vec4<f32>(
            load_b_kn(b_base, bk, b_col),
            load_b_kn(b_base, bk, b_col + 1u),
            load_b_kn(b_base, bk, b_col + 2u),
            load_b_kn(b_base, bk, b_col + 3u),
        );
        workgroupBarrier();
        for (var kq = 0u; kq < 4u; kq++) {
            let a0 = tile_a[(lid.y * 4u + 0u) * 4u + kq];
            let a1 = tile_a[(lid.y * 4u + 1u) * 4u + kq];
            let a2 = tile_a[(lid.y * 4u + 2u) * 4u + kq];
            let a3 = tile_a[(lid.y * 4u + 3u) * 4u + kq];
            for (var j = 0u; j < 4u; j++) {
                let bv = tile_b[(kq * 4u + j) * 16u + lid.x];
                acc[0] += a0[j] * bv;
                acc[1] += a1[j] * bv;
                acc[2] += a2[j] * bv;
                acc[3] += a3[j] * bv;
            }
        }
        workgroupBarrier();
    }

    for (var i = 0u; i < 4u; i++) {
        let row = m0 + lid.y * 4u + i;
        if (row >= p.m) {
            break;
        }
        for (var j = 0u; j < 4u; j++) {
            let col = n0 + lid.x * 4u + j;
            if (col >= p.n) {
                break;
            }
            var v = acc[i][j] * p.alpha;
#if BIAS
            v += load_bias(p.bias_off + col);
#endif
#if GELU
            v = gelu(v);
#endif
#if RESIDUAL
            v += r[p.r_off + batch * p.r_bs + row * p.ldr + col];
#endif
            c[p.c_off + batch * p.c_bs + row * p.ldc + col] = v;
        }
    }
}
