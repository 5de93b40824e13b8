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

/// Every kernel variant the runtime can dispatch.
pub fn runtime_kernels() -> Vec<Kernel> {
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
    all
}

/// The [`runtime_kernels`] a device dispatches: where a kernel has a `SUBGROUPS` variant,
/// that one on devices with subgroups and the other elsewhere.
pub fn device_kernels(subgroups: bool) -> Vec<Kernel> {
    let all = runtime_kernels();
    let twin = |k: &Kernel| -> (&'static str, &'static str, Vec<&'static str>) {
        let mut defines: Vec<_> = k
            .defines
            .iter()
            .copied()
            .filter(|d| *d != "SUBGROUPS")
            .collect();
        defines.sort();
        (k.file, k.entry, defines)
    };
    let with_subgroups: Vec<_> = all
        .iter()
        .filter(|k| k.defines.contains(&"SUBGROUPS"))
        .map(twin)
        .collect();
    all.iter()
        .filter(|k| {
            let uses = k.defines.contains(&"SUBGROUPS");
            uses == subgroups || (!uses && !with_subgroups.contains(&twin(k)))
        })
        .cloned()
        .collect()
}

/// [`runtime_kernels`] plus the tanh-GELU forms the parity tests dispatch (tests validate
/// each with naga).
pub fn all_kernels() -> Vec<Kernel> {
    let mut all = runtime_kernels();
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
