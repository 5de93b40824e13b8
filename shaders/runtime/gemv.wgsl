// Products with a few rows (decoder steps, M ≤ 4), where a 64-row tile would be mostly
// idle: C[b, m, n] = act(alpha * sum_k A[b, m, k] * B[b, k, n] + bias[n]) + R[b, m, n].
// SPLIT_K (B stored [n, k] with long rows: weights): 256 threads compute OUTS outputs.
// K is walked in chunks whose activation rows are first copied into workgroup memory (`xs`,
// read once per workgroup instead of once per output); B is read 16 bytes at a time (8
// packed halves, or 4 f32) where its row starts on a 16-byte boundary, element by element
// otherwise. With SUBGROUPS each subgroup splits K for its outputs and reduces with
// subgroupAdd; without, 8 teams of 32 lanes each own R outputs and reduce in workgroup
// memory (lib/few_rows.wgsl). WALK (B stored [n, k], the form for CPU drivers): each of 64
// threads owns one output and walks its row 16 bytes at a time (lib/wide_rows.wgsl), with
// the activations read from global memory, with WIDE_A (aligned rows, no NORM) 16 bytes at
// a time too. Otherwise (short K on a GPU, or B stored [k, n]:
// attention keys and values) each of 64 threads owns one output and walks K, with element
// (k, n) of B at k * b_sk + n * b_sn. ONE_ROW specialises M = 1 to scalars
// (lib/few_rows.wgsl).
// NORM: A's rows are layer-normalised as they are read (a decoder step's FFN layer norm
// folded into fc1): every workgroup first reduces its rows' mean and variance, then reads
// (a − mean) · inv_std · gamma[k] + beta[k].
// PICK (one row, no bias, GELU, residual or NORM: a greedy step's logits): each workgroup
// also leaves what runtime/token_pick.wgsl's PARTIALS pick needs of its outputs, so the pick
// need not read those logits (lib/argmax_partials.wgsl).

#include lib/gemm_io.wgsl
#include lib/few_rows.wgsl
#include lib/grid.wgsl
#if PICK
#include lib/argmax_partials.wgsl
#endif

#if WIDE_A
// Activations k = t ... t + 3 of row `row` (t a multiple of 4; rows aligned).
fn act4_at(base: u32, row: u32, t: u32) -> vec4<f32> {
    return a[(base + row * p.lda + t) / 4u];
}

fn act_at(base: u32, row: u32, kk: u32) -> f32 {
    let i = base + row * p.lda + kk;
    return a[i / 4u][i % 4u];
}
#else
fn act_at(base: u32, row: u32, kk: u32) -> f32 {
    return a[base + row * p.lda + kk];
}
#endif

fn act_rows() -> u32 {
    return p.m;
}

// Stores output n of every row; with PICK (one row) also keeps it in its partial slot
// (output n0 + slot).
fn store_rows(batch: u32, n0: u32, n: u32, sum: Acc) {
    for (var m = 0u; m < p.m; m++) {
        let v = store(batch, m, n, row_value(sum, m));
#if PICK
        keep_output(n - n0, n, v);
#endif
    }
}

#if NORM
// Whisper's layer-norm epsilon (ops::layer_norm::EPS).
const NORM_EPS: f32 = 1e-5;
// Per row (the components of Acc), in every invocation: the mean and 1 / sqrt(variance +
// eps). Private, as workgroup memory is full with four rows.
var<private> norm_mean: Acc;
var<private> norm_inv_std: Acc;

// Sum of `v` over the workgroup's `size` invocations (a power of two), in `partial`.
fn norm_sum(index: u32, size: u32, v: Acc) -> Acc {
    workgroupBarrier();
    partial[index] = v;
    workgroupBarrier();
    for (var s = size / 2u; s > 0u; s >>= 1u) {
        if (index < s) {
            partial[index] += partial[index + s];
        }
        workgroupBarrier();
    }
    return partial[0];
}

