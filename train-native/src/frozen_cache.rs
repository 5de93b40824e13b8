//! Host-side cache of a frozen network's outputs by example. The teacher's decoder hidden
//! states (after its final LN, [S, d_teacher]) and, when only decoder layers train, the
//! frozen encoder's output ([frames, d]) depend only on an example's audio and tokens, never
//! on the step, so after the first epoch a step can skip that forward and upload the kept
//! rows instead. The values are the exact f32 results of the same kernels, so a run with the
//! cache computes what a run without it computes. Entries past the byte cap are simply not
//! kept.

use std::collections::HashMap;

/// Frozen outputs (teacher hidden states, encoder outputs) by example index.
pub struct FrozenCache {
    entries: HashMap<usize, (Vec<f32>, [usize; 2])>,
    bytes: usize,
    cap_bytes: usize,
    /// Lookups answered from the cache.
    pub hits: u64,
}

impl FrozenCache {
    /// A cache holding at most `cap_bytes` of outputs (0 disables it).
    pub fn new(cap_bytes: usize) -> FrozenCache {
        FrozenCache {
            entries: HashMap::new(),
            bytes: 0,
            cap_bytes,
            hits: 0,
        }
    }

    /// The kept outputs of example `id` and their shape.
    pub fn get(&mut self, id: usize) -> Option<(&[f32], [usize; 2])> {
        let hit = self.entries.get(&id).map(|(v, s)| (v.as_slice(), *s));
        if hit.is_some() {
            self.hits += 1;
        }
        hit
    }

    /// Whether another `len` f32 values fit under the cap.
    pub fn has_room(&self, len: usize) -> bool {
        self.bytes + 4 * len <= self.cap_bytes
    }

    /// Keeps `values` ([rows, cols]) for example `id` if they fit under the cap.
    pub fn insert(&mut self, id: usize, values: Vec<f32>, shape: [usize; 2]) {
        if self.entries.contains_key(&id) || !self.has_room(values.len()) {
            return;
        }
        self.bytes += 4 * values.len();
        self.entries.insert(id, (values, shape));
    }

    /// Bytes of outputs held.
    pub fn bytes(&self) -> usize {
        self.bytes
    }
}
