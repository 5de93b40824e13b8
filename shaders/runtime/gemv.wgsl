// Products with a few rows (decoder steps, M ≤ 4), where a 64-row tile would be mostly
// idle: C[b, m, n] = act(alpha * sum_k A[b, m, k] * B[b, k, n] + bias[n]) + R[b, m, n].
// SPLIT_K (B stored [n, k] with long rows: weights): a 32×8 workgroup computes 8 outputs,
// its 32 lanes split K and reduce in workgroup memory; with F16 the row offset and K must be
// even (rows are read as packed pairs). Otherwise (short K, or B stored [k, n]: attention
// keys and values) each of 64 threads owns one output and walks K, with element (k, n) of
// B at k * b_sk + n * b_sn. ONE_ROW specialises M = 1 to scalars (lib/few_rows.wgsl).

#include lib/gemm_io.wgsl
#include lib/few_rows.wgsl
#include lib/grid.wgsl

fn act_at(base: u32, row: u32, kk: u32) -> f32 {
    return a[base + row * p.lda + kk];
}

fn act_rows() -> u32 {
    return p.m;
}

fn store_rows(batch: u32, n: u32, sum: Acc) {
    for (var m = 0u; m < p.m; m++) {
        store(batch, m, n, row_value(sum, m));
    }
}

#if SPLIT_K
@compute @workgroup_size(32, 8, 1)
fn main(wg: Workgroup, @builtin(local_invocation_id) lid: vec3<u32>) {
    let batch = wg.id.z;
    let n = workgroup_index(wg) * 8u + lid.y;
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
    let sum = lane_sum(lid, acc);
    if (lane == 0u && n < p.n) {
        store_rows(batch, n, sum);
    }
}
#else
@compute @workgroup_size(64, 1, 1)
fn main(wg: Workgroup, @builtin(local_invocation_id) lid: vec3<u32>) {
    let batch = wg.id.z;
    let n = workgroup_index(wg) * 64u + lid.x;
    if (n >= p.n) {
        return;
    }
    let a_base = p.a_off + batch * p.a_bs;
    let b_base = p.b_off + batch * p.b_bs + n * p.b_sn;
    var acc = Acc(0.0);
    for (var kk = 0u; kk < p.k; kk++) {
        acc += load_b(b_base + kk * p.b_sk) * rows_at(a_base, kk);
    }
    store_rows(batch, n, acc);
}
#endif
