//! Elementwise helpers (`train/elementwise.wgsl`): fill and y += alpha·x.

use whisper_clsr::gpu::shader::Kernel;
use whisper_clsr::gpu::{Gpu, Tensor};

use crate::kernel::{threads_grid, u};

const SOURCE: &str = include_str!("../../shaders/train/elementwise.wgsl");

whisper_clsr::params_struct! {
    struct Params {
        n: u32,
        _pad: [u32; 2],
        value: f32,
    }
}

fn kernel(entry: &'static str) -> Kernel {
    Kernel::new::<Params>("train/elementwise.wgsl", SOURCE, entry)
}

pub(crate) fn kernels() -> Vec<Kernel> {
    vec![kernel("fill"), kernel("axpy")]
}

/// Sets the first `n` elements of `buffer` to `value`.
pub fn fill_buffer(gpu: &Gpu, buffer: &wgpu::Buffer, n: usize, value: f32) {
    let params = Params {
        n: u(n),
        _pad: [0; 2],
        value,
    };
    gpu.dispatch(
        &kernel("fill"),
        bytemuck::bytes_of(&params),
        &[(1, buffer)],
        threads_grid(n, 256),
    );
}

/// Sets every element of `t` to `value`.
pub fn fill(gpu: &Gpu, t: &Tensor, value: f32) {
    fill_buffer(gpu, t.buffer(), t.len(), value);
}

/// `y += alpha · x` over the first `x.len()` elements.
pub fn axpy(gpu: &Gpu, y: &Tensor, alpha: f32, x: &Tensor) {
    assert!(x.len() <= y.len(), "axpy: x longer than y");
    let params = Params {
        n: u(x.len()),
        _pad: [0; 2],
        value: alpha,
    };
    gpu.dispatch(
        &kernel("axpy"),
        bytemuck::bytes_of(&params),
        &[(1, y.buffer()), (2, x.buffer())],
        threads_grid(x.len(), 256),
    );
}
