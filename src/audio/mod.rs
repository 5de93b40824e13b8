//! Audio front-end: decode any supported container to mono f32, resample to 16 kHz, and turn
//! the whole recording (or a 30 s window) into Whisper's log-mel spectrogram. Long files go
//! through the streaming front-end ([`load_long_mel`]), which never holds their PCM.
//!
//! Everything here is plain CPU code with f32 samples so that it behaves the same natively and in
//! the browser (where the page may also hand over already-decoded PCM).

mod decode;
mod defuse;
mod duration;
mod front_end;
mod long_mel;
mod mel;
mod mel_stream;
mod ogg_guard;
mod resample;
mod resample_stream;

pub use decode::{
    decode_audio, decode_to_mono_16k, load_audio, load_audio_file, SUPPORTED_FORMATS,
};
pub(crate) use defuse::seek_target;
pub use duration::probe_duration;
pub use front_end::{load_long_mel, long_mel_from_reader, StreamedMel};
pub use long_mel::{LongMel, SILENCE_PEAK};
pub use mel::{mel_filters, mel_window, LogMel};
pub use mel_stream::{long_mel, LogMelStream};
pub use resample::resample;
pub use resample_stream::StreamResampler;

use std::borrow::Cow;

use crate::Result;

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

/// Decoded 16 kHz mono audio, with how many samples had to be repaired.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DecodedAudio {
    pub samples: Vec<f32>,
    /// NaN or infinite samples in the decoded stream, replaced by silence (0.0). Worth a
    /// warning when non-zero: the file is damaged or was written by a faulty encoder.
    pub non_finite_samples: usize,
}

/// The error for audio that decoded to samples but resamples to none at 16 kHz (a few frames
/// at a higher rate: one frame at 44.1 kHz makes no sample).
pub(super) fn too_short(decoded: usize, rate: u32) -> crate::Error {
    crate::Error::Audio(format!(
        "audio is too short: {decoded} sample(s) at {rate} Hz make no sample at {SAMPLE_RATE} Hz"
    ))
}

/// Replaces NaN and ±infinity by 0.0 (silence) and returns how many were replaced. A few
/// damaged samples should not make a whole recording untranscribable, and one NaN would
/// otherwise spread through the whole spectrogram window.
pub fn sanitize_non_finite(samples: &mut [f32]) -> usize {
    let mut replaced = 0;
    for s in samples.iter_mut().filter(|s| !s.is_finite()) {
        *s = 0.0;
        replaced += 1;
    }
    replaced
}

/// `samples` with NaN/inf replaced by 0.0, borrowed when there is nothing to replace.
pub(crate) fn finite_samples(samples: &[f32]) -> Cow<'_, [f32]> {
    if samples.iter().all(|s| s.is_finite()) {
        Cow::Borrowed(samples)
    } else {
        let mut owned = samples.to_vec();
        sanitize_non_finite(&mut owned);
        Cow::Owned(owned)
    }
}

/// Whisper's log-mel spectrogram of up to 30 s of 16 kHz mono samples, row-major
/// `[n_mels, N_FRAMES]`. NaN/inf samples are taken as silence (see [`sanitize_non_finite`]).
pub fn log_mel_spectrogram(samples_16k: &[f32], n_mels: usize) -> Result<Vec<f32>> {
    mel::log_mel_spectrogram(&finite_samples(samples_16k), n_mels)
}
