// Training: the row-wise middle of multi-head attention backward. The caller recomputes,
// per group of heads, S = scale·Q·Kᵀ and dP = dO·Vᵀ with the tiled matmul kernel into
// [heads, q_len, kv_len] buffers (scores are never kept between the forward and the
// backward; a group's buffers are sized to a memory budget), then this kernel turns each
// row i of head h into
//   P_ij  = softmax_j(S_ij) over the visible keys (0 elsewhere)      (written over S)
//   dS_ij = P_ij·(dP_ij − D_i),  D_i = dO_i·O_i                       (written over dP)
// after which dQ = scale·dS·K, dKᵀ = scale·Qᵀ·dS and dVᵀ = dOᵀ·P are matmuls again.
// One workgroup per row; its 64 invocations stride over the keys (contiguous loads) and
// reduce through workgroup memory. With causal = 1, query i sees keys j ≤ i + past.
// Head h (of the group starting at head h0) occupies columns h·head_dim.. of O and dO.

struct Params {
    q_len: u32, kv_len: u32, head_dim: u32, d: u32,
    causal: u32, past: u32, h0: u32, rows: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> o: array<f32>;
@group(0) @binding(2) var<storage, read> dout: array<f32>;
@group(0) @binding(3) var<storage, read_write> s: array<f32>;
@group(0) @binding(4) var<storage, read_write> dp: array<f32>;

const WG: u32 = 64u;
#include lib/reduce.wgsl
#include lib/row_kernel.wgsl

fn row(r: u32, lid: u32) {
    let h = p.h0 + r / p.q_len;
    let i = r % p.q_len;
    var n = p.kv_len;
    if (p.causal != 0u) {
        n = min(p.kv_len, i + p.past + 1u);
    }
    let base = r * p.kv_len;

    var m = -3.402823e38;
    for (var j = lid; j < n; j += WG) {
        m = max(m, s[base + j]);
    }
    m = workgroup_max(lid, m);
    var t = 0.0;
    for (var j = lid; j < n; j += WG) {
        t += exp(s[base + j] - m);
    }
    let inv = 1.0 / workgroup_sum(lid, t);
    let ob = i * p.d + h * p.head_dim;
    var dd = 0.0;
    for (var c = lid; c < p.head_dim; c += WG) {
        dd += dout[ob + c] * o[ob + c];
    }
    dd = workgroup_sum(lid, dd);

    for (var j = lid; j < p.kv_len; j += WG) {
        var pij = 0.0;
        var dsij = 0.0;
        if (j < n) {
            pij = exp(s[base + j] - m) * inv;
            dsij = pij * (dp[base + j] - dd);
        }
        s[base + j] = pij;
        dp[base + j] = dsij;
    }
}
