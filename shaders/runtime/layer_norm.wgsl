// Layer normalisation over the last dimension: one workgroup per row.
// y = (x − mean) / sqrt(var + eps) · gamma + beta, variance computed around the mean
// (two passes over the row) for accuracy. Parameters, x and gamma: lib/layer_norm.wgsl.

@group(0) @binding(3) var<storage, read> beta: array<Packed>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;

#include lib/layer_norm.wgsl
#include lib/row_kernel.wgsl

const WG: u32 = 256u;

fn row(r: u32, lane: u32) {
    let base = r * p.cols;
    let stats = row_stats(lane, base);
    for (var i = lane; i < p.cols; i += WG) {
        let b = unpack_at(beta[packed_index(i)], i);
        y[base + i] = (x[base + i] - stats.x) * stats.y * load_gamma(i) + b;
    }
}
