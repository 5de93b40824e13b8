// Training: inverted dropout y = x·keep/(1 − p_drop), keep = [uniform(seed, stream, i) ≥ p_drop].
// The backward pass is the same map applied to dy with the same (seed, stream): the mask is
// regenerated, never stored.

struct Params {
    n: u32, seed: u32, stream: u32, p_drop: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;

#include lib/thread_kernel.wgsl
#include lib/rng.wgsl

fn element_count() -> u32 {
    return p.n;
}

fn element(i: u32) {
    if (rng_uniform(p.seed, p.stream, i) >= p.p_drop) {
        y[i] = x[i] / (1.0 - p.p_drop);
    } else {
        y[i] = 0.0;
    }
}
