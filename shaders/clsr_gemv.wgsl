// One Linear of the routed CLSR FFN for a few tokens (rows ≤ 4, decoder steps): each row
// goes through the expert's weight if gates[row] = 1, else the shared one.
//   GELU:    c[r, n] = gelu(a[r, :] · W[n, :] + bias[n])    (fc1, into h)
//   default: c[r, n] += a[r, :] · W[n, :] + bias[n]         (fc2; c holds the residual)
// W is [n, k], f32 or f16 packed two per u32 (define F16). As in gemv.wgsl's SPLIT_K, a 32×8
// workgroup computes 8 outputs with 32 lanes splitting K. Each workgroup reads the weights
// some row takes (one for a single token) and keeps each row's sum from its own weight, then
// reduces once: the same grid and barriers as the dense kernel. (Per-weight workgroups, or a
// loop over the weights around the reduction, cost 2× on lavapipe, where the per-workgroup
// overhead dominates these small products.) ONE_ROW: rows = 1.

#include clsr_linear_io.wgsl
@group(0) @binding(7) var<storage, read> gates: array<u32>;

#if GELU
#include gelu.wgsl
#endif

#if F16
fn half_at(pair: u32, i: u32) -> f32 {
    let v = unpack2x16float(pair);
    return select(v.x, v.y, (i & 1u) == 1u);
}

fn bias_of(expert: bool, i: u32) -> f32 {
    if (expert) {
        return half_at(b_expert[i >> 1u], i);
    }
    return half_at(b_shared[i >> 1u], i);
}
#else
fn bias_of(expert: bool, i: u32) -> f32 {
    if (expert) {
        return b_expert[i];
    }
    return b_shared[i];
}
#endif

// The accumulator holds one value per row; ONE_ROW specialises a single token to scalars.
#if ONE_ROW
alias Acc = f32;

fn rows_at(kk: u32) -> Acc {
    return a[kk];
}

fn row_value(v: Acc, r: u32) -> f32 {
    return v;
}
#else
alias Acc = vec4<f32>;

// Rows past the last repeat it; their results are never stored.
fn rows_at(kk: u32) -> Acc {
    let last = p.rows - 1u;
    return vec4<f32>(
        a[kk],
        a[min(1u, last) * p.k + kk],
        a[min(2u, last) * p.k + kk],
        a[min(3u, last) * p.k + kk],
    );
}

fn row_value(v: Acc, r: u32) -> f32 {
    return v[r];
}
#endif

// This lane's share of row `row` of W times the token rows, one function per weight so
// that the inner loop reads one buffer without a branch per element.
#if F16
// Two halves of an even-K row (rows then start on a word) times rows 2q and 2q + 1.
fn pair_term(word: u32, q: u32) -> Acc {
    let w = unpack2x16float(word);
    return w.x * rows_at(2u * q) + w.y * rows_at(2u * q + 1u);
}

fn dot_shared(row: u32, lane: u32) -> Acc {
    var acc = Acc(0.0);
    if ((p.k & 1u) == 0u) {
        for (var q = lane; q < p.k / 2u; q += 32u) {
            acc += pair_term(w_shared[(row >> 1u) + q], q);
        }
    } else {
        for (var kk = lane; kk < p.k; kk += 32u) {
            acc += half_at(w_shared[(row + kk) >> 1u], row + kk) * rows_at(kk);
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
            acc += half_at(w_expert[(row + kk) >> 1u], row + kk) * rows_at(kk);
        }
    }
    return acc;
}
#else
fn dot_shared(row: u32, lane: u32) -> Acc {
    var acc = Acc(0.0);
    for (var kk = lane; kk < p.k; kk += 32u) {
        acc += w_shared[row + kk] * rows_at(kk);
    }
    return acc;
}

fn dot_expert(row: u32, lane: u32) -> Acc {
    var acc = Acc(0.0);
    for (var kk = lane; kk < p.k; kk += 32u) {
        acc += w_expert[row + kk] * rows_at(kk);
    }
    return acc;
}
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

var<workgroup> partial: array<Acc, 256>;

@compute @workgroup_size(32, 8, 1)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
    @builtin(local_invocation_id) lid: vec3<u32>,
) {
    let n = (wid.x + wid.y * groups.x) * 8u + lid.y;
    let lane = lid.x;
    let slot = lid.y * 32u + lane;
    // Bit r of `expert_rows`: row r takes the expert. No barrier depends on it, so every thread
    // reads the few gates itself.
    var expert_rows = 0u;
    for (var r = 0u; r < p.rows; r++) {
        expert_rows |= select(0u, 1u << r, gates[r] != 0u);
    }
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
        for (var r = 0u; r < p.rows; r++) {
            let v = row_value(sum, r) + bias_of((expert_rows & (1u << r)) != 0u, n);
#if GELU
            c[r * p.n + n] = gelu(v);
#else
            c[r * p.n + n] += v;
#endif
        }
    }
}
