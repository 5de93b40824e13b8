//! Silero VAD's forward pass on the CPU, one 512-sample chunk at a time.
//!
//! Per chunk: the last 64 samples of the previous chunk are prepended (576 samples), the end
//! is reflect-padded by 64 (640), an STFT written as a convolution (window 256, hop 128, 129
//! bins) gives 4 magnitude frames, four conv+ReLU layers reduce them to one 128-d vector, an
//! LSTM cell carries state across chunks, and ReLU → 1×1 conv → sigmoid gives P(speech).

use std::sync::Arc;

use super::weights::{Conv, SileroWeights};
use super::{CHUNK, CONTEXT, FFT_BINS, HIDDEN, HOP, SAMPLE_RATE, WINDOW};
use crate::{Error, Result};

/// Samples the network sees per chunk: the carried context and the new chunk.
const INPUT: usize = CONTEXT + CHUNK;
/// Reflect padding appended before the STFT.
const PAD: usize = 64;
/// STFT frames per chunk: (576 + 64 − 256) / 128 + 1.
const FRAMES: usize = (INPUT + PAD - WINDOW) / HOP + 1;

/// A streaming Silero VAD: feed consecutive 512-sample chunks of 16 kHz audio, get one speech
/// probability per chunk. Cheap to create; the weights are shared.
#[derive(Debug, Clone)]
pub struct SileroVad {
    weights: Arc<SileroWeights>,
    h: Vec<f32>,
    c: Vec<f32>,
    context: [f32; CONTEXT],
}

impl SileroVad {
    /// A detector for audio at `sample_rate`; only 16 kHz is supported (resample first).
    pub fn new(weights: Arc<SileroWeights>, sample_rate: u32) -> Result<Self> {
        if sample_rate != SAMPLE_RATE {
            return Err(Error::InvalidInput(format!(
                "voice activity detection runs on {SAMPLE_RATE} Hz audio, got {sample_rate} Hz; \
                 resample first (whisper_clsr::audio::resample)"
            )));
        }
        Ok(SileroVad {
            weights,
            h: vec![0.0; HIDDEN],
            c: vec![0.0; HIDDEN],
            context: [0.0; CONTEXT],
        })
    }

    /// Forgets all state, as at the start of a new stream.
    pub fn reset(&mut self) {
        self.h.fill(0.0);
        self.c.fill(0.0);
        self.context = [0.0; CONTEXT];
    }

    /// The speech probability of the next 512-sample chunk.
    pub fn process_chunk(&mut self, chunk: &[f32]) -> Result<f32> {
        if chunk.len() != CHUNK {
            return Err(Error::InvalidInput(format!(
                "voice activity detection takes chunks of {CHUNK} samples, got {}",
                chunk.len()
            )));
        }
        if let Some(i) = chunk.iter().position(|s| !s.is_finite()) {
            return Err(Error::InvalidInput(format!(
                "audio for voice activity detection has a non-finite sample ({}) at index {i}",
                chunk[i]
            )));
        }
        let mut input = [0.0f32; INPUT + PAD];
        input[..CONTEXT].copy_from_slice(&self.context);
        input[CONTEXT..INPUT].copy_from_slice(chunk);
        for i in 0..PAD {
            input[INPUT + i] = input[INPUT - 2 - i];
        }
        self.context.copy_from_slice(&chunk[CHUNK - CONTEXT..]);

        let weights = Arc::clone(&self.weights);
        let w = &*weights;
        let mut x = stft_magnitude(&w.stft_basis, &input);
        let mut len = FRAMES;
        for (layer, stride) in w.encoder.iter().zip([1, 2, 2, 1]) {
            (x, len) = conv1d_relu(layer, &x, len, stride);
        }
        debug_assert_eq!((x.len(), len), (HIDDEN, 1));
        self.lstm_step(&x);
        let logit = w.out_bias
            + self
                .h
                .iter()
                .zip(&w.out_weight)
                .map(|(h, w)| h.max(0.0) * w)
                .sum::<f32>();
        Ok(sigmoid(logit))
    }

    /// Probabilities for a whole recording, one per 512 samples; the last partial chunk is
    /// zero-padded. Continues from the current state (call [`reset`](Self::reset) first for a
    /// fresh recording).
    pub fn probabilities(&mut self, samples: &[f32]) -> Result<Vec<f32>> {
        samples
            .chunks(CHUNK)
            .map(|chunk| {
                let mut padded = [0.0f32; CHUNK];
                padded[..chunk.len()].copy_from_slice(chunk);
                self.process_chunk(&padded)
            })
            .collect()
    }

    fn lstm_step(&mut self, x: &[f32]) {
        let w = &*self.weights;
        let mut gates = w.bias.clone();
        for (g, gate) in gates.iter_mut().enumerate() {
            let wi = &w.weight_ih[g * HIDDEN..(g + 1) * HIDDEN];
            let wh = &w.weight_hh[g * HIDDEN..(g + 1) * HIDDEN];
            *gate += dot(wi, x) + dot(wh, &self.h);
        }
        for j in 0..HIDDEN {
            let i = sigmoid(gates[j]);
            let f = sigmoid(gates[HIDDEN + j]);
            let g = gates[2 * HIDDEN + j].tanh();
            let o = sigmoid(gates[3 * HIDDEN + j]);
            self.c[j] = f * self.c[j] + i * g;
            self.h[j] = o * self.c[j].tanh();
        }
    }
}

fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(a, b)| a * b).sum()
}

/// |STFT| via the basis convolution: `[FFT_BINS, FRAMES]`, channel-major.
fn stft_magnitude(basis: &[f32], input: &[f32]) -> Vec<f32> {
    let mut out = vec![0.0f32; FFT_BINS * FRAMES];
    for t in 0..FRAMES {
        let frame = &input[t * HOP..t * HOP + WINDOW];
        for k in 0..FFT_BINS {
            let re = dot(&basis[k * WINDOW..(k + 1) * WINDOW], frame);
            let im = dot(
                &basis[(FFT_BINS + k) * WINDOW..(FFT_BINS + k + 1) * WINDOW],
                frame,
            );
            out[k * FRAMES + t] = (re * re + im * im).sqrt();
        }
    }
    out
}

/// Conv1d (padding kernel/2) followed by ReLU on `[in, len]`; returns `[out, new_len]`.
fn conv1d_relu(conv: &Conv, x: &[f32], len: usize, stride: usize) -> (Vec<f32>, usize) {
    let pad = conv.kernel / 2;
    let out_len = (len + 2 * pad - conv.kernel) / stride + 1;
    let mut out = vec![0.0f32; conv.out_channels * out_len];
    for o in 0..conv.out_channels {
        for t in 0..out_len {
            let mut acc = conv.bias[o];
            for i in 0..conv.in_channels {
                let w = &conv.weight[(o * conv.in_channels + i) * conv.kernel..][..conv.kernel];
                for (k, w) in w.iter().enumerate() {
                    let pos = (t * stride + k).wrapping_sub(pad);
                    if pos < len {
                        acc += w * x[i * len + pos];
                    }
                }
            }
            out[o * out_len + t] = acc.max(0.0);
        }
    }
    (out, out_len)
}
