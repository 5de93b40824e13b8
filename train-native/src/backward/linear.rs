//! Backward of a Linear `y = x·Wᵀ + b` (x [rows, in], W [out, in]):
//! - input gradient `dX = dY·W` for any weight (frozen f16/f32 or trainable f32), on the
//!   runtime's forward matmul kernel;
//! - weight and bias gradients for trainable f32 weights (`train/matmul_backward.wgsl`),
//!   reduced over rows in two passes (per-chunk partials, then a sum), no atomics.

use whisper_clsr::gpu::shader::Kernel;
use whisper_clsr::gpu::{DType, Gpu, Tensor, Weight};
use whisper_clsr::ops::matmul::{gemm, Epilogue, Gemm, Layout, Rhs};

use crate::kernel::{threads_grid, u};

const SOURCE: &str = include_str!("../../../shaders/train/matmul_backward.wgsl");
/// Token rows per partial sum of the first pass.
pub const CHUNK_ROWS: usize = 256;

whisper_clsr::params_struct! {
    struct Params {
        m: u32,
        n: u32,
        k: u32,
        chunk_rows: u32,
        ldy: u32,
        ldx: u32,
        chunks: u32,
        len: u32,
        accumulate: u32,
        scale: f32,
        x_off: u32,
        _pad: u32,
    }
}

fn kernel(entry: &'static str) -> Kernel {
    Kernel::new::<Params>("train/matmul_backward.wgsl", SOURCE, entry)
}

fn partial_kernel(trans_dy: bool, f16_x: bool) -> Kernel {
    kernel("grad_weight_partial")
        .define_if("TRANS_DY", trans_dy)
        .define_if("F16", f16_x)
}

pub(crate) fn kernels() -> Vec<Kernel> {
    vec![
        partial_kernel(false, false),
        partial_kernel(true, false),
        partial_kernel(true, true),
        kernel("grad_bias_partial"),
        kernel("reduce_chunks"),
    ]
}

/// `dX = dY·W (+ residual)` for dY [rows, out] and W [out, in]; returns [rows, in].
pub fn grad_input(gpu: &Gpu, dy: &Tensor, w: &Weight, residual: Option<&Tensor>) -> Tensor {
    let (rows, out) = (dy.shape()[0], dy.shape()[1]);
    let (wo, inp) = (w.shape()[0], w.shape()[1]);
    assert_eq!(
        out,
        wo,
        "grad_input: dY width {out} vs weight {:?}",
        w.shape()
    );
    let dx = gpu.tensor(&[rows, inp]);
    let g = Gemm {
        m: rows,
        n: inp,
        k: out,
        batch: 1,
        a: Layout::dense(rows, out),
        b: Layout::dense(out, inp),
        c: Layout::dense(rows, inp),
        trans_b: false,
        alpha: 1.0,
    };
    if let Some(r) = residual {
        assert_eq!(r.shape(), &[rows, inp], "grad_input: residual shape");
    }
    let epi = Epilogue {
        residual: residual.map(|r| (r, Layout::dense(rows, inp))),
        ..Epilogue::default()
    };
    gemm(gpu, dy, Rhs::Weight(w), &dx, &g, &epi);
    dx
}

fn params(m: usize, n: usize, k: usize, ldy: usize, ldx: usize) -> Params {
    let chunks = m.div_ceil(CHUNK_ROWS).max(1);
    Params {
        m: u(m),
        n: u(n),
        k: u(k),
        chunk_rows: u(CHUNK_ROWS),
        ldy: u(ldy),
        ldx: u(ldx),
        chunks: u(chunks),
        len: 0,
        accumulate: 0,
        scale: 1.0,
        x_off: 0,
        _pad: 0,
    }
}

fn reduce(gpu: &Gpu, mut p: Params, len: usize, partial: &Tensor, grad: &Tensor, accumulate: bool) {
    p.len = u(len);
    p.accumulate = accumulate as u32;
    gpu.dispatch(
        &kernel("reduce_chunks"),
        bytemuck::bytes_of(&p),
        &[(4, partial.buffer()), (5, grad.buffer())],
        threads_grid(len, 256),
    );
}

/// `dW (+)= dYᵀ·X` for dY [rows, out], X [rows, in], dW [out, in] (f32).
pub fn grad_weight(gpu: &Gpu, dy: &Tensor, x: &Tensor, dw: &Tensor, accumulate: bool) {
    let (rows, out) = (dy.shape()[0], dy.shape()[1]);
    let inp = x.shape()[1];
    assert_eq!(x.shape()[0], rows, "grad_weight: row counts of dY and X");
    assert_eq!(dw.len(), out * inp, "grad_weight: dW size");
    let p = params(rows, out, inp, out, inp);
    let chunks = p.chunks as usize;
    let partial = gpu.tensor(&[chunks, out, inp]);
    let groups = [u(inp.div_ceil(64)), u(out.div_ceil(64)), u(chunks)];
    assert!(
        groups[1] <= 65535 && groups[2] <= 65535,
        "grad_weight grid too large"
    );
    gpu.dispatch(
        &partial_kernel(false, false),
        bytemuck::bytes_of(&p),
        &[(1, dy.buffer()), (2, x.buffer()), (3, partial.buffer())],
        groups,
    );
    reduce(gpu, p, out * inp, &partial, dw, accumulate);
}

/// `dX (+)= dY·W[rows]` for a long contraction and a small output: dY [m, n] with n up
/// to a vocabulary chunk, W the `n` rows of a stored weight (f32 or f16) starting at row
/// `first_row`, dX [m, k]. Split over the contraction in chunks, then summed (no atomics).
pub fn grad_input_long(
    gpu: &Gpu,
    dy: &Tensor,
    w: &Weight,
    first_row: usize,
    dx: &Tensor,
    accumulate: bool,
) {
    let (m, n) = (dy.shape()[0], dy.shape()[1]);
    let k = w.shape()[1];
    assert!(
        first_row + n <= w.shape()[0],
        "grad_input_long: rows past the weight"
    );
    assert_eq!(dx.shape(), &[m, k], "grad_input_long: dX shape");
    // In the dW kernel's terms: rows reduced = n, outputs [m, k], dY read transposed.
    let mut p = params(n, m, k, n, k);
    p.x_off = u(first_row * k);
    let chunks = p.chunks as usize;
    let partial = gpu.tensor(&[chunks, m, k]);
    let groups = [u(k.div_ceil(64)), u(m.div_ceil(64)), u(chunks)];
    gpu.dispatch(
        &partial_kernel(true, w.dtype() == DType::F16),
        bytemuck::bytes_of(&p),
        &[(1, dy.buffer()), (2, w.buffer()), (3, partial.buffer())],
        groups,
    );
    reduce(gpu, p, m * k, &partial, dx, accumulate);
}

/// `db (+)= Σ_rows dY` for dY `[rows, out]`, db `[out]`.
pub fn grad_bias(gpu: &Gpu, dy: &Tensor, db: &Tensor, accumulate: bool) {
    let (rows, out) = (dy.shape()[0], dy.shape()[1]);
    assert_eq!(db.len(), out, "grad_bias: db size");
    let p = params(rows, out, 1, out, 1);
    let chunks = p.chunks as usize;
    let partial = gpu.tensor(&[chunks, out]);
    gpu.dispatch(
        &kernel("grad_bias_partial"),
        bytemuck::bytes_of(&p),
        &[(1, dy.buffer()), (3, partial.buffer())],
        [u(out.div_ceil(64)), u(chunks), 1],
    );
    reduce(gpu, p, out, &partial, db, accumulate);
}
