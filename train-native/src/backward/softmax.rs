//! Row-wise softmax backward (`train_softmax_backward.wgsl`): ds = P ⊙ (dP − rowsum(dP ⊙ P)).

use bytemuck::{Pod, Zeroable};
use whisper_clsr::gpu::shader::Kernel;
use whisper_clsr::gpu::{Gpu, Tensor};

use crate::kernel::{rows_grid, u};

const SOURCE: &str = include_str!("../../../shaders/train_softmax_backward.wgsl");

#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct Params {
    rows: u32,
    cols: u32,
    _pad: [u32; 2],
}

fn kernel() -> Kernel {
    Kernel::new("train_softmax_backward.wgsl", SOURCE, "main")
}

pub(crate) fn kernels() -> Vec<Kernel> {
    vec![kernel()]
}

/// Gradient w.r.t. the softmax input, for probabilities and dP [rows, cols].
pub fn softmax_backward(gpu: &Gpu, probs: &Tensor, dp: &Tensor) -> Tensor {
    assert_eq!(probs.shape(), dp.shape(), "softmax backward: shapes");
    let cols = *probs.shape().last().expect("softmax backward: rank ≥ 1");
    let rows = probs.len() / cols.max(1);
    let ds = gpu.tensor(probs.shape());
    let params = Params {
        rows: u(rows),
        cols: u(cols),
        _pad: [0; 2],
    };
    gpu.dispatch(
        &kernel(),
        bytemuck::bytes_of(&params),
        &[(1, probs.buffer()), (2, dp.buffer()), (3, ds.buffer())],
        rows_grid(rows),
    );
    ds
}
