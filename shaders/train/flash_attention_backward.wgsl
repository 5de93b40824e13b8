// Training: multi-head attention backward on the tiles of runtime/flash_attention.wgsl,
// without score buffers. For O = softmax(scale·Q·Kᵀ)·V (causal: query i sees keys
// j ≤ i + past) and the gradient dO:
//   P_ij  = 2^(s_ij − L_i),  s_ij = scale·log2 e · Q_i·K_j,  L_i = log2 Σ_j 2^(s_ij)
//   dS_ij = P_ij·(dO_i·V_j − D_i),  D_i = dO_i·O_i
//   dQ_i = scale·Σ_j dS_ij·K_j,  dK_j = scale·Σ_i dS_ij·Q_i,  dV_j = Σ_i P_ij·dO_i
// Three passes, one define each; every pass recomputes the scores it needs from Q and K:
//   STATS    one invocation per query row: L_i (an online maximum and sum over key tiles,
//            as in the forward kernel) and D_i, written as stats[h·q_len + i] = (L_i, D_i);
//   KEYS     one invocation per key row, walking tiles of queries (Q, dO and the stats
//            staged in workgroup memory): dK_j and dV_j accumulate in registers;
//   QUERIES  one invocation per query row, walking tiles of keys (K and V staged): dQ_i.
// No invocation writes what another one writes, so no atomics are needed (dQ has its own
// pass rather than a sum over key tiles). Q, K, V, O, dO, dQ, dK and dV are [rows, d]
// activations; head h is columns h·HD .. (h+1)·HD of each row, addressed in place as
// vec4s. Grid [⌈rows/64⌉, heads] with rows the pass's own (queries, or keys for KEYS).

struct Params {
    q_len: u32,
    kv_len: u32,
    // Row stride of every [rows, d] operand in vec4s (d / 4).
    row_vec4s: u32,
    // 1/√HD · log2 e: scores in base 2, as in the forward kernel.
    scale_log2: f32,
    // 1/√HD: the factor the chain rule puts on dQ and dK.
    scale: f32,
    // 1: query i sees keys j ≤ i + past only.
    causal: u32,
    past: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> q: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> k: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> dout: array<vec4<f32>>;
#if STATS
@group(0) @binding(4) var<storage, read> o: array<vec4<f32>>;
@group(0) @binding(5) var<storage, read_write> stats: array<vec2<f32>>;
#else
@group(0) @binding(4) var<storage, read> v: array<vec4<f32>>;
@group(0) @binding(5) var<storage, read> stats: array<vec2<f32>>;
#endif
#if KEYS
@group(0) @binding(6) var<storage, read_write> dk: array<vec4<f32>>;
@group(0) @binding(7) var<storage, read_write> dv: array<vec4<f32>>;
#endif
#if QUERIES
@group(0) @binding(6) var<storage, read_write> dq: array<vec4<f32>>;
#endif

#include lib/head_dim.wgsl

const INVOCATIONS: u32 = 64u;
// Rows of a staged tile. KEYS stages two [TILE, HD] operands and the stats: 8 KiB at
// HD = 64, within WebGPU's default 16 KiB of workgroup memory.
const TILE: u32 = 16u;
// Below any score; 2^(NEG − m) is 0 for every finite m.
const NEG: f32 = -3.0e38;

fn visible(i: u32, j: u32) -> bool {
    return p.causal == 0u || j <= i + p.past;
}

// One past the last key any of the query rows first..last sees.
fn keys_end(last: u32) -> u32 {
    if (p.causal == 0u) {
        return p.kv_len;
    }
    return min(p.kv_len, last + p.past + 1u);
}

#if !KEYS
var<workgroup> k_tile: array<vec4<f32>, TILE * HD4>;
#endif
#if QUERIES
var<workgroup> v_tile: array<vec4<f32>, TILE * HD4>;
#endif

// Stages keys (and for QUERIES values) k0 .. k0 + TILE of head column `head_col`, zeros
// past kv_len.
#if !KEYS
fn stage_keys(k0: u32, head_col: u32, lane: u32) {
    for (var t = lane; t < TILE * HD4; t += INVOCATIONS) {
        let key = k0 + t / HD4;
        var kk = vec4<f32>(0.0);
#if QUERIES
        var vv = vec4<f32>(0.0);
#endif
        if (key < p.kv_len) {
            let at = key * p.row_vec4s + head_col + t % HD4;
            kk = k[at];
#if QUERIES
            vv = v[at];
#endif
        }
        k_tile[t] = kk;
#if QUERIES
        v_tile[t] = vv;
#endif
    }
}
#endif

#if STATS
@compute @workgroup_size(INVOCATIONS, 1, 1)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    let head_col = wid.y * HD4;
    let i = wid.x * INVOCATIONS + lid.x;
    // Rows past the end still stage tiles (every invocation reaches the barriers); they
    // read the last row and write nothing.
    let row = min(i, p.q_len - 1u) * p.row_vec4s + head_col;
    var qr: array<vec4<f32>, HD4>;
    var dd = vec4<f32>(0.0);
    for (var c = 0u; c < HD4; c++) {
        qr[c] = q[row + c] * p.scale_log2;
        dd = fma(dout[row + c], o[row + c], dd);
    }
    var m = NEG;
    var l = 0.0;
    let end = keys_end(min(wid.x * INVOCATIONS + INVOCATIONS, p.q_len) - 1u);
    for (var k0 = 0u; k0 < end; k0 += TILE) {
        stage_keys(k0, head_col, lid.x);
        workgroupBarrier();
        for (var jj = 0u; jj < TILE; jj++) {
            let j = k0 + jj;
            var s4 = vec4<f32>(0.0);
            for (var c = 0u; c < HD4; c++) {
                s4 = fma(qr[c], k_tile[jj * HD4 + c], s4);
            }
            let s = select(NEG, dot(s4, vec4<f32>(1.0)), j < p.kv_len && visible(i, j));
            let m_new = max(m, s);
            l = l * exp2(m - m_new) + exp2(s - m_new);
            m = m_new;
        }
        workgroupBarrier();
    }
    if (i < p.q_len) {
        stats[wid.y * p.q_len + i] = vec2<f32>(m + log2(l), dot(dd, vec4<f32>(1.0)));
    }
}
#endif

