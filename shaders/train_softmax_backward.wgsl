// Training: row-wise softmax backward, one workgroup per row:
//   ds = P ⊙ (dP − Σ_j dP_j·P_j)
// Masked (causal) entries have P = 0 and get ds = 0.

struct Params {
    rows: u32, cols: u32, _pad0: u32, _pad1: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> probs: array<f32>;
@group(0) @binding(2) var<storage, read> dp: array<f32>;
@group(0) @binding(3) var<storage, read_write> ds: array<f32>;

const WG: u32 = 256u;
var<workgroup> red: array<f32, 256>;

@compute @workgroup_size(256, 1, 1)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
    @builtin(local_invocation_id) lid: vec3<u32>,
) {
    let row = wid.x + wid.y * groups.x;
    if (row >= p.rows) {
        return;
    }
    let lane = lid.x;
    let base = row * p.cols;
    var s = 0.0;
    for (var i = lane; i < p.cols; i += WG) {
        s += dp[base + i] * probs[base + i];
    }
    red[lane] = s;
    workgroupBarrier();
    for (var st = WG / 2u; st > 0u; st >>= 1u) {
        if (lane < st) {
            red[lane] += red[lane + st];
        }
        workgroupBarrier();
    }
    let dot = red[0];
    for (var i = lane; i < p.cols; i += WG) {
        ds[base + i] = probs[base + i] * (dp[base + i] - dot);
    }
}
