// Products with a few rows (decoder steps, M ≤ 4), where a 64-row tile would be mostly
// idle: C[b, m, n] = act(alpha * sum_k A[b, m, k] * B[b, k, n] + bias[n]) + R[m, n].
// SPLIT_K (B stored [n, k] with long rows: weights): a 32×8 workgroup computes 8 outputs,
// its 32 lanes split K and reduce in workgroup memory; with F16 the row offset and K must be
// even (rows are read as packed pairs). Otherwise (short K, or B stored [k, n]: attention
// keys and values) each of 64 threads owns one output and walks K, with element (k, n) of
// B at k * b_sk + n * b_sn. ONE_ROW specialises M = 1 to scalars.

struct Params {
    m: u32, n: u32, k: u32, a_off: u32,
    lda: u32, a_bs: u32, b_off: u32, ldb: u32,
    b_bs: u32, c_off: u32, ldc: u32, c_bs: u32,
    r_off: u32, ldr: u32, bias_off: u32, alpha: f32,
    b_sk: u32, b_sn: u32, _pad0: u32, _pad1: u32,
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

#if GELU
#include gelu.wgsl
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

// The accumulator holds one value per row of A.
#if ONE_ROW
alias Acc = f32;

fn rows_at(base: u32, kk: u32) -> Acc {
    return a[base + kk];
}

fn row_value(v: Acc, m: u32) -> f32 {
    return v;
}
#else
alias Acc = vec4<f32>;

// Rows past M repeat the last row; their results are never stored.
fn rows_at(base: u32, kk: u32) -> Acc {
    let last = p.m - 1u;
    return vec4<f32>(
        a[base + kk],
        a[base + min(1u, last) * p.lda + kk],
        a[base + min(2u, last) * p.lda + kk],
        a[base + min(3u, last) * p.lda + kk],
    );
}

fn row_value(v: Acc, m: u32) -> f32 {
    return v[m];
}
#endif

fn store(batch: u32, n: u32, sum: Acc) {
    for (var m = 0u; m < p.m; m++) {
        var v = row_value(sum, m) * p.alpha;
#if BIAS
        v += load_bias(p.bias_off + n);
#endif
#if GELU
        v = gelu(v);
#endif
#if RESIDUAL
        v += r[p.r_off + m * p.ldr + n];
#endif
        c[p.c_off + batch * p.c_bs + m * p.ldc + n] = v;
    }
}

#if SPLIT_K
var<workgroup> partial: array<Acc, 256>;

@compute @workgroup_size(32, 8, 1)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
    @builtin(local_invocation_id) lid: vec3<u32>,
) {
    let batch = wid.z;
    let n = (wid.x + wid.y * groups.x) * 8u + lid.y;
    let lane = lid.x;
    let a_base = p.a_off + batch * p.a_bs;
    var acc = Acc(0.0);
    if (n < p.n) {
        let row = p.b_off + batch * p.b_bs + n * p.ldb;
#if F16
        let words = row >> 1u;
        for (var q = lane; q < p.k / 2u; q += 32u) {
            let w = unpack2x16float(b[words + q]);
            acc += w.x * rows_at(a_base, 2u * q) + w.y * rows_at(a_base, 2u * q + 1u);
        }
#else
        for (var kk = lane; kk < p.k; kk += 32u) {
            acc += b[row + kk] * rows_at(a_base, kk);
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
        store(batch, n, partial[slot]);
    }
}
#else
@compute @workgroup_size(64, 1, 1)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
    @builtin(local_invocation_id) lid: vec3<u32>,
) {
    let batch = wid.z;
    let n = (wid.x + wid.y * groups.x) * 64u + lid.x;
    if (n >= p.n) {
        return;
    }
    let a_base = p.a_off + batch * p.a_bs;
    let b_base = p.b_off + batch * p.b_bs + n * p.b_sn;
    var acc = Acc(0.0);
    for (var kk = 0u; kk < p.k; kk++) {
        acc += load_b(b_base + kk * p.b_sk) * rows_at(a_base, kk);
    }
    store(batch, n, acc);
}
#endif
