//! Input gradient of layer normalisation with frozen gamma/beta
//! (`train/layer_norm_backward.wgsl`), optionally adding the residual stream's gradient.

use whisper_clsr::gpu::shader::Kernel;
use whisper_clsr::gpu::{DType, Gpu, Tensor, Weight};
use whisper_clsr::ops::layer_norm::EPS;

use crate::kernel::{rows_grid, u};

const SOURCE: &str = include_str!("../../../shaders/train/layer_norm_backward.wgsl");

whisper_clsr::params_struct! {
    struct Params {
        rows: u32,
        cols: u32,
        eps: f32,
        _pad: u32,
    }
}

fn kernel(f16: bool, residual: bool) -> Kernel {
    Kernel::new::<Params>("train/layer_norm_backward.wgsl", SOURCE, "main")
        .define_if("F16", f16)
        .define_if("RESIDUAL", residual)
}

pub(crate) fn kernels() -> Vec<Kernel> {
    (0..4).map(|b| kernel(b & 1 != 0, b & 2 != 0)).collect()
}

/// dX of `LN(x)` for x, dy `[rows, cols]` and gamma `[cols]`, plus `dres` when given.
pub fn layer_norm_backward(
    gpu: &Gpu,
    x: &Tensor,
    gamma: &Weight,
    dy: &Tensor,
    dres: Option<&Tensor>,
) -> Tensor {
    let (rows, cols) = (x.shape()[0], x.shape()[1]);
    assert_eq!(gamma.len(), cols, "layer norm backward: gamma width");
    assert_eq!(dy.shape(), x.shape(), "layer norm backward: dy shape");
    let dx = gpu.tensor(&[rows, cols]);
    let params = Params {
        rows: u(rows),
        cols: u(cols),
        eps: EPS,
        _pad: 0,
    };
    let mut buffers = vec![
        (1, x.buffer()),
        (2, gamma.buffer()),
        (3, dy.buffer()),
        (4, dx.buffer()),
    ];
    if let Some(r) = dres {
        assert_eq!(
            r.shape(),
            x.shape(),
            "layer norm backward: residual gradient shape"
        );
        buffers.push((5, r.buffer()));
    }
    gpu.dispatch(
        &kernel(gamma.dtype() == DType::F16, dres.is_some()),
        bytemuck::bytes_of(&params),
        &buffers,
        rows_grid(rows),
    );
    dx
}
