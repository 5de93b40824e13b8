//! Time per kernel, for finding where a pass spends its time on any device (benchmarks
//! only; native builds). While a profile is open every dispatch is submitted alone and
//! waited for, so each one's wall time (submission, execution, completion) is attributed
//! to its kernel variant and grid. That serialises the work and adds a submission's cost
//! to every dispatch: the figures show shares and hot spots, not the speed of the normal
//! batched path.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use super::Gpu;

/// Accumulated time of one kernel variant dispatched with one grid.
#[derive(Clone, Debug)]
pub struct KernelTime {
    /// The variant (`file:entry:defines`) and its workgroup grid.
    pub kernel: String,
    pub dispatches: u64,
    pub total: Duration,
}

#[derive(Default)]
pub(super) struct KernelProfile {
    times: HashMap<String, (u64, Duration)>,
}

impl Gpu {
    /// Starts timing every dispatch from now on (see the module's documentation).
    pub fn start_kernel_profile(&self) {
        self.flush();
        *self.profile.borrow_mut() = Some(KernelProfile::default());
    }

    /// Stops profiling and returns the times, longest first.
    pub fn take_kernel_profile(&self) -> Vec<KernelTime> {
        let profile = self.profile.borrow_mut().take().unwrap_or_default();
        let mut times: Vec<KernelTime> = profile
            .times
            .into_iter()
            .map(|(kernel, (dispatches, total))| KernelTime {
                kernel,
                dispatches,
                total,
            })
            .collect();
        times.sort_by_key(|t| std::cmp::Reverse(t.total));
        times
    }

    /// With a profile open: submits the dispatch just recorded, waits for it, and adds its
    /// time to `label`'s.
    pub(super) fn time_dispatch(&self, label: impl FnOnce() -> String) {
        if self.profile.borrow().is_none() {
            return;
        }
        let start = Instant::now();
        self.flush();
        let _ = self.device.poll(wgpu::PollType::wait_indefinitely());
        let elapsed = start.elapsed();
        if let Some(profile) = self.profile.borrow_mut().as_mut() {
            let entry = profile.times.entry(label()).or_default();
            entry.0 += 1;
            entry.1 += elapsed;
        }
    }
}
