// One Linear of the routed CLSR FFN for a few tokens (rows ≤ 4, decoder steps): each row
// goes through the expert's weight if gates[row] = 1, else the shared one.
//   GELU:    c[r, n] = gelu(a[r, :] · W[n, :] + bias[n])    (fc1, into h)
//   default: c[r, n] += a[r, :] · W[n, :] + bias[n]         (fc2; c holds the residual)
// W is [n, k], f32 or f16 packed two per u32 (define F16). As in gemv.wgsl's SPLIT_K, a 32×8
// workgroup computes 8 outputs with 32 lanes splitting K. Each workgroup reads the weights
// some row takes (one for a single token) and keeps each row's sum from its own weight, then
// reduces once: the same grid and barriers as the dense kernel. (Per-weight workgroups, or a
// loop over the weights around the reduction, cost 2× on lavapipe, where the per-workgroup
// overhead dominates these small products.) WALK (CPU drivers, as gemv.wgsl's WALK): each of
// 64 threads owns one output and walks its row(s) 16 bytes at a time, without workgroup
// memory or barriers; with WIDE_A the activation rows 16 bytes at a time too. ONE_ROW:
// rows = 1.

#include lib/clsr_linear_io.wgsl
#include lib/few_rows.wgsl
#include lib/grid.wgsl
@group(0) @binding(7) var<storage, read> gates: array<u32>;

#if GELU
#include lib/gelu.wgsl
#endif

#if WIDE_A
// Activations k = t ... t + 3 of row `row` (K a whole number of 16-byte units, so every
// row starts on one; t a multiple of 4).
fn act4_at(base: u32, row: u32, t: u32) -> vec4<f32> {
    return a[(base + row * p.k + t) / 4u];
}

fn act_at(base: u32, row: u32, kk: u32) -> f32 {
    let i = base + row * p.k + kk;
    return a[i / 4u][i % 4u];
}
#else
fn act_at(base: u32, row: u32, kk: u32) -> f32 {
    return a[base + row * p.k + kk];
}
#endif

fn act_rows() -> u32 {
    return p.rows;
}

#if WALK
#include lib/wide_rows.wgsl

fn x_at(base: u32, t: u32) -> Acc {
    return rows_at(0u, t);
}

// Row `row` (its first element) of W times the token rows, one function per weight so
// that the inner loop reads one buffer without a branch per element.
fn dot_shared(row: u32) -> Acc {
    var acc = Acc(0.0);
    var rest = 0u;
    if (row % V == 0u) {
        let units = p.k / V;
        for (var u = 0u; u < units; u++) {
            acc = unit_fma(acc, w_shared[row / V + u], 0u, u * V);
        }
        rest = units * V;
    }
    for (var kk = rest; kk < p.k; kk++) {
        let i = row + kk;
        acc += wide_at(w_shared[packed_index(i) >> 2u], i) * rows_at(0u, kk);
    }
    return acc;
}

fn dot_expert(row: u32) -> Acc {
    var acc = Acc(0.0);
    var rest = 0u;
    if (row % V == 0u) {
        let units = p.k / V;
        for (var u = 0u; u < units; u++) {
            acc = unit_fma(acc, w_expert[row / V + u], 0u, u * V);
        }
        rest = units * V;
    }
    for (var kk = rest; kk < p.k; kk++) {
        let i = row + kk;
        acc += wide_at(w_expert[packed_index(i) >> 2u], i) * rows_at(0u, kk);
    }
    return acc;
}
#else
// This lane's share of row `row` of W times the token rows, one function per weight so
// that the inner loop reads one buffer without a branch per element.
#if F16
// Two halves of an even-K row (rows then start on a word) times rows 2q and 2q + 1.
fn pair_term(word: u32, q: u32) -> Acc {
    let w = unpack2x16float(word);
    return w.x * rows_at(0u, 2u * q) + w.y * rows_at(0u, 2u * q + 1u);
}

