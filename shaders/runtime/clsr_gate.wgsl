// CLSR hard gate per token: G(z) = w_out · ReLU(W_in z + b_in), gate = 1 if G ≥ 0 else 0.
// x [rows, cols] f32 (the FFN input); W_in [hidden, cols], b_in [hidden], w_out [hidden],
// f32 or f16 packed two per u32 (define F16). Output: gates [rows] u32.
// Default: a 16×16 workgroup takes 64 tokens × 64 hidden units (4×4 per thread, as in
// matmul.wgsl), stepping over the hidden units in 64-wide slices, then sums the hidden
// units of each token in workgroup memory.
// FEW_ROWS (rows ≤ 4, decoder steps): one workgroup of 256 threads does all rows, 64 hidden
// units × 4 lanes splitting K; ONE_ROW specialises rows = 1 to scalars. With STATS it also
// adds (experts, tokens) to counter `slot` (the tiled path counts in clsr_route.wgsl).

struct Params {
    rows: u32, cols: u32, hidden: u32, slot: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> w_in: array<Packed>;
@group(0) @binding(3) var<storage, read> b_in: array<Packed>;
@group(0) @binding(4) var<storage, read> w_out: array<Packed>;
@group(0) @binding(5) var<storage, read_write> gates: array<u32>;
#if STATS
@group(0) @binding(6) var<storage, read_write> stats: array<u32>;
#endif

#include lib/f16.wgsl

fn load_w(i: u32) -> f32 {
    return unpack_at(w_in[packed_index(i)], i);
}

fn load_bias(i: u32) -> f32 {
    return unpack_at(b_in[packed_index(i)], i);
}

fn load_out(i: u32) -> f32 {
    return unpack_at(w_out[packed_index(i)], i);
}

#if FEW_ROWS
#include lib/few_rows.wgsl

fn act_at(base: u32, row: u32, kk: u32) -> f32 {
    return x[base + row * p.cols + kk];
}

fn act_rows() -> u32 {
    return p.rows;
}

var<workgroup> red: array<Acc, 256>;

// This lane's share of unit h's pre-activation for every row.
fn dot_unit(h: u32, lane: u32) -> Acc {
    var acc = Acc(0.0);
#if F16
    if ((p.cols & 1u) == 0u) {
        // Even width: rows start on a word; read two halves per load.
        let words = h * p.cols / 2u;
        for (var q = lane; q < p.cols / 2u; q += 4u) {
            let w = unpack2x16float(w_in[words + q]);
            acc += w.x * rows_at(0u, 2u * q) + w.y * rows_at(0u, 2u * q + 1u);
        }
        return acc;
    }
#endif
    for (var kk = lane; kk < p.cols; kk += 4u) {
        acc += load_w(h * p.cols + kk) * rows_at(0u, kk);
    }
    return acc;
}

@compute @workgroup_size(256, 1, 1)
fn main(@builtin(local_invocation_id) lid: vec3<u32>) {
    let t = lid.x;
    let unit = t % 64u;
    let lane = t / 64u;
    var g = Acc(0.0);
    for (var h0 = 0u; h0 < p.hidden; h0 += 64u) {
        let h = h0 + unit;
        var acc = Acc(0.0);
        if (h < p.hidden) {
            acc = dot_unit(h, lane);
        }
        red[t] = acc;
        workgroupBarrier();
        if (lane == 0u && h < p.hidden) {
            let s = red[unit] + red[unit + 64u] + red[unit + 128u] + red[unit + 192u];
            g += max(s + load_bias(h), Acc(0.0)) * load_out(h);
        }
        workgroupBarrier();
    }
    // Threads of lane 0 hold one unit's terms each; thread 0 adds them up serially, which
    // costs less than the barriers of a tree on lavapipe (one workgroup, latency-bound).
    if (lane == 0u) {
        red[unit] = g;
    }
    workgroupBarrier();
    if (t == 0u) {
        var total = Acc(0.0);
        for (var j = 0u; j < 64u; j++) {
            total += red[j];
        }
        var experts = 0u;
        for (var m = 0u; m < p.rows; m++) {
            let on = select(0u, 1u, row_value(total, m) >= 0.0);
            gates[m] = on;
            experts += on;
        }
#if STATS
        stats[2u * p.slot] += experts;
        stats[2u * p.slot + 1u] += p.rows;
#endif
    }
}
#else
#include lib/grid.wgsl
#include lib/tile.wgsl

fn tile_a_at(row: u32, col: u32) -> f32 {
    if (row < p.rows && col < p.cols) {
        return x[row * p.cols + col];
    }
    return 0.0;
}

// B is W_inᵀ: element (k, h) is W_in[h, k].
fn tile_b_at(k: u32, h: u32) -> f32 {
    if (h < p.hidden && k < p.cols) {
        return load_w(h * p.cols + k);
    }
    return 0.0;
}

// Per-token partial sums: [64 tokens][16 column threads].
var<workgroup> part: array<f32, 1024>;

@compute @workgroup_size(16, 16, 1)
fn main(wg: Workgroup, @builtin(local_invocation_id) lid: vec3<u32>) {
    let m0 = workgroup_index(wg) * 64u;
    let t = lid.y * 16u + lid.x;
    var g = vec4<f32>(0.0);
    for (var h0 = 0u; h0 < p.hidden; h0 += 64u) {
        let acc = tile_product(lid, m0 + t / 4u, h0, p.cols);
        for (var j = 0u; j < 4u; j++) {
            let h = h0 + lid.x * 4u + j;
            if (h < p.hidden) {
                let b = load_bias(h);
                let o = load_out(h);
                for (var i = 0u; i < 4u; i++) {
                    g[i] += max(acc[i][j] + b, 0.0) * o;
                }
            }
        }
    }
    for (var i = 0u; i < 4u; i++) {
        part[(lid.y * 4u + i) * 16u + lid.x] = g[i];
    }
    workgroupBarrier();
    if (t < 64u) {
        let row = m0 + t;
        if (row < p.rows) {
            var s = 0.0;
            for (var j = 0u; j < 16u; j++) {
                s += part[t * 16u + j];
            }
            gates[row] = select(0u, 1u, s >= 0.0);
        }
    }
}
#endif
