//! GPU faults that do not come back as a return value: errors wgpu raises outside an error
//! scope (an allocation or pipeline that failed inside an infallible call) and loss of the
//! device. They are kept here and turned into an `Error` at the next point that can return
//! one (a readback), so a failed allocation or a lost device rejects the current call with a
//! clear message instead of panicking in wgpu's default handler or returning garbage.
//! See docs/architecture.md, "GPU faults".

use std::sync::{Arc, Mutex};

use crate::{Error, Result};

#[derive(Default)]
struct State {
    /// The first error since the last check (later ones are usually its consequences).
    pending: Option<String>,
    /// Why the device was lost; once set, every later check fails.
    lost: Option<String>,
}

/// Shared between the device's callbacks (any thread) and the [`super::Gpu`] that checks.
#[derive(Clone, Default)]
pub(crate) struct Faults(Arc<Mutex<State>>);

impl Faults {
    /// Routes the device's uncaptured errors and its loss here.
    pub(crate) fn install(device: &wgpu::Device) -> Faults {
        let faults = Faults::default();
        let sink = faults.clone();
        device.on_uncaptured_error(Arc::new(move |e: wgpu::Error| sink.record(describe(&e))));
        let sink = faults.clone();
        device.set_device_lost_callback(move |reason, message| {
            let why = match reason {
                wgpu::DeviceLostReason::Destroyed => "it was destroyed".to_string(),
                _ => format!("{reason:?}: {message}"),
            };
            sink.state().lost.get_or_insert(why);
        });
        faults
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding the lock leaves plain data behind; keep using it.
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Keeps `message` for the next [`Faults::check`] unless an earlier fault is pending.
    pub(crate) fn record(&self, message: String) {
        self.state().pending.get_or_insert(message);
    }

    /// Records the device as lost for `why` (unless it already was) and returns the loss error.
    #[cfg(target_arch = "wasm32")]
    pub(crate) fn lose(&self, why: String) -> Error {
        let mut state = self.state();
        lost_error(state.lost.get_or_insert(why))
    }

    /// Whether the device has been lost (or destroyed).
    pub(crate) fn is_lost(&self) -> bool {
        self.state().lost.is_some()
    }

    /// Fails with the device loss (for good) or the pending fault (once).
    pub(crate) fn check(&self) -> Result<()> {
        let mut state = self.state();
        if let Some(why) = &state.lost {
            return Err(lost_error(why));
        }
        match state.pending.take() {
            Some(message) => Err(Error::Gpu(message)),
            None => Ok(()),
        }
    }
}

pub(crate) fn lost_error(why: &str) -> Error {
    Error::Gpu(format!(
        "the GPU device was lost ({why}); this model can no longer run: load it again (a new \
         device) to continue"
    ))
}

/// One line for a wgpu error.
pub(crate) fn describe(e: &wgpu::Error) -> String {
    match e {
        wgpu::Error::OutOfMemory { .. } => "the GPU ran out of memory".into(),
        wgpu::Error::Validation { description, .. } => {
            format!("a GPU operation was rejected: {}", one_line(description))
        }
        wgpu::Error::Internal { description, .. } => {
            format!("internal GPU error: {}", one_line(description))
        }
    }
}

/// wgpu's multi-line error chain on one line.
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Runs `f` inside out-of-memory and validation error scopes and returns what they caught.
/// Natively wgpu reports scope errors immediately; in the browser the answer is a promise
/// that a synchronous caller cannot wait for, so there the error goes to [`Faults`] instead.
pub(crate) fn scoped<T>(device: &wgpu::Device, f: impl FnOnce() -> T) -> (T, Option<wgpu::Error>) {
    #[cfg(not(target_arch = "wasm32"))]
    {
        let oom = device.push_error_scope(wgpu::ErrorFilter::OutOfMemory);
        let validation = device.push_error_scope(wgpu::ErrorFilter::Validation);
        let value = f();
        let validation = now(validation.pop());
        let oom = now(oom.pop());
        (value, oom.or(validation))
    }
    #[cfg(target_arch = "wasm32")]
    {
        let _ = device;
        (f(), None)
    }
}

/// The value of a future that is already complete (wgpu-core's scope results are).
#[cfg(not(target_arch = "wasm32"))]
fn now<T>(future: impl std::future::Future<Output = Option<T>>) -> Option<T> {
    let mut future = std::pin::pin!(future);
    let mut context = std::task::Context::from_waker(std::task::Waker::noop());
    match future.as_mut().poll(&mut context) {
        std::task::Poll::Ready(value) => value,
        std::task::Poll::Pending => None,
    }
}
