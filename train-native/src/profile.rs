//! Opt-in wall-clock profile of a training step by phase. Disabled (the default) it costs
//! nothing and never waits for the GPU. Enabled ([`enable`]), every [`mark`] submits the
//! recorded work, waits for the device to finish it and books the time since the previous
//! mark under the mark's label, so the labels partition the step's wall-clock time. The
//! waits remove the overlap between host recording and device work, so a profiled step is
//! slightly slower than an unprofiled one.

use std::cell::RefCell;
use std::time::Instant;

use whisper_clsr::gpu::Gpu;

struct State {
    last: Instant,
    /// (label, seconds, count) in first-seen order.
    totals: Vec<(&'static str, f64, u64)>,
}

thread_local! {
    static STATE: RefCell<Option<State>> = const { RefCell::new(None) };
}

/// Starts profiling on this thread (clearing earlier totals) after waiting for the GPU.
pub fn enable(gpu: &Gpu) {
    wait(gpu);
    STATE.with(|s| {
        *s.borrow_mut() = Some(State {
            last: Instant::now(),
            totals: Vec::new(),
        })
    });
}

/// Whether profiling is on.
pub fn enabled() -> bool {
    STATE.with(|s| s.borrow().is_some())
}

/// Submits the recorded work and waits for the device to finish it.
pub fn wait(gpu: &Gpu) {
    gpu.flush();
    // A failed wait only makes the profile less precise; the next readback reports errors.
    let _ = gpu.device.poll(wgpu::PollType::wait_indefinitely());
}

/// Books the work recorded since the previous mark under `label` (no-op when disabled).
pub fn mark(gpu: &Gpu, label: &'static str) {
    if !enabled() {
        return;
    }
    wait(gpu);
    STATE.with(|s| {
        if let Some(st) = s.borrow_mut().as_mut() {
            let now = Instant::now();
            let dt = now.duration_since(st.last).as_secs_f64();
            st.last = now;
            match st.totals.iter_mut().find(|(l, _, _)| *l == label) {
                Some(t) => {
                    t.1 += dt;
                    t.2 += 1;
                }
                None => st.totals.push((label, dt, 1)),
            }
        }
    });
}

/// Stops profiling and returns (label, seconds, marks) per label in first-seen order.
pub fn take() -> Vec<(&'static str, f64, u64)> {
    STATE.with(|s| {
        s.borrow_mut()
            .take()
            .map(|st| st.totals)
            .unwrap_or_default()
    })
}

/// CPU seconds (user + system, all threads) this process has used, from /proc (Linux,
/// 100 ticks per second; 0 elsewhere). On lavapipe the device's work is CPU time of this
/// process, so this measures work independently of other load on the machine.
pub fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<u64> = rest
        .split_whitespace()
        .map(|x| x.parse().unwrap_or(0))
        .collect();
    f.get(11)
        .zip(f.get(12))
        .map_or(0.0, |(u, s)| (u + s) as f64 / 100.0)
}
