// Unmasked multi-head attention without a score tensor ("flash attention"):
//   O[i, h] = softmax_j(scale · Q[i, h] · K[j, h]) · V[j, h]
// Q [q_len, d], K and V [kv_len, d], O [q_len, d]; head h is columns h·HD .. (h+1)·HD of
// each row, addressed in place, read and written as vec4s (d and HD are multiples of 4).
//
// Layout of the tiled form (WALK, the form for CPU drivers, is described at its #if): a
// workgroup of 64 invocations owns 64·R query rows of one head, R rows per invocation
// (R = 1, or 2 / 4 with ROWS_2 / ROWS_4; grid [⌈q_len/(64·R)⌉, heads]). It walks the keys
// in tiles of KEYS: the tile's keys and values are staged in workgroup memory
// (2 · KEYS · HD floats, 16 KiB at HD = 64), then each invocation takes them four at a time:
// their scores for its rows, folded into a running maximum m, a running sum l and the
// output accumulator held in registers (online softmax): with m' = max(m, max of the four),
// acc ← acc · 2^(m − m') + Σ_j 2^(s_j − m') · V[j], l likewise. Scores are in base 2 (the
// scale includes log2 e, so exp2 replaces exp); O = acc / l is written once.
// One define picks the head size: HEAD_DIM_8, HEAD_DIM_16, HEAD_DIM_32 or HEAD_DIM_64.

