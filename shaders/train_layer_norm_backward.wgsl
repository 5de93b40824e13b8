// Training: input gradient of layer normalisation with frozen gamma/beta, one workgroup
// per row. Mean and 1/std are recomputed from x (two passes, as the forward does):
//   x̂ = (x − mean)·inv_std,  g = dy·gamma
//   dx = inv_std · (g − mean(g) − x̂ · mean(g·x̂))  [+ dres, the residual stream's gradient]

struct Params {
    rows: u32, cols: u32, eps: f32, _pad: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
#if F16
@group(0) @binding(2) var<storage, read> gamma: array<u32>;
#else
@group(0) @binding(2) var<storage, read> gamma: array<f32>;
#endif
@group(0) @binding(3) var<storage, read> dy: array<f32>;
@group(0) @binding(4) var<storage, read_write> dx: array<f32>;
#if RESIDUAL
@group(0) @binding(5) var<storage, read> dres: array<f32>;
#endif

fn load_gamma(i: u32) -> f32 {
#if F16
    let pair = unpack2x16float(gamma[i >> 1u]);
    return select(pair.x, pair.y, (i & 1u) == 1u);
#else
    return gamma[i];
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
    let n = f32(p.cols);
    var s = 0.0;
    for (var i = lane; i < p.cols; i += WG) {
        s += x[base + i];
    }
    let mean = reduce_sum(lane, s) / n;
    var sq = 0.0;
    for (var i = lane; i < p.cols; i += WG) {
        let d = x[base + i] - mean;
        sq += d * d;
    }
    let inv_std = inverseSqrt(reduce_sum(lane, sq) / n + p.eps);
    var sg = 0.0;
    var sgx = 0.0;
    for (var i = lane; i < p.cols; i += WG) {
        let g = dy[base + i] * load_gamma(i);
        sg += g;
        sgx += g * (x[base + i] - mean) * inv_std;
    }
    let mean_g = reduce_sum(lane, sg) / n;
    let mean_gx = reduce_sum(lane, sgx) / n;
    for (var i = lane; i < p.cols; i += WG) {
        let xhat = (x[base + i] - mean) * inv_std;
        var v = inv_std * (dy[base + i] * load_gamma(i) - mean_g - xhat * mean_gx);
#if RESIDUAL
        v += dres[base + i];
#endif
        dx[base + i] = v;
    }
}
