//! The GPU layer: device selection, buffers, pipelines, dispatch recording and readback.
//! Everything above it (ops, model) talks to the GPU only through this module.

mod allocate;
mod bind_groups;
mod context;
mod faults;
mod pool;
#[cfg(not(target_arch = "wasm32"))]
mod profile;
mod readback;
mod recorder;
pub use recorder::grid;
pub mod shader;
mod tensor;

pub use bind_groups::KEPT_BIND_GROUPS_MAX;
pub use context::{Gpu, GpuOptions, KernelForms};
pub use pool::DEFAULT_POOL_LIMIT;
#[cfg(not(target_arch = "wasm32"))]
pub use profile::KernelTime;
pub use readback::PendingRead;
pub use tensor::{DType, Tensor, Weight};
