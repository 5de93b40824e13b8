// Unmasked multi-head attention without a score tensor ("flash attention"):
//   O[i, h] = softmax_j(scale · Q[i, h] · K[j, h]) · V[j, h]
// Q [q_len, d], K and V [kv_len, d], O [q_len, d]; head h is columns h·HD .. (h+1)·HD of
// each row, addressed in place, read and written as vec4s (d and HD are multiples of 4).
//
// Layout: a workgroup of 64 invocations owns 64·R query rows of one head, R rows per
// invocation (R = 1, or 2 / 4 with ROWS_2 / ROWS_4; grid [⌈q_len/(64·R)⌉, heads]). It walks
// the keys in tiles of KEYS: the tile's keys and values are staged in workgroup memory
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
// Below any score; 2^(NEG − m) is 0 for every finite score maximum m.
const NEG: f32 = -3.0e38;

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
