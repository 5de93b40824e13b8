// Training: batched strided transpose y[b, c, r] = x[b, r, c] for a [rows, cols] matrix
// per batch item, both sides addressed by (offset, row stride, batch stride) in elements,
// so heads inside [T, d_model] activations are read or written in place. A 16×16
// workgroup moves one tile through workgroup memory (padded against bank conflicts), so
// reads and writes are both contiguous along a row.

struct Params {
    rows: u32, cols: u32, in_off: u32, in_ld: u32,
    in_bs: u32, out_off: u32, out_ld: u32, out_bs: u32,
}

@group(0) @binding(0) var<uniform> p: Params;

#include lib/map_io.wgsl

var<workgroup> tile: array<f32, 272>;

@compute @workgroup_size(16, 16, 1)
fn transpose(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    let r0 = wid.y * 16u;
    let c0 = wid.x * 16u;
    let b = wid.z;
    let r = r0 + lid.y;
    let c = c0 + lid.x;
    if (r < p.rows && c < p.cols) {
        tile[lid.y * 17u + lid.x] = x[p.in_off + b * p.in_bs + r * p.in_ld + c];
    }
    workgroupBarrier();
    let oc = c0 + lid.y;
    let orow = r0 + lid.x;
    if (oc < p.cols && orow < p.rows) {
        y[p.out_off + b * p.out_bs + oc * p.out_ld + orow] = tile[lid.x * 17u + lid.y];
    }
}
