//! GPU-resident data: activations (`Tensor`, pooled, 4-byte elements) and parameters
//! (`Weight`, f32 or f16 packed two per u32).

use std::rc::Rc;

use super::pool::{size_class, BufferPool, STORAGE_USAGE};
use super::Gpu;
use crate::{Error, Result};

/// An activation buffer of f32 (or u32) elements. Returned to the pool on drop.
pub struct Tensor {
    buffer: Option<wgpu::Buffer>,
    shape: Vec<usize>,
    pool: Rc<BufferPool>,
}

impl Tensor {
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn buffer(&self) -> &wgpu::Buffer {
        self.buffer
            .as_ref()
            .expect("tensor buffer present until drop")
    }

    /// Reinterprets the same elements under another shape with the same element count.
    pub fn reshape(mut self, shape: &[usize]) -> Tensor {
        assert_eq!(
            shape.iter().product::<usize>(),
            self.len(),
            "reshape must keep the element count"
        );
        self.shape = shape.to_vec();
        self
    }
}

impl Drop for Tensor {
    fn drop(&mut self) {
        if let Some(buffer) = self.buffer.take() {
            self.pool.give_back(buffer);
        }
    }
}

/// How a weight's elements are stored on the GPU.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DType {
    F32,
    /// IEEE half, two per u32 (low half first), read with `unpack2x16float`.
    F16,
}

/// A parameter on the GPU, stored the way the forward kernels read it (f32, or f16 packed two
/// per u32). Not pooled: it lives as long as the model. Nothing in this crate writes to a
/// weight after upload, but it is not read-only: the trainer keeps its trainable parameters
/// (expert FFNs and gates) as f32 `Weight`s so that the same forward kernels read them, and
/// its AdamW kernel updates them in place (`train-native/src/optim.rs`).
pub struct Weight {
    buffer: wgpu::Buffer,
    shape: Vec<usize>,
    dtype: DType,
}

impl Weight {
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn dtype(&self) -> DType {
        self.dtype
    }

    pub fn buffer(&self) -> &wgpu::Buffer {
        &self.buffer
    }

    /// Bytes the weight occupies on the GPU.
    pub fn bytes(&self) -> u64 {
        self.buffer.size()
    }
}

impl Gpu {
    /// A pooled tensor with unspecified contents. An allocation the device refuses (out of
    /// memory, over its buffer limit) is reported by the next readback, naming the size.
    pub fn tensor(&self, shape: &[usize]) -> Tensor {
        let elements: usize = shape.iter().product();
        let class = size_class((elements as u64) * 4);
        let buffer = match self.pool.reuse(class) {
            Some(buffer) => buffer,
            None => self.allocate_activation(shape, class),
        };
        Tensor {
            buffer: Some(buffer),
            shape: shape.to_vec(),
            pool: self.pool.clone(),
        }
    }

    fn allocate_activation(&self, shape: &[usize], bytes: u64) -> wgpu::Buffer {
        let what = format!("an activation of shape {shape:?}");
        let buffer = match self.over_buffer_limit(&what, bytes) {
            None => self.create_buffer(&what, bytes, STORAGE_USAGE),
            Some(e) => Err(e),
        };
        let buffer = buffer.unwrap_or_else(|e| {
            // Op code cannot return an error here: the caller gets a small stand-in buffer
            // (the kernels' reads and writes are clamped to it) and the next readback
            // reports the fault.
            self.faults.record(match e {
                Error::Gpu(message) => message,
                other => other.to_string(),
            });
            self.device.create_buffer(&wgpu::BufferDescriptor {
                label: Some("stand-in for a refused activation"),
                size: size_class(0),
                usage: STORAGE_USAGE,
                mapped_at_creation: false,
            })
        });
        self.pool.note_allocated(buffer.size());
        buffer
    }

    /// A tensor holding `data`, visible to commands recorded from now on.
    pub fn upload(&self, data: &[f32], shape: &[usize]) -> Result<Tensor> {
        check_len(data.len(), shape)?;
        let t = self.tensor(shape);
        self.write_in_order(t.buffer(), bytemuck::cast_slice(data));
        Ok(t)
    }

    /// A tensor of u32 values (token ids, indices).
    pub fn upload_u32(&self, data: &[u32], shape: &[usize]) -> Result<Tensor> {
        check_len(data.len(), shape)?;
        let t = self.tensor(shape);
        self.write_in_order(t.buffer(), bytemuck::cast_slice(data));
        Ok(t)
    }

    /// Overwrites the start of an existing tensor.
    pub fn write(&self, tensor: &Tensor, data: &[f32]) {
        assert!(data.len() <= tensor.len(), "write past the end of a tensor");
        self.write_in_order(tensor.buffer(), bytemuck::cast_slice(data));
    }

