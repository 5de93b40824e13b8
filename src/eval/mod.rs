//! Evaluation: Whisper's text normalisers and word/character error rates.
//!
//! Pure Rust without a GPU, so it builds for every target, wasm32 included. The CLI's `wer`,
//! `normalize` and `eval` commands and the trainer's validation (docs/training.md) use it.
//! - [`EnglishTextNormalizer`] and [`BasicTextNormalizer`] are ports of openai/whisper's
//!   `whisper/normalizers` (English numbers and spellings, contractions, symbols).
//! - [`ErrorRates::score`] gives the corpus WER and CER of line-aligned texts as jiwer
//!   computes them; languages written without spaces are scored by character
//!   ([`ScoringUnit::for_language`]).
//! - [`read_manifest`] reads the JSONL corpora `whisper-clsr eval` transcribes, and
//!   [`read_corpus`] also Common Voice and FLEURS releases (the trainer reads the same).

mod basic;
mod corpus;
mod digits;
mod edit_distance;
mod english;
mod english_numbers;
mod english_spelling;
mod error_rate;
mod manifest;
mod normalizer;

pub use basic::{remove_symbols, remove_symbols_and_diacritics, BasicTextNormalizer};
pub use corpus::{detect_layout, read_corpus, read_tsv, Layout, Split};
pub use edit_distance::{align, EditCounts};
pub use english::EnglishTextNormalizer;
pub use english_numbers::EnglishNumberNormalizer;
pub use english_spelling::EnglishSpellingNormalizer;
pub use error_rate::{
    character_errors, word_errors, ErrorRates, LineCountMismatch, ScoringUnit,
    LANGUAGES_WITHOUT_SPACES,
};
pub use manifest::{read_manifest, ManifestEntry};
pub use normalizer::TextNormalizer;
