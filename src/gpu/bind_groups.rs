//! Bind groups kept for reuse. A decoder step records the same dispatches with the same
//! buffers every token: the weights, the KV caches, and activation buffers the pool hands
//! out in the same order each step. Creating a bind group costs the host a descriptor
//! allocation and update natively, and a call through the GPU process in a browser, on
//! every dispatch; looking one up costs a hash of a few handles.
//!
//! The key is everything the bind group binds: the pipeline (its layout), the offset of the
//! dispatch's parameter slot in the uniform buffer, and each storage binding's buffer. The
//! parameter slot is the dispatch's position in its submission (`recorder.rs`), and a
//! decoder step is one submission, so the same dispatch of every step finds its group.
//!
//! A cached group keeps its buffers alive, and the key holds them too, so a buffer's
//! identity (wgpu compares handles by address) cannot be taken over by a new buffer while
//! an entry names it. What is kept is bounded in time: every [`SWEEP_LOOKUPS`] lookups the
//! entries not used since the previous sweep are dropped, so a buffer the pool or a model
//! let go is freed within two sweeps, and at most [`KEPT_BIND_GROUPS_MAX`] groups are held.

use std::collections::HashMap;

/// Lookups between sweeps: a few dozen decoder steps (tens of dispatches each).
const SWEEP_LOOKUPS: u64 = 2048;
/// The most bind groups kept at once: those used in the current and the previous sweep
/// period.
pub const KEPT_BIND_GROUPS_MAX: usize = 2 * SWEEP_LOOKUPS as usize;

#[derive(PartialEq, Eq, Hash)]
struct Key {
    pipeline: wgpu::ComputePipeline,
    params_offset: u64,
    buffers: Vec<(u32, wgpu::Buffer)>,
}

struct Entry {
    group: wgpu::BindGroup,
    /// The sweep period it was last used in.
    used: u64,
}

pub(crate) struct BindGroupCache {
    entries: HashMap<Key, Entry>,
    /// Lookups so far; `lookups / SWEEP_LOOKUPS` is the current sweep period.
    lookups: u64,
    /// Bind groups created (cache misses, or every dispatch while caching is off).
    pub(crate) created: u64,
    pub(crate) enabled: bool,
}

impl BindGroupCache {
    pub(crate) fn new() -> BindGroupCache {
        BindGroupCache {
            entries: HashMap::new(),
            lookups: 0,
            created: 0,
            enabled: true,
        }
    }

    /// The bind group of `pipeline` with its parameters at `params_offset` of `uniforms` and
    /// `buffers` at their bindings, from the cache or made by `create`.
    pub(crate) fn get(
        &mut self,
        pipeline: &wgpu::ComputePipeline,
        params_offset: u64,
        buffers: &[(u32, &wgpu::Buffer)],
        create: impl FnOnce() -> wgpu::BindGroup,
    ) -> wgpu::BindGroup {
        if !self.enabled {
            self.created += 1;
            return create();
        }
        self.lookups += 1;
        let period = self.lookups / SWEEP_LOOKUPS;
        if self.lookups.is_multiple_of(SWEEP_LOOKUPS) {
            // Entries last used before the previous period are dropped.
            self.entries.retain(|_, e| e.used + 1 >= period);
        }
        let key = Key {
            pipeline: pipeline.clone(),
            params_offset,
            buffers: buffers.iter().map(|&(b, buf)| (b, buf.clone())).collect(),
        };
        let entry = self.entries.entry(key).or_insert_with(|| {
            self.created += 1;
            Entry {
                group: create(),
                used: period,
            }
        });
        entry.used = period;
        entry.group.clone()
    }

    /// Drops every kept group (and with them the buffers only they still hold).
    pub(crate) fn clear(&mut self) {
        self.entries.clear();
    }

    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }
}
