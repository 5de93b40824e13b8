// Greedy pick: index of the largest logits[i] + mask[i] (mask holds 0 or a large negative
// value for suppressed tokens), lowest index on ties. One workgroup.

struct Params {
    n: u32, offset: u32, _pad0: u32, _pad1: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> logits: array<f32>;
@group(0) @binding(2) var<storage, read> mask: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<u32>;

const WG: u32 = 256u;
var<workgroup> best_v: array<f32, 256>;
var<workgroup> best_i: array<u32, 256>;

@compute @workgroup_size(256, 1, 1)
fn main(@builtin(local_invocation_id) lid: vec3<u32>) {
    let lane = lid.x;
    var bv = -3.402823e38;
    var bi = 0xffffffffu;
    for (var i = lane; i < p.n; i += WG) {
        let v = logits[p.offset + i] + mask[i];
        if (v > bv) {
            bv = v;
            bi = i;
        }
    }
    best_v[lane] = bv;
    best_i[lane] = bi;
    workgroupBarrier();
    for (var s = WG / 2u; s > 0u; s >>= 1u) {
        if (lane < s) {
            let ov = best_v[lane + s];
            let oi = best_i[lane + s];
            if (ov > best_v[lane] || (ov == best_v[lane] && oi < best_i[lane])) {
                best_v[lane] = ov;
                best_i[lane] = oi;
            }
        }
        workgroupBarrier();
    }
    if (lane == 0u) {
        out[0] = best_i[0];
    }
}
