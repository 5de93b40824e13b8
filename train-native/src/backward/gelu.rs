//! Exact GELU as its own step (so its input is kept) and its backward: variants of
//! `train/elementwise.wgsl`.

use whisper_clsr::gpu::{Gpu, Tensor};

use crate::elementwise::{run, Op, Operands};

/// `gelu(x)` elementwise.
pub fn gelu(gpu: &Gpu, x: &Tensor) -> Tensor {
    let y = gpu.tensor(x.shape());
    let io = Operands {
        x: Some(x.buffer()),
        y: y.buffer(),
        dy: None,
    };
    run(gpu, Op::GeluForward, x.len(), io);
    y
}

/// `dy · gelu'(x)` elementwise.
pub fn gelu_backward(gpu: &Gpu, x: &Tensor, dy: &Tensor) -> Tensor {
    assert_eq!(x.shape(), dy.shape(), "gelu backward: shapes");
    let dx = gpu.tensor(x.shape());
    let io = Operands {
        x: Some(x.buffer()),
        y: dx.buffer(),
        dy: Some(dy.buffer()),
    };
    run(gpu, Op::GeluBackward, x.len(), io);
    dx
}
