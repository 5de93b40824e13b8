//! Masked argmax over a logits row (`argmax.wgsl`).

use bytemuck::{Pod, Zeroable};

use super::u;
use crate::gpu::shader::Kernel;
use crate::gpu::{Gpu, Tensor};

const SOURCE: &str = include_str!("../../shaders/argmax.wgsl");

#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct Params {
    n: u32,
    offset: u32,
    _pad: [u32; 2],
}

fn kernel() -> Kernel {
    Kernel::new("argmax.wgsl", SOURCE, "main")
}

pub(crate) fn kernels() -> Vec<Kernel> {
    vec![kernel()]
}

/// Writes `argmax_i(logits[offset + i] + mask[i])` for i < mask.len() into `out[0]` (u32).
pub fn argmax_into(gpu: &Gpu, logits: &Tensor, offset: usize, mask: &Tensor, out: &Tensor) {
    let n = mask.len();
    assert!(
        offset + n <= logits.len(),
        "argmax past the end of the logits"
    );
    let params = Params {
        n: u(n),
        offset: u(offset),
        _pad: [0; 2],
    };
    gpu.dispatch(
        &kernel(),
        bytemuck::bytes_of(&params),
        &[(1, logits.buffer()), (2, mask.buffer()), (3, out.buffer())],
        [1, 1, 1],
    );
}
