//! Audio decoding on a background thread ahead of the GPU (docs/training.md): the examples
//! of the coming steps, in the order the trainer will take them ([`crate::trainer::batch_indices`]
//! is known ahead), are decoded and turned into log-mel into a bounded queue, so a training
//! step finds its batch ready while the GPU works on the previous one, and memory holds a few
//! examples rather than the corpus.

use std::sync::mpsc::{sync_channel, Receiver};
use std::thread::Scope;

/// Items produced in a fixed order on a thread of a [`std::thread::scope`], at most `depth`
/// waiting. Dropping it stops the thread after the item it is working on.
pub struct DecodeAhead<T> {
    queue: Receiver<(usize, T)>,
}

impl<T: Send> DecodeAhead<T> {
    /// Starts `load(i)` for each `i` of `order`, in order, on a thread of `scope`.
    pub fn spawn<'scope, 'env, I, F>(
        scope: &'scope Scope<'scope, 'env>,
        order: I,
        depth: usize,
        load: F,
    ) -> DecodeAhead<T>
    where
        T: 'scope,
        I: Iterator<Item = usize> + Send + 'scope,
        F: Fn(usize) -> T + Send + 'scope,
    {
        let (tx, queue) = sync_channel(depth.max(1));
        scope.spawn(move || {
            for i in order {
                if tx.send((i, load(i))).is_err() {
                    // The consumer is gone (the run ended or failed).
                    break;
                }
            }
        });
        DecodeAhead { queue }
    }

    /// The next item and its index; `None` once the order is exhausted (or the thread died,
    /// which the scope reports when it ends).
    pub fn next(&self) -> Option<(usize, T)> {
        self.queue.recv().ok()
    }
}
