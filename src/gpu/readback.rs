//! Copies GPU data back to the host. Async everywhere: in the browser mapping completes on
//! the event loop; natively we poll the device until the copy is done.

use super::pool::size_class;
use super::{Gpu, Tensor};
use crate::{Error, Result};

/// A readback in flight ([`Gpu::start_read`]); [`Gpu::finish_read_u32`] completes it.
pub struct PendingRead(Option<PendingCopy>);

struct PendingCopy {
    staging: wgpu::Buffer,
    bytes: u64,
    mapped: futures_channel::oneshot::Receiver<std::result::Result<(), wgpu::BufferAsyncError>>,
    /// The submission that holds the copy.
    submission: Option<wgpu::SubmissionIndex>,
}

impl Gpu {
    /// Reads a whole tensor as f32.
    pub async fn read(&self, tensor: &Tensor) -> Result<Vec<f32>> {
        let bytes = self
            .read_bytes(tensor.buffer(), 0, tensor.len() as u64 * 4)
            .await?;
        Ok(bytemuck::cast_slice(&bytes).to_vec())
    }

    /// Reads a whole tensor as u32.
    pub async fn read_u32(&self, tensor: &Tensor) -> Result<Vec<u32>> {
        let bytes = self
            .read_bytes(tensor.buffer(), 0, tensor.len() as u64 * 4)
            .await?;
        Ok(bytemuck::cast_slice(&bytes).to_vec())
    }

    /// Reads `len` f32 elements starting at element `start`.
    pub async fn read_range(&self, tensor: &Tensor, start: usize, len: usize) -> Result<Vec<f32>> {
        assert!(start + len <= tensor.len(), "read past the end of a tensor");
        let bytes = self
            .read_bytes(tensor.buffer(), start as u64 * 4, len as u64 * 4)
            .await?;
        Ok(bytemuck::cast_slice(&bytes).to_vec())
    }

    async fn read_bytes(&self, buffer: &wgpu::Buffer, offset: u64, bytes: u64) -> Result<Vec<u8>> {
        let pending = self.start_read_bytes(buffer, offset, bytes)?;
        self.finish_read(pending).await
    }

    /// Submits everything recorded so far and a copy of `tensor` (u32) for the host, without
    /// waiting: work recorded afterwards can run on the GPU while `Gpu::finish_read` waits
    /// for this copy alone (a decode loop records the next step before reading this one's
    /// token).
    pub fn start_read(&self, tensor: &Tensor) -> Result<PendingRead> {
        self.start_read_bytes(tensor.buffer(), 0, tensor.len() as u64 * 4)
    }

    fn start_read_bytes(
        &self,
        buffer: &wgpu::Buffer,
        offset: u64,
        bytes: u64,
    ) -> Result<PendingRead> {
        self.check()?;
        if bytes == 0 {
            return Ok(PendingRead(None));
        }
        let staging = self.staging(bytes)?;
        self.copy(buffer, offset, &staging, 0, bytes);
        self.flush();
        let (sender, receiver) = futures_channel::oneshot::channel();
        staging.map_async(wgpu::MapMode::Read, 0..bytes, move |result| {
            let _ = sender.send(result);
        });
        Ok(PendingRead(Some(PendingCopy {
            staging,
            bytes,
            mapped: receiver,
            submission: self.recorder.borrow().last_submission.clone(),
        })))
    }

    /// The bytes of a read started with [`Gpu::start_read`] (u32 elements).
    pub async fn finish_read_u32(&self, pending: PendingRead) -> Result<Vec<u32>> {
        let bytes = self.finish_read(pending).await?;
        Ok(bytemuck::cast_slice(&bytes).to_vec())
    }

    async fn finish_read(&self, pending: PendingRead) -> Result<Vec<u8>> {
        let Some(PendingCopy {
            staging,
            bytes,
            mapped,
            submission,
        }) = pending.0
        else {
            return Ok(Vec::new());
        };
        #[cfg(not(target_arch = "wasm32"))]
        {
            let wait = wgpu::PollType::Wait {
                submission_index: submission,
                timeout: None,
            };
            if let Err(e) = self.device.poll(wait) {
                self.check()?;
                return Err(Error::Gpu(format!("waiting for the GPU failed: {e}")));
            }
        }
        #[cfg(target_arch = "wasm32")]
        let _ = submission;
        // Natively the mapping has completed by now unless the work failed; a lost device
        // may never call back, so its fault is reported without waiting.
        #[cfg(not(target_arch = "wasm32"))]
        self.check()?;
        let mapped = mapped.await;
        // A fault in the work just waited for (a refused allocation, a lost device) explains
        // a failed or garbage readback better than the mapping error does.
        self.check()?;
        mapped
            .map_err(|_| Error::Gpu("the GPU device was lost during a readback".into()))?
            .map_err(|e| self.map_failed(e))?;
        let data = staging
            .get_mapped_range(0..bytes)
            .map_err(|e| Error::Gpu(format!("reading GPU memory failed: {e}")))?
            .to_vec();
        staging.unmap();
        self.pool.give_back_staging(staging);
        Ok(data)
    }

    /// The error for a staging buffer that could not be mapped. In the browser that means the
    /// device is gone: mapAsync rejects before the device's `lost` promise resolves, so the
    /// loss is recorded now, and this call and every later one say so.
    fn map_failed(&self, e: wgpu::BufferAsyncError) -> Error {
        #[cfg(target_arch = "wasm32")]
        return self.faults.lose(format!("reading GPU memory failed: {e}"));
        #[cfg(not(target_arch = "wasm32"))]
        Error::Gpu(format!("reading GPU memory failed: {e}"))
    }

    /// A host-readable buffer of at least `bytes`, pooled.
    fn staging(&self, bytes: u64) -> Result<wgpu::Buffer> {
        let class = size_class(bytes);
        if let Some(buffer) = self.pool.reuse_staging(class) {
            return Ok(buffer);
        }
        self.create_buffer(
            "a readback",
            class,
            wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
        )
    }
}
