//! Reuse of activation buffers. Shapes repeat from one decode step to the next, so freed
//! buffers are kept by size class and handed out again instead of allocating anew.

use std::cell::RefCell;
use std::collections::HashMap;

pub(crate) const STORAGE_USAGE: wgpu::BufferUsages = wgpu::BufferUsages::STORAGE
    .union(wgpu::BufferUsages::COPY_SRC)
    .union(wgpu::BufferUsages::COPY_DST);

#[derive(Default)]
pub(crate) struct BufferPool {
    free: RefCell<HashMap<u64, Vec<wgpu::Buffer>>>,
    staging: RefCell<HashMap<u64, Vec<wgpu::Buffer>>>,
    allocated_bytes: RefCell<u64>,
}

/// Rounds a request up to its size class: powers of two up to 1 MiB, then whole MiB.
pub(crate) fn size_class(bytes: u64) -> u64 {
    const MIB: u64 = 1 << 20;
    let bytes = bytes.max(16);
    if bytes <= MIB {
        bytes.next_power_of_two()
    } else {
        bytes.div_ceil(MIB) * MIB
    }
}

impl BufferPool {
    pub(crate) fn take(&self, device: &wgpu::Device, bytes: u64) -> wgpu::Buffer {
        let class = size_class(bytes);
        if let Some(buffer) = self.free.borrow_mut().get_mut(&class).and_then(Vec::pop) {
            return buffer;
        }
        *self.allocated_bytes.borrow_mut() += class;
        device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("activation"),
            size: class,
            usage: STORAGE_USAGE,
            mapped_at_creation: false,
        })
    }

    pub(crate) fn give_back(&self, buffer: wgpu::Buffer) {
        self.free
            .borrow_mut()
            .entry(buffer.size())
            .or_default()
            .push(buffer);
    }

    /// Bytes of activation memory ever allocated (pooled buffers included).
    pub(crate) fn allocated_bytes(&self) -> u64 {
        *self.allocated_bytes.borrow()
    }

    /// A host-readable buffer of at least `bytes`, for readbacks.
    pub(crate) fn take_staging(&self, device: &wgpu::Device, bytes: u64) -> wgpu::Buffer {
        let class = size_class(bytes);
        if let Some(buffer) = self.staging.borrow_mut().get_mut(&class).and_then(Vec::pop) {
            return buffer;
        }
        device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("readback"),
            size: class,
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        })
    }

    pub(crate) fn give_back_staging(&self, buffer: wgpu::Buffer) {
        self.staging
            .borrow_mut()
            .entry(buffer.size())
            .or_default()
            .push(buffer);
    }
}
