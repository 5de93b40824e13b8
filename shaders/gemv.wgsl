// Matrix × weightᵀ for a few rows (decoder steps: M ≤ 4), where the tiled kernel would waste
// most of its tile. C[m, n] = act(alpha * sum_k A[m, k] * W[n, k] + bias[n]) + R[m, n].
// A 32×8 workgroup computes 8 outputs n; the 32 lanes split K and reduce in shared memory.
// With F16 the weight row offset and K must be even (weights are read as packed pairs).

struct Params {
    m: u32, n: u32, k: u32, a_off: u32,
    lda: u32, b_off: u32, ldb: u32, c_off: u32,
    ldc: u32, r_off: u32, ldr: u32, bias_off: u32,
    alpha: f32, _pad0: u32, _pad1: u32, _pad2: u32,
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

var<workgroup> partial: array<vec4<f32>, 256>;

@compute @workgroup_size(32, 8, 1)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
    @builtin(local_invocation_id) lid: vec3<u32>,
) {
    let n = (wid.x + wid.y * groups.x) * 8u + lid.y;
    let lane = lid.x;
    var acc = vec4<f32>(0.0);
    if (n < p.n) {
        let row = p.b_off + n * p.ldb;
#if F16
        let words = row >> 1u;
        for (var q = lane; q < p.k / 2u; q += 32u) {
            let w = unpack2x16float(b[words + q]);
            let kk = 2u * q;
            for (var m = 0u; m < p.m; m++) {
                let ai = p.a_off + m * p.lda + kk;
                acc[m] += w.x * a[ai] + w.y * a[ai + 1u];
            }
        }
#else
        for (var kk = lane; kk < p.k; kk += 32u) {
            let w = b[row + kk];
            for (var m = 0u; m < p.m; m++) {
                acc[m] += w * a[p.a_off + m * p.lda + kk];
            }
        }
#endif
    }
    let slot = lid.y * 32u + lane;
    partial[slot] = acc;
    workgroupBarrier();
    for (var s = 16u; s > 0u; s >>= 1u) {
        if (lane < s) {
            partial[slot] += partial[slot + s];
        }
        workgroupBarrier();
    }
    if (lane == 0u && n < p.n) {
        let sum = partial[slot];
        for (var m = 0u; m < p.m; m++) {
            var v = sum[m] * p.alpha;
#if BIAS
            v += load_bias(p.bias_off + n);
#endif
#if GELU
            v = gelu(v);
#endif
#if RESIDUAL
            v += r[p.r_off + m * p.ldr + n];
#endif
            c[p.c_off + m * p.ldc + n] = v;
        }
    }
}
