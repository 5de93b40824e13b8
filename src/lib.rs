//! whisper-clsr: Whisper speech recognition on hand-written WGSL kernels, run through wgpu
//! natively (Vulkan, Metal, DX12) and in the browser (WebGPU).

pub mod audio;
pub mod convert;
pub mod decode;
pub mod error;
pub mod eval;
pub mod gpu;
pub mod model;
pub mod ops;
pub mod pack;
pub mod stream;
pub mod subtitles;
mod transcribe;
pub mod vad;
pub mod web;
pub mod whisper;

pub use decode::longform::{Segment, Word};
pub use error::{Error, Result};
pub use transcribe::Event;
pub use whisper::{GateStats, Timings, TranscribeOptions, Transcript, Whisper};
