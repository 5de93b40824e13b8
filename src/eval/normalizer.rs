//! One type over the normalisers, for callers that pick one at run time (the CLI's
//! `normalize` and `wer`).

use super::basic::BasicTextNormalizer;
use super::english::EnglishTextNormalizer;

/// How transcripts are normalised before scoring.
pub enum TextNormalizer {
    /// Whisper's English normaliser (numbers, spellings, contractions, ...).
    English(Box<EnglishTextNormalizer>),
    /// Whisper's basic normaliser, for other languages.
    Basic(BasicTextNormalizer),
    /// Whitespace runs collapsed and the ends trimmed; case and punctuation kept.
    WhitespaceOnly,
}

impl TextNormalizer {
    pub fn english() -> Self {
        TextNormalizer::English(Box::default())
    }

    /// See [`BasicTextNormalizer::new`] for the options.
    pub fn basic(remove_diacritics: bool, split_letters: bool) -> Self {
        TextNormalizer::Basic(BasicTextNormalizer::new(remove_diacritics, split_letters))
    }

    pub fn normalize(&self, text: &str) -> String {
        match self {
            TextNormalizer::English(normalizer) => normalizer.normalize(text),
            TextNormalizer::Basic(normalizer) => normalizer.normalize(text),
            TextNormalizer::WhitespaceOnly => text.split_whitespace().collect::<Vec<_>>().join(" "),
        }
    }
}
