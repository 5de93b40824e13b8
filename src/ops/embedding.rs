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
        rows_per_pos: u32,
        _pad: [u32; 2],
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

/// `y[i] = table[ids[i]] + positions[first_pos + i / rows_per_position]` for the first
/// `count` ids of the `ids` tensor (u32): consecutive positions with `rows_per_position` 1,
/// one position shared by each group of beams in beam search.
pub fn embed_tokens(
    gpu: &Gpu,
    (ids, count): (&Tensor, usize),
    table: &ChunkedTable,
    positions: &Weight,
    first_pos: usize,
    rows_per_position: usize,
) -> Tensor {
    assert!(count <= ids.len(), "more ids embedded than given");
    let cols = table.cols;
    assert!(rows_per_position >= 1, "at least one row per position");
    assert!(
        first_pos + count.div_ceil(rows_per_position) <= positions.shape()[0],
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
            rows_per_pos: u(rows_per_position),
            _pad: [0; 2],
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
