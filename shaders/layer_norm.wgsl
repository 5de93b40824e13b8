// Layer normalisation over the last dimension: one workgroup per row.
// y = (x − mean) / sqrt(var + eps) · gamma + beta, variance computed around the mean
// (two passes over the row) for accuracy.

struct Params {
    rows: u32, cols: u32, eps: f32, _pad: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
#if F16
@group(0) @binding(2) var<storage, read> gamma: array<u32>;
@group(0) @binding(3) var<storage, read> beta: array<u32>;
#else
@group(0) @binding(2) var<storage, read> gamma: array<f32>;
@group(0) @binding(3) var<storage, read> beta: array<f32>;
#endif
@group(0) @binding(4) var<storage, read_write> y: array<f32>;

fn load_param(i: u32, which: u32) -> f32 {
#if F16
    var word: u32;
    if (which == 0u) { word = gamma[i >> 1u]; } else { word = beta[i >> 1u]; }
    let pair = unpack2x16float(word);
    return select(pair.x, pair.y, (i & 1u) == 1u);
#else
    if (which == 0u) { return gamma[i]; }
    return beta[i];
#endif
}

const WG: u32 = 256u;
var<workgroup> sums: array<f32, 256>;

fn reduce_sum(lane: u32, v: f32) -> f32 {
    sums[lane] = v;
    workgroupBarrier();
    for (var s = WG / 2u; s > 0u; s >>= 1u) {
        if (lane < s) {
            sums[lane] += sums[lane + s];
        }
        workgroupBarrier();
    }
    let total = sums[0];
    workgroupBarrier();
    return total;
}

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
    var s = 0.0;
    for (var i = lane; i < p.cols; i += WG) {
        s += x[base + i];
    }
    let mean = reduce_sum(lane, s) / f32(p.cols);
    var sq = 0.0;
    for (var i = lane; i < p.cols; i += WG) {
        let d = x[base + i] - mean;
        sq += d * d;
    }
    let inv_std = inverseSqrt(reduce_sum(lane, sq) / f32(p.cols) + p.eps);
    for (var i = lane; i < p.cols; i += WG) {
        y[base + i] = (x[base + i] - mean) * inv_std * load_param(i, 0u) + load_param(i, 1u);
    }
}
