//! The browser API: a wasm-bindgen class over [`crate::Whisper`], used by `www/worker.js`.
//!
//! The bindings exist only on `wasm32`; the helpers that shape what JavaScript sees (camelCase
//! keys, streamed token text) are plain Rust and tested natively.

pub mod camel;
pub mod stream;

#[cfg(target_arch = "wasm32")]
mod bindings;
#[cfg(target_arch = "wasm32")]
mod blob_reader;
#[cfg(target_arch = "wasm32")]
mod diagnostics;
#[cfg(target_arch = "wasm32")]
mod live;
#[cfg(target_arch = "wasm32")]
pub use bindings::{languages, WasmWhisper};
#[cfg(target_arch = "wasm32")]
pub use live::LiveSession;
