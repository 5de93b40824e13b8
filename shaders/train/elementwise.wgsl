// Training: elementwise steps over the first n elements, one variant (define) each, one
// invocation per element (lib/thread_kernel.wgsl):
//   FILL:          y = value
//   AXPY:          y += value·x
//   GELU_FORWARD:  y = gelu(x), exact (erf) GELU as a step of its own, so that its input can
//                  be kept for the backward pass; erf is the runtime's approximation
//                  (lib/gelu.wgsl), so it matches the inference kernels' fused GELU
//   GELU_BACKWARD: y = dy·gelu'(x),  gelu'(x) = Φ(x) + x·φ(x) = ½(1 + erf(x/√2)) + x·exp(−x²/2)/√(2π)
//   DROPOUT:       inverted dropout y = x·keep/(1 − value), keep = [uniform(seed, stream, i) ≥ value]
//                  with drop probability `value`. The backward pass is the same map applied
//                  to dy with the same (seed, stream): the mask is regenerated, never stored.

struct Params {
    n: u32, seed: u32, stream: u32, value: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(3) var<storage, read> dy: array<f32>;

#include lib/map_io.wgsl
#include lib/thread_kernel.wgsl

fn element_count() -> u32 {
    return p.n;
}

#if FILL
fn element(i: u32) {
    y[i] = p.value;
}
#endif

#if AXPY
fn element(i: u32) {
    y[i] += p.value * x[i];
}
#endif

#if GELU_FORWARD
#include lib/gelu.wgsl

fn element(i: u32) {
    y[i] = gelu(x[i]);
}
#endif

#if GELU_BACKWARD
#include lib/gelu.wgsl

fn element(i: u32) {
    let v = x[i];
    let cdf = 0.5 * (1.0 + erf_approx(v * 0.70710678118654752));
    let pdf = 0.3989422804014327 * exp(-0.5 * v * v);
    y[i] = dy[i] * (cdf + v * pdf);
}
#endif

#if DROPOUT
#include lib/rng.wgsl

fn element(i: u32) {
    if (rng_uniform(p.seed, p.stream, i) >= p.value) {
        y[i] = x[i] / (1.0 - p.value);
    } else {
        y[i] = 0.0;
    }
}
#endif