fn dot_shared(row: u32, lane: u32) -> Acc {
    var acc = Acc(0.0);
    if ((p.k & 1u) == 0u) {
        for (var q = lane; q < p.k / 2u; q += 32u) {
            acc += pair_term(w_shared[(row >> 1u) + q], q);
        }
    } else {
        for (var kk = lane; kk < p.k; kk += 32u) {
            acc += unpack_at(w_shared[(row + kk) >> 1u], row + kk) * rows_at(0u, kk);
        }
    }
    return acc;
}

fn dot_expert(row: u32, lane: u32) -> Acc {
    var acc = Acc(0.0);
    if ((p.k & 1u) == 0u) {
        for (var q = lane; q < p.k / 2u; q += 32u) {
            acc += pair_term(w_expert[(row >> 1u) + q], q);
        }
    } else {
        for (var kk = lane; kk < p.k; kk += 32u) {
            acc += unpack_at(w_expert[(row + kk) >> 1u], row + kk) * rows_at(0u, kk);
        }
    }
    return acc;
}
#else
fn dot_shared(row: u32, lane: u32) -> Acc {
    var acc = Acc(0.0);
    for (var kk = lane; kk < p.k; kk += 32u) {
        acc += w_shared[row + kk] * rows_at(0u, kk);
    }
    return acc;
}

fn dot_expert(row: u32, lane: u32) -> Acc {
    var acc = Acc(0.0);
    for (var kk = lane; kk < p.k; kk += 32u) {
        acc += w_expert[row + kk] * rows_at(0u, kk);
    }
    return acc;
}
#endif
#endif

// Zeroes the rows whose bit in `mask` is clear.
fn keep_rows(v: Acc, mask: u32) -> Acc {
#if ONE_ROW
    return select(0.0, v, (mask & 1u) != 0u);
#else
    let bits = vec4<u32>(mask, mask >> 1u, mask >> 2u, mask >> 3u) & vec4<u32>(1u);
    return select(vec4<f32>(0.0), v, bits != vec4<u32>(0u));
#endif
}

// Bit r: row r takes the expert. Every thread reads the few gates itself.
fn expert_rows() -> u32 {
    var rows = 0u;
    for (var r = 0u; r < p.rows; r++) {
        rows |= select(0u, 1u << r, gates[r] != 0u);
    }
    return rows;
}

// Output n of every row from its sums `sum` (each row's from its own weight).
fn store(n: u32, sum: Acc, expert_rows: u32) {
    for (var r = 0u; r < p.rows; r++) {
        let v = row_value(sum, r) + bias_of((expert_rows & (1u << r)) != 0u, n);
#if GELU
        c[r * p.n + n] = gelu(v);
#else
        c[r * p.n + n] += v;
#endif
    }
}

#if WALK
@compute @workgroup_size(64, 1, 1)
fn main(wg: Workgroup, @builtin(local_invocation_index) index: u32) {
    let n = workgroup_index(wg) * 64u + index;
    if (n >= p.n) {
        return;
    }
    let expert_rows = expert_rows();
    let shared_rows = ((1u << p.rows) - 1u) & ~expert_rows;
    var acc = Acc(0.0);
    if (shared_rows != 0u) {
        acc += keep_rows(dot_shared(n * p.k), shared_rows);
    }
    if (expert_rows != 0u) {
        acc += keep_rows(dot_expert(n * p.k), expert_rows);
    }
    store(n, acc, expert_rows);
}
#else
@compute @workgroup_size(32, 8, 1)
fn main(wg: Workgroup, @builtin(local_invocation_id) lid: vec3<u32>) {
    let n = workgroup_index(wg) * 8u + lid.y;
    let lane = lid.x;
    // No barrier depends on the gates.
    let expert_rows = expert_rows();
    let shared_rows = ((1u << p.rows) - 1u) & ~expert_rows;
    var acc = Acc(0.0);
    if (n < p.n) {
        if (shared_rows != 0u) {
            acc += keep_rows(dot_shared(n * p.k, lane), shared_rows);
        }
        if (expert_rows != 0u) {
            acc += keep_rows(dot_expert(n * p.k, lane), expert_rows);
        }
    }
    let sum = lane_sum(lid, acc);
    if (lane == 0u && n < p.n) {
        store(n, sum, expert_rows);
    }
}
#endif
