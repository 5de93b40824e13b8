//! Whisper's log-mel spectrogram and the librosa/slaney mel filterbank it uses.

use std::sync::Arc;

use realfft::{RealFftPlanner, RealToComplex};

use super::{HOP_LENGTH, N_FFT, N_FRAMES, N_SAMPLES, SAMPLE_RATE};
use crate::{Error, Result};

/// Number of rFFT bins (n_fft/2 + 1).
const N_BINS: usize = N_FFT / 2 + 1;

/// Slaney mel filterbank as `librosa.filters.mel(sr=16000, n_fft=400, n_mels, htk=False,
/// norm='slaney')`; row-major `[n_mels, n_fft/2+1]`.
///
/// Computed in f64 and rounded to f32, exactly as librosa does: the triangle edges are
/// differences of nearby frequencies, and in f32 that cancellation costs ~1e-4 relative error.
/// This one-off table is the only f64 code in the audio path.
pub fn mel_filters(n_mels: usize) -> Vec<f32> {
    let nyquist = SAMPLE_RATE as f64 / 2.0;
    // n_mels + 2 band edges evenly spaced on the mel scale from 0 Hz to Nyquist.
    let max_mel = hz_to_mel(nyquist);
    let edges: Vec<f64> = (0..n_mels + 2)
        .map(|i| mel_to_hz(max_mel * i as f64 / (n_mels + 1) as f64))
        .collect();
    let mut out = vec![0.0f32; n_mels * N_BINS];
    for (m, row) in out.chunks_exact_mut(N_BINS).enumerate() {
        let (lo, mid, hi) = (edges[m], edges[m + 1], edges[m + 2]);
        // Slaney normalisation: each triangle has unit area in Hz (2 / bandwidth).
        let norm = 2.0 / (hi - lo);
        for (k, w) in row.iter_mut().enumerate() {
            let f = k as f64 * SAMPLE_RATE as f64 / N_FFT as f64;
            let rising = (f - lo) / (mid - lo);
            let falling = (hi - f) / (hi - mid);
            *w = (rising.min(falling).max(0.0) * norm) as f32;
        }
    }
    out
}

/// Slaney mel scale (librosa `htk=False`): linear below 1 kHz, logarithmic above.
fn hz_to_mel(hz: f64) -> f64 {
    if hz < MIN_LOG_HZ {
        hz / F_SP
    } else {
        MIN_LOG_MEL + (hz / MIN_LOG_HZ).ln() / log_step()
    }
}

fn mel_to_hz(mel: f64) -> f64 {
    if mel < MIN_LOG_MEL {
        mel * F_SP
    } else {
        MIN_LOG_HZ * (log_step() * (mel - MIN_LOG_MEL)).exp()
    }
}

const F_SP: f64 = 200.0 / 3.0;
const MIN_LOG_HZ: f64 = 1000.0;
const MIN_LOG_MEL: f64 = MIN_LOG_HZ / F_SP;

fn log_step() -> f64 {
    6.4f64.ln() / 27.0
}

/// Whisper log-mel of 16 kHz mono samples, padded/trimmed to 30 s: row-major `[n_mels, 3000]`.
pub fn log_mel_spectrogram(samples_16k: &[f32], n_mels: usize) -> Result<Vec<f32>> {
    LogMel::new(n_mels)?.compute(samples_16k)
}

/// Reusable log-mel extractor: holds the window, the FFT plan and the sparse filterbank, so
/// long-form transcription can compute many 30 s windows without rebuilding them.
pub struct LogMel {
    n_mels: usize,
    window: Vec<f32>,
    fft: Arc<dyn RealToComplex<f32>>,
    /// Per mel band: first non-zero bin and the non-zero weights from there.
    bands: Vec<(usize, Vec<f32>)>,
}

