// One decoder step's attention sub-layer up to the output projection, in one dispatch:
// layer norm of the row, the head's query projection (SELF: query, key and value), then
// softmax(q·kᵀ·scale)·v over the head's keys and values. One workgroup per (head, row):
// grid x = head, y = row. Each row is one sequence's newest token (one beam), so no row
// needs another row's keys: the workgroup owns everything it reads.
//
// x [rows, d] (binding 1); w (binding 2): the query weight [d, d] or with SELF the
// concatenated [q; k; v] weight [3d, d] (f32, or packed halves with F16); prm (binding 3,
// f32): [gamma (d) | beta (d) | bias (d or 3d)] with zeros where a projection has no bias.
// Keys and values (bindings 4, 5) are laid out [position, beam, d]: position t of row r's
// sequence at t·kv_stride + kv_beam·r·d; with KV_F16 (cross-attention only) they are packed
// halves, two per u32, element i in word i / 2 (head columns and strides are even). SELF writes the row's new key and value at
// position `past` and attends over 0..=past; otherwise (cross-attention) every row reads
// the same kv_len positions (kv_beam = 0). out [rows, d] (binding 6) gets the attention
// output, head h at columns h·head_dim...
//
// SPLIT (cross-attention over many frames, flash-decoding): grid z splits the positions
// into chunks of `split`, so heads × rows × chunks workgroups share the frames instead of
// one workgroup per head walking all of them. Each writes its chunk's partial result to out
// instead: [rows, heads, chunks, 2 + head_dim] = (max score m, Σ exp(score − m),
// Σ exp(score − m)·v); runtime/attention_combine.wgsl merges the chunks. Without SPLIT the
// host passes split = kv_len and one chunk.

