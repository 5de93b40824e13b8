//! Row-wise softmax in place, optionally causal (`softmax.wgsl`).

use super::u;
use crate::gpu::shader::Kernel;
use crate::gpu::{Gpu, Tensor};

const SOURCE: &str = include_str!("../../shaders/runtime/softmax.wgsl");

crate::params_struct! {
    struct Params {
        rows: u32,
        cols: u32,
        q_len: u32,
        past: u32,
    }
}

fn kernel(causal: bool) -> Kernel {
    Kernel::new::<Params>("runtime/softmax.wgsl", SOURCE, "main").define_if("CAUSAL", causal)
}

pub(crate) fn kernels() -> Vec<Kernel> {
    vec![kernel(false), kernel(true)]
}

/// Masking applied before the softmax.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mask {
    None,
    /// Row i of each group of `q_len` rows sees columns `..= i + past`.
    Causal {
        q_len: usize,
        past: usize,
    },
}

/// Softmax over the first `rows` rows of `cols` elements of `s`, in place.
pub fn softmax_rows(gpu: &Gpu, s: &Tensor, rows: usize, cols: usize, mask: Mask) {
    assert!(rows * cols <= s.len(), "softmax past the end of the tensor");
    let (q_len, past) = match mask {
        Mask::None => (1, 0),
        Mask::Causal { q_len, past } => (q_len, past),
    };
    let params = Params {
        rows: u(rows),
        cols: u(cols),
        q_len: u(q_len),
        past: u(past),
    };
    gpu.dispatch(
        &kernel(mask != Mask::None),
        bytemuck::bytes_of(&params),
        &[(1, s.buffer())],
        crate::gpu::grid(u(rows)),
    );
}
