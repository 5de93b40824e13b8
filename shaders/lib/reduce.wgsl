// Included snippet: reductions across the WG invocations of a workgroup, along x (the
// kernel declares `const WG: u32`, a power of two). Every invocation must call them, in
// uniform control flow (they hold barriers), with its lane (local_invocation_id.x); every
// lane gets the result. The tree combines lanes WG/2 apart, then WG/4, ..., so the order of
// the additions is fixed. The vec2 form reduces two values at once.

const SUM: u32 = 0u;
const MAX: u32 = 1u;

var<workgroup> red: array<vec2<f32>, WG>;

fn workgroup_reduce2(lane: u32, v: vec2<f32>, op: u32) -> vec2<f32> {
    red[lane] = v;
    workgroupBarrier();
    for (var s = WG / 2u; s > 0u; s >>= 1u) {
        if (lane < s) {
            let other = red[lane + s];
            red[lane] = select(red[lane] + other, max(red[lane], other), op == MAX);
        }
        workgroupBarrier();
    }
    let total = red[0];
    workgroupBarrier();
    return total;
}

fn workgroup_sum(lane: u32, v: f32) -> f32 {
    return workgroup_reduce2(lane, vec2<f32>(v, 0.0), SUM).x;
}

fn workgroup_max(lane: u32, v: f32) -> f32 {
    return workgroup_reduce2(lane, vec2<f32>(v, 0.0), MAX).x;
}
