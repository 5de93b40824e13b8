//! [`WhisperRecognizer`]: a Whisper model behind the live policy's [`Recognizer`], shared by
//! the CLI (`whisper-clsr stream`, which holds `&Whisper`) and the browser bindings (which
//! hold an `Rc<Whisper>`).

use std::ops::Deref;

use super::hypothesis::{hypothesis_from_segments, Recognition};
use super::live::Recognizer;
use crate::audio::SAMPLE_RATE;
use crate::decode::fallback::is_repetitive;
use crate::decode::DecodeOptions;
use crate::{Event, Result, TranscribeOptions, Whisper};

/// Tokens a live decoding may generate per second of buffer: twice the 224 that Whisper
/// decodes at most in a 30 s window. Speech does not fill it; a decoding that loops
/// ("1. 1. 1. ...") stops there instead of at 224 tokens whatever the buffer's length.
const TOKENS_PER_SECOND: f64 = 15.0;
/// Tokens a decoding of the shortest buffer may still generate: a few words and their
/// timestamps.
const MIN_TOKENS: usize = 16;

/// Most tokens one live decoding of `seconds` of audio may generate, at most `max`.
pub fn token_budget(seconds: f64, max: usize) -> usize {
    ((seconds.max(0.0) * TOKENS_PER_SECOND).ceil() as usize)
        .max(MIN_TOKENS)
        .min(max)
}

/// Decoder work done so far, to see what live transcription costs independently of the
/// device's speed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RecognizerWork {
    /// Buffers decoded.
    pub updates: usize,
    /// Of those, decoded again at the fallback temperatures.
    pub fallbacks: usize,
    /// Tokens generated, every decoding and sampled candidate counted: the decoder steps.
    pub tokens: usize,
}

/// Decodes the buffer in one window ([`DecodeOptions::first_window_only`]) greedily, or with
/// a beam search ([`WhisperRecognizer::with_beam_size`]), at temperature 0 with segment and
/// word timestamps, so an update costs one encoding and one decoding; `language` `None`
/// detects it on every update. Expert packs loaded in the model route as in offline
/// transcription; the [`Recognition`] names the language and the expert.
///
/// A decoding generates at most [`token_budget`] tokens for the buffer's length. One that
/// repeats itself (compression ratio above the long-form threshold: the model looping on
/// "1. 1. 1." or the like) is decoded again at the long-form fallback temperatures, one
/// sample each (long-form transcription takes the best of 5: the next update decodes the
/// buffer again anyway), until one passes the long-form checks; what is still repetitive
/// then is left out of the hypothesis, so that a loop is never committed nor, through the
/// prompt, fed to the next update. An update thus generates at most 6 budgets of tokens.
pub struct WhisperRecognizer<W> {
    whisper: W,
    options: TranscribeOptions,
    /// The temperatures above 0 of the long-form fallback.
    fallback_temperatures: Vec<f32>,
    work: RecognizerWork,
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
                    best_of: 1,
                    first_window_only: true,
                    ..long_form
                },
                ..TranscribeOptions::default()
            },
            fallback_temperatures,
            work: RecognizerWork::default(),
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

    pub fn work(&self) -> RecognizerWork {
        self.work
    }
}

impl<W: Deref<Target = Whisper>> Recognizer for WhisperRecognizer<W> {
    async fn recognize(&mut self, audio: &[f32], prompt: &str) -> Result<Recognition> {
        let mut options = self.options.clone();
        options.decode.initial_prompt = (!prompt.is_empty()).then(|| prompt.to_string());
        options.decode.max_new_tokens = token_budget(
            audio.len() as f64 / f64::from(SAMPLE_RATE),
            options.decode.max_new_tokens,
        );
        let work = &mut self.work;
        let mut count_tokens = |event: Event<'_>| {
            if let Event::Token(_) = event {
                work.tokens += 1;
            }
            Ok(())
        };
        let mut transcript = self
            .whisper
            .transcribe(audio, &options, &mut count_tokens)
            .await?;
        if transcript
            .segments
            .iter()
            .any(|s| is_repetitive(&options.decode, s.compression_ratio))
        {
            options.decode.temperatures = self.fallback_temperatures.clone();
            transcript = self
                .whisper
                .transcribe(audio, &options, &mut count_tokens)
                .await?;
            self.work.fallbacks += 1;
        }
        self.work.updates += 1;
        Ok(Recognition {
            segments: hypothesis_from_segments(&transcript.segments, &options.decode),
            language: Some(transcript.language),
            expert: transcript.expert,
        })
    }
}
