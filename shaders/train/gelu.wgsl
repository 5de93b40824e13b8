// Training: exact (erf) GELU as a separate elementwise step, so that its input can be kept
// for the backward pass, and its derivative
//   gelu'(x) = Φ(x) + x·φ(x) = ½(1 + erf(x/√2)) + x·exp(−x²/2)/√(2π).
// erf is the runtime's approximation (lib/gelu.wgsl), so forward matches the inference kernels.

struct Params {
    n: u32, _pad0: u32, _pad1: u32, _pad2: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
@group(0) @binding(3) var<storage, read> dy: array<f32>;
@group(0) @binding(4) var<storage, read_write> dx: array<f32>;

#include lib/gelu.wgsl
#include lib/grid.wgsl

@compute @workgroup_size(256, 1, 1)
fn forward(wg: Workgroup, @builtin(local_invocation_id) lid: vec3<u32>) {
    let i = thread_index(wg, lid);
    if (i < p.n) {
        y[i] = gelu(x[i]);
    }
}

@compute @workgroup_size(256, 1, 1)
fn backward(wg: Workgroup, @builtin(local_invocation_id) lid: vec3<u32>) {
    let i = thread_index(wg, lid);
    if (i < p.n) {
        let v = x[i];
        let cdf = 0.5 * (1.0 + erf_approx(v * 0.70710678118654752));
        let pdf = 0.3989422804014327 * exp(-0.5 * v * v);
        dx[i] = dy[i] * (cdf + v * pdf);
    }
}