#if KEYS
var<workgroup> q_tile: array<vec4<f32>, TILE * HD4>;
var<workgroup> do_tile: array<vec4<f32>, TILE * HD4>;
var<workgroup> stats_tile: array<vec2<f32>, TILE>;

@compute @workgroup_size(INVOCATIONS, 1, 1)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    let head_col = wid.y * HD4;
    let first = wid.x * INVOCATIONS;
    let j = first + lid.x;
    let row = min(j, p.kv_len - 1u) * p.row_vec4s + head_col;
    var kr: array<vec4<f32>, HD4>;
    var vr: array<vec4<f32>, HD4>;
    var dk_acc: array<vec4<f32>, HD4>;
    var dv_acc: array<vec4<f32>, HD4>;
    for (var c = 0u; c < HD4; c++) {
        kr[c] = k[row + c] * p.scale_log2;
        vr[c] = v[row + c];
        dk_acc[c] = vec4<f32>(0.0);
        dv_acc[c] = vec4<f32>(0.0);
    }
    // Causal: queries before first − past see none of this workgroup's keys.
    var start = 0u;
    if (p.causal != 0u && first > p.past) {
        start = (first - p.past) / TILE * TILE;
    }
    for (var i0 = start; i0 < p.q_len; i0 += TILE) {
        for (var t = lid.x; t < TILE * HD4; t += INVOCATIONS) {
            let query = i0 + t / HD4;
            var qq = vec4<f32>(0.0);
            var gg = vec4<f32>(0.0);
            if (query < p.q_len) {
                let at = query * p.row_vec4s + head_col + t % HD4;
                qq = q[at];
                gg = dout[at];
            }
            q_tile[t] = qq;
            do_tile[t] = gg;
        }
        if (lid.x < TILE) {
            stats_tile[lid.x] = stats[wid.y * p.q_len + min(i0 + lid.x, p.q_len - 1u)];
        }
        workgroupBarrier();
        for (var ii = 0u; ii < TILE; ii++) {
            let i = i0 + ii;
            var s4 = vec4<f32>(0.0);
            var dp4 = vec4<f32>(0.0);
            for (var c = 0u; c < HD4; c++) {
                s4 = fma(kr[c], q_tile[ii * HD4 + c], s4);
                dp4 = fma(vr[c], do_tile[ii * HD4 + c], dp4);
            }
            let st = stats_tile[ii];
            let on = i < p.q_len && visible(i, j);
            let pij = select(0.0, exp2(dot(s4, vec4<f32>(1.0)) - st.x), on);
            let ds = pij * (dot(dp4, vec4<f32>(1.0)) - st.y);
            for (var c = 0u; c < HD4; c++) {
                dv_acc[c] = fma(vec4<f32>(pij), do_tile[ii * HD4 + c], dv_acc[c]);
                dk_acc[c] = fma(vec4<f32>(ds), q_tile[ii * HD4 + c], dk_acc[c]);
            }
        }
        workgroupBarrier();
    }
    if (j < p.kv_len) {
        for (var c = 0u; c < HD4; c++) {
            dk[row + c] = dk_acc[c] * p.scale;
            dv[row + c] = dv_acc[c];
        }
    }
}
#endif

#if QUERIES
@compute @workgroup_size(INVOCATIONS, 1, 1)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    let head_col = wid.y * HD4;
    let i = wid.x * INVOCATIONS + lid.x;
    let row = min(i, p.q_len - 1u) * p.row_vec4s + head_col;
    var qr: array<vec4<f32>, HD4>;
    var dor: array<vec4<f32>, HD4>;
    var dq_acc: array<vec4<f32>, HD4>;
    for (var c = 0u; c < HD4; c++) {
        qr[c] = q[row + c] * p.scale_log2;
        dor[c] = dout[row + c];
        dq_acc[c] = vec4<f32>(0.0);
    }
    let st = stats[wid.y * p.q_len + min(i, p.q_len - 1u)];
    let end = keys_end(min(wid.x * INVOCATIONS + INVOCATIONS, p.q_len) - 1u);
    for (var k0 = 0u; k0 < end; k0 += TILE) {
        stage_keys(k0, head_col, lid.x);
        workgroupBarrier();
        for (var jj = 0u; jj < TILE; jj++) {
            let j = k0 + jj;
            var s4 = vec4<f32>(0.0);
            var dp4 = vec4<f32>(0.0);
            for (var c = 0u; c < HD4; c++) {
                s4 = fma(qr[c], k_tile[jj * HD4 + c], s4);
                dp4 = fma(dor[c], v_tile[jj * HD4 + c], dp4);
            }
            let on = j < p.kv_len && visible(i, j);
            let pij = select(0.0, exp2(dot(s4, vec4<f32>(1.0)) - st.x), on);
            let ds = pij * (dot(dp4, vec4<f32>(1.0)) - st.y);
            for (var c = 0u; c < HD4; c++) {
                dq_acc[c] = fma(vec4<f32>(ds), k_tile[jj * HD4 + c], dq_acc[c]);
            }
        }
        workgroupBarrier();
    }
    if (i < p.q_len) {
        for (var c = 0u; c < HD4; c++) {
            dq[row + c] = dq_acc[c] * p.scale;
        }
    }
}
#endif
