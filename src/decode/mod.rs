//! From logits to text: tokenizer and special tokens, prompts, suppression rules, language
//! detection and greedy decoding.

pub mod greedy;
pub mod languages;
pub mod suppress;
pub mod tokenizer;

pub use greedy::{detect_language, greedy_decode, DecodeOptions};
pub use suppress::SuppressMasks;
pub use tokenizer::{Task, WhisperTokenizer};