struct Params {
    q_len: u32,
    kv_len: u32,
    // Row stride of Q, K, V and O in vec4s (d / 4).
    row_vec4s: u32,
    // 1/√HD · log2 e.
    scale_log2: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> q: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> k: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> v: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read_write> o: array<vec4<f32>>;

#include lib/head_dim.wgsl

// Below any score; 2^(NEG − m) is 0 for every finite score maximum m.
const NEG: f32 = -3.0e38;

#if WALK
// WALK (the form for CPU drivers; HEAD_DIM_64 only): no workgroup memory and no barriers.
// A workgroup of 16 invocations owns 128 query rows of one head, 8 rows per invocation
// (lid.x + r·16 for r < 8; grid [⌈q_len/128⌉, heads]); each invocation walks all keys four
// at a time straight from K and V, every key and value row loaded once for its 8 rows. The
// arithmetic and its order are the tiled form's.
// Why it is written out: a CPU driver runs 8 invocations side by side in SIMD lanes, and a
// private array indexed by a loop counter becomes per-lane memory gathers there. Every index
// below is a constant (the 16 vec4s of a row spelled out, the 8 rows named), so the state
// stays in registers and the stack: 3–4× faster than the tiled form on lavapipe. The price
// is a large shader that lavapipe compiles slowly (16 s to 2 minutes, by Mesa version), and
// in Chromium it ran slower than the tiled form, so the host dispatches it natively only
// (ops::flash_attention; docs/benchmarks.md, "Encoder flash attention on lavapipe").

const INVOCATIONS: u32 = 16u;
const R: u32 = 8u;

// One head's row of 64 values.
alias HeadRow = array<vec4<f32>, 16>;

// One query row's state: its scaled query, output accumulator, running maximum and sum.
struct RowState {
    q: HeadRow,
    acc: HeadRow,
    m: f32,
    l: f32,
}

// One head's row of K (key_row) or V (value_row) at vec4 index `at`: two functions, as WGSL
// passes no storage buffer to a function.
fn key_row(at: u32) -> HeadRow {
    return HeadRow(
        k[at + 0u],
        k[at + 1u],
        k[at + 2u],
        k[at + 3u],
        k[at + 4u],
        k[at + 5u],
        k[at + 6u],
        k[at + 7u],
        k[at + 8u],
        k[at + 9u],
        k[at + 10u],
        k[at + 11u],
        k[at + 12u],
        k[at + 13u],
        k[at + 14u],
        k[at + 15u],
    );
}

fn value_row(at: u32) -> HeadRow {
    return HeadRow(
        v[at + 0u],
        v[at + 1u],
        v[at + 2u],
        v[at + 3u],
        v[at + 4u],
        v[at + 5u],
        v[at + 6u],
        v[at + 7u],
        v[at + 8u],
        v[at + 9u],
        v[at + 10u],
        v[at + 11u],
        v[at + 12u],
        v[at + 13u],
        v[at + 14u],
        v[at + 15u],
    );
}

// The state of the query row at `at`, before any key.
fn start_row(at: u32) -> RowState {
    let s = p.scale_log2;
    let q_row = HeadRow(
        q[at + 0u] * s,
        q[at + 1u] * s,
        q[at + 2u] * s,
        q[at + 3u] * s,
        q[at + 4u] * s,
        q[at + 5u] * s,
        q[at + 6u] * s,
        q[at + 7u] * s,
        q[at + 8u] * s,
        q[at + 9u] * s,
        q[at + 10u] * s,
        q[at + 11u] * s,
        q[at + 12u] * s,
        q[at + 13u] * s,
        q[at + 14u] * s,
        q[at + 15u] * s,
    );
    return RowState(q_row, HeadRow(), NEG, 0.0);
}

fn row_dot(a: HeadRow, b: HeadRow) -> f32 {
    var d = a[0] * b[0];
    d = fma(a[1], b[1], d);
    d = fma(a[2], b[2], d);
    d = fma(a[3], b[3], d);
    d = fma(a[4], b[4], d);
    d = fma(a[5], b[5], d);
    d = fma(a[6], b[6], d);
    d = fma(a[7], b[7], d);
    d = fma(a[8], b[8], d);
    d = fma(a[9], b[9], d);
    d = fma(a[10], b[10], d);
    d = fma(a[11], b[11], d);
    d = fma(a[12], b[12], d);
    d = fma(a[13], b[13], d);
    d = fma(a[14], b[14], d);
    d = fma(a[15], b[15], d);
    return dot(d, vec4<f32>(1.0));
}

// acc · correction + Σ_j w_j · V_j over four value rows.
fn rescale_add(acc: HeadRow, correction: f32, w: vec4<f32>, v0: HeadRow, v1: HeadRow, v2: HeadRow, v3: HeadRow) -> HeadRow {
    var out: HeadRow;
    out[0] = fma(vec4<f32>(w.w), v3[0], fma(vec4<f32>(w.z), v2[0], fma(vec4<f32>(w.y), v1[0], fma(vec4<f32>(w.x), v0[0], acc[0] * correction))));
    out[1] = fma(vec4<f32>(w.w), v3[1], fma(vec4<f32>(w.z), v2[1], fma(vec4<f32>(w.y), v1[1], fma(vec4<f32>(w.x), v0[1], acc[1] * correction))));
    out[2] = fma(vec4<f32>(w.w), v3[2], fma(vec4<f32>(w.z), v2[2], fma(vec4<f32>(w.y), v1[2], fma(vec4<f32>(w.x), v0[2], acc[2] * correction))));
    out[3] = fma(vec4<f32>(w.w), v3[3], fma(vec4<f32>(w.z), v2[3], fma(vec4<f32>(w.y), v1[3], fma(vec4<f32>(w.x), v0[3], acc[3] * correction))));
    out[4] = fma(vec4<f32>(w.w), v3[4], fma(vec4<f32>(w.z), v2[4], fma(vec4<f32>(w.y), v1[4], fma(vec4<f32>(w.x), v0[4], acc[4] * correction))));
    out[5] = fma(vec4<f32>(w.w), v3[5], fma(vec4<f32>(w.z), v2[5], fma(vec4<f32>(w.y), v1[5], fma(vec4<f32>(w.x), v0[5], acc[5] * correction))));
    out[6] = fma(vec4<f32>(w.w), v3[6], fma(vec4<f32>(w.z), v2[6], fma(vec4<f32>(w.y), v1[6], fma(vec4<f32>(w.x), v0[6], acc[6] * correction))));
    out[7] = fma(vec4<f32>(w.w), v3[7], fma(vec4<f32>(w.z), v2[7], fma(vec4<f32>(w.y), v1[7], fma(vec4<f32>(w.x), v0[7], acc[7] * correction))));
    out[8] = fma(vec4<f32>(w.w), v3[8], fma(vec4<f32>(w.z), v2[8], fma(vec4<f32>(w.y), v1[8], fma(vec4<f32>(w.x), v0[8], acc[8] * correction))));
    out[9] = fma(vec4<f32>(w.w), v3[9], fma(vec4<f32>(w.z), v2[9], fma(vec4<f32>(w.y), v1[9], fma(vec4<f32>(w.x), v0[9], acc[9] * correction))));
    out[10] = fma(vec4<f32>(w.w), v3[10], fma(vec4<f32>(w.z), v2[10], fma(vec4<f32>(w.y), v1[10], fma(vec4<f32>(w.x), v0[10], acc[10] * correction))));
    out[11] = fma(vec4<f32>(w.w), v3[11], fma(vec4<f32>(w.z), v2[11], fma(vec4<f32>(w.y), v1[11], fma(vec4<f32>(w.x), v0[11], acc[11] * correction))));
    out[12] = fma(vec4<f32>(w.w), v3[12], fma(vec4<f32>(w.z), v2[12], fma(vec4<f32>(w.y), v1[12], fma(vec4<f32>(w.x), v0[12], acc[12] * correction))));
    out[13] = fma(vec4<f32>(w.w), v3[13], fma(vec4<f32>(w.z), v2[13], fma(vec4<f32>(w.y), v1[13], fma(vec4<f32>(w.x), v0[13], acc[13] * correction))));
    out[14] = fma(vec4<f32>(w.w), v3[14], fma(vec4<f32>(w.z), v2[14], fma(vec4<f32>(w.y), v1[14], fma(vec4<f32>(w.x), v0[14], acc[14] * correction))));
    out[15] = fma(vec4<f32>(w.w), v3[15], fma(vec4<f32>(w.z), v2[15], fma(vec4<f32>(w.y), v1[15], fma(vec4<f32>(w.x), v0[15], acc[15] * correction))));
    return out;
}

// Folds four keys (their rows k0..k3 and v0..v3; `valid` false past kv_len) into a row's state.
fn advance(
    row: ptr<function, RowState>,
    k0: HeadRow, k1: HeadRow, k2: HeadRow, k3: HeadRow,
    v0: HeadRow, v1: HeadRow, v2: HeadRow, v3: HeadRow,
    valid: vec4<bool>,
) {
    let q_row = (*row).q;
    let scores = vec4<f32>(row_dot(q_row, k0), row_dot(q_row, k1), row_dot(q_row, k2), row_dot(q_row, k3));
    let s4 = select(vec4<f32>(NEG), scores, valid);
    let m_new = max((*row).m, max(max(s4.x, s4.y), max(s4.z, s4.w)));
    let correction = exp2((*row).m - m_new);
    let w = exp2(s4 - vec4<f32>(m_new));
    (*row).l = (*row).l * correction + dot(w, vec4<f32>(1.0));
    (*row).m = m_new;
    (*row).acc = rescale_add((*row).acc, correction, w, v0, v1, v2, v3);
}

// Writes O = acc / l for query row `row` (none past q_len).
fn finish_row(state: RowState, row: u32, head_col: u32) {
    if (row < p.q_len) {
        let at = row * p.row_vec4s + head_col;
        let inv = 1.0 / state.l;
        o[at + 0u] = state.acc[0] * inv;
        o[at + 1u] = state.acc[1] * inv;
        o[at + 2u] = state.acc[2] * inv;
        o[at + 3u] = state.acc[3] * inv;
        o[at + 4u] = state.acc[4] * inv;
        o[at + 5u] = state.acc[5] * inv;
        o[at + 6u] = state.acc[6] * inv;
        o[at + 7u] = state.acc[7] * inv;
        o[at + 8u] = state.acc[8] * inv;
        o[at + 9u] = state.acc[9] * inv;
        o[at + 10u] = state.acc[10] * inv;
        o[at + 11u] = state.acc[11] * inv;
        o[at + 12u] = state.acc[12] * inv;
        o[at + 13u] = state.acc[13] * inv;
        o[at + 14u] = state.acc[14] * inv;
        o[at + 15u] = state.acc[15] * inv;
    }
}

@compute @workgroup_size(INVOCATIONS, 1, 1)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    let head_col = wid.y * HD4;
    let first_row = wid.x * (R * INVOCATIONS) + lid.x;
    // Rows past the end compute with the last row and write nothing.
    let last = p.q_len - 1u;
    let stride = p.row_vec4s;
    var r0 = start_row(min(first_row + 0u * INVOCATIONS, last) * stride + head_col);
    var r1 = start_row(min(first_row + 1u * INVOCATIONS, last) * stride + head_col);
    var r2 = start_row(min(first_row + 2u * INVOCATIONS, last) * stride + head_col);
    var r3 = start_row(min(first_row + 3u * INVOCATIONS, last) * stride + head_col);
    var r4 = start_row(min(first_row + 4u * INVOCATIONS, last) * stride + head_col);
    var r5 = start_row(min(first_row + 5u * INVOCATIONS, last) * stride + head_col);
    var r6 = start_row(min(first_row + 6u * INVOCATIONS, last) * stride + head_col);
    var r7 = start_row(min(first_row + 7u * INVOCATIONS, last) * stride + head_col);
    let last_key = p.kv_len - 1u;
    for (var j = 0u; j < p.kv_len; j += 4u) {
        // Keys past the end read the last key and weigh 0.
        let keys = vec4<u32>(j) + vec4<u32>(0u, 1u, 2u, 3u);
        let at = min(keys, vec4<u32>(last_key)) * stride + head_col;
        let k0 = key_row(at.x);
        let k1 = key_row(at.y);
        let k2 = key_row(at.z);
        let k3 = key_row(at.w);
        let v0 = value_row(at.x);
        let v1 = value_row(at.y);
        let v2 = value_row(at.z);
        let v3 = value_row(at.w);
        let valid = keys < vec4<u32>(p.kv_len);
        advance(&r0, k0, k1, k2, k3, v0, v1, v2, v3, valid);
        advance(&r1, k0, k1, k2, k3, v0, v1, v2, v3, valid);
        advance(&r2, k0, k1, k2, k3, v0, v1, v2, v3, valid);
        advance(&r3, k0, k1, k2, k3, v0, v1, v2, v3, valid);
        advance(&r4, k0, k1, k2, k3, v0, v1, v2, v3, valid);
        advance(&r5, k0, k1, k2, k3, v0, v1, v2, v3, valid);
        advance(&r6, k0, k1, k2, k3, v0, v1, v2, v3, valid);
        advance(&r7, k0, k1, k2, k3, v0, v1, v2, v3, valid);
    }
    finish_row(r0, first_row + 0u * INVOCATIONS, head_col);
    finish_row(r1, first_row + 1u * INVOCATIONS, head_col);
    finish_row(r2, first_row + 2u * INVOCATIONS, head_col);
    finish_row(r3, first_row + 3u * INVOCATIONS, head_col);
    finish_row(r4, first_row + 4u * INVOCATIONS, head_col);
    finish_row(r5, first_row + 5u * INVOCATIONS, head_col);
    finish_row(r6, first_row + 6u * INVOCATIONS, head_col);
    finish_row(r7, first_row + 7u * INVOCATIONS, head_col);
}
#else

