// Training: sums without atomics, in two passes. `sum_partial` has each workgroup add a
// grid-strided share of x (SQUARE: x², WEIGHTED: x·w) into partials[wid]; `sum_final`
// (one workgroup) adds the partials and writes (or, with accumulate, adds) scale·Σ into
// out[slot]. Used for loss totals, the gate budget and the global gradient norm.

struct Params {
    n: u32, groups: u32, slot: u32, accumulate: u32,
    scale: f32, _pad0: u32, _pad1: u32, _pad2: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
#if WEIGHTED
@group(0) @binding(2) var<storage, read> w: array<f32>;
#endif
@group(0) @binding(3) var<storage, read_write> partials: array<f32>;
@group(0) @binding(4) var<storage, read> part_in: array<f32>;
@group(0) @binding(5) var<storage, read_write> out: array<f32>;

const WG: u32 = 256u;
#include lib/reduce.wgsl

fn term(i: u32) -> f32 {
    var v = x[i];
#if SQUARE
    v = v * v;
#endif
#if WEIGHTED
    v = v * w[i];
#endif
    return v;
}

@compute @workgroup_size(256, 1, 1)
fn sum_partial(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    var s = 0.0;
    for (var i = wid.x * WG + lid.x; i < p.n; i += p.groups * WG) {
        s += term(i);
    }
    let total = workgroup_sum(lid.x, s);
    if (lid.x == 0u) {
        partials[wid.x] = total;
    }
}

@compute @workgroup_size(256, 1, 1)
fn sum_final(@builtin(local_invocation_id) lid: vec3<u32>) {
    var s = 0.0;
    for (var i = lid.x; i < p.groups; i += WG) {
        s += part_in[i];
    }
    let total = workgroup_sum(lid.x, s) * p.scale;
    if (lid.x == 0u) {
        if (p.accumulate != 0u) {
            out[p.slot] += total;
        } else {
            out[p.slot] = total;
        }
    }
}
