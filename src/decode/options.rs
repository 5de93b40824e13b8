//! Decoding options with OpenAI `transcribe()`'s defaults.

use super::beam::BeamOptions;

/// How to decode: timestamps, temperature fallback and its thresholds, prompts, sampling.
#[derive(Clone, Debug, PartialEq)]
pub struct DecodeOptions {
    /// Most tokens to generate per 30 s window (EOT not counted; the decoder's context limits
    /// it further).
    pub max_new_tokens: usize,
    /// Segment timestamps (timestamp tokens and their rules). Without them each window is one
    /// segment.
    pub timestamps: bool,
    /// Per-word times from cross-attention (needs `timestamps`).
    pub word_timestamps: bool,
    /// Latest first timestamp of a window, in seconds.
    pub max_initial_timestamp: Option<f32>,
    /// Temperatures tried in order until a decoding passes the checks below.
    pub temperatures: Vec<f32>,
    /// Retry at the next temperature when gzip compression ratio of the text exceeds this
    /// (repetition).
    pub compression_ratio_threshold: Option<f32>,
    /// Retry at the next temperature when the average log-probability is below this.
    pub logprob_threshold: Option<f32>,
    /// Treat a window as silence when `<|nospeech|>` is more likely than this (and the
    /// average log-probability is below `logprob_threshold`).
    pub no_speech_threshold: Option<f32>,
    /// Candidates sampled at each temperature above 0; the most likely one is kept.
    pub best_of: usize,
    /// Hypotheses of the beam search at temperature 0; 1 decodes greedily.
    pub beam_size: usize,
    /// Beam search waits for `round(beam_size × patience)` finished sequences.
    pub patience: f32,
    /// Length penalty α of the ranking of sampled candidates and beam-search sequences,
    /// ((5 + len) / 6)^α; `None`: divide by length.
    pub length_penalty: Option<f32>,
    /// Feed the previous windows' text as a prompt.
    pub condition_on_previous_text: bool,
    /// Text placed before the first window as if it had been said before.
    pub initial_prompt: Option<String>,
    /// Seed of the sampling RNG (sampling happens only on fallback).
    pub seed: u64,
    /// Decode the first 30 s window only. Live transcription's buffer fits in it, and the
    /// next window of the long-form loop would be the fraction of a second after the last
    /// word, where Whisper writes words into silence (tiny.en: " 1.") at the cost of another
    /// encoder pass.
    pub first_window_only: bool,
    /// Benchmark option, not for transcription: end-of-text is never picked, so every window
    /// decodes exactly `max_new_tokens` tokens (an error where the decoder has no room for
    /// them) and the text runs on past the speech. The browser benchmark forces its decode
    /// length with it (`benchmarkTokens`, docs/benchmarks.md).
    pub suppress_eot: bool,
}

impl Default for DecodeOptions {
    fn default() -> Self {
        DecodeOptions {
            // Whisper's default sample length: half the decoder context.
            max_new_tokens: 224,
            timestamps: true,
            word_timestamps: false,
            max_initial_timestamp: Some(1.0),
            temperatures: vec![0.0, 0.2, 0.4, 0.6, 0.8, 1.0],
            compression_ratio_threshold: Some(2.4),
            logprob_threshold: Some(-1.0),
            no_speech_threshold: Some(0.6),
            best_of: 5,
            beam_size: 1,
            patience: 1.0,
            length_penalty: None,
            condition_on_previous_text: true,
            initial_prompt: None,
            seed: 0,
            first_window_only: false,
            suppress_eot: false,
        }
    }
}

impl DecodeOptions {
    /// The beam search settings.
    pub fn beam(&self) -> BeamOptions {
        BeamOptions {
            beam_size: self.beam_size,
            patience: self.patience,
        }
    }

    /// Plain greedy decoding of each window without timestamps and without fallback.
    pub fn greedy() -> DecodeOptions {
        DecodeOptions {
            timestamps: false,
            temperatures: vec![0.0],
            ..DecodeOptions::default()
        }
    }
}
