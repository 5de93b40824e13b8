//! Every buffer the runtime creates goes through [`Gpu::create_buffer`]: inside error
//! scopes, so that a refusal (out of memory, over a device limit) is an error naming the
//! size and what it was for (docs/architecture.md, "GPU faults").

use super::faults::{describe, scoped};
use super::Gpu;
use crate::{Error, Result};

impl Gpu {
    /// Creates a buffer of `size` bytes for `what` (e.g. "a weight of shape [384, 80, 3]");
    /// fails if the device refuses it. Natively the answer is immediate; in the browser a
    /// refusal is reported by the next readback instead.
    pub fn create_buffer(
        &self,
        what: &str,
        size: u64,
        usage: wgpu::BufferUsages,
    ) -> Result<wgpu::Buffer> {
        let (buffer, error) = scoped(&self.device, || {
            self.device.create_buffer(&wgpu::BufferDescriptor {
                label: Some(what),
                size,
                usage,
                mapped_at_creation: false,
            })
        });
        let Some(e) = error else {
            return Ok(buffer);
        };
        let fix = match e {
            wgpu::Error::OutOfMemory { .. } => {
                "free GPU memory (close other GPU programs, unload models) or use a smaller model"
            }
            _ => "the device does not allow such a buffer; use a smaller model or shorter input",
        };
        Err(Error::Gpu(format!(
            "allocating {size} bytes on the GPU for {what} failed: {}; {fix}",
            describe(&e)
        )))
    }

    /// The error for `bytes` over the device's `max_buffer_size`, named before asking wgpu.
    pub(crate) fn over_buffer_limit(&self, what: &str, bytes: u64) -> Option<Error> {
        let limit = self.limits.max_buffer_size;
        (bytes > limit).then(|| {
            Error::Gpu(format!(
                "{what} needs {bytes} bytes but the device allows at most {limit} bytes per \
                 buffer (max_buffer_size); use a smaller model or shorter input"
            ))
        })
    }
}
