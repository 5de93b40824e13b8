//! Audio front-end: decode any supported container to mono f32, resample to 16 kHz, and turn
//! 30 s windows into Whisper's log-mel spectrogram (DESIGN §3).
//!
//! Everything here is plain CPU code with f32 samples so that it behaves the same natively and in
//! the browser (where the page may also hand over already-decoded PCM).

mod decode;
mod mel;
mod resample;

pub use decode::{decode_to_mono_16k, load_audio_file, SUPPORTED_FORMATS};
pub use mel::{log_mel_spectrogram, mel_filters, mel_window, LogMel};
pub use resample::resample;

/// Sample rate every Whisper model expects.
pub const SAMPLE_RATE: u32 = 16_000;
/// STFT window length (25 ms at 16 kHz).
pub const N_FFT: usize = 400;
/// STFT hop (10 ms at 16 kHz).
pub const HOP_LENGTH: usize = 160;
/// Length of one encoder window in seconds.
pub const CHUNK_SECONDS: usize = 30;
/// Samples in one 30 s window at 16 kHz.
pub const N_SAMPLES: usize = CHUNK_SECONDS * SAMPLE_RATE as usize;
/// Mel frames in one 30 s window.
pub const N_FRAMES: usize = N_SAMPLES / HOP_LENGTH;

/// Message for the first NaN/inf sample, if any, so every entry point can reject it clearly.
pub(crate) fn non_finite_message(samples: &[f32], what: &str) -> Option<String> {
    let i = samples.iter().position(|s| !s.is_finite())?;
    Some(format!(
        "{what} contains a non-finite sample ({}) at index {i}; audio must be finite PCM",
        samples[i]
    ))
}
