//! The CLSR feed-forward block in training mode (DistilWhisper, docs/training.md):
//!   z_g = dropout(z, 0.1);  a = W_in·z_g + b_in;  G = w_out·ReLU(a)
//!   g = sigmoid(G + α(t)·ε), ε ~ N(0, 1), α(t) = 5·min(t/T, 1)
//!   y_lang = fc2_e(dropout(GELU(fc1_e z), 0.3)),  y_shared = fc2_s(GELU(fc1_s z)) (frozen)
//!   out = res + g·y_lang + (1 − g)·y_shared   (skip-gate: out = res + y_shared)
//! Both FFNs run for every token. The forward keeps what the backward needs; dropout masks
//! and gate noise are regenerated from (seed, stream). The backward accumulates gradients
//! of the expert and gate parameters and returns dL/dz (dL/dres is dout itself).

use whisper_clsr::gpu::shader::Kernel;
use whisper_clsr::gpu::{Gpu, Tensor, Weight};
use whisper_clsr::ops::clsr::SharedFfn;
use whisper_clsr::ops::matmul::linear;
use whisper_clsr::pack::Expert;
use whisper_clsr::Result;

use crate::backward::gelu::{gelu, gelu_backward};
use crate::backward::linear::{grad_bias, grad_input, grad_weight};
use crate::kernel::{rows_grid, threads_grid, u};
use crate::optim::Param;
use crate::rng::{dropout, Draw};

const SOURCE: &str = include_str!("../../shaders/train/clsr.wgsl");

/// The passes of the kernel, one define each.
const PASSES: [&str; 5] = [
    "GATE_FORWARD",
    "MIX_FORWARD",
    "MIX_BACKWARD",
    "GATE_GRAD",
    "GATE_MLP_BACKWARD",
];

fn kernel(pass: &'static str) -> Kernel {
    Kernel::new::<Params>("train/clsr.wgsl", SOURCE, "main").define_if(pass, true)
}

pub(crate) fn kernels() -> Vec<Kernel> {
    PASSES.into_iter().map(kernel).collect()
}

/// Gate noise scale α(t) = 5·min(step/total, 1).
pub fn gate_noise_alpha(step: u64, total_steps: u64) -> f32 {
    5.0 * (step as f32 / total_steps.max(1) as f32).min(1.0)
}

/// Uploads a layer's expert as trainable f32 parameters (zero gradients and moments).
pub fn trainable(gpu: &Gpu, host: &Expert<Vec<f32>>) -> Result<Expert<Param>> {
    let dims = host.dims();
    host.try_map(|t, values| Param::new(gpu, values, &t.shape(dims)))
}

/// Per-forward randomness and schedule of one layer.
#[derive(Clone, Copy, Debug)]
pub struct TrainMode {
    /// Gate noise scale α(t).
    pub alpha: f32,
    /// Dropout on the gate input (0.1).
    pub gate_dropout: f32,
    /// Dropout inside the expert FFN (0.3).
    pub expert_dropout: f32,
    /// Skip-gate drawn for this layer and forward: use the shared FFN only.
    pub skip: bool,
    /// Step seed.
    pub seed: u32,
    /// Distinct per layer: streams `4·layer + {0, 1, 2}` are used.
    pub layer: u32,
}

impl TrainMode {
    /// Evaluation of layer `layer`: soft gates without noise, no dropout, no skip-gate.
    pub fn evaluation(layer: u32) -> TrainMode {
        TrainMode {
            alpha: 0.0,
            gate_dropout: 0.0,
            expert_dropout: 0.0,
            skip: false,
            seed: 0,
            layer,
        }
    }

    fn draw(&self, purpose: u32) -> Draw {
        Draw {
            seed: self.seed,
            stream: 4 * self.layer + purpose,
        }
    }

    /// Gate-input dropout.
    pub fn gate_dropout_draw(&self) -> Draw {
        self.draw(0)
    }

    /// Gate noise ε.
    pub fn noise_draw(&self) -> Draw {
        self.draw(1)
    }

    /// Expert-FFN dropout.
    pub fn expert_dropout_draw(&self) -> Draw {
        self.draw(2)
    }
}

