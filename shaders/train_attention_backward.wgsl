// Training: multi-head attention backward without storing score matrices. For each head
// and query row the scores s_ij = scale·q_i·k_j are recomputed from Q and K:
//   row_stats: lse_i = log Σ_j exp(s_ij) (online log-sum-exp), D_i = dO_i·O_i
//   grad_q:    dQ_i = scale · Σ_j dS_ij·k_j
//   grad_kv:   dV_j = Σ_i P_ij·dO_i,  dK_j = scale · Σ_i dS_ij·q_i
// with P_ij = exp(s_ij − lse_i) and dS_ij = P_ij·(dO_i·v_j − D_i). Memory is O(T·d) per
// call (two floats per head and query row); the sums over rows are per-thread loops, so
// there are no atomics. Head h occupies columns h·head_dim.. of [rows, d] activations.
// With causal = 1, query i sees keys j ≤ i + past. head_dim ≤ 64.

struct Params {
    heads: u32, head_dim: u32, q_len: u32, kv_len: u32,
    d: u32, causal: u32, past: u32, scale: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> q: array<f32>;
@group(0) @binding(2) var<storage, read> k: array<f32>;
@group(0) @binding(3) var<storage, read> v: array<f32>;
@group(0) @binding(4) var<storage, read> o: array<f32>;
@group(0) @binding(5) var<storage, read> dout: array<f32>;
@group(0) @binding(6) var<storage, read_write> stats_out: array<f32>;
@group(0) @binding(7) var<storage, read> stats: array<f32>;
@group(0) @binding(8) var<storage, read_write> dq: array<f32>;
@group(0) @binding(9) var<storage, read_write> dk: array<f32>;
@group(0) @binding(10) var<storage, read_write> dv: array<f32>;

fn visible_keys(i: u32) -> u32 {
    if (p.causal != 0u) {
        return min(p.kv_len, i + p.past + 1u);
    }
    return p.kv_len;
}

fn score(h: u32, i: u32, j: u32) -> f32 {
    let qb = i * p.d + h * p.head_dim;
    let kb = j * p.d + h * p.head_dim;
    var s = 0.0;
    for (var c = 0u; c < p.head_dim; c++) {
        s += q[qb + c] * k[kb + c];
    }
    return s * p.scale;
}

// dO_i · v_j for head h.
fn dout_dot_v(h: u32, i: u32, j: u32) -> f32 {
    let ob = i * p.d + h * p.head_dim;
    let vb = j * p.d + h * p.head_dim;
    var s = 0.0;
    for (var c = 0u; c < p.head_dim; c++) {
        s += dout[ob + c] * v[vb + c];
    }
    return s;
}

fn thread_index(wid: vec3<u32>, groups: vec3<u32>, lid: vec3<u32>) -> u32 {
    return (wid.x + wid.y * groups.x) * 64u + lid.x;
}

@compute @workgroup_size(64, 1, 1)
fn row_stats(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
    @builtin(local_invocation_id) lid: vec3<u32>,
) {
    let id = thread_index(wid, groups, lid);
    if (id >= p.heads * p.q_len) {
        return;
    }
    let h = id / p.q_len;
    let i = id % p.q_len;
    var m = -3.402823e38;
    var s = 0.0;
    let n = visible_keys(i);
    for (var j = 0u; j < n; j++) {
        let x = score(h, i, j);
        let m_new = max(m, x);
        s = s * exp(m - m_new) + exp(x - m_new);
        m = m_new;
    }
    let ob = i * p.d + h * p.head_dim;
    var dd = 0.0;
    for (var c = 0u; c < p.head_dim; c++) {
        dd += dout[ob + c] * o[ob + c];
    }
    stats_out[2u * id] = m + log(s);
    stats_out[2u * id + 1u] = dd;
}

@compute @workgroup_size(64, 1, 1)
fn grad_q(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
    @builtin(local_invocation_id) lid: vec3<u32>,
) {
    let id = thread_index(wid, groups, lid);
    if (id >= p.heads * p.q_len) {
        return;
    }
    let h = id / p.q_len;
    let i = id % p.q_len;
    let lse = stats[2u * id];
    let dd = stats[2u * id + 1u];
    var acc: array<f32, 64>;
    for (var c = 0u; c < p.head_dim; c++) {
        acc[c] = 0.0;
    }
    let n = visible_keys(i);
    for (var j = 0u; j < n; j++) {
        let pij = exp(score(h, i, j) - lse);
        let dsij = pij * (dout_dot_v(h, i, j) - dd);
        let kb = j * p.d + h * p.head_dim;
        for (var c = 0u; c < p.head_dim; c++) {
            acc[c] += dsij * k[kb + c];
        }
    }
    let qb = i * p.d + h * p.head_dim;
    for (var c = 0u; c < p.head_dim; c++) {
        dq[qb + c] = acc[c] * p.scale;
    }
}

@compute @workgroup_size(64, 1, 1)
fn grad_kv(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
    @builtin(local_invocation_id) lid: vec3<u32>,
) {
    let id = thread_index(wid, groups, lid);
    if (id >= p.heads * p.kv_len) {
        return;
    }
    let h = id / p.kv_len;
    let j = id % p.kv_len;
    var acc_k: array<f32, 64>;
    var acc_v: array<f32, 64>;
    for (var c = 0u; c < p.head_dim; c++) {
        acc_k[c] = 0.0;
        acc_v[c] = 0.0;
    }
    var first = 0u;
    if (p.causal != 0u && j > p.past) {
        first = j - p.past;
    }
    for (var i = first; i < p.q_len; i++) {
        let sid = h * p.q_len + i;
        let pij = exp(score(h, i, j) - stats[2u * sid]);
        let dsij = pij * (dout_dot_v(h, i, j) - stats[2u * sid + 1u]);
        let b = i * p.d + h * p.head_dim;
        for (var c = 0u; c < p.head_dim; c++) {
            acc_v[c] += pij * dout[b + c];
            acc_k[c] += dsij * q[b + c];
        }
    }
    let kb = j * p.d + h * p.head_dim;
    for (var c = 0u; c < p.head_dim; c++) {
        dk[kb + c] = acc_k[c] * p.scale;
        dv[kb + c] = acc_v[c];
    }
}
