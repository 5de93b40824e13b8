// Training losses over vocabulary-sized logits, one vocabulary chunk at a time with an
// online log-sum-exp (full logits for a batch exceed binding limits). One workgroup per
// token row; `z` is the student's chunk [rows, vc] (columns v0..v0+vc of the vocabulary),
// `zt` the teacher's. Targets equal to 0xffffffff are padding and contribute nothing.
//
// Cross-entropy with label smoothing ε (PyTorch's definition, target (1−ε)·onehot + ε/V):
//   state [rows, 4] = (running max, running Σexp, Σz, z_target)
//   loss_r = lse − (1−ε)·z_t − (ε/V)·Σz;  dz = softmax(z) − (1−ε)·onehot − ε/V
// Jensen–Shannon at temperature τ between teacher p = softmax(zt/τ) and student
// q = softmax(z/τ), m = (p+q)/2, JS = ½KL(p‖m) + ½KL(q‖m):
//   state [rows, 8] = (max_p, Σexp_p, max_q, Σexp_q, JS, Σ q·g, −, −), g = ½(log q − log m)
//   dJS/dz = (1/τ)·q·(g − Σ q·g)
// Row losses are multiplied by `inv_count` (1 / non-padding rows) and `scale`.
// Each pass is a variant (define CE_INIT, CE_CHUNK, CE_FINISH, CE_GRAD, JS_INIT, JS_LSE_CHUNK,
// JS_VALUE_CHUNK, JS_FINISH, JS_GRAD) whose `row` runs once per token row (lib/row_kernel.wgsl).

struct Params {
    rows: u32, vc: u32, v0: u32, vocab: u32,
    smoothing: f32, inv_count: f32, inv_tau: f32, scale: f32,
    accumulate: u32, _pad0: u32, _pad1: u32, _pad2: u32,
}

const IGNORE: u32 = 0xffffffffu;
const NEG: f32 = -3.402823e38;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> z: array<f32>;
@group(0) @binding(2) var<storage, read> targets: array<u32>;
@group(0) @binding(3) var<storage, read_write> state: array<f32>;
@group(0) @binding(4) var<storage, read> zt: array<f32>;
@group(0) @binding(5) var<storage, read_write> dz: array<f32>;
@group(0) @binding(6) var<storage, read_write> loss: array<f32>;
@group(0) @binding(7) var<storage, read> st: array<f32>;

const WG: u32 = 256u;
#include lib/reduce.wgsl
#include lib/row_kernel.wgsl

// Writes (or with accumulate adds) the gradient of logit i.
fn store_grad(i: u32, g: f32) {
    if (p.accumulate != 0u) {
        dz[i] += g;
    } else {
        dz[i] = g;
    }
}

// Writes row r's loss, scaled; padding rows get 0.
fn store_loss(r: u32, l: f32) {
    if (targets[r] == IGNORE) {
        loss[r] = 0.0;
    } else {
        loss[r] = l * p.inv_count * p.scale;
    }
}

#if CE_INIT
fn row(r: u32, lane: u32) {
    if (lane < 4u) {
        state[4u * r + lane] = select(0.0, NEG, lane == 0u);
    }
}
#endif

#if CE_CHUNK
fn row(r: u32, lane: u32) {
    let base = r * p.vc;
    var mx = NEG;
    var sz = 0.0;
    for (var c = lane; c < p.vc; c += WG) {
        let v = z[base + c];
        mx = max(mx, v);
        sz += v;
    }
    mx = workgroup_max(lane, mx);
    let m_old = state[4u * r];
    let m_new = max(m_old, mx);
    var se = 0.0;
    for (var c = lane; c < p.vc; c += WG) {
        se += exp(z[base + c] - m_new);
    }
    let sums = workgroup_reduce2(lane, vec2<f32>(se, sz), SUM);
    if (lane == 0u) {
        state[4u * r] = m_new;
        state[4u * r + 1u] = state[4u * r + 1u] * exp(m_old - m_new) + sums.x;
        state[4u * r + 2u] += sums.y;
        let t = targets[r];
        if (t != IGNORE && t >= p.v0 && t < p.v0 + p.vc) {
            state[4u * r + 3u] = z[base + t - p.v0];
        }
    }
}
#endif

#if CE_FINISH
fn row(r: u32, lane: u32) {
    if (lane == 0u) {
        let lse = st[4u * r] + log(st[4u * r + 1u]);
        let eps = p.smoothing;
        store_loss(r, lse - (1.0 - eps) * st[4u * r + 3u] - eps / f32(p.vocab) * st[4u * r + 2u]);
    }
}
#endif

