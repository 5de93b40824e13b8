//! Elementwise steps (`train/elementwise.wgsl`), one variant of the kernel each: fill,
//! y += alpha·x, exact GELU and its backward (`backward::gelu`), and dropout (`rng`).

use whisper_clsr::gpu::shader::Kernel;
use whisper_clsr::gpu::{Gpu, Tensor};

use crate::kernel::{threads_grid, u};
use crate::rng::Draw;

const SOURCE: &str = include_str!("../../shaders/train/elementwise.wgsl");

whisper_clsr::params_struct! {
    struct Params {
        n: u32,
        seed: u32,
        stream: u32,
        /// Fill's constant, axpy's alpha, dropout's drop probability.
        value: f32,
    }
}

/// The operations of the kernel (each a define) with their scalars.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Op {
    /// y = value
    Fill(f32),
    /// y += alpha·x
    Axpy(f32),
    /// y = gelu(x)
    GeluForward,
    /// y = dy·gelu'(x)
    GeluBackward,
    /// y = inverted dropout of x with this drop probability and draw
    Dropout(f32, Draw),
}

const NO_DRAW: Draw = Draw { seed: 0, stream: 0 };

impl Op {
    const ALL: [Op; 5] = [
        Op::Fill(0.0),
        Op::Axpy(0.0),
        Op::GeluForward,
        Op::GeluBackward,
        Op::Dropout(0.0, NO_DRAW),
    ];

    fn define(self) -> &'static str {
        match self {
            Op::Fill(_) => "FILL",
            Op::Axpy(_) => "AXPY",
            Op::GeluForward => "GELU_FORWARD",
            Op::GeluBackward => "GELU_BACKWARD",
            Op::Dropout(..) => "DROPOUT",
        }
    }

    /// The kernel's `value` and (seed, stream).
    fn scalars(self) -> (f32, Draw) {
        match self {
            Op::Fill(v) | Op::Axpy(v) => (v, NO_DRAW),
            Op::GeluForward | Op::GeluBackward => (0.0, NO_DRAW),
            Op::Dropout(p_drop, draw) => (p_drop, draw),
        }
    }
}

fn kernel(op: Op) -> Kernel {
    Kernel::new::<Params>("train/elementwise.wgsl", SOURCE, "main").define_if(op.define(), true)
}

pub(crate) fn kernels() -> Vec<Kernel> {
    Op::ALL.into_iter().map(kernel).collect()
}

/// The buffers of one step: `x` (binding 1), the output `y` (binding 2) and `dy` (binding 3),
/// each where the operation reads it.
pub(crate) struct Operands<'a> {
    pub x: Option<&'a wgpu::Buffer>,
    pub y: &'a wgpu::Buffer,
    pub dy: Option<&'a wgpu::Buffer>,
}

/// Runs `op` over the first `n` elements.
pub(crate) fn run(gpu: &Gpu, op: Op, n: usize, io: Operands) {
    let (value, draw) = op.scalars();
    let params = Params {
        n: u(n),
        seed: draw.seed,
        stream: draw.stream,
        value,
    };
    let buffers: Vec<(u32, &wgpu::Buffer)> = [(1, io.x), (2, Some(io.y)), (3, io.dy)]
        .into_iter()
        .filter_map(|(binding, buffer)| Some((binding, buffer?)))
        .collect();
    gpu.dispatch(
        &kernel(op),
        bytemuck::bytes_of(&params),
        &buffers,
        threads_grid(n, 256),
    );
}

/// Sets the first `n` elements of `buffer` to `value`.
pub fn fill_buffer(gpu: &Gpu, buffer: &wgpu::Buffer, n: usize, value: f32) {
    let io = Operands {
        x: None,
        y: buffer,
        dy: None,
    };
    run(gpu, Op::Fill(value), n, io);
}

/// Sets every element of `t` to `value`.
pub fn fill(gpu: &Gpu, t: &Tensor, value: f32) {
    fill_buffer(gpu, t.buffer(), t.len(), value);
}

/// `y += alpha · x` over the first `x.len()` elements.
pub fn axpy(gpu: &Gpu, y: &Tensor, alpha: f32, x: &Tensor) {
    assert!(x.len() <= y.len(), "axpy: x longer than y");
    let io = Operands {
        x: Some(x.buffer()),
        y: y.buffer(),
        dy: None,
    };
    run(gpu, Op::Axpy(alpha), x.len(), io);
}
