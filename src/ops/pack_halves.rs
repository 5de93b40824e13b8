//! f32 activations to packed halves (`pack_halves.wgsl`): what `Rhs::Halves` operands are
//! made of, e.g. the decoder's cross-attention keys and values, which every decoder step
//! reads whole and which in halves take half the memory and half the reads.

use super::{elementwise_grid, u};
use crate::gpu::shader::Kernel;
use crate::gpu::{Gpu, Tensor};

const SOURCE: &str = include_str!("../../shaders/runtime/pack_halves.wgsl");

crate::params_struct! {
    struct Params {
        words: u32,
        _pad0: u32,
        _pad1: u32,
        _pad2: u32,
    }
}

const KERNEL: Kernel = Kernel::new::<Params>("runtime/pack_halves.wgsl", SOURCE, "main");

pub(crate) fn kernels() -> Vec<Kernel> {
    vec![KERNEL]
}

/// `x` [rows, cols] (cols even) rounded to halves and packed two per u32: a u32 tensor
/// [rows, cols / 2], read as [`Rhs::Halves`](super::matmul::Rhs::Halves). Values beyond ±65504 become ±65504.
pub fn pack_halves(gpu: &Gpu, x: &Tensor) -> Tensor {
    let (rows, cols) = (x.shape()[0], x.len() / x.shape()[0].max(1));
    assert!(
        cols.is_multiple_of(2),
        "packing halves needs an even row length"
    );
    let words = rows * cols / 2;
    let out = gpu.tensor(&[rows, cols / 2]);
    let params = Params {
        words: u(words),
        _pad0: 0,
        _pad1: 0,
        _pad2: 0,
    };
    gpu.dispatch(
        &KERNEL,
        bytemuck::bytes_of(&params),
        &[(1, x.buffer()), (2, out.buffer())],
        elementwise_grid(words),
    );
    out
}