// Invocations per workgroup; each owns R query rows, lid.x + r·INVOCATIONS of the
// workgroup's R·INVOCATIONS rows (so each key/value read from the tile feeds R rows).
const INVOCATIONS: u32 = 64u;
#if ROWS_4
const R: u32 = 4u;
#else
#if ROWS_2
const R: u32 = 2u;
#else
const R: u32 = 1u;
#endif
#endif
const KEYS: u32 = 32u;

var<workgroup> k_tile: array<vec4<f32>, KEYS * HD4>;
var<workgroup> v_tile: array<vec4<f32>, KEYS * HD4>;

@compute @workgroup_size(INVOCATIONS, 1, 1)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    let head_col = wid.y * HD4;
    let first_row = wid.x * (R * INVOCATIONS) + lid.x;
    var qr: array<array<vec4<f32>, HD4>, R>;
    var acc: array<array<vec4<f32>, HD4>, R>;
    var m: array<f32, R>;
    var l: array<f32, R>;
    for (var r = 0u; r < R; r++) {
        // Rows past the end still stage tiles (every invocation reaches the barriers); they
        // read the last row and write nothing.
        let q_base = min(first_row + r * INVOCATIONS, p.q_len - 1u) * p.row_vec4s + head_col;
        for (var c = 0u; c < HD4; c++) {
            qr[r][c] = q[q_base + c] * p.scale_log2;
            acc[r][c] = vec4<f32>(0.0);
        }
        m[r] = NEG;
        l[r] = 0.0;
    }
    for (var k0 = 0u; k0 < p.kv_len; k0 += KEYS) {
        for (var i = lid.x; i < KEYS * HD4; i += INVOCATIONS) {
            let key = k0 + i / HD4;
            var kk = vec4<f32>(0.0);
            var vv = vec4<f32>(0.0);
            if (key < p.kv_len) {
                let at = key * p.row_vec4s + head_col + i % HD4;
                kk = k[at];
                vv = v[at];
            }
            k_tile[i] = kk;
            v_tile[i] = vv;
        }
        workgroupBarrier();
        // Four keys at a time, everything in registers: their scores, the running maximum
        // and sum, then their values (the accumulator is rescaled once per four keys).
        for (var j0 = 0u; j0 < KEYS; j0 += 4u) {
            var sc = array<vec4<f32>, R>();
            for (var jj = 0u; jj < 4u; jj++) {
                // Initialised explicitly: Tint (Chromium's WGSL compiler) zeroes a `var`
                // without an initializer once per invocation, not at each loop iteration.
                var d4 = array<vec4<f32>, R>();
                for (var c = 0u; c < HD4; c++) {
                    let kc = k_tile[(j0 + jj) * HD4 + c];
                    for (var r = 0u; r < R; r++) {
                        d4[r] = fma(qr[r][c], kc, d4[r]);
                    }
                }
                for (var r = 0u; r < R; r++) {
                    sc[r][jj] = dot(d4[r], vec4<f32>(1.0));
                }
            }
            let valid = vec4<u32>(k0 + j0) + vec4<u32>(0u, 1u, 2u, 3u) < vec4<u32>(p.kv_len);
            var pr = array<vec4<f32>, R>();
            for (var r = 0u; r < R; r++) {
                let s4 = select(vec4<f32>(NEG), sc[r], valid);
                let m_new = max(m[r], max(max(s4.x, s4.y), max(s4.z, s4.w)));
                let correction = exp2(m[r] - m_new);
                pr[r] = exp2(s4 - vec4<f32>(m_new));
                l[r] = l[r] * correction + dot(pr[r], vec4<f32>(1.0));
                for (var c = 0u; c < HD4; c++) {
                    acc[r][c] *= correction;
                }
                m[r] = m_new;
            }
            for (var jj = 0u; jj < 4u; jj++) {
                for (var c = 0u; c < HD4; c++) {
                    let vc = v_tile[(j0 + jj) * HD4 + c];
                    for (var r = 0u; r < R; r++) {
                        acc[r][c] = fma(vec4<f32>(pr[r][jj]), vc, acc[r][c]);
                    }
                }
            }
        }
        workgroupBarrier();
    }
    for (var r = 0u; r < R; r++) {
        let row = first_row + r * INVOCATIONS;
        if (row < p.q_len) {
            let out_base = row * p.row_vec4s + head_col;
            let inv = 1.0 / l[r];
            for (var c = 0u; c < HD4; c++) {
                o[out_base + c] = acc[r][c] * inv;
            }
        }
    }
}
#endif