// The mean and inverse deviation of the rows at a_base (as runtime/layer_norm.wgsl: variance
// around the mean). Every invocation must call it.
fn norm_rows(a_base: u32, index: u32, size: u32) {
    var s = Acc(0.0);
    for (var kk = index; kk < p.k; kk += size) {
        s += rows_at(a_base, kk);
    }
    let mean = norm_sum(index, size, s) / f32(p.k);
    var q = Acc(0.0);
    for (var kk = index; kk < p.k; kk += size) {
        let dev = rows_at(a_base, kk) - mean;
        q += dev * dev;
    }
    let variance = norm_sum(index, size, q) / f32(p.k);
    norm_mean = mean;
    norm_inv_std = inverseSqrt(variance + NORM_EPS);
}
#endif

// Activations k of the rows at a_base, layer-normalised with NORM.
fn input_at(a_base: u32, kk: u32) -> Acc {
#if NORM
    return (rows_at(a_base, kk) - norm_mean) * norm_inv_std * norm[kk] + norm[p.k + kk];
#else
    return rows_at(a_base, kk);
#endif
}

#if SPLIT_K
// Outputs per team of 32 lanes, and per workgroup (8 teams); ops/matmul.rs sizes the grid.
// The fallback keeps one output per team: two cost a second lane reduction through
// workgroup memory and halve the workgroups (slower on lavapipe, docs/benchmarks.md).
#if SUBGROUPS
const R = 2u;
#else
const R = 1u;
#endif
const OUTS = 8u * R;
// K is walked in chunks of KT (a multiple of V): `xs` takes 12 KiB, `partial` 4 KiB (one
// row: 1 KiB), within the 16 KiB of workgroup memory the kernels may use.
#if ONE_ROW
const KT = 3072u;
#else
const KT = 768u;
#endif
var<workgroup> xs: array<Acc, KT>;

// Copies the activations of k in [c0, c1) into `xs`. Every invocation must call it.
fn load_chunk(a_base: u32, c0: u32, c1: u32, index: u32) {
    workgroupBarrier();
    for (var i = index; i < c1 - c0; i += 256u) {
        xs[i] = input_at(a_base, c0 + i);
    }
    workgroupBarrier();
}

// The activations of k = t (the chunk's xs index t).
fn x_at(a_base: u32, t: u32) -> Acc {
    return xs[t];
}

// Lane `rank` of `count`'s share of B's row starting at element `row` times the activations
// of k in [lo, hi), inside the chunk that starts at c0 (c0 and lo multiples of V).
fn dot_share(row: u32, c0: u32, lo: u32, hi: u32, rank: u32, count: u32) -> Acc {
    var acc = Acc(0.0);
    var rest = lo;
    if (row % V == 0u) {
        let first = (row + lo) / V;
        let units = (hi - lo) / V;
        for (var u = rank; u < units; u += count) {
            acc = unit_fma(acc, b[first + u], 0u, lo - c0 + u * V);
        }
        rest = lo + units * V;
    }
    for (var kk = rest + rank; kk < hi; kk += count) {
        acc += load_b(row + kk) * xs[kk - c0];
    }
    return acc;
}

