//! DistilWhisper training engine (docs/training.md) on whisper-clsr's GPU layer: backward kernels,
//! losses, the optimizer and the training-mode CLSR block. Every kernel is a WGSL file
//! `shaders/train/*.wgsl` dispatched through the runtime's pipeline cache and recorder;
//! forward products reuse the runtime's kernels.

pub use whisper_clsr as runtime;

pub mod backward;
pub mod best;
pub mod checkpoint;
pub mod clips;
pub mod clsr;
pub mod data;
pub mod decode_ahead;
pub mod elementwise;
pub mod expert_layers;
pub mod export;
pub mod frozen_cache;
pub mod kernel;
pub mod loss;
pub mod optim;
pub mod profile;
pub mod progress;
pub mod reduce;
pub mod report;
pub mod rng;
pub mod run;
pub mod student;
pub mod teach;
pub mod teacher_file;
pub mod teacher_topk;
pub mod trainer;
pub mod transpose;
pub mod validation;

use whisper_clsr::gpu::shader::Kernel;

/// Every training kernel variant (tests validate each with naga).
pub fn all_kernels() -> Vec<Kernel> {
    let mut all = backward::kernels();
    all.extend(clsr::kernels());
    all.extend(elementwise::kernels());
    all.extend(loss::kernels());
    all.extend(optim::kernels());
    all.extend(reduce::kernels());
    all.extend(transpose::kernels());
    all
}
