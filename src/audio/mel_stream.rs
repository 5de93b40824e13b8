//! Whisper's whole-recording log-mel computed as the samples arrive, holding only the raw
//! log10 mel of the frames so far (not the samples): the clamp to 80 dB below the recording's
//! peak needs the global maximum, so it is applied once, in `finish`. The result equals
//! [`LogMel::compute_full`] bit for bit (same frames, same arithmetic; tests/long_audio.rs).

use super::long_mel::{HopPeaks, LongMel};
use super::mel::{clamp_and_scale, log10_power, FrameScratch, LogMel};
use super::{HOP_LENGTH, N_FFT, N_SAMPLES};
use crate::{Error, Result};

/// Reflect padding on each side of the signal (torch.stft center=True).
const HALF: usize = N_FFT / 2;
/// Consumed samples are dropped from the buffer once this many have piled up.
const COMPACT_AT: usize = 1 << 16;

/// `push` 16 kHz mono samples in pieces of any size, then `finish` for the [`LongMel`].
pub struct LogMelStream {
    mel: LogMel,
    scratch: FrameScratch,
    column: Vec<f32>,
    /// Real samples pushed.
    samples: usize,
    /// Before the left reflect pad can be built: the signal's first samples. After: the
    /// reflect-padded signal from padded index `buffer_start` on.
    buffer: Vec<f32>,
    buffer_start: usize,
    padded: bool,
    frames_done: usize,
    /// Raw log10 mel power, frame-major.
    raw: Vec<f32>,
    max: f32,
    peaks: HopPeaks,
}

impl LogMelStream {
    pub fn new(n_mels: usize) -> Result<Self> {
        let mel = LogMel::new(n_mels)?;
        Ok(Self {
            scratch: FrameScratch::new(&mel),
            column: vec![0.0; n_mels],
            mel,
            samples: 0,
            buffer: Vec::new(),
            buffer_start: 0,
            padded: false,
            frames_done: 0,
            raw: Vec::new(),
            max: f32::NEG_INFINITY,
            peaks: HopPeaks::default(),
        })
    }

    /// Adds samples; NaN/inf are taken as silence (see [`super::sanitize_non_finite`]).
    pub fn push(&mut self, samples: &[f32]) -> Result<()> {
        let mut block = [0.0f32; 4096];
        for piece in samples.chunks(block.len()) {
            let block = &mut block[..piece.len()];
            for (b, &s) in block.iter_mut().zip(piece) {
                *b = if s.is_finite() { s } else { 0.0 };
            }
            self.peaks.push(block);
            self.samples += block.len();
            self.extend(block, usize::MAX)?;
        }
        Ok(())
    }

    /// The spectrogram of everything pushed followed by 30 s of silence, normalised.
    pub fn finish(mut self) -> Result<LongMel> {
        if self.samples == 0 {
            return Err(Error::Audio(
                "audio is empty: log-mel needs at least one sample".into(),
            ));
        }
        // The 30 s of silence, then the right reflect pad (of those zeros: zeros too).
        let frames = (self.samples + N_SAMPLES) / HOP_LENGTH;
        let zeros = [0.0f32; 4096];
        while self.frames_done < frames {
            self.extend(&zeros, frames)?;
        }
        clamp_and_scale(&mut self.raw, self.max);
        Ok(LongMel {
            n_mels: self.mel.n_mels(),
            frames,
            samples: self.samples,
            data: self.raw,
            hop_peaks: self.peaks.finish(),
        })
    }

    /// Appends signal samples and computes every frame they complete, up to `max_frames`.
    fn extend(&mut self, x: &[f32], max_frames: usize) -> Result<()> {
        self.buffer.extend_from_slice(x);
        if !self.padded {
            // The left pad reflects x[1..=HALF]: wait for them.
            if self.buffer.len() <= HALF {
                return Ok(());
            }
            let mut padded = Vec::with_capacity(self.buffer.len() + HALF);
            padded.extend((1..=HALF).rev().map(|i| self.buffer[i]));
            padded.extend_from_slice(&self.buffer);
            self.buffer = padded;
            self.padded = true;
        }
        let available = self.buffer_start + self.buffer.len();
        while self.frames_done < max_frames && self.frames_done * HOP_LENGTH + N_FFT <= available {
            let at = self.frames_done * HOP_LENGTH - self.buffer_start;
            self.mel.frame_power(
                &self.buffer[at..at + N_FFT],
                &mut self.scratch,
                &mut self.column,
            )?;
            for &p in &self.column {
                let v = log10_power(p);
                self.max = self.max.max(v);
                self.raw.push(v);
            }
            self.frames_done += 1;
        }
        let consumed = self.frames_done * HOP_LENGTH - self.buffer_start;
        if consumed >= COMPACT_AT {
            self.buffer.drain(..consumed);
            self.buffer_start += consumed;
        }
        Ok(())
    }
}

/// [`LongMel`] of samples already in memory, through [`LogMelStream`].
pub fn long_mel(samples_16k: &[f32], n_mels: usize) -> Result<LongMel> {
    let mut stream = LogMelStream::new(n_mels)?;
    stream.push(samples_16k)?;
    stream.finish()
}
