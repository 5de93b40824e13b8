//! [`WhisperRecognizer`]: a Whisper model behind the live policy's [`Recognizer`], shared by
//! the CLI (`whisper-clsr stream`, which holds `&Whisper`) and the browser bindings (which
//! hold an `Rc<Whisper>`).

use std::ops::Deref;

use super::hypothesis::{hypothesis_from_segments, RecognizedSegment};
use super::live::Recognizer;
use crate::decode::fallback::is_repetitive;
use crate::decode::DecodeOptions;
use crate::{Result, TranscribeOptions, Whisper};

/// Decodes the buffer in one window ([`DecodeOptions::first_window_only`]) greedily, or with
/// a beam search ([`WhisperRecognizer::with_beam_size`]), at temperature 0 with segment and
/// word timestamps, so an update costs one encoding and one decoding; `language` `None`
/// detects it on every update. Expert packs loaded in the model route as
/// in offline transcription.
///
/// A decoding that repeats itself (compression ratio above the long-form threshold: the
/// model looping on "1. 1. 1." or the like) is decoded again at the long-form fallback
/// temperatures; what is still repetitive then is left out of the hypothesis, so that a
/// loop is never committed nor, through the prompt, fed to the next update.
pub struct WhisperRecognizer<W> {
    whisper: W,
    options: TranscribeOptions,
    /// The temperatures above 0 of the long-form fallback.
    fallback_temperatures: Vec<f32>,
}

impl<W: Deref<Target = Whisper>> WhisperRecognizer<W> {
    pub fn new(whisper: W, language: Option<String>) -> Self {
        let long_form = DecodeOptions::default();
        let fallback_temperatures = long_form
            .temperatures
            .iter()
            .copied()
            .filter(|&t| t > 0.0)
            .collect();
        WhisperRecognizer {
            whisper,
            options: TranscribeOptions {
                language,
                decode: DecodeOptions {
                    word_timestamps: true,
                    temperatures: vec![0.0],
                    first_window_only: true,
                    ..long_form
                },
                ..TranscribeOptions::default()
            },
            fallback_temperatures,
        }
    }

    /// Decodes with a beam search of `beam_size` hypotheses (1, the default, decodes
    /// greedily; 0 is refused by the decoder's option checks): more decoder work per update.
    pub fn with_beam_size(mut self, beam_size: usize) -> Self {
        self.options.decode.beam_size = beam_size;
        self
    }

    pub fn whisper(&self) -> &Whisper {
        &self.whisper
    }
}

impl<W: Deref<Target = Whisper>> Recognizer for WhisperRecognizer<W> {
    async fn recognize(&mut self, audio: &[f32], prompt: &str) -> Result<Vec<RecognizedSegment>> {
        let mut options = self.options.clone();
        options.decode.initial_prompt = (!prompt.is_empty()).then(|| prompt.to_string());
        let mut transcript = self
            .whisper
            .transcribe(audio, &options, &mut |_| Ok(()))
            .await?;
        if transcript
            .segments
            .iter()
            .any(|s| is_repetitive(&options.decode, s.compression_ratio))
        {
            options.decode.temperatures = self.fallback_temperatures.clone();
            transcript = self
                .whisper
                .transcribe(audio, &options, &mut |_| Ok(()))
                .await?;
        }
        Ok(hypothesis_from_segments(
            &transcript.segments,
            &options.decode,
        ))
    }
}