// One-dimensional: naga refuses subgroup_id in a multi-dimensional workgroup.
@compute @workgroup_size(256, 1, 1)
fn main(
    wg: Workgroup,
    @builtin(local_invocation_index) index: u32,
#if SUBGROUPS
    @builtin(subgroup_id) team: u32,
    @builtin(num_subgroups) teams: u32,
#endif
) {
    let batch = wg.id.z;
    let n0 = workgroup_index(wg) * OUTS;
    let a_base = p.a_off + batch * p.a_bs;
    let b_base = p.b_off + batch * p.b_bs;
#if NORM
    norm_rows(a_base, index, 256u);
#endif
#if PICK
    clear_slot(index);
#endif
#if SUBGROUPS
    // A subgroup numbers its own active lanes, so neither the subgroup size nor how
    // invocations map to subgroups matters. Item i is part i / OUTS of output i % OUTS: with
    // more subgroups than outputs, several split one output's K range between them.
    let rank = subgroupExclusiveAdd(1u);
    let count = subgroupAdd(1u);
    let parts = max(teams / OUTS, 1u);
    let items = OUTS * parts;
    for (var c0 = 0u; c0 < p.k; c0 += KT) {
        let c1 = min(c0 + KT, p.k);
        load_chunk(a_base, c0, c1, index);
        let units = (c1 - c0 + V - 1u) / V;
        for (var i = team; i < items; i += teams) {
            let n = n0 + i % OUTS;
            let q = i / OUTS;
            if (n < p.n) {
                let lo = c0 + V * (units * q / parts);
                let hi = min(c1, c0 + V * (units * (q + 1u) / parts));
                let s = subgroupAdd(dot_share(b_base + n * p.ldb, c0, lo, hi, rank, count));
                // Each item's running sum belongs to one subgroup until the barrier below.
                if (rank == 0u) {
                    partial[i] = select(partial[i] + s, s, c0 == 0u);
                }
            }
        }
    }
    workgroupBarrier();
    if (index < OUTS && n0 + index < p.n) {
        var sum = Acc(0.0);
        for (var q = 0u; q < parts; q++) {
            sum += partial[q * OUTS + index];
        }
        store_rows(batch, n0, n0 + index, sum);
    }
#else
    // Team lid.y owns outputs n0 + lid.y + 8j; its 32 lanes split each chunk.
    let lid = vec3<u32>(index % 32u, index / 32u, 0u);
    var acc = array<Acc, R>();
    for (var c0 = 0u; c0 < p.k; c0 += KT) {
        let c1 = min(c0 + KT, p.k);
        load_chunk(a_base, c0, c1, index);
        for (var j = 0u; j < R; j++) {
            let n = n0 + lid.y + 8u * j;
            if (n < p.n) {
                acc[j] += dot_share(b_base + n * p.ldb, c0, c0, c1, lid.x, 32u);
            }
        }
    }
    for (var j = 0u; j < R; j++) {
        let sum = lane_sum(lid, acc[j]);
        let n = n0 + lid.y + 8u * j;
        if (lid.x == 0u && n < p.n) {
            store_rows(batch, n0, n, sum);
        }
    }
#endif
#if PICK
    leave_partial(workgroup_index(wg), index, n0 < p.n);
#endif
}
#else
#if WALK
// The activations of k = t, from global memory.
fn x_at(a_base: u32, t: u32) -> Acc {
    return input_at(a_base, t);
}

// Each thread walks its own output's row of B 16 bytes at a time: no workgroup memory and
// no barriers (but NORM's), which CPU drivers run far faster than the split form.
@compute @workgroup_size(64, 1, 1)
fn main(wg: Workgroup, @builtin(local_invocation_index) index: u32) {
    let batch = wg.id.z;
    let n0 = workgroup_index(wg) * 64u;
    let n = n0 + index;
    let a_base = p.a_off + batch * p.a_bs;
#if NORM
    norm_rows(a_base, index, 64u);
#endif
#if PICK
    clear_slot(index);
#endif
    // No early return: PICK's reduction below needs every invocation.
    if (n < p.n) {
        let row = p.b_off + batch * p.b_bs + n * p.ldb;
        var acc = Acc(0.0);
        var rest = 0u;
        if (row % V == 0u) {
            let first = row / V;
            let units = p.k / V;
            for (var u = 0u; u < units; u++) {
                acc = unit_fma(acc, b[first + u], a_base, u * V);
            }
            rest = units * V;
        }
        for (var kk = rest; kk < p.k; kk++) {
            acc += load_b(row + kk) * input_at(a_base, kk);
        }
        store_rows(batch, n0, n, acc);
    }
#if PICK
    leave_partial(workgroup_index(wg), index, n0 < p.n);
#endif
}
#else
@compute @workgroup_size(64, 1, 1)
fn main(wg: Workgroup, @builtin(local_invocation_id) lid: vec3<u32>) {
    let batch = wg.id.z;
    let n0 = workgroup_index(wg) * 64u;
    let n = n0 + lid.x;
    let a_base = p.a_off + batch * p.a_bs;
#if NORM
    norm_rows(a_base, lid.x, 64u);
#endif
#if PICK
    clear_slot(lid.x);
#endif
    if (n < p.n) {
        let b_base = p.b_off + batch * p.b_bs + n * p.b_sn;
        var acc = Acc(0.0);
        for (var kk = 0u; kk < p.k; kk++) {
            acc += load_b(b_base + kk * p.b_sk) * input_at(a_base, kk);
        }
        store_rows(batch, n0, n, acc);
    }
#if PICK
    leave_partial(workgroup_index(wg), lid.x, n0 < p.n);
#endif
}
#endif
#endif
