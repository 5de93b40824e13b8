// Training-mode CLSR block (DistilWhisper), the parts that are not plain Linears:
//   gate_forward:      G_t = w_out · ReLU(a_t) with a = W_in·dropout(z) + b_in computed by a
//                      Linear; soft gate g_t = sigmoid(G_t + alpha·ε_t), ε ~ N(0, 1) drawn
//                      from (seed, stream, t).
//   mix_forward:       out = res + g·y_lang + (1 − g)·y_shared; with skip = 1 (skip-gate)
//                      the layer uses y_shared only (g is still reported for the budget).
//   mix_backward:      dy_lang = g·dout, dy_shared = (1 − g)·dout, dg_t = dout_t·(y_lang − y_shared)_t
//   gate_grad:         dG_t = (dg_t + c·mask_t)·g_t(1 − g_t), c the budget coefficient
//                      (budget.wgsl out[1]).
//   gate_mlp_backward: da_th = dG_t·w_out_h·[a_th > 0], and ReLU(a) for dw_out.

struct Params {
    rows: u32, cols: u32, hidden: u32, seed: u32,
    stream: u32, skip: u32, alpha: f32, _pad: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> w_out: array<f32>;
@group(0) @binding(3) var<storage, read_write> gates_out: array<f32>;
@group(0) @binding(4) var<storage, read> gates: array<f32>;
@group(0) @binding(5) var<storage, read> res: array<f32>;
@group(0) @binding(6) var<storage, read> y_lang: array<f32>;
@group(0) @binding(7) var<storage, read> y_shared: array<f32>;
@group(0) @binding(8) var<storage, read_write> out: array<f32>;
@group(0) @binding(9) var<storage, read> dout: array<f32>;
@group(0) @binding(10) var<storage, read_write> dy_lang: array<f32>;
@group(0) @binding(11) var<storage, read_write> dy_shared: array<f32>;
@group(0) @binding(12) var<storage, read_write> dg_out: array<f32>;
@group(0) @binding(13) var<storage, read> dg: array<f32>;
@group(0) @binding(14) var<storage, read> budget: array<f32>;
@group(0) @binding(15) var<storage, read> mask: array<f32>;
@group(0) @binding(16) var<storage, read_write> dgate_out: array<f32>;
@group(0) @binding(17) var<storage, read> dgate: array<f32>;
@group(0) @binding(18) var<storage, read_write> da: array<f32>;
@group(0) @binding(19) var<storage, read_write> h_relu: array<f32>;

#include lib/grid.wgsl
#include lib/reduce.wgsl
#include lib/rng.wgsl

fn mixed_gate(t: u32) -> f32 {
    if (p.skip != 0u) {
        return 0.0;
    }
    return gates[t];
}

@compute @workgroup_size(256, 1, 1)
fn gate_forward(wg: Workgroup, @builtin(local_invocation_id) lid: vec3<u32>) {
    let t = thread_index(wg, lid);
    if (t >= p.rows) {
        return;
    }
    var s = 0.0;
    for (var h = 0u; h < p.hidden; h++) {
        s += max(a[t * p.hidden + h], 0.0) * w_out[h];
    }
    let noisy = s + p.alpha * rng_normal(p.seed, p.stream, t);
    gates_out[t] = 1.0 / (1.0 + exp(-noisy));
}

@compute @workgroup_size(256, 1, 1)
fn mix_forward(wg: Workgroup, @builtin(local_invocation_id) lid: vec3<u32>) {
    let i = thread_index(wg, lid);
    if (i >= p.rows * p.cols) {
        return;
    }
    let g = mixed_gate(i / p.cols);
    out[i] = res[i] + g * y_lang[i] + (1.0 - g) * y_shared[i];
}

const WG: u32 = 256u;

@compute @workgroup_size(256, 1, 1)
fn mix_backward(wg: Workgroup, @builtin(local_invocation_id) lid: vec3<u32>) {
    let t = workgroup_index(wg);
    if (t >= p.rows) {
        return;
    }
    let lane = lid.x;
    let g = mixed_gate(t);
    var s = 0.0;
    for (var c = lane; c < p.cols; c += WG) {
        let i = t * p.cols + c;
        let d = dout[i];
        dy_lang[i] = g * d;
        dy_shared[i] = (1.0 - g) * d;
        s += d * (y_lang[i] - y_shared[i]);
    }
    let total = workgroup_sum(lane, s);
    if (lane == 0u) {
        dg_out[t] = select(total, 0.0, p.skip != 0u);
    }
}

@compute @workgroup_size(256, 1, 1)
fn gate_grad(wg: Workgroup, @builtin(local_invocation_id) lid: vec3<u32>) {
    let t = thread_index(wg, lid);
    if (t >= p.rows) {
        return;
    }
    let g = gates[t];
    dgate_out[t] = (dg[t] + budget[1] * mask[t]) * g * (1.0 - g);
}

@compute @workgroup_size(256, 1, 1)
fn gate_mlp_backward(wg: Workgroup, @builtin(local_invocation_id) lid: vec3<u32>) {
    let i = thread_index(wg, lid);
    if (i >= p.rows * p.hidden) {
        return;
    }
    let t = i / p.hidden;
    let h = i % p.hidden;
    let av = a[i];
    h_relu[i] = max(av, 0.0);
    da[i] = select(0.0, dgate[t] * w_out[h], av > 0.0);
}
