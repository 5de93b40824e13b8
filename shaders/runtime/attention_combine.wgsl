// Flash-decoding's second pass: merges the per-chunk partial attention results of
// runtime/attention_step.wgsl (SPLIT) into the attention output. part (binding 1) is
// [rows, heads, chunks, 2 + head_dim], each chunk (m, s, a) with m its max score,
// s = Σ exp(score − m) and a = Σ exp(score − m)·v over its positions; the result is
// Σ exp(m_c − M)·a_c / Σ exp(m_c − M)·s_c with M the max over chunks. out [rows, d]
// (binding 2), head h at columns h·head_dim. One workgroup per (head, row).

struct Params {
    d: u32, head_dim: u32, chunks: u32, _pad: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> part: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

const WG: u32 = 64u;

@compute @workgroup_size(WG, 1, 1)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
    @builtin(local_invocation_id) lid: vec3<u32>,
) {
    let h = wid.x;
    let r = wid.y;
    let stride = 2u + p.head_dim;
    let first = (r * groups.x + h) * p.chunks * stride;
    var top = -3.402823e38;
    for (var c = 0u; c < p.chunks; c++) {
        top = max(top, part[first + c * stride]);
    }
    var total = 0.0;
    for (var c = 0u; c < p.chunks; c++) {
        let at = first + c * stride;
        total += exp(part[at] - top) * part[at + 1u];
    }
    for (var j = lid.x; j < p.head_dim; j += WG) {
        var acc = 0.0;
        for (var c = 0u; c < p.chunks; c++) {
            let at = first + c * stride;
            acc += exp(part[at] - top) * part[at + 2u + j];
        }
        out[r * p.d + h * p.head_dim + j] = acc / total;
    }
}
