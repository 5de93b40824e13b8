//! Token embedding plus learned positions (`embed.wgsl`), over a token table that may be
//! split into row chunks to respect the device's binding limit.

use super::{elementwise_grid, u};
use crate::gpu::shader::Kernel;
use crate::gpu::{DType, Gpu, Tensor, Weight};

const SOURCE: &str = include_str!("../../shaders/runtime/embed.wgsl");

crate::params_struct! {
    struct Params {
        count: u32,
        cols: u32,
        first_pos: u32,
        chunk_start: u32,
        chunk_rows: u32,
        _pad: [u32; 3],
    }
}

fn kernel(f16: bool) -> Kernel {
    Kernel::new::<Params>("runtime/embed.wgsl", SOURCE, "main").define_if("F16", f16)
}

pub(crate) fn kernels() -> Vec<Kernel> {
    vec![kernel(false), kernel(true)]
}

/// Rows of a vocabulary-sized table, stored as consecutive chunks.
pub struct ChunkedTable {
    /// (first row, weight [rows, cols]) per chunk.
    pub chunks: Vec<(usize, Weight)>,
    pub rows: usize,
    pub cols: usize,
}

/// `y[i] = table[ids[i]] + positions[first_pos + i]` for the `ids` tensor (u32, [count]).
pub fn embed_tokens(
    gpu: &Gpu,
    ids: &Tensor,
    table: &ChunkedTable,
    positions: &Weight,
    first_pos: usize,
) -> Tensor {
    let count = ids.len();
    let cols = table.cols;
    assert!(
        first_pos + count <= positions.shape()[0],
        "decoder positions exhausted"
    );
    let y = gpu.tensor(&[count, cols]);
    for (start, chunk) in &table.chunks {
        assert_eq!(
            chunk.dtype(),
            positions.dtype(),
            "token and position tables share a type"
        );
        let params = Params {
            count: u(count),
            cols: u(cols),
            first_pos: u(first_pos),
            chunk_start: u(*start),
            chunk_rows: u(chunk.shape()[0]),
            _pad: [0; 3],
        };
        gpu.dispatch(
            &kernel(chunk.dtype() == DType::F16),
            bytemuck::bytes_of(&params),
            &[
                (1, ids.buffer()),
                (2, chunk.buffer()),
                (3, positions.buffer()),
                (4, y.buffer()),
            ],
            elementwise_grid(count * cols),
        );
    }
    y
}
