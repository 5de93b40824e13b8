// Unmasked multi-head attention without a score tensor ("flash attention"):
//   O[i, h] = softmax_j(scale · Q[i, h] · K[j, h]) · V[j, h]
// Q [q_len, d], K and V [kv_len, d], O [q_len, d]; head h is columns h·HD .. (h+1)·HD of
// each row, addressed in place, read and written as vec4s (d and HD are multiples of 4).
//
// Layout: a workgroup owns ROWS query rows of one head, one row per invocation (grid
// [⌈q_len/ROWS⌉, heads]). It walks the keys in tiles of KEYS: the tile's keys and values are
// staged in workgroup memory (2 · KEYS · HD floats, 16 KiB at HD = 64), then each invocation
// computes its row's KEYS scores in registers and folds them into a running maximum m, a
// running sum l and the output accumulator (online softmax): with m' = max(m, tile max),
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

// vec4s per head row.
#if HEAD_DIM_8
const HD4: u32 = 2u;
#endif
#if HEAD_DIM_16
const HD4: u32 = 4u;
#endif
#if HEAD_DIM_32
const HD4: u32 = 8u;
#endif
#if HEAD_DIM_64
const HD4: u32 = 16u;
#endif

const ROWS: u32 = 64u;
const KEYS: u32 = 32u;
// Below any score; 2^(NEG − m) is 0 for every finite score maximum m.
const NEG: f32 = -3.0e38;

var<workgroup> k_tile: array<vec4<f32>, KEYS * HD4>;
var<workgroup> v_tile: array<vec4<f32>, KEYS * HD4>;

@compute @workgroup_size(ROWS, 1, 1)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    let head_col = wid.y * HD4;
    let row = wid.x * ROWS + lid.x;
    // Rows past the end still stage tiles (every invocation reaches the barriers); they
    // read the last row and write nothing.
    let q_base = min(row, p.q_len - 1u) * p.row_vec4s + head_col;
    var qr: array<vec4<f32>, HD4>;
    var acc: array<vec4<f32>, HD4>;
    for (var c = 0u; c < HD4; c++) {
        qr[c] = q[q_base + c] * p.scale_log2;
        acc[c] = vec4<f32>(0.0);
    }
    var m = NEG;
    var l = 0.0;
    for (var k0 = 0u; k0 < p.kv_len; k0 += KEYS) {
        for (var i = lid.x; i < KEYS * HD4; i += ROWS) {
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
        var s: array<f32, KEYS>;
        var tile_max = NEG;
        for (var j = 0u; j < KEYS; j++) {
            var d4 = vec4<f32>(0.0);
            for (var c = 0u; c < HD4; c++) {
                d4 = fma(qr[c], k_tile[j * HD4 + c], d4);
            }
            let sj = select(NEG, d4.x + d4.y + d4.z + d4.w, k0 + j < p.kv_len);
            s[j] = sj;
            tile_max = max(tile_max, sj);
        }
        let m_new = max(m, tile_max);
        let correction = exp2(m - m_new);
        l *= correction;
        for (var c = 0u; c < HD4; c++) {
            acc[c] *= correction;
        }
        for (var j = 0u; j < KEYS; j++) {
            let pj = exp2(s[j] - m_new);
            l += pj;
            for (var c = 0u; c < HD4; c++) {
                acc[c] = fma(vec4<f32>(pj), v_tile[j * HD4 + c], acc[c]);
            }
        }
        m = m_new;
        workgroupBarrier();
    }
    if (row < p.q_len) {
        let out_base = row * p.row_vec4s + head_col;
        let inv = 1.0 / l;
        for (var c = 0u; c < HD4; c++) {
            o[out_base + c] = acc[c] * inv;
        }
    }
}
