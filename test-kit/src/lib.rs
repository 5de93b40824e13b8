//! What the tests of `whisper-clsr` and `whisper-clsr-train` share (docs/testing.md):
//!
//! - [`device`]: the test GPU (Vulkan; lavapipe on machines without one), uploads, readback
//!   and weights together with the values the GPU sees;
//! - [`data`]: seeded random data and f32 ↔ f64 conversions;
//! - [`reference`](mod@reference): f64 reference ops and a whole f64 Whisper;
//! - [`fd`]: central finite differences of a scalar loss against an analytic gradient;
//! - [`compare`]: closeness checks of f32 results against f64 references;
//! - [`fixtures`], [`random_model`], [`ct2`]: test models and assets;
//! - [`memory`]: this process's resident memory and live heap, for the leak tests;
//! - [`torch_checkpoint`]: PyTorch checkpoints as `torch.save` writes them (the paper's
//!   released experts' format);
//! - `candle_ref` (feature `candle`): candle-transformers' Whisper as an independent
//!   reference.
//!
//! Use it from integration tests (`tests/*.rs`) only: it depends on `whisper-clsr`, and a
//! unit test inside that crate would see a second copy of its types.

pub mod compare;
pub mod ct2;
pub mod data;
pub mod device;
pub mod fd;
pub mod fixtures;
pub mod memory;
pub mod random_model;
pub mod reference;
pub mod shader_checks;
pub mod tiny_whisper;
pub mod torch_checkpoint;

#[cfg(feature = "candle")]
pub mod candle_ref;

pub use compare::{assert_close, assert_scalar_close, error_vs, max_abs_diff};
pub use data::{f32s, f64s, random, random_scaled, rng};
pub use device::{
    as_stored, defines_of, gpu, gpu_with, gpu_with_options, one_dispatch, read, read_weight,
    through_f16, upload, weight,
};
pub use fd::{central_difference, dot, probe_indices, FiniteDiff};
pub use fixtures::{model_dir, model_dir_any, scratch_dir, words, write_wav};
pub use reference::ops::{gelu, gelu_grad};
