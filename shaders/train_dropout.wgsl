// Training: inverted dropout y = x·keep/(1 − p_drop), keep = [uniform(seed, stream, i) ≥ p_drop].
// The backward pass is the same map applied to dy with the same (seed, stream): the mask is
// regenerated, never stored. Needs train_rng.wgsl prepended.

struct Params {
    n: u32, seed: u32, stream: u32, p_drop: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(256, 1, 1)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    let i = (wid.x + wid.y * groups.x) * 256u + lid.x;
    if (i >= p.n) {
        return;
    }
    if (rng_uniform(p.seed, p.stream, i) >= p.p_drop) {
        y[i] = x[i] / (1.0 - p.p_drop);
    } else {
        y[i] = 0.0;
    }
}
