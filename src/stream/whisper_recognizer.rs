//! [`WhisperRecognizer`]: a Whisper model behind the live policy's [`Recognizer`], shared by
//! the CLI (`whisper-clsr stream`, which holds `&Whisper`) and the browser bindings (which
//! hold an `Rc<Whisper>`).

use std::ops::Deref;

use super::hypothesis::{hypothesis_from_transcript, RecognizedSegment};
use super::live::Recognizer;
use crate::decode::DecodeOptions;
use crate::{Result, TranscribeOptions, Whisper};

/// Decodes greedily, or with a beam search ([`WhisperRecognizer::with_beam_size`]), at
/// temperature 0 only (no fallback, so an update costs one decoding) with segment and word
/// timestamps; `language` `None` detects it on every update. Expert packs loaded in
/// the model route as in offline transcription.
pub struct WhisperRecognizer<W> {
    whisper: W,
    options: TranscribeOptions,
}

impl<W: Deref<Target = Whisper>> WhisperRecognizer<W> {
    pub fn new(whisper: W, language: Option<String>) -> Self {
        WhisperRecognizer {
            whisper,
            options: TranscribeOptions {
                language,
                decode: DecodeOptions {
                    word_timestamps: true,
                    temperatures: vec![0.0],
                    ..DecodeOptions::default()
                },
                ..TranscribeOptions::default()
            },
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
        let transcript = self
            .whisper
            .transcribe(audio, &options, &mut |_| Ok(()))
            .await?;
        Ok(hypothesis_from_transcript(&transcript))
    }
}
