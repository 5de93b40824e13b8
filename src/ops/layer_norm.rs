//! Layer normalisation over rows (`layer_norm.wgsl`).

use super::u;
use crate::gpu::shader::Kernel;
use crate::gpu::{DType, Gpu, Tensor, Weight};

const SOURCE: &str = include_str!("../../shaders/runtime/layer_norm.wgsl");
/// Whisper's LayerNorm epsilon.
pub const EPS: f32 = 1e-5;

crate::params_struct! {
    struct Params {
        rows: u32,
        cols: u32,
        eps: f32,
        _pad: u32,
    }
}

fn kernel(f16: bool) -> Kernel {
    Kernel::new::<Params>("runtime/layer_norm.wgsl", SOURCE, "main").define_if("F16", f16)
}

pub(crate) fn kernels() -> Vec<Kernel> {
    vec![kernel(false), kernel(true)]
}

/// `LN(x)` for x `[rows, cols]` with gamma/beta `[cols]`.
pub fn layer_norm(gpu: &Gpu, x: &Tensor, gamma: &Weight, beta: &Weight) -> Tensor {
    let (rows, cols) = (x.shape()[0], x.shape()[1]);
    assert_eq!(gamma.len(), cols, "layer norm width");
    assert_eq!(
        gamma.dtype(),
        beta.dtype(),
        "gamma and beta share a storage type"
    );
    let y = gpu.tensor(&[rows, cols]);
    let params = Params {
        rows: u(rows),
        cols: u(cols),
        eps: EPS,
        _pad: 0,
    };
    gpu.dispatch(
        &kernel(gamma.dtype() == DType::F16),
        bytemuck::bytes_of(&params),
        &[
            (1, x.buffer()),
            (2, gamma.buffer()),
            (3, beta.buffer()),
            (4, y.buffer()),
        ],
        crate::gpu::grid(u(rows)),
    );
    y
}
