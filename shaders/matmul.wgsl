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

var<workgroup> tile_a: array<f32, 1024>; // [TK][TILE], k-major so a thread reads 4 rows at once
var<workgroup> tile_b: array<f32, 1024>; // [TK][TILE]

@compute @workgroup_size(16, 16, 1)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    let batch = wid.z;
    let m0 = wid.y * TILE;
    let n0 = wid.x * TILE;
    let t = lid.y * 16u + lid.x;
    let a_base = p.a_off + batch * p.a_bs;
    let b_base = p.b_off + batch * p.b_bs;

    var acc: array<vec4<f32>, 4>;
    for (var i = 0u; i < 4u; i++) {
        acc[i] = vec4<f32>(0.0);
    }

    for (var k0 = 0u; k0 < p.k; k0 += TK) {
        for (var l = 0u; l < 4u; l++) {
            let e = t + l * 256u;
            // A tile: consecutive threads walk k, so global reads are contiguous.
            let am = e / TK;
            let ak = e % TK;
            var av = 0.0;
            if (m0 + am < p.m && k0 + ak < p.k) {
                av = a[a_base + (m0 + am) * p.lda + k0 + ak];
            }
            tile_a[ak * TILE + am] = av;
#if TRANS_B
            let bn = e / TK;
            let bk = e % TK;
            var bv = 0.0;
            if (n0 + bn < p.n && k0 + bk < p.k) {
                bv = load_b(b_base + (n0 + bn) * p.ldb + k0 + bk);
            }
#else
            let bk = e / TILE;
            let bn = e % TILE;
            var bv = 0.0;
            if (n0 + bn < p.n && k0 + bk < p.k) {
                bv = load_b(b_base + (k0 + bk) * p.ldb + n0 + bn);
            }
#endif
            tile_b[bk * TILE + bn] = bv;
        }
        workgroupBarrier();
        for (var kk = 0u; kk < TK; kk++) {
            let ai = kk * TILE + lid.y * 4u;
            let bi = kk * TILE + lid.x * 4u;
            let av = vec4<f32>(tile_a[ai], tile_a[ai + 1u], tile_a[ai + 2u], tile_a[ai + 3u]);
            let bv = vec4<f32>(tile_b[bi], tile_b[bi + 1u], tile_b[bi + 2u], tile_b[bi + 3u]);
            acc[0] += av.x * bv;
            acc[1] += av.y * bv;
            acc[2] += av.z * bv;
            acc[3] += av.w * bv;
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
