//! DistilWhisper training engine (issue 5). It reuses the runtime crate's kernels.
pub use whisper_clsr as runtime;