    /// Writes `bytes` to the start of `buffer` after every command recorded so far. A queue
    /// write runs at the start of the next submission, ahead of the commands still being
    /// recorded, which may read this buffer (a pooled buffer dropped while in use, or a
    /// tensor overwritten), so those commands are submitted first.
    fn write_in_order(&self, buffer: &wgpu::Buffer, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        self.flush();
        self.queue.write_buffer(buffer, 0, bytes);
    }

    /// A weight from f32 values, stored as `dtype`.
    pub fn weight_f32(&self, data: &[f32], shape: &[usize], dtype: DType) -> Result<Weight> {
        check_len(data.len(), shape)?;
        match dtype {
            DType::F32 => self.weight_from_bytes(bytemuck::cast_slice(data), shape, dtype),
            DType::F16 => {
                let halves: Vec<half::f16> = data.iter().map(|&x| half::f16::from_f32(x)).collect();
                self.weight_f16(&halves, shape)
            }
        }
    }

    /// A weight from f16 values, stored packed.
    pub fn weight_f16(&self, data: &[half::f16], shape: &[usize]) -> Result<Weight> {
        check_len(data.len(), shape)?;
        self.weight_from_bytes(bytemuck::cast_slice(data), shape, DType::F16)
    }

    fn weight_from_bytes(&self, bytes: &[u8], shape: &[usize], dtype: DType) -> Result<Weight> {
        // Buffers are padded to whole 16-byte units and at least 16 bytes: the GEMV and the
        // walking matmul read weights as `array<vec4<..>>`, which must cover the last element
        // (activation buffers are powers of two or whole MiB, `size_class`).
        let size = (bytes.len() as u64).div_ceil(16).max(1) * 16;
        if size > self.max_binding_bytes() {
            // The weight's own size; the padding only when it is what crosses the limit.
            let padded = if bytes.len() as u64 > self.max_binding_bytes() {
                String::new()
            } else {
                format!(" ({size} padded to 16-byte units)")
            };
            return Err(Error::Gpu(format!(
                "a weight of shape {shape:?} needs {} bytes{padded} but the device binds at \
                 most {} bytes per buffer",
                bytes.len(),
                self.max_binding_bytes()
            )));
        }
        let buffer =
            self.create_buffer(&format!("a weight of shape {shape:?}"), size, STORAGE_USAGE)?;
        let whole = bytes.len() / 4 * 4;
        if whole > 0 {
            self.queue.write_buffer(&buffer, 0, &bytes[..whole]);
        }
        if whole < bytes.len() {
            let mut tail = [0u8; 4];
            tail[..bytes.len() - whole].copy_from_slice(&bytes[whole..]);
            self.queue.write_buffer(&buffer, whole as u64, &tail);
        }
        self.pool.note_weight(size);
        Ok(Weight {
            buffer,
            shape: shape.to_vec(),
            dtype,
        })
    }

    /// Bytes of activation memory alive now: tensors in use plus the pool's idle buffers.
    pub fn activation_bytes(&self) -> u64 {
        self.pool.live_bytes()
    }

    /// The most [`Gpu::activation_bytes`] has been since the device was opened or
    /// [`Gpu::reset_peak_activation_bytes`].
    pub fn peak_activation_bytes(&self) -> u64 {
        self.pool.peak_live_bytes()
    }

    /// Starts measuring [`Gpu::peak_activation_bytes`] afresh from what is alive now
    /// (release the pool first with [`Gpu::release_pooled`] to measure from empty).
    pub fn reset_peak_activation_bytes(&self) {
        self.pool.reset_peak()
    }

    /// Bytes of weight buffers created since the device was opened (a model's weights are
    /// the difference across its load).
    pub fn weight_bytes_created(&self) -> u64 {
        self.pool.weight_bytes_created()
    }

    /// Bytes of idle buffers (activations and readbacks) the pool keeps for reuse; at most
    /// [`Gpu::pool_limit`].
    pub fn pooled_bytes(&self) -> u64 {
        self.pool.pooled_bytes()
    }

    /// The bound on [`Gpu::pooled_bytes`] (`DEFAULT_POOL_LIMIT` unless set).
    pub fn pool_limit(&self) -> u64 {
        self.pool.limit()
    }

    /// Changes the bound on idle pooled memory, releasing what is beyond it.
    pub fn set_pool_limit(&self, bytes: u64) {
        self.pool.set_limit(bytes);
    }

    /// Releases every idle pooled buffer (tensors still in use are released when dropped if
    /// the pool is over its bound then).
    pub fn release_pooled(&self) {
        // Kept bind groups hold pooled buffers alive too.
        self.recorder.borrow_mut().bind_groups.clear();
        self.pool.trim();
    }
}

fn check_len(len: usize, shape: &[usize]) -> Result<()> {
    let expected: usize = shape.iter().product();
    if len != expected {
        return Err(Error::InvalidInput(format!(
            "{len} values do not fill shape {shape:?} ({expected} values)"
        )));
    }
    Ok(())
}