#if CE_GRAD
fn row(r: u32, lane: u32) {
    let t = targets[r];
    let lse = st[4u * r] + log(st[4u * r + 1u]);
    let f = p.inv_count * p.scale;
    let uniform_part = p.smoothing / f32(p.vocab);
    let base = r * p.vc;
    for (var c = lane; c < p.vc; c += WG) {
        var g = 0.0;
        if (t != IGNORE) {
            g = exp(z[base + c] - lse) - uniform_part;
            if (p.v0 + c == t) {
                g -= 1.0 - p.smoothing;
            }
            g *= f;
        }
        store_grad(base + c, g);
    }
}
#endif

#if JS_INIT
fn row(r: u32, lane: u32) {
    if (lane < 8u) {
        state[8u * r + lane] = select(0.0, NEG, lane == 0u || lane == 2u);
    }
}
#endif

#if JS_LSE_CHUNK
fn row(r: u32, lane: u32) {
    let base = r * p.vc;
    var mp = NEG;
    var mq = NEG;
    for (var c = lane; c < p.vc; c += WG) {
        mp = max(mp, zt[base + c] * p.inv_tau);
        mq = max(mq, z[base + c] * p.inv_tau);
    }
    let mx = workgroup_reduce2(lane, vec2<f32>(mp, mq), MAX);
    let old = vec2<f32>(state[8u * r], state[8u * r + 2u]);
    let m_new = max(old, mx);
    var sp = 0.0;
    var sq = 0.0;
    for (var c = lane; c < p.vc; c += WG) {
        sp += exp(zt[base + c] * p.inv_tau - m_new.x);
        sq += exp(z[base + c] * p.inv_tau - m_new.y);
    }
    let sums = workgroup_reduce2(lane, vec2<f32>(sp, sq), SUM);
    if (lane == 0u) {
        state[8u * r] = m_new.x;
        state[8u * r + 1u] = state[8u * r + 1u] * exp(old.x - m_new.x) + sums.x;
        state[8u * r + 2u] = m_new.y;
        state[8u * r + 3u] = state[8u * r + 3u] * exp(old.y - m_new.y) + sums.y;
    }
}
#endif

// log p, log q, log m for one vocabulary entry, given the rows' log-sum-exps.
fn js_logs(zt_v: f32, z_v: f32, lse: vec2<f32>) -> vec3<f32> {
    let lp = zt_v * p.inv_tau - lse.x;
    let lq = z_v * p.inv_tau - lse.y;
    let hi = max(lp, lq);
    let lm = -0.6931471805599453 + hi + log(1.0 + exp(-abs(lp - lq)));
    return vec3<f32>(lp, lq, lm);
}

#if JS_VALUE_CHUNK
fn row(r: u32, lane: u32) {
    let base = r * p.vc;
    let lse = vec2<f32>(state[8u * r] + log(state[8u * r + 1u]), state[8u * r + 2u] + log(state[8u * r + 3u]));
    var js = 0.0;
    var qg = 0.0;
    for (var c = lane; c < p.vc; c += WG) {
        let l = js_logs(zt[base + c], z[base + c], lse);
        let pv = exp(l.x);
        let qv = exp(l.y);
        js += 0.5 * pv * (l.x - l.z) + 0.5 * qv * (l.y - l.z);
        qg += qv * 0.5 * (l.y - l.z);
    }
    let sums = workgroup_reduce2(lane, vec2<f32>(js, qg), SUM);
    if (lane == 0u) {
        state[8u * r + 4u] += sums.x;
        state[8u * r + 5u] += sums.y;
    }
}
#endif

#if JS_FINISH
fn row(r: u32, lane: u32) {
    if (lane == 0u) {
        store_loss(r, st[8u * r + 4u]);
    }
}
#endif

#if JS_GRAD
fn row(r: u32, lane: u32) {
    let skip = targets[r] == IGNORE;
    let lse = vec2<f32>(st[8u * r] + log(st[8u * r + 1u]), st[8u * r + 2u] + log(st[8u * r + 3u]));
    let qg = st[8u * r + 5u];
    let f = p.inv_count * p.scale * p.inv_tau;
    let base = r * p.vc;
    for (var c = lane; c < p.vc; c += WG) {
        var g = 0.0;
        if (!skip) {
            let l = js_logs(zt[base + c], z[base + c], lse);
            g = f * exp(l.y) * (0.5 * (l.y - l.z) - qg);
        }
        store_grad(base + c, g);
    }
}
#endif
