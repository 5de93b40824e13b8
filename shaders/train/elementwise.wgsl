// Training: elementwise helpers. fill: y = value. axpy: y += alpha·x.

struct Params {
    n: u32, _pad0: u32, _pad1: u32, value: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
@group(0) @binding(2) var<storage, read> x: array<f32>;

#include lib/grid.wgsl

@compute @workgroup_size(256, 1, 1)
fn fill(wg: Workgroup, @builtin(local_invocation_id) lid: vec3<u32>) {
    let i = thread_index(wg, lid);
    if (i < p.n) {
        y[i] = p.value;
    }
}

@compute @workgroup_size(256, 1, 1)
fn axpy(wg: Workgroup, @builtin(local_invocation_id) lid: vec3<u32>) {
    let i = thread_index(wg, lid);
    if (i < p.n) {
        y[i] += p.value * x[i];
    }
}