/// What the forward keeps for the backward.
pub struct ClsrSaved {
    pub z_gate: Tensor,
    pub gate_pre: Tensor,
    /// `[T]` soft gates (before skip-gate), the values the budget counts.
    pub gates: Tensor,
    pub pre_lang: Tensor,
    pub h_lang: Tensor,
    pub y_lang: Tensor,
    pub pre_shared: Tensor,
    pub y_shared: Tensor,
}

whisper_clsr::params_struct! {
    struct Params {
        rows: u32,
        cols: u32,
        hidden: u32,
        seed: u32,
        stream: u32,
        skip: u32,
        alpha: f32,
        _pad: u32,
    }
}

fn params(rows: usize, cols: usize, hidden: usize, mode: &TrainMode) -> Params {
    Params {
        rows: u(rows),
        cols: u(cols),
        hidden: u(hidden),
        seed: mode.seed,
        stream: mode.noise_draw().stream,
        skip: mode.skip as u32,
        alpha: mode.alpha,
        _pad: 0,
    }
}

/// `x·Wᵀ + b`, a Linear with bias and no fused epilogue.
fn affine(gpu: &Gpu, x: &Tensor, w: &Weight, b: &Weight) -> Tensor {
    linear(gpu, x, w, Some(b), false, None)
}

/// Training forward for z (the `final_layer_norm` output) and residual, both [T, d].
/// Returns `out` [T, d] and the saved activations.
pub fn clsr_forward(
    gpu: &Gpu,
    z: &Tensor,
    residual: &Tensor,
    shared: SharedFfn,
    e: &Expert<Param>,
    mode: &TrainMode,
) -> (Tensor, ClsrSaved) {
    let (rows, d) = (z.shape()[0], z.shape()[1]);
    assert_eq!(residual.shape(), z.shape(), "clsr forward: residual shape");
    let hidden = e.gate_in.value.shape()[0];
    let z_gate = dropout(gpu, z, mode.gate_dropout, mode.gate_dropout_draw());
    let gate_pre = affine(gpu, &z_gate, &e.gate_in.value, &e.gate_in_bias.value);
    let gates = gpu.tensor(&[rows]);
    let p = params(rows, d, hidden, mode);
    gpu.dispatch(
        &kernel("GATE_FORWARD"),
        bytemuck::bytes_of(&p),
        &[
            (1, gates.buffer()),
            (2, gate_pre.buffer()),
            (3, e.gate_out.value.buffer()),
        ],
        threads_grid(rows, 256),
    );
    let pre_shared = affine(gpu, z, shared.fc1, shared.fc1_bias);
    let y_shared = affine(gpu, &gelu(gpu, &pre_shared), shared.fc2, shared.fc2_bias);
    let pre_lang = affine(gpu, z, &e.fc1.value, &e.fc1_bias.value);
    let h_lang = dropout(
        gpu,
        &gelu(gpu, &pre_lang),
        mode.expert_dropout,
        mode.expert_dropout_draw(),
    );
    let y_lang = affine(gpu, &h_lang, &e.fc2.value, &e.fc2_bias.value);
    let out = gpu.tensor(&[rows, d]);
    gpu.dispatch(
        &kernel("MIX_FORWARD"),
        bytemuck::bytes_of(&p),
        &[
            (1, gates.buffer()),
            (4, residual.buffer()),
            (5, y_lang.buffer()),
            (6, y_shared.buffer()),
            (7, out.buffer()),
        ],
        threads_grid(rows * d, 256),
    );
    let saved = ClsrSaved {
        z_gate,
        gate_pre,
        gates,
        pre_lang,
        h_lang,
        y_lang,
        pre_shared,
        y_shared,
    };
    (out, saved)
}

