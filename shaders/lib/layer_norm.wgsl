// Included snippet: what the layer-normalisation kernels (forward and backward) share: the
// parameters, the input rows x [rows, cols] at binding 1 and gamma at binding 2 (f32, or
// packed halves with F16), and the row statistics. Mean and 1/std of a row come from two
// passes over it, the variance computed around the mean for accuracy. One workgroup of WG
// invocations per row.

struct Params {
    rows: u32, cols: u32, eps: f32, _pad: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> gamma: array<Packed>;

#include lib/f16.wgsl
#include lib/reduce.wgsl

fn load_gamma(i: u32) -> f32 {
    return unpack_at(gamma[packed_index(i)], i);
}

// (mean, 1/std) of x[base .. base + p.cols].
fn row_stats(lane: u32, base: u32) -> vec2<f32> {
    let n = f32(p.cols);
    var s = 0.0;
    for (var i = lane; i < p.cols; i += WG) {
        s += x[base + i];
    }
    let mean = workgroup_sum(lane, s) / n;
    var sq = 0.0;
    for (var i = lane; i < p.cols; i += WG) {
        let d = x[base + i] - mean;
        sq += d * d;
    }
    let inv_std = inverseSqrt(workgroup_sum(lane, sq) / n + p.eps);
    return vec2<f32>(mean, inv_std);
}
