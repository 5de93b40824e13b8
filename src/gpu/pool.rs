//! Reuse of activation buffers. Shapes repeat from one decode step to the next, so freed
//! buffers are kept by size class and handed out again instead of allocating anew. What the
//! pool keeps is bounded ([`DEFAULT_POOL_LIMIT`] unless configured): a buffer given back
//! beyond the bound is released, so memory stays flat however long a process runs.
//!
//! Of the free buffers of a size class the pool hands out the one first in wgpu's handle
//! order, not the last given back: which buffer a request gets then depends only on which
//! are free, not on the order they were freed in, so every decoder step gets the same
//! buffers as the step before and finds its bind groups kept (`bind_groups.rs`).

use std::cell::{Cell, RefCell};
use std::collections::{BTreeSet, HashMap};

pub(crate) const STORAGE_USAGE: wgpu::BufferUsages = wgpu::BufferUsages::STORAGE
    .union(wgpu::BufferUsages::COPY_SRC)
    .union(wgpu::BufferUsages::COPY_DST);

/// Bytes of idle buffers the pool keeps by default (1 GiB): well above the working set of
/// a transcription with tiny.en (tests/encoder_submits.rs prints it), so steady-state
/// decoding allocates nothing. A bound below a model's working set costs allocations per
/// step, not correctness (tests/long_running.rs transcribes under a quarter of it).
pub const DEFAULT_POOL_LIMIT: u64 = 1 << 30;

type FreeLists = RefCell<HashMap<u64, BTreeSet<wgpu::Buffer>>>;

pub(crate) struct BufferPool {
    free: FreeLists,
    staging: FreeLists,
    /// Bytes of activation buffers alive now, in use or pooled.
    live_bytes: Cell<u64>,
    /// The most `live_bytes` has been since the device was opened or the peak was reset.
    peak_live_bytes: Cell<u64>,
    /// Bytes of weight buffers created since the device was opened (never decreases).
    weight_bytes_created: Cell<u64>,
    /// Bytes of buffers (activation and readback) waiting in the free lists.
    pooled_bytes: Cell<u64>,
    limit: Cell<u64>,
}

impl Default for BufferPool {
    fn default() -> Self {
        BufferPool::with_limit(DEFAULT_POOL_LIMIT)
    }
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
    pub(crate) fn with_limit(limit: u64) -> BufferPool {
        BufferPool {
            free: RefCell::default(),
            staging: RefCell::default(),
            live_bytes: Cell::new(0),
            peak_live_bytes: Cell::new(0),
            weight_bytes_created: Cell::new(0),
            pooled_bytes: Cell::new(0),
            limit: Cell::new(limit),
        }
    }

    /// A pooled activation buffer of `class` bytes, if one is free.
    pub(crate) fn reuse(&self, class: u64) -> Option<wgpu::Buffer> {
        self.pop(&self.free, class)
    }

    /// Counts a newly allocated activation buffer.
    pub(crate) fn note_allocated(&self, bytes: u64) {
        self.live_bytes.set(self.live_bytes.get() + bytes);
        self.peak_live_bytes
            .set(self.peak_live_bytes.get().max(self.live_bytes.get()));
    }

    /// Counts a newly created weight buffer.
    pub(crate) fn note_weight(&self, bytes: u64) {
        self.weight_bytes_created
            .set(self.weight_bytes_created.get() + bytes);
    }

    pub(crate) fn give_back(&self, buffer: wgpu::Buffer) {
        self.keep(&self.free, buffer);
    }

    /// A pooled readback buffer of `class` bytes, if one is free.
    pub(crate) fn reuse_staging(&self, class: u64) -> Option<wgpu::Buffer> {
        self.pop(&self.staging, class)
    }

    pub(crate) fn give_back_staging(&self, buffer: wgpu::Buffer) {
        self.keep(&self.staging, buffer);
    }

    fn pop(&self, lists: &FreeLists, class: u64) -> Option<wgpu::Buffer> {
        let buffer = lists
            .borrow_mut()
            .get_mut(&class)
            .and_then(BTreeSet::pop_first)?;
        self.pooled_bytes
            .set(self.pooled_bytes.get() - buffer.size());
        Some(buffer)
    }

    /// Pools `buffer` if the bound allows, else releases it.
    fn keep(&self, lists: &FreeLists, buffer: wgpu::Buffer) {
        let size = buffer.size();
        if self.pooled_bytes.get() + size > self.limit.get() {
            self.release(lists, buffer);
            return;
        }
        self.pooled_bytes.set(self.pooled_bytes.get() + size);
        lists.borrow_mut().entry(size).or_default().insert(buffer);
    }

    /// Drops the pool's handle. Not `destroy()`: commands recorded but not yet submitted
    /// may still use the buffer, and wgpu frees it once the last of them has run.
    fn release(&self, lists: &FreeLists, buffer: wgpu::Buffer) {
        if std::ptr::eq(lists, &self.free) {
            self.live_bytes.set(self.live_bytes.get() - buffer.size());
        }
        drop(buffer);
    }

    /// Releases every idle buffer; buffers in use are released when given back if the
    /// bound is then exceeded.
    pub(crate) fn trim(&self) {
        for lists in [&self.free, &self.staging] {
            let drained: Vec<wgpu::Buffer> =
                lists.borrow_mut().drain().flat_map(|(_, v)| v).collect();
            for buffer in drained {
                self.pooled_bytes
                    .set(self.pooled_bytes.get() - buffer.size());
                self.release(lists, buffer);
            }
        }
    }

    /// Changes the bound, releasing idle buffers beyond it.
    pub(crate) fn set_limit(&self, limit: u64) {
        self.limit.set(limit);
        if self.pooled_bytes.get() > limit {
            self.trim();
        }
    }

    pub(crate) fn limit(&self) -> u64 {
        self.limit.get()
    }

    /// Bytes of activation buffers alive now (in use or pooled).
    pub(crate) fn live_bytes(&self) -> u64 {
        self.live_bytes.get()
    }

    pub(crate) fn peak_live_bytes(&self) -> u64 {
        self.peak_live_bytes.get()
    }

    /// Starts a new peak from what is alive now.
    pub(crate) fn reset_peak(&self) {
        self.peak_live_bytes.set(self.live_bytes.get());
    }

    pub(crate) fn weight_bytes_created(&self) -> u64 {
        self.weight_bytes_created.get()
    }

    /// Bytes of idle buffers held for reuse.
    pub(crate) fn pooled_bytes(&self) -> u64 {
        self.pooled_bytes.get()
    }
}