impl LogMel {
    pub fn new(n_mels: usize) -> Result<Self> {
        if n_mels == 0 {
            return Err(Error::InvalidInput("n_mels must be at least 1".into()));
        }
        Ok(Self {
            n_mels,
            window: periodic_hann(N_FFT),
            fft: RealFftPlanner::<f32>::new().plan_fft_forward(N_FFT),
            bands: sparse_bands(&mel_filters(n_mels)),
        })
    }

    pub fn n_mels(&self) -> usize {
        self.n_mels
    }

    /// Log-mel of one 30 s window: row-major `[n_mels, N_FRAMES]`.
    pub fn compute(&self, samples_16k: &[f32]) -> Result<Vec<f32>> {
        if samples_16k.is_empty() {
            return Err(Error::Audio(
                "audio is empty: log-mel needs at least one sample".into(),
            ));
        }
        let mut x = vec![0.0f32; N_SAMPLES];
        let n = samples_16k.len().min(N_SAMPLES);
        x[..n].copy_from_slice(&samples_16k[..n]);
        // NaN/inf samples are silence (see `sanitize_non_finite`).
        super::sanitize_non_finite(&mut x);
        let mut mel = self.mel_power(&reflect_padded(&x), N_FRAMES)?;
        log_compress(&mut mel);
        Ok(mel)
    }

    /// Log-mel of a whole recording for long-form transcription, as OpenAI computes it: the
    /// samples followed by 30 s of silence (so the last window is complete), one frame per
    /// hop, normalised over the whole file. Row-major `[n_mels, frames]`; the first
    /// `samples.len() / HOP_LENGTH` frames hold the audio. Returns the mel and its frame count.
    pub fn compute_full(&self, samples_16k: &[f32]) -> Result<(Vec<f32>, usize)> {
        if samples_16k.is_empty() {
            return Err(Error::Audio(
                "audio is empty: log-mel needs at least one sample".into(),
            ));
        }
        let mut x = Vec::with_capacity(samples_16k.len() + N_SAMPLES);
        x.extend_from_slice(samples_16k);
        x.resize(samples_16k.len() + N_SAMPLES, 0.0);
        super::sanitize_non_finite(&mut x);
        let frames = x.len() / HOP_LENGTH;
        let mut mel = self.mel_power(&reflect_padded(&x), frames)?;
        log_compress(&mut mel);
        Ok((mel, frames))
    }

    /// Mel-filtered power spectrum, `[n_mels, frames]`. STFT frame t starts at t*hop in the
    /// reflect-padded signal (torch.stft center=True); the STFT's last frame is dropped as
    /// Whisper does.
    fn mel_power(&self, padded: &[f32], frames: usize) -> Result<Vec<f32>> {
        let mut out = vec![0.0f32; self.n_mels * frames];
        let mut scratch = FrameScratch::new(self);
        let mut column = vec![0.0f32; self.n_mels];
        for t in 0..frames {
            let src = &padded[t * HOP_LENGTH..t * HOP_LENGTH + N_FFT];
            self.frame_power(src, &mut scratch, &mut column)?;
            for (m, &v) in column.iter().enumerate() {
                out[m * frames + t] = v;
            }
        }
        Ok(out)
    }

    /// Mel-filtered power of one STFT frame: `src` is the frame's N_FFT padded samples,
    /// `out` its `n_mels` band powers. The whole-buffer and the streaming spectrogram
    /// (`super::LogMelStream`) both compute every frame here, so they agree bit for bit.
    pub(super) fn frame_power(
        &self,
        src: &[f32],
        scratch: &mut FrameScratch,
        out: &mut [f32],
    ) -> Result<()> {
        for ((dst, &x), &w) in scratch.frame.iter_mut().zip(src).zip(&self.window) {
            *dst = x * w;
        }
        self.fft
            .process_with_scratch(
                &mut scratch.frame,
                &mut scratch.spectrum,
                &mut scratch.fft_scratch,
            )
            .map_err(|e| Error::Audio(format!("STFT failed: {e}")))?;
        for (p, c) in scratch.power.iter_mut().zip(&scratch.spectrum) {
            *p = c.norm_sqr();
        }
        for (o, (start, weights)) in out.iter_mut().zip(&self.bands) {
            let bins = &scratch.power[*start..*start + weights.len()];
            *o = bins.iter().zip(weights).map(|(p, w)| p * w).sum();
        }
        Ok(())
    }
}