struct Params {
    d: u32, head_dim: u32, kv_len: u32, kv_stride: u32,
    kv_beam: u32, past: u32, eps: f32, scale: f32,
    split: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<Packed>;
@group(0) @binding(3) var<storage, read> prm: array<f32>;
#if SELF
@group(0) @binding(4) var<storage, read_write> keys: array<f32>;
@group(0) @binding(5) var<storage, read_write> values: array<f32>;
const PARTS: u32 = 3u;
#else
#if KV_F16
@group(0) @binding(4) var<storage, read> keys: array<u32>;
@group(0) @binding(5) var<storage, read> values: array<u32>;
#else
@group(0) @binding(4) var<storage, read> keys: array<f32>;
@group(0) @binding(5) var<storage, read> values: array<f32>;
#endif
const PARTS: u32 = 1u;
#endif
@group(0) @binding(6) var<storage, read_write> out: array<f32>;

#include lib/f16.wgsl
#include lib/reduce.wgsl

const WG: u32 = 256u;
// Limits the wrapper checks (ops::attention_step::fits): d_model, head_dim, positions.
const MAX_D: u32 = 1280u;
const MAX_HEAD_DIM: u32 = 128u;
const MAX_KV: u32 = 1536u;
// Lanes splitting K in the projections: WG / LANES outputs per pass.
const LANES: u32 = 4u;

var<workgroup> xn: array<f32, MAX_D>;
// The head's query, then (SELF) the row's new key and value.
var<workgroup> qkv: array<f32, 384>; // 3 · MAX_HEAD_DIM
var<workgroup> scores: array<f32, MAX_KV>;

// Dot product of weight row `row` with xn over this lane's share of K.
fn row_dot(row: u32, lane: u32) -> f32 {
    var acc = 0.0;
#if F16
    let words = (row * p.d) >> 1u;
    for (var q = lane; q < p.d / 2u; q += LANES) {
        let pair = unpack2x16float(w[words + q]);
        acc += pair.x * xn[2u * q] + pair.y * xn[2u * q + 1u];
    }
#else
    let base = row * p.d;
    for (var kk = lane; kk < p.d; kk += LANES) {
        acc += w[base + kk] * xn[kk];
    }
#endif
    return acc;
}

@compute @workgroup_size(WG, 1, 1)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
    @builtin(local_invocation_id) lid: vec3<u32>,
) {
    let h = wid.x;
    let r = wid.y;
    let t = lid.x;
    let d = p.d;
    let hd = p.head_dim;
    let head_col = h * hd;

    // Layer norm of row r into xn (as runtime/layer_norm.wgsl: variance around the mean).
    let xb = r * d;
    var s = 0.0;
    for (var i = t; i < d; i += WG) {
        s += x[xb + i];
    }
    let mean = workgroup_sum(t, s) / f32(d);
    var sq = 0.0;
    for (var i = t; i < d; i += WG) {
        let dev = x[xb + i] - mean;
        sq += dev * dev;
    }
    let inv_std = inverseSqrt(workgroup_sum(t, sq) / f32(d) + p.eps);
    for (var i = t; i < d; i += WG) {
        xn[i] = (x[xb + i] - mean) * inv_std * prm[i] + prm[d + i];
    }
    workgroupBarrier();

    // Projections: output o is part o / hd (q, k, v), column o % hd of head h.
    let outputs = PARTS * hd;
    let per_pass = WG / LANES;
    let lane = t % LANES;
    for (var first = 0u; first < outputs; first += per_pass) {
        let o = first + t / LANES;
        var acc = 0.0;
        if (o < outputs) {
            let part = o / hd;
            acc = row_dot(part * d + head_col + o % hd, lane);
        }
        red[t] = vec2<f32>(acc, 0.0);
        workgroupBarrier();
        if (lane == 0u && o < outputs) {
            var total = 0.0;
            for (var l = 0u; l < LANES; l++) {
                total += red[t + l].x;
            }
            qkv[o] = total + prm[2u * d + (o / hd) * d + head_col + o % hd];
        }
        workgroupBarrier();
    }

#if SELF
    // The row's new key and value join the cache at position `past`.
    let new_row = p.past * p.kv_stride + p.kv_beam * r * d + head_col;
    for (var j = t; j < hd; j += WG) {
        keys[new_row + j] = qkv[hd + j];
        values[new_row + j] = qkv[2u * hd + j];
    }
#endif

    // Scores of the head's query against the visible positions of this chunk.
    let begin = wid.z * p.split;
    let len = min(p.kv_len - begin, p.split);
    let kv_base = p.kv_beam * r * d + head_col;
    var m = -3.402823e38;
    for (var i = t; i < len; i += WG) {
        let sc = key_dot(begin + i, kv_base) * p.scale;
        scores[i] = sc;
        m = max(m, sc);
    }
    let chunk_max = workgroup_max(t, m);
    var sum = 0.0;
    for (var i = t; i < len; i += WG) {
        let e = exp(scores[i] - chunk_max);
        scores[i] = e;
        sum += e;
    }
    let chunk_sum = workgroup_sum(t, sum);

    // Weighted values: columns 2c and 2c + 1 (c = t % pairs; one packed word of halves),
    // positions split over WG / pairs groups of threads.
    let pairs = hd / 2u;
    let splits = WG / pairs;
    let c = t % pairs;
    let split = t / pairs;
    var acc = vec2<f32>(0.0);
    if (split < splits) {
        for (var i = split; i < len; i += splits) {
            acc += scores[i] * value_pair(begin + i, kv_base, 2u * c);
        }
    }
    red[t] = acc;
    workgroupBarrier();
    if (t < pairs) {
        var total = vec2<f32>(0.0);
        for (var g = 0u; g < splits; g++) {
            total += red[g * pairs + t];
        }
#if SPLIT
        let slot = ((r * groups.x + h) * groups.z + wid.z) * (2u + hd);
        if (t == 0u) {
            out[slot] = chunk_max;
            out[slot + 1u] = chunk_sum;
        }
        out[slot + 2u + 2u * t] = total.x;
        out[slot + 3u + 2u * t] = total.y;
#else
        let at = r * d + head_col + 2u * t;
        out[at] = total.x / chunk_sum;
        out[at + 1u] = total.y / chunk_sum;
#endif
    }
}

// The head's query · its key at position `pos` (SELF: the new key at `past` from qkv).
fn key_dot(pos: u32, kv_base: u32) -> f32 {
    var dot = 0.0;
#if SELF
    if (pos == p.past) {
        for (var j = 0u; j < p.head_dim; j++) {
            dot += qkv[j] * qkv[p.head_dim + j];
        }
        return dot;
    }
#endif
    let at = pos * p.kv_stride + kv_base;
#if KV_F16
    for (var j = 0u; j < p.head_dim; j += 2u) {
        let pair = unpack2x16float(keys[(at + j) >> 1u]);
        dot += qkv[j] * pair.x + qkv[j + 1u] * pair.y;
    }
#else
    for (var j = 0u; j < p.head_dim; j++) {
        dot += qkv[j] * keys[at + j];
    }
#endif
    return dot;
}

// Value elements j and j + 1 (j even) of the head at position `pos` (SELF: the new value at
// `past` from qkv).
fn value_pair(pos: u32, kv_base: u32, j: u32) -> vec2<f32> {
#if SELF
    if (pos == p.past) {
        return vec2<f32>(qkv[2u * p.head_dim + j], qkv[2u * p.head_dim + j + 1u]);
    }
#endif
    let at = pos * p.kv_stride + kv_base + j;
#if KV_F16
    return unpack2x16float(values[at >> 1u]);
#else
    return vec2<f32>(values[at], values[at + 1u]);
#endif
}
