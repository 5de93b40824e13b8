//! One Rust wrapper per kernel. Each records dispatches on the [`Gpu`];
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
pub mod pack_halves;
pub mod positional;
pub mod softmax;
pub mod token_pick;

use crate::gpu::shader::Kernel;
use crate::gpu::Gpu;

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
    all.extend(pack_halves::kernels());
    all
}

/// The [`runtime_kernels`] a model dispatches on `gpu`: where a kernel has a `SUBGROUPS`
/// variant, that one on devices with subgroups and the other elsewhere; the products' forms
/// for the device's kind ([`Gpu::cpu_forms`]: `WALK`, or `SPLIT_K` and tiles, f16 tiles with
/// [`Gpu::shader_f16`]), and the flash attention variants it dispatches there; with f32
/// weights (`weights_f16` false) no `F16` variant, with f16 weights no product with an f32 bias
/// (the weights' form). A kernel left out is still created when first dispatched.
pub fn model_kernels(gpu: &Gpu, weights_f16: bool) -> Vec<Kernel> {
    let (subgroups, cpu_forms, shader_f16) = (gpu.subgroups(), gpu.cpu_forms(), gpu.shader_f16());
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
    let has = |k: &Kernel, define: &str| k.defines.contains(&define);
    all.iter()
        .filter(|k| {
            let uses = has(k, "SUBGROUPS");
            uses == subgroups || (!uses && !with_subgroups.contains(&twin(k)))
        })
        .filter(|k| {
            if flash_attention::is_flash_attention(k) {
                flash_attention::is_dispatched(k, cpu_forms)
            } else if cpu_forms {
                // Products with B stored [n, k] walk it (matmul.wgsl, gemv.wgsl WALK),
                // reading A 16 bytes at a time: every Whisper product is aligned for it, so
                // the element-read walks are left to be created if some product needs one.
                // The layer norm is not folded into a GEMV there (matmul::folds_norm).
                // Nor do greedy steps leave argmax partials (Decoder::argmax_partials).
                let tiled = k.file == "runtime/matmul.wgsl" && has(k, "TRANS_B");
                !has(k, "SPLIT_K")
                    && (!tiled || has(k, "WALK"))
                    && (!has(k, "WALK") || has(k, "WIDE_A"))
                    && !has(k, "NORM")
                    && !has(k, "PICK")
                    && !has(k, "PARTIALS")
            } else {
                // The wide matmul keeps f16 weights in f16 tiles exactly where the device
                // has shader-f16 (a variant with `enable f16` fails to build elsewhere).
                let f16_weights_wide = has(k, "WIDE") && has(k, "F16");
                !has(k, "WALK") && (!f16_weights_wide || has(k, "F16_TILE") == shader_f16)
            }
        })
        .filter(|k| {
            if weights_f16 {
                has(k, "F16") || !has(k, "BIAS")
            } else {
                !has(k, "F16")
            }
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