/// Work buffers of [`LogMel::frame_power`], reused from frame to frame.
pub(super) struct FrameScratch {
    frame: Vec<f32>,
    spectrum: Vec<realfft::num_complex::Complex<f32>>,
    fft_scratch: Vec<realfft::num_complex::Complex<f32>>,
    power: Vec<f32>,
}

impl FrameScratch {
    pub(super) fn new(mel: &LogMel) -> Self {
        Self {
            frame: mel.fft.make_input_vec(),
            spectrum: mel.fft.make_output_vec(),
            fft_scratch: mel.fft.make_scratch_vec(),
            power: vec![0.0f32; N_BINS],
        }
    }
}

/// `mel[:, seek .. seek + len]` of a `[n_mels, frames]` log-mel, zero-padded to 3000 frames:
/// one encoder window of a long recording, as OpenAI's `transcribe()` cuts it.
pub fn mel_window(mel: &[f32], frames: usize, n_mels: usize, seek: usize, len: usize) -> Vec<f32> {
    assert!(
        len <= N_FRAMES && seek + len <= frames,
        "mel window out of range"
    );
    let mut out = vec![0.0f32; n_mels * N_FRAMES];
    for m in 0..n_mels {
        let src = &mel[m * frames + seek..m * frames + seek + len];
        out[m * N_FRAMES..m * N_FRAMES + len].copy_from_slice(src);
    }
    out
}

/// Periodic Hann window (torch.hann_window(n, periodic=True)).
fn periodic_hann(n: usize) -> Vec<f32> {
    (0..n)
        .map(|i| 0.5 - 0.5 * (2.0 * std::f32::consts::PI * i as f32 / n as f32).cos())
        .collect()
}

/// Keeps only each band's non-zero span; a band covers a handful of the 201 bins.
fn sparse_bands(filters: &[f32]) -> Vec<(usize, Vec<f32>)> {
    filters
        .chunks_exact(N_BINS)
        .map(|row| {
            let start = row.iter().position(|&w| w != 0.0).unwrap_or(0);
            let end = row.iter().rposition(|&w| w != 0.0).map_or(start, |e| e + 1);
            (start, row[start..end].to_vec())
        })
        .collect()
}

/// Reflect-pads N_FFT/2 on both sides (torch 'reflect': the edge sample itself is not
/// repeated).
fn reflect_padded(x: &[f32]) -> Vec<f32> {
    let half = N_FFT / 2;
    let n = x.len();
    let mut padded = Vec::with_capacity(n + N_FFT);
    padded.extend((1..=half).rev().map(|i| x[i]));
    padded.extend_from_slice(x);
    padded.extend((n - 1 - half..n - 1).rev().map(|i| x[i]));
    padded
}

/// log10 with a 1e-10 floor, dynamic range limited to 8 (80 dB) below the peak, then scaled to
/// roughly [-1, 1] as Whisper was trained on.
fn log_compress(mel: &mut [f32]) {
    let mut max = f32::NEG_INFINITY;
    for v in mel.iter_mut() {
        *v = log10_power(*v);
        max = max.max(*v);
    }
    clamp_and_scale(mel, max);
}

/// The first half of Whisper's log compression: log10 with a 1e-10 floor.
pub(super) fn log10_power(power: f32) -> f32 {
    power.max(1e-10).log10()
}

/// The second half, once the whole recording's `max` log10 power is known: at most 8 (80 dB)
/// below the peak, then scaled by `(x + 4) / 4`.
pub(super) fn clamp_and_scale(log_mel: &mut [f32], max: f32) {
    let floor = max - 8.0;
    for v in log_mel.iter_mut() {
        *v = (v.max(floor) + 4.0) / 4.0;
    }
}
