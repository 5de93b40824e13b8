//! Exact GELU as its own step (so its input is kept) and its backward (`train/gelu.wgsl`).

use whisper_clsr::gpu::shader::Kernel;
use whisper_clsr::gpu::{Gpu, Tensor};

use crate::kernel::{threads_grid, u};

const SOURCE: &str = include_str!("../../../shaders/train/gelu.wgsl");

whisper_clsr::params_struct! {
    struct Params {
        n: u32,
        _pad: [u32; 3],
    }
}

fn kernel(entry: &'static str) -> Kernel {
    Kernel::new::<Params>("train/gelu.wgsl", SOURCE, entry)
}

pub(crate) fn kernels() -> Vec<Kernel> {
    vec![kernel("forward"), kernel("backward")]
}

fn params(n: usize) -> Params {
    Params {
        n: u(n),
        _pad: [0; 3],
    }
}

/// `gelu(x)` elementwise.
pub fn gelu(gpu: &Gpu, x: &Tensor) -> Tensor {
    let y = gpu.tensor(x.shape());
    gpu.dispatch(
        &kernel("forward"),
        bytemuck::bytes_of(&params(x.len())),
        &[(1, x.buffer()), (2, y.buffer())],
        threads_grid(x.len(), 256),
    );
    y
}

/// `dy · gelu'(x)` elementwise.
pub fn gelu_backward(gpu: &Gpu, x: &Tensor, dy: &Tensor) -> Tensor {
    assert_eq!(x.shape(), dy.shape(), "gelu backward: shapes");
    let dx = gpu.tensor(x.shape());
    gpu.dispatch(
        &kernel("backward"),
        bytemuck::bytes_of(&params(x.len())),
        &[(1, x.buffer()), (3, dy.buffer()), (4, dx.buffer())],
        threads_grid(x.len(), 256),
    );
    dx
}
