// Picks the next token from one logits row, with Whisper's logit filters applied on the GPU so
// only the chosen id (and its log-probability) is read back. One workgroup.
//
// Filters, in OpenAI's order: the additive suppress mask (0 or -1e30 per id), then, when
// TIMESTAMPS is set, the timestamp rules the host derived from the tokens so far (flags below),
// then the timestamp-probability-mass rule: if logsumexp of the timestamp log-probs exceeds the
// best text log-prob, every id below ts_begin is forbidden. The pick is the argmax (temperature
// 0) or a sample from softmax(logits / temperature) by the Gumbel-max trick with a counter-based
// hash as RNG (seed, step, id), reproducible for a seed. `logprob` is log_softmax of the
// filtered logits (not divided by the temperature) at the picked id, as OpenAI scores it.
//
// HISTORY (entry `main` only): the timestamp rules come from the tokens picked so far kept on
// the GPU (binding 4: [count, last id, the id before it, last timestamp id or NONE]), updated
// with each pick, so the next step can be recorded before this one's id is read back; the
// params' ts_max bounds the first pick only (flags: TIMESTAMPS alone).
//
// PARTIALS (entry `main`, greedy only): the logits product left argmax partials of the ids
// below EOT under this mask (binding 5, `partials` triples; lib/argmax_partials.wgsl). Those
// ids obey the mask alone (and FIRST and NO_TEXT, which drop them all), so the pick merges
// the partials instead of reading their logits and reads the ids from EOT on (the specials
// and the timestamps) as without.
//
// Entry `top_k`: the `k` most likely allowed ids (filters as in `main`, no temperature), best
// first and ties to the lowest id, as [id, bits of its log-probability] pairs from
// out[out_index] on (beam search). Rows with fewer than `k` allowed ids end in id 0xffffffff.
//
// Entry `probability`: softmax probability of id `wanted` over the raw row (no filters),
// written to out[out_index] (the no-speech probability; word-timestamp token probabilities).

struct Params {
    n: u32,
    offset: u32,
    ts_begin: u32,
    eot: u32,
    flags: u32,
    ts_min: u32,
    ts_max: u32,
    seed: u32,
    step: u32,
    wanted: u32,
    temperature: f32,
    out_index: u32,
    k: u32,
    partials: u32,
    _pad0: u32,
    _pad1: u32,
}

// flags
const TIMESTAMPS: u32 = 1u;   // timestamp rules apply at all
const FIRST: u32 = 2u;        // first sampled position: timestamps only
const NO_TS: u32 = 4u;        // last two sampled tokens were timestamps: text or EOT next
const NO_TEXT: u32 = 8u;      // last was a timestamp after text: timestamp or EOT next

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> logits: array<f32>;
@group(0) @binding(2) var<storage, read> mask: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<u32>;
#if HISTORY
@group(0) @binding(4) var<storage, read_write> history: array<u32>;
#endif
#if PARTIALS
@group(0) @binding(5) var<storage, read> partials: array<u32>;
#endif

const WG: u32 = 256u;
const NEG: f32 = -3.402823e38;
const NONE: u32 = 0xffffffffu;
var<workgroup> r0: array<f32, 256>;
var<workgroup> r1: array<f32, 256>;
var<workgroup> r2: array<f32, 256>;
var<workgroup> r3: array<f32, 256>;
var<workgroup> r4: array<f32, 256>;
var<workgroup> ri: array<u32, 256>;

#include lib/rng.wgsl

// Standard Gumbel noise for id i: -log(-log(u)), u uniform in (0, 1).
fn gumbel(i: u32) -> f32 {
    let h = pcg_hash(i ^ pcg_hash(p.step ^ pcg_hash(p.seed)));
    let u = (f32(h >> 8u) + 0.5) / 16777216.0;
    return -log(-log(u));
}

// This pick's timestamp rules: the params', or with HISTORY derived from the history.
var<private> flags: u32;
var<private> ts_min: u32;
var<private> ts_max: u32;

fn load_filter() {
    flags = p.flags;
    ts_min = p.ts_min;
    ts_max = p.ts_max;
#if HISTORY
    if ((p.flags & TIMESTAMPS) == 0u) {
        return;
    }
    // As decode::timestamps::timestamp_filter does on the host.
    let count = history[0];
    let last_ts = count >= 1u && history[1] >= p.ts_begin;
    let penultimate_ts = count < 2u || history[2] >= p.ts_begin;
    let closing = last_ts && !penultimate_ts;
    let last_stamp = history[3];
    if (last_stamp == NONE) {
        ts_min = p.ts_begin;
    } else {
        ts_min = select(last_stamp + 1u, last_stamp, closing);
    }
    flags = TIMESTAMPS;
    if (count == 0u) {
        flags |= FIRST;
    } else {
        ts_max = p.n - 1u;
    }
    if (last_ts && penultimate_ts) {
        flags |= NO_TS;
    }
    if (closing) {
        flags |= NO_TEXT;
    }
#endif
}

