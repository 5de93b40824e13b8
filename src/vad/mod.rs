//! Voice activity detection: a CPU port of Silero VAD (v5), used to cut live audio into
//! utterances before transcription.
//!
//! The network (about 300k parameters) runs on 512-sample chunks of 16 kHz audio (32 ms) with
//! 64 samples of context from the previous chunk and an LSTM state carried across chunks; it
//! returns P(speech) per chunk. Weights are read straight from the MIT-licensed
//! `silero_vad.onnx` that the `silero-vad` package ships (`scripts/fetch-models.sh` puts it in
//! `models/silero-vad/`). Only the 16 kHz branch is loaded.
//!
//! - [`SileroVad`]: the network, one probability per chunk.
//! - [`Segmenter`]: probabilities → utterances (thresholds, pre-roll, minimum silence).
//! - [`VoiceActivity`]: both together, fed with audio blocks of any size.
//!
//! Pure Rust on the CPU; builds for wasm32 as well.

mod model;
mod onnx;
mod protobuf;
mod segmenter;
mod voice_activity;
mod weights;

pub use model::SileroVad;
pub use segmenter::{Segmenter, SpeechSegment, VadEvent, VadOptions};
pub use voice_activity::VoiceActivity;
pub use weights::SileroWeights;

/// The only sample rate supported.
pub const SAMPLE_RATE: u32 = 16_000;
/// Samples per VAD chunk (32 ms).
pub const CHUNK: usize = 512;
/// Samples of the previous chunk prepended to each chunk.
pub const CONTEXT: usize = 64;
/// STFT window of the front end.
const WINDOW: usize = 256;
/// STFT hop of the front end.
const HOP: usize = 128;
/// STFT bins (WINDOW / 2 + 1).
const FFT_BINS: usize = WINDOW / 2 + 1;
/// LSTM width.
const HIDDEN: usize = 128;
