// Row-wise softmax in place over attention scores laid out [heads, q_len, kv_len] (or any
// [rows, cols]). With CAUSAL, query row i (of q_len) may see keys j ≤ i + past; the rest get
// probability 0 (decoder self-attention over a KV cache holding `past` earlier positions).

struct Params {
    rows: u32, cols: u32, q_len: u32, past: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> s: array<f32>;

#include lib/reduce.wgsl
#include lib/row_kernel.wgsl

const WG: u32 = 256u;

fn row(r: u32, lane: u32) {
    let base = r * p.cols;
#if CAUSAL
    let visible = min(p.cols, (r % p.q_len) + p.past + 1u);
#else
    let visible = p.cols;
#endif
    var m = -3.402823e38;
    for (var i = lane; i < visible; i += WG) {
        m = max(m, s[base + i]);
    }
    let row_max = workgroup_max(lane, m);
    var sum = 0.0;
    for (var i = lane; i < visible; i += WG) {
        let e = exp(s[base + i] - row_max);
        s[base + i] = e;
        sum += e;
    }
    let inv = 1.0 / workgroup_sum(lane, sum);
    for (var i = lane; i < p.cols; i += WG) {
        if (i < visible) {
            s[base + i] *= inv;
        } else {
            s[base + i] = 0.0;
        }
    }
}
