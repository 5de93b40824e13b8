// Row-wise softmax in place over attention scores laid out [heads, q_len, kv_len] (or any
// [rows, cols]). With CAUSAL, query row i (of q_len) may see keys j ≤ i + past; the rest get
// probability 0 (decoder self-attention over a KV cache holding `past` earlier positions).

struct Params {
    rows: u32, cols: u32, q_len: u32, past: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> s: array<f32>;

const WG: u32 = 256u;
var<workgroup> red: array<f32, 256>;

@compute @workgroup_size(256, 1, 1)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
    @builtin(local_invocation_id) lid: vec3<u32>,
) {
    let row = wid.x + wid.y * groups.x;
    if (row >= p.rows) {
        return;
    }
    let lane = lid.x;
    let base = row * p.cols;
#if CAUSAL
    let visible = min(p.cols, (row % p.q_len) + p.past + 1u);
#else
    let visible = p.cols;
#endif
    var m = -3.402823e38;
    for (var i = lane; i < visible; i += WG) {
        m = max(m, s[base + i]);
    }
    red[lane] = m;
    workgroupBarrier();
    for (var st = WG / 2u; st > 0u; st >>= 1u) {
        if (lane < st) {
            red[lane] = max(red[lane], red[lane + st]);
        }
        workgroupBarrier();
    }
    let row_max = red[0];
    workgroupBarrier();
    var sum = 0.0;
    for (var i = lane; i < visible; i += WG) {
        let e = exp(s[base + i] - row_max);
        s[base + i] = e;
        sum += e;
    }
    red[lane] = sum;
    workgroupBarrier();
    for (var st = WG / 2u; st > 0u; st >>= 1u) {
        if (lane < st) {
            red[lane] += red[lane + st];
        }
        workgroupBarrier();
    }
    let inv = 1.0 / red[0];
    for (var i = lane; i < p.cols; i += WG) {
        if (i < visible) {
            s[base + i] *= inv;
        } else {
            s[base + i] = 0.0;
        }
    }
}
