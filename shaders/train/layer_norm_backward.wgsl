// Training: input gradient of layer normalisation with frozen gamma/beta, one workgroup
// per row. Mean and 1/std are recomputed from x (two passes, as the forward does):
//   x̂ = (x − mean)·inv_std,  g = dy·gamma
//   dx = inv_std · (g − mean(g) − x̂ · mean(g·x̂))  [+ dres, the residual stream's gradient]
// Parameters, x and gamma: lib/layer_norm.wgsl.

@group(0) @binding(3) var<storage, read> dy: array<f32>;
@group(0) @binding(4) var<storage, read_write> dx: array<f32>;
#if RESIDUAL
@group(0) @binding(5) var<storage, read> dres: array<f32>;
#endif

#include lib/layer_norm.wgsl
#include lib/row_kernel.wgsl

const WG: u32 = 256u;

fn row(r: u32, lane: u32) {
    let base = r * p.cols;
    let n = f32(p.cols);
    let stats = row_stats(lane, base);
    let mean = stats.x;
    let inv_std = stats.y;
    var sg = 0.0;
    var sgx = 0.0;
    for (var i = lane; i < p.cols; i += WG) {
        let g = dy[base + i] * load_gamma(i);
        sg += g;
        sgx += g * (x[base + i] - mean) * inv_std;
    }
    let mean_g = workgroup_sum(lane, sg) / n;
    let mean_gx = workgroup_sum(lane, sgx) / n;
    for (var i = lane; i < p.cols; i += WG) {
        let xhat = (x[base + i] - mean) * inv_std;
        var v = inv_std * (dy[base + i] * load_gamma(i) - mean_g - xhat * mean_gx);
#if RESIDUAL
        v += dres[base + i];
#endif
        dx[base + i] = v;
    }
}
