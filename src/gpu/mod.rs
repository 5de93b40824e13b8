//! The GPU layer: device selection, buffers, pipelines, dispatch recording and readback.
//! Everything above it (ops, model) talks to the GPU only through this module.

mod allocate;
mod context;
mod faults;
mod pool;
mod readback;
mod recorder;
pub use recorder::grid;
pub mod shader;
mod tensor;

pub use context::{Gpu, GpuOptions};
pub use pool::DEFAULT_POOL_LIMIT;
pub use readback::PendingRead;
pub use tensor::{DType, Tensor, Weight};
