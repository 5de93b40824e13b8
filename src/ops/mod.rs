//! One Rust wrapper per kernel. Each records dispatches on the [`Gpu`](crate::gpu::Gpu);
//! nothing runs until the next flush or readback.

pub mod attention;
pub mod attention_step;
pub mod beam_gather;
pub mod clsr;
pub mod conv;
pub mod embedding;
pub mod flash_attention;
pub mod layer_norm;
pub mod matmul;
pub mod positional;
pub mod softmax;
pub mod token_pick;

use crate::gpu::shader::Kernel;

/// Every kernel variant the runtime can dispatch, plus the tanh-GELU forms the parity tests
/// dispatch (tests validate each with naga).
pub fn all_kernels() -> Vec<Kernel> {
    let mut all = matmul::kernels();
    all.extend(attention_step::kernels());
    all.extend(layer_norm::kernels());
    all.extend(softmax::kernels());
    all.extend(conv::kernels());
    all.extend(positional::kernels());
    all.extend(embedding::kernels());
    all.extend(flash_attention::kernels());
    all.extend(token_pick::kernels());
    all.extend(beam_gather::kernels());
    all.extend(clsr::kernels());
    let tanh = crate::gpu::shader::tanh_gelu_variants(&all);
    all.extend(tanh);
    all
}

pub(crate) fn u(x: usize) -> u32 {
    u32::try_from(x).expect("GPU index exceeds u32")
}

/// Workgroups for one thread per element, 256 per group.
pub(crate) fn elementwise_grid(elements: usize) -> [u32; 3] {
    crate::gpu::grid(u(elements.div_ceil(256)))
}
