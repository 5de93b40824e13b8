//! Batched strided transpose (`train/transpose.wgsl`): `out[b][c][r] = in[b][r][c]`, each
//! side described by a runtime matmul [`Layout`], so attention heads are read from and
//! written into [T, d_model] activations in place.

use whisper_clsr::gpu::shader::Kernel;
use whisper_clsr::gpu::{Gpu, Tensor};
use whisper_clsr::ops::matmul::Layout;

use crate::kernel::u;

const SOURCE: &str = include_str!("../../shaders/train/transpose.wgsl");

whisper_clsr::params_struct! {
    struct Params {
        rows: u32,
        cols: u32,
        in_off: u32,
        in_ld: u32,
        in_bs: u32,
        out_off: u32,
        out_ld: u32,
        out_bs: u32,
    }
}

const KERNEL: Kernel = Kernel::new::<Params>("train/transpose.wgsl", SOURCE, "transpose");

pub(crate) fn kernels() -> Vec<Kernel> {
    vec![KERNEL]
}

/// Element index one past the last one a [rows, cols] × batch layout touches.
fn extent(l: &Layout, rows: usize, cols: usize, batch: usize) -> usize {
    l.offset + (batch - 1) * l.batch_stride + (rows - 1) * l.row_stride + cols
}

/// Writes the transpose of each of `batch` [rows, cols] matrices of `input` (laid out by
/// `from`) as [cols, rows] matrices into `out` (laid out by `to`).
#[allow(clippy::too_many_arguments)]
pub fn transpose(
    gpu: &Gpu,
    input: &Tensor,
    from: Layout,
    out: &Tensor,
    to: Layout,
    rows: usize,
    cols: usize,
    batch: usize,
) {
    if rows == 0 || cols == 0 || batch == 0 {
        return;
    }
    assert!(
        extent(&from, rows, cols, batch) <= input.len(),
        "transpose: input too short"
    );
    assert!(
        extent(&to, cols, rows, batch) <= out.len(),
        "transpose: output too short"
    );
    let p = Params {
        rows: u(rows),
        cols: u(cols),
        in_off: u(from.offset),
        in_ld: u(from.row_stride),
        in_bs: u(from.batch_stride),
        out_off: u(to.offset),
        out_ld: u(to.row_stride),
        out_bs: u(to.batch_stride),
    };
    let groups = [u(cols.div_ceil(16)), u(rows.div_ceil(16)), u(batch)];
    assert!(
        groups.iter().all(|&g| g <= 65535),
        "transpose: grid too large"
    );
    gpu.dispatch(
        &KERNEL,
        bytemuck::bytes_of(&p),
        &[(1, input.buffer()), (2, out.buffer())],
        groups,
    );
}
