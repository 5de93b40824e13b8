// Training-mode CLSR block (DistilWhisper), the parts that are not plain Linears. Each pass
// is a variant (define) with its own bindings after those the gate passes share (1-3):
//   GATE_FORWARD:      G_t = w_out · ReLU(a_t) with a = W_in·dropout(z) + b_in computed by a
//                      Linear; soft gate g_t = sigmoid(G_t + alpha·ε_t), ε ~ N(0, 1) drawn
//                      from (seed, stream, t), written to `gates`.
//   MIX_FORWARD:       out = res + g·y_lang + (1 − g)·y_shared; with skip = 1 (skip-gate)
//                      the layer uses y_shared only (g is still reported for the budget).
//   MIX_BACKWARD:      dy_lang = g·dout, dy_shared = (1 − g)·dout, dg_t = dout_t·(y_lang − y_shared)_t
//   GATE_GRAD:         dG_t = (dg_t + c·mask_t)·g_t(1 − g_t), c the budget coefficient
//                      (budget.wgsl out[1]).
//   GATE_MLP_BACKWARD: da_th = dG_t·w_out_h·[a_th > 0], and ReLU(a) for dw_out.
// One invocation per token or element (lib/thread_kernel.wgsl), except MIX_BACKWARD: one
// workgroup per token, its lanes striding over the columns (lib/row_kernel.wgsl).

struct Params {
    rows: u32, cols: u32, hidden: u32, seed: u32,
    stream: u32, skip: u32, alpha: f32, _pad: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
#if GATE_FORWARD
@group(0) @binding(1) var<storage, read_write> gates: array<f32>;
#else
@group(0) @binding(1) var<storage, read> gates: array<f32>;
#endif
// The gate MLP's hidden pre-activations [rows, hidden] and output weight [hidden].
@group(0) @binding(2) var<storage, read> a: array<f32>;
@group(0) @binding(3) var<storage, read> w_out: array<f32>;

// The gate that mixes token t's two FFNs: 0 with skip-gate.
fn mixed_gate(t: u32) -> f32 {
    if (p.skip != 0u) {
        return 0.0;
    }
    return gates[t];
}

#if GATE_FORWARD
#include lib/rng.wgsl
#include lib/thread_kernel.wgsl

fn element_count() -> u32 {
    return p.rows;
}

fn element(t: u32) {
    var s = 0.0;
    for (var h = 0u; h < p.hidden; h++) {
        s += max(a[t * p.hidden + h], 0.0) * w_out[h];
    }
    let noisy = s + p.alpha * rng_normal(p.seed, p.stream, t);
    gates[t] = 1.0 / (1.0 + exp(-noisy));
}
#endif

#if MIX_FORWARD
@group(0) @binding(4) var<storage, read> res: array<f32>;
@group(0) @binding(5) var<storage, read> y_lang: array<f32>;
@group(0) @binding(6) var<storage, read> y_shared: array<f32>;
@group(0) @binding(7) var<storage, read_write> out: array<f32>;

#include lib/thread_kernel.wgsl

fn element_count() -> u32 {
    return p.rows * p.cols;
}

fn element(i: u32) {
    let g = mixed_gate(i / p.cols);
    out[i] = res[i] + g * y_lang[i] + (1.0 - g) * y_shared[i];
}
#endif

#if MIX_BACKWARD
@group(0) @binding(4) var<storage, read> dout: array<f32>;
@group(0) @binding(5) var<storage, read> y_lang: array<f32>;
@group(0) @binding(6) var<storage, read> y_shared: array<f32>;
@group(0) @binding(7) var<storage, read_write> dy_lang: array<f32>;
@group(0) @binding(8) var<storage, read_write> dy_shared: array<f32>;
@group(0) @binding(9) var<storage, read_write> dg: array<f32>;

const WG: u32 = 256u;
#include lib/reduce.wgsl
#include lib/row_kernel.wgsl

fn row(t: u32, lane: u32) {
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
        dg[t] = select(total, 0.0, p.skip != 0u);
    }
}
#endif

#if GATE_GRAD
@group(0) @binding(4) var<storage, read> dg: array<f32>;
@group(0) @binding(5) var<storage, read> budget: array<f32>;
@group(0) @binding(6) var<storage, read> mask: array<f32>;
@group(0) @binding(7) var<storage, read_write> dgate: array<f32>;

#include lib/thread_kernel.wgsl

fn element_count() -> u32 {
    return p.rows;
}

fn element(t: u32) {
    let g = gates[t];
    dgate[t] = (dg[t] + budget[1] * mask[t]) * g * (1.0 - g);
}
#endif

#if GATE_MLP_BACKWARD
@group(0) @binding(4) var<storage, read> dgate: array<f32>;
@group(0) @binding(5) var<storage, read_write> da: array<f32>;
@group(0) @binding(6) var<storage, read_write> h_relu: array<f32>;

#include lib/thread_kernel.wgsl

fn element_count() -> u32 {
    return p.rows * p.hidden;
}

fn element(i: u32) {
    let t = i / p.hidden;
    let h = i % p.hidden;
    let av = a[i];
    h_relu[i] = max(av, 0.0);
    da[i] = select(0.0, dgate[t] * w_out[h], av > 0.0);
}
#endif
