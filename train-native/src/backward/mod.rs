//! Backward kernels: one module per forward operation. Frozen weights get only an input
//! gradient; trainable (f32) weights also get weight and bias gradients.

pub mod attention;
pub mod flash_attention;
pub mod gelu;
pub mod layer_norm;
pub mod linear;

use whisper_clsr::gpu::shader::Kernel;

pub(crate) fn kernels() -> Vec<Kernel> {
    let mut all = attention::kernels();
    all.extend(flash_attention::kernels());
    all.extend(layer_norm::kernels());
    all.extend(linear::kernels());
    all
}