/// Training backward. `budget` is [`crate::loss::budget::budget_loss`]'s output (its
/// coefficient is added to every gate with `gate_mask` 1). Accumulates the expert's
/// gradients and, with `input_grad`, returns dL/dz; without it (the lowest trainable layer,
/// below which nothing trains) the frozen FFN's and the expert's input products are skipped
/// and it returns `None`.
#[allow(clippy::too_many_arguments)]
pub fn clsr_backward(
    gpu: &Gpu,
    dout: &Tensor,
    z: &Tensor,
    saved: &ClsrSaved,
    shared: SharedFfn,
    e: &Expert<Param>,
    mode: &TrainMode,
    budget: &Tensor,
    gate_mask: &Tensor,
    input_grad: bool,
) -> Option<Tensor> {
    let (rows, d) = (z.shape()[0], z.shape()[1]);
    assert_eq!(dout.shape(), z.shape(), "clsr backward: dout shape");
    assert_eq!(gate_mask.len(), rows, "clsr backward: gate mask length");
    let hidden = e.gate_in.value.shape()[0];
    let p = params(rows, d, hidden, mode);
    let bytes = bytemuck::bytes_of(&p);

    // Mix: split dout over the two FFNs, dg per token.
    let dy_lang = gpu.tensor(&[rows, d]);
    let dy_shared = gpu.tensor(&[rows, d]);
    let dg = gpu.tensor(&[rows]);
    gpu.dispatch(
        &kernel("MIX_BACKWARD"),
        bytes,
        &[
            (1, saved.gates.buffer()),
            (4, dout.buffer()),
            (5, saved.y_lang.buffer()),
            (6, saved.y_shared.buffer()),
            (7, dy_lang.buffer()),
            (8, dy_shared.buffer()),
            (9, dg.buffer()),
        ],
        rows_grid(rows),
    );

    // Gate: through the sigmoid (plus the budget), then the gate MLP.
    let dgate = gpu.tensor(&[rows, 1]);
    gpu.dispatch(
        &kernel("GATE_GRAD"),
        bytes,
        &[
            (1, saved.gates.buffer()),
            (4, dg.buffer()),
            (5, budget.buffer()),
            (6, gate_mask.buffer()),
            (7, dgate.buffer()),
        ],
        threads_grid(rows, 256),
    );
    let da = gpu.tensor(&[rows, hidden]);
    let h_relu = gpu.tensor(&[rows, hidden]);
    gpu.dispatch(
        &kernel("GATE_MLP_BACKWARD"),
        bytes,
        &[
            (2, saved.gate_pre.buffer()),
            (3, e.gate_out.value.buffer()),
            (4, dgate.buffer()),
            (5, da.buffer()),
            (6, h_relu.buffer()),
        ],
        threads_grid(rows * hidden, 256),
    );
    grad_weight(gpu, &dgate, &h_relu, &e.gate_out.grad, true);
    grad_bias(gpu, &da, &e.gate_in_bias.grad, true);
    grad_weight(gpu, &da, &saved.z_gate, &e.gate_in.grad, true);

    // Expert FFN.
    grad_bias(gpu, &dy_lang, &e.fc2_bias.grad, true);
    grad_weight(gpu, &dy_lang, &saved.h_lang, &e.fc2.grad, true);
    let dh_lang = dropout(
        gpu,
        &grad_input(gpu, &dy_lang, &e.fc2.value, None),
        mode.expert_dropout,
        mode.expert_dropout_draw(),
    );
    let dpre_lang = gelu_backward(gpu, &saved.pre_lang, &dh_lang);
    grad_bias(gpu, &dpre_lang, &e.fc1_bias.grad, true);
    grad_weight(gpu, &dpre_lang, z, &e.fc1.grad, true);
    if !input_grad {
        return None;
    }
    let dz_gate = dropout(
        gpu,
        &grad_input(gpu, &da, &e.gate_in.value, None),
        mode.gate_dropout,
        mode.gate_dropout_draw(),
    );
    let dz = grad_input(gpu, &dpre_lang, &e.fc1.value, Some(&dz_gate));

    // Frozen shared FFN: input gradient only.
    let dh_shared = grad_input(gpu, &dy_shared, shared.fc2, None);
    let dpre_shared = gelu_backward(gpu, &saved.pre_shared, &dh_shared);
    Some(grad_input(gpu, &dpre_shared, shared.fc1, Some(&dz)))
}
