//! From logits to text: tokenizer and special tokens, prompts, suppression and timestamp
//! rules, language detection, window decoding (greedy, sampled or beam search) with
//! temperature fallback, and the long-form walk over an audio file's 30 s windows.

pub mod alignment;
pub mod beam;
pub mod detect;
pub mod fallback;
pub mod languages;
pub mod longform;
pub mod options;
mod precompiled_check;
pub mod suppress;
pub mod timestamps;
pub mod tokenizer;
pub mod window;

pub use detect::detect_language;
pub use options::DecodeOptions;
pub use suppress::SuppressMasks;
pub use tokenizer::{Task, WhisperTokenizer};
