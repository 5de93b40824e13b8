//! Positional add in place (`add_rows.wgsl`).

use super::{elementwise_grid, u};
use crate::gpu::shader::Kernel;
use crate::gpu::{DType, Gpu, Tensor, Weight};

const SOURCE: &str = include_str!("../../shaders/runtime/add_rows.wgsl");

crate::params_struct! {
    struct Params {
        rows: u32,
        cols: u32,
        first_row: u32,
        _pad: u32,
    }
}

fn kernel(f16: bool) -> Kernel {
    Kernel::new::<Params>("runtime/add_rows.wgsl", SOURCE, "main").define_if("F16", f16)
}

pub(crate) fn kernels() -> Vec<Kernel> {
    vec![kernel(false), kernel(true)]
}

/// `x[t, :] += table[first_row + t, :]` for x [rows, cols].
pub fn add_positions(gpu: &Gpu, x: &Tensor, table: &Weight, first_row: usize) {
    let (rows, cols) = (x.shape()[0], x.shape()[1]);
    assert_eq!(table.shape()[1], cols, "position table width");
    assert!(
        first_row + rows <= table.shape()[0],
        "positions past the table's end"
    );
    let params = Params {
        rows: u(rows),
        cols: u(cols),
        first_row: u(first_row),
        _pad: 0,
    };
    gpu.dispatch(
        &kernel(table.dtype() == DType::F16),
        bytemuck::bytes_of(&params),
        &[(1, x.buffer()), (2, table.buffer())],
        elementwise_grid(rows * cols),
    );
}
