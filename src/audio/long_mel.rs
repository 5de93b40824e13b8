//! The log-mel spectrogram of a whole recording, as long-form transcription walks it, and the
//! silence gate that lets it skip windows of digital silence without running the model.

use super::{HOP_LENGTH, N_FRAMES, SAMPLE_RATE};

/// Peak amplitude at or below which a window is silence: −70 dBFS, about ten steps of
/// 16-bit PCM. Speech is recorded tens of dB above this (a quiet speaker peaks around
/// −40 dBFS) and even a quiet room's noise floor is above it, so only digital silence, a
/// muted input or fade-outs fall under it; Whisper given such a window sees an almost flat
/// spectrogram and can only hallucinate. See docs/architecture.md (long-form transcription).
pub const SILENCE_PEAK: f32 = 3.162_277_7e-4;

/// Whisper's normalised log-mel of a whole recording followed by 30 s of silence (OpenAI's
/// `log_mel_spectrogram(audio, padding=N_SAMPLES)`), stored frame by frame, with each hop's
/// peak amplitude for the silence gate.
#[derive(Clone, Debug, PartialEq)]
pub struct LongMel {
    pub(super) n_mels: usize,
    pub(super) frames: usize,
    pub(super) samples: usize,
    /// Frame-major: `n_mels` values per frame.
    pub(super) data: Vec<f32>,
    /// Largest |sample| of each hop of real audio (the last hop may be partial).
    pub(super) hop_peaks: Vec<f32>,
}

impl LongMel {
    pub fn n_mels(&self) -> usize {
        self.n_mels
    }

    /// Frames in all, the 30 s of padding included.
    pub fn frames(&self) -> usize {
        self.frames
    }

    /// Frames that hold audio (the first `samples / HOP_LENGTH`).
    pub fn content_frames(&self) -> usize {
        self.frames - N_FRAMES
    }

    /// 16 kHz samples of audio the spectrogram was computed from.
    pub fn samples(&self) -> usize {
        self.samples
    }

    pub fn duration_seconds(&self) -> f64 {
        self.samples as f64 / f64::from(SAMPLE_RATE)
    }

    /// Frames `seek .. seek + len` as one encoder window, row-major `[n_mels, N_FRAMES]` and
    /// zero-padded, as [`super::mel_window`] cuts it from the row-major spectrogram.
    pub fn window(&self, seek: usize, len: usize) -> Vec<f32> {
        assert!(
            len <= N_FRAMES && seek + len <= self.frames,
            "mel window out of range"
        );
        let mut out = vec![0.0f32; self.n_mels * N_FRAMES];
        for (t, frame) in self.data[seek * self.n_mels..(seek + len) * self.n_mels]
            .chunks_exact(self.n_mels)
            .enumerate()
        {
            for (m, &v) in frame.iter().enumerate() {
                out[m * N_FRAMES + t] = v;
            }
        }
        out
    }

    /// The whole spectrogram row-major, `[n_mels, frames]`, as [`super::LogMel::compute_full`]
    /// returns it.
    pub fn to_row_major(&self) -> Vec<f32> {
        let mut out = vec![0.0f32; self.data.len()];
        for (t, frame) in self.data.chunks_exact(self.n_mels).enumerate() {
            for (m, &v) in frame.iter().enumerate() {
                out[m * self.frames + t] = v;
            }
        }
        out
    }

    /// Whether the audio under frames `seek .. seek + len` is silence: no sample above
    /// [`SILENCE_PEAK`]. A frame's STFT reaches 200 samples to either side of its hop, so
    /// the neighbouring hops count too.
    pub fn is_silent(&self, seek: usize, len: usize) -> bool {
        let first = seek.saturating_sub(2);
        let end = (seek + len + 2).min(self.hop_peaks.len());
        first >= end
            || self.hop_peaks[first..end]
                .iter()
                .all(|&p| p <= SILENCE_PEAK)
    }
}

/// Tracks the peak amplitude of each hop of a sample stream.
#[derive(Debug, Default)]
pub(super) struct HopPeaks {
    pub(super) peaks: Vec<f32>,
    current: f32,
    filled: usize,
}

impl HopPeaks {
    pub(super) fn push(&mut self, samples: &[f32]) {
        for &s in samples {
            self.current = self.current.max(s.abs());
            self.filled += 1;
            if self.filled == HOP_LENGTH {
                self.peaks.push(self.current);
                self.current = 0.0;
                self.filled = 0;
            }
        }
    }

    pub(super) fn finish(mut self) -> Vec<f32> {
        if self.filled > 0 {
            self.peaks.push(self.current);
        }
        self.peaks
    }
}
