//! Two-pass sums (`train/reduce.wgsl`): no f32 atomics in core WebGPU, so each workgroup
//! writes a partial sum and one workgroup adds the partials into a slot of an output tensor.

use whisper_clsr::gpu::shader::Kernel;
use whisper_clsr::gpu::{Gpu, Tensor};

use crate::kernel::u;

const SOURCE: &str = include_str!("../../shaders/train/reduce.wgsl");
/// Workgroups of the first pass at most (each strides over its share).
const MAX_GROUPS: usize = 256;

whisper_clsr::params_struct! {
    struct Params {
        n: u32,
        groups: u32,
        slot: u32,
        accumulate: u32,
        scale: f32,
        _pad: [u32; 3],
    }
}

/// What is summed.
#[derive(Clone, Copy)]
pub enum Term<'a> {
    /// Σ x
    Plain,
    /// Σ x²
    Square,
    /// Σ x·w
    Weighted(&'a Tensor),
}

fn partial_kernel(square: bool, weighted: bool) -> Kernel {
    Kernel::new::<Params>("train/reduce.wgsl", SOURCE, "sum_partial")
        .define_if("SQUARE", square)
        .define_if("WEIGHTED", weighted)
}

fn final_kernel() -> Kernel {
    Kernel::new::<Params>("train/reduce.wgsl", SOURCE, "sum_final")
}

pub(crate) fn kernels() -> Vec<Kernel> {
    vec![
        partial_kernel(false, false),
        partial_kernel(true, false),
        partial_kernel(false, true),
        final_kernel(),
    ]
}

/// `out[slot] (+)= scale · Σ term(x[i])` over the first `n` elements of `x`.
#[allow(clippy::too_many_arguments)]
pub fn sum_into(
    gpu: &Gpu,
    x: &wgpu::Buffer,
    n: usize,
    term: Term,
    out: &Tensor,
    slot: usize,
    scale: f32,
    accumulate: bool,
) {
    assert!(slot < out.len(), "sum_into: slot {slot} past the output");
    let groups = n.div_ceil(256).clamp(1, MAX_GROUPS);
    let partials = gpu.tensor(&[groups]);
    let params = Params {
        n: u(n),
        groups: u(groups),
        slot: u(slot),
        accumulate: accumulate as u32,
        scale,
        _pad: [0; 3],
    };
    let mut buffers = vec![(1, x), (3, partials.buffer())];
    if let Term::Weighted(w) = term {
        assert!(w.len() >= n, "sum_into: weights shorter than the data");
        buffers.push((2, w.buffer()));
    }
    gpu.dispatch(
        &partial_kernel(
            matches!(term, Term::Square),
            matches!(term, Term::Weighted(_)),
        ),
        bytemuck::bytes_of(&params),
        &buffers,
        [u(groups), 1, 1],
    );
    gpu.dispatch(
        &final_kernel(),
        bytemuck::bytes_of(&params),
        &[(4, partials.buffer()), (5, out.buffer())],
        [1, 1, 1],
    );
}

/// Σ x over a whole tensor, as a new one-element tensor.
pub fn sum(gpu: &Gpu, x: &Tensor) -> Tensor {
    let out = gpu.tensor(&[1]);
    sum_into(gpu, x.buffer(), x.len(), Term::Plain, &out, 0, 1.0, false);
    out
}
