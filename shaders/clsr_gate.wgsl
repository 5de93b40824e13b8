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
#if F16
@group(0) @binding(2) var<storage, read> w_in: array<u32>;
@group(0) @binding(3) var<storage, read> b_in: array<u32>;
@group(0) @binding(4) var<storage, read> w_out: array<u32>;
#else
@group(0) @binding(2) var<storage, read> w_in: array<f32>;
@group(0) @binding(3) var<storage, read> b_in: array<f32>;
@group(0) @binding(4) var<storage, read> w_out: array<f32>;
#endif
@group(0) @binding(5) var<storage, read_write> gates: array<u32>;
#if STATS
@group(0) @binding(6) var<storage, read_write> stats: array<u32>;
#endif

#if F16
fn half_at(pair: u32, i: u32) -> f32 {
    let v = unpack2x16float(pair);
    return select(v.x, v.y, (i & 1u) == 1u);
}

fn load_w(i: u32) -> f32 {
    return half_at(w_in[i >> 1u], i);
}

fn load_bias(i: u32) -> f32 {
    return half_at(b_in[i >> 1u], i);
}

fn load_out(i: u32) -> f32 {
    return half_at(w_out[i >> 1u], i);
}
#else
fn load_w(i: u32) -> f32 {
    return w_in[i];
}

fn load_bias(i: u32) -> f32 {
    return b_in[i];
}

fn load_out(i: u32) -> f32 {
    return w_out[i];
}
#endif

#if FEW_ROWS
#if ONE_ROW
alias Acc = f32;

fn rows_at(kk: u32) -> Acc {
    return x[kk];
}

fn row_value(v: Acc, m: u32) -> f32 {
    return v;
}
#else
alias Acc = vec4<f32>;

// Rows past the last repeat it; their gates are never stored.
fn rows_at(kk: u32) -> Acc {
    let last = p.rows - 1u;
    return vec4<f32>(
        x[kk],
        x[min(1u, last) * p.cols + kk],
        x[min(2u, last) * p.cols + kk],
        x[min(3u, last) * p.cols + kk],
    );
}

fn row_value(v: Acc, m: u32) -> f32 {
    return v[m];
}
#endif

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
            acc += w.x * rows_at(2u * q) + w.y * rows_at(2u * q + 1u);
        }
        return acc;
    }
#endif
    for (var kk = lane; kk < p.cols; kk += 4u) {
        acc += load_w(h * p.cols + kk) * rows_at(kk);
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
const TK: u32 = 16u;

var<workgroup> tile_a: array<vec4<f32>, 256>;
var<workgroup> tile_b: array<vec4<f32>, 256>;
// Per-token partial sums: [64 tokens][16 column threads].
var<workgroup> part: array<f32, 1024>;

fn load_x(row: u32, col: u32) -> f32 {
    if (row < p.rows && col < p.cols) {
        return x[row * p.cols + col];
    }
    return 0.0;
}

fn load_w_hk(h: u32, k: u32) -> f32 {
    if (h < p.hidden && k < p.cols) {
        return load_w(h * p.cols + k);
    }
    return 0.0;
}

@compute @workgroup_size(16, 16, 1)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
    @builtin(local_invocation_id) lid: vec3<u32>,
) {
    let m0 = (wid.x + wid.y * groups.x) * 64u;
    let t = lid.y * 16u + lid.x;
    let a_row = m0 + t / 4u;
    let a_col = (t % 4u) * 4u;
    let b_k = t / 16u;
    let b_h = (t % 16u) * 4u;

    var g = vec4<f32>(0.0);
    for (var h0 = 0u; h0 < p.hidden; h0 += 64u) {
        var acc: array<vec4<f32>, 4>;
        for (var i = 0u; i < 4u; i++) {
            acc[i] = vec4<f32>(0.0);
        }
        for (var k0 = 0u; k0 < p.cols; k0 += TK) {
            let ak = k0 + a_col;
            tile_a[t] = vec4<f32>(
                load_x(a_row, ak),
                load_x(a_row, ak + 1u),
                load_x(a_row, ak + 2u),
                load_x(a_row, ak + 3u),
            );
            let bk = k0 + b_k;
            let bh = h0 + b_h;
            tile_b[t] = vec4<f32>(
                load_w_hk(bh, bk),
                load_w_hk(bh + 1u, bk),
                load_w_hk(bh + 2u, bk),
                load_w_hk(bh + 3u, bk),
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