// Whether id i survives the mask and the timestamp rules (not the probability-mass rule).
fn allowed(i: u32) -> bool {
    if (mask[i] < -1e29) {
        return false;
    }
    if ((flags & TIMESTAMPS) == 0u) {
        return true;
    }
    if (i >= p.ts_begin) {
        return (flags & NO_TS) == 0u && i >= ts_min && i <= ts_max;
    }
    if ((flags & FIRST) != 0u) {
        return false;
    }
    return !((flags & NO_TEXT) != 0u && i < p.eot);
}

// Combines two online log-sum-exp states (max, sum of exp(x - max)).
fn lse_merge(ma: f32, sa: f32, mb: f32, sb: f32) -> vec2<f32> {
    let m = max(ma, mb);
    if (m == NEG) {
        return vec2<f32>(NEG, 0.0);
    }
    return vec2<f32>(m, sa * exp(ma - m) + sb * exp(mb - m));
}

// Adds one value to an online log-sum-exp state.
fn lse_add(ms: vec2<f32>, v: f32) -> vec2<f32> {
    if (v <= ms.x) {
        return vec2<f32>(ms.x, ms.y + exp(v - ms.x));
    }
    return vec2<f32>(v, ms.y * exp(ms.x - v) + 1.0);
}

// Whether the rules allow text ids (below EOT) at all; the mask decides each.
fn text_allowed() -> bool {
    return (flags & TIMESTAMPS) == 0u || (flags & (FIRST | NO_TEXT)) == 0u;
}

// The first id the passes read: with PARTIALS the ids below EOT come from the partials.
fn first_read_id() -> u32 {
#if PARTIALS
    return min(p.eot, p.n);
#else
    return 0u;
#endif
}

// What pass 1 of every pick finds: the log-sum-exp of the allowed ids, and whether the
// probability-mass rule forbids text.
struct Filtered {
    lse: f32,
    text_off: bool,
}

// Pass 1 of every pick. Every lane gets the same values.
fn filtered_log_sum_exp(lane: u32) -> Filtered {
    var max_text = NEG;
    var all = vec2<f32>(NEG, 0.0);
    var ts = vec2<f32>(NEG, 0.0);
#if PARTIALS
    if (text_allowed()) {
        for (var j = lane; j < p.partials; j += WG) {
            let m = bitcast<f32>(partials[3u * j]);
            max_text = max(max_text, m);
            all = lse_merge(all.x, all.y, m, bitcast<f32>(partials[3u * j + 2u]));
        }
    }
#endif
    for (var i = first_read_id() + lane; i < p.n; i += WG) {
        if (!allowed(i)) {
            continue;
        }
        let v = logits[p.offset + i];
        all = lse_add(all, v);
        if (i >= p.ts_begin) {
            ts = lse_add(ts, v);
        } else {
            max_text = max(max_text, v);
        }
    }
    r0[lane] = max_text;
    r1[lane] = all.x;
    r2[lane] = all.y;
    r3[lane] = ts.x;
    r4[lane] = ts.y;
    workgroupBarrier();
    for (var s = WG / 2u; s > 0u; s >>= 1u) {
        if (lane < s) {
            r0[lane] = max(r0[lane], r0[lane + s]);
            let a = lse_merge(r1[lane], r2[lane], r1[lane + s], r2[lane + s]);
            r1[lane] = a.x;
            r2[lane] = a.y;
            let t = lse_merge(r3[lane], r4[lane], r3[lane + s], r4[lane + s]);
            r3[lane] = t.x;
            r4[lane] = t.y;
        }
        workgroupBarrier();
    }
    let lse_all = r1[0] + log(r2[0]);
    let lse_ts = r3[0] + log(r4[0]);
    let text_off = (flags & TIMESTAMPS) != 0u && r3[0] != NEG && lse_ts > r0[0];
    let lse = select(lse_all, lse_ts, text_off);
    workgroupBarrier();
    return Filtered(lse, text_off);
}

