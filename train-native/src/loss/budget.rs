//! Gate budget `L_g = |Σg/N − b|` (`train/budget.wgsl`): the masked gate sum is reduced on
//! the GPU, and the loss and its per-gate derivative coefficient stay there for the gate
//! backward kernels.

use whisper_clsr::gpu::shader::Kernel;
use whisper_clsr::gpu::{Gpu, Tensor};

const SOURCE: &str = include_str!("../../../shaders/train/budget.wgsl");

whisper_clsr::params_struct! {
    struct Params {
        count: f32,
        budget: f32,
        scale: f32,
        _pad: u32,
    }
}

const KERNEL: Kernel = Kernel::new::<Params>("train/budget.wgsl", SOURCE, "main");

pub(crate) fn kernels() -> Vec<Kernel> {
    vec![KERNEL]
}

/// From `gate_sum` (`[1]`: Σ of the counted gates) and their count N, returns `[2]`:
/// (scale·|Σg/N − b|, scale·sign(Σg/N − b)/N).
pub fn budget_loss(gpu: &Gpu, gate_sum: &Tensor, count: usize, budget: f32, scale: f32) -> Tensor {
    assert!(count > 0, "gate budget over no gates");
    let out = gpu.tensor(&[2]);
    let params = Params {
        count: count as f32,
        budget,
        scale,
        _pad: 0,
    };
    gpu.dispatch(
        &KERNEL,
        bytemuck::bytes_of(&params),
        &[(1, gate_sum.buffer()), (2, out.buffer())],
        [1, 1, 1],
    );
    out
}