// Whether id i may be picked: allowed, and not text when the probability-mass rule is on.
fn pickable(i: u32, text_off: bool) -> bool {
    return allowed(i) && !(text_off && i < p.ts_begin);
}

// Reduces each lane's best (r0 value, ri id) to lane 0: higher value, then lower id.
fn reduce_best(lane: u32) {
    workgroupBarrier();
    for (var s = WG / 2u; s > 0u; s >>= 1u) {
        if (lane < s) {
            let ov = r0[lane + s];
            let oi = ri[lane + s];
            if (ov > r0[lane] || (ov == r0[lane] && oi < ri[lane])) {
                r0[lane] = ov;
                ri[lane] = oi;
            }
        }
        workgroupBarrier();
    }
}

@compute @workgroup_size(256, 1, 1)
fn main(@builtin(local_invocation_id) lid: vec3<u32>) {
    let lane = lid.x;
    load_filter();
    let filtered = filtered_log_sum_exp(lane);

    // Pass 2: argmax of the (noised, tempered) allowed logits; lowest id on ties.
    let sample = p.temperature > 0.0;
    var bv = NEG;
    var bi = p.eot;
#if PARTIALS
    // Greedy only (ops/token_pick.rs): the partials hold raw logits.
    if (text_allowed() && !filtered.text_off) {
        for (var j = lane; j < p.partials; j += WG) {
            let v = bitcast<f32>(partials[3u * j]);
            let id = partials[3u * j + 1u];
            if (v > bv || (v == bv && id < bi)) {
                bv = v;
                bi = id;
            }
        }
    }
#endif
    for (var i = first_read_id() + lane; i < p.n; i += WG) {
        if (!pickable(i, filtered.text_off)) {
            continue;
        }
        var v = logits[p.offset + i];
        if (sample) {
            v = v / p.temperature + gumbel(i);
        }
        if (v > bv) {
            bv = v;
            bi = i;
        }
    }
    r0[lane] = bv;
    ri[lane] = bi;
    reduce_best(lane);
    if (lane == 0u) {
        let token = ri[0];
        out[0] = token;
        out[1] = bitcast<u32>(logits[p.offset + token] - filtered.lse);
#if HISTORY
        history[2] = history[1];
        history[1] = token;
        if (token >= p.ts_begin) {
            history[3] = token;
        }
        history[0] += 1u;
#endif
    }
}

@compute @workgroup_size(256, 1, 1)
fn top_k(@builtin(local_invocation_id) lid: vec3<u32>) {
    let lane = lid.x;
    load_filter();
    let filtered = filtered_log_sum_exp(lane);
    // Round j finds the best id strictly below round j-1's pick in the order
    // (higher value, then lower id), so each id is picked at most once.
    var prev_v = 3.402823e38;
    var prev_i = 0u;
    var first = true;
    for (var j = 0u; j < p.k; j++) {
        var bv = NEG;
        var bi = NONE;
        for (var i = lane; i < p.n; i += WG) {
            if (!pickable(i, filtered.text_off)) {
                continue;
            }
            let v = logits[p.offset + i];
            let below = first || v < prev_v || (v == prev_v && i > prev_i);
            if (below && (v > bv || (v == bv && i < bi))) {
                bv = v;
                bi = i;
            }
        }
        r0[lane] = bv;
        ri[lane] = bi;
        reduce_best(lane);
        let token = ri[0];
        let value = r0[0];
        workgroupBarrier();
        if (lane == 0u) {
            out[p.out_index + 2u * j] = token;
            out[p.out_index + 2u * j + 1u] = bitcast<u32>(value - filtered.lse);
        }
        prev_v = value;
        prev_i = token;
        first = false;
    }
}

@compute @workgroup_size(256, 1, 1)
fn probability(@builtin(local_invocation_id) lid: vec3<u32>) {
    let lane = lid.x;
    var all = vec2<f32>(NEG, 0.0);
    for (var i = lane; i < p.n; i += WG) {
        all = lse_add(all, logits[p.offset + i]);
    }
    r1[lane] = all.x;
    r2[lane] = all.y;
    workgroupBarrier();
    for (var s = WG / 2u; s > 0u; s >>= 1u) {
        if (lane < s) {
            let a = lse_merge(r1[lane], r2[lane], r1[lane + s], r2[lane + s]);
            r1[lane] = a.x;
            r2[lane] = a.y;
        }
        workgroupBarrier();
    }
    if (lane == 0u) {
        let lse = r1[0] + log(r2[0]);
        out[p.out_index] = bitcast<u32>(exp(logits[p.offset + p.wanted] - lse));
    }
}
