//! One error type for the whole runtime. Every message says what went wrong and, where
//! there is one, what the user can do about it.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The audio could not be decoded or is unusable (empty, unsupported format, ...).
    #[error("audio: {0}")]
    Audio(String),
    /// A model directory, config or weight file is missing, truncated or inconsistent.
    #[error("model: {0}")]
    Model(String),
    /// Converting a model from another format failed.
    #[error("convert: {0}")]
    Convert(String),
    /// The tokenizer could not be loaded or lacks a token Whisper needs.
    #[error("tokenizer: {0}")]
    Tokenizer(String),
    /// No usable GPU, a missing limit/feature, or a failed GPU operation.
    #[error("gpu: {0}")]
    Gpu(String),
    /// A caller passed an argument the runtime cannot work with.
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// The caller stopped the work (e.g. an aborted transcription).
    #[error("cancelled")]
    Cancelled,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// Wraps an I/O error with the path it happened on.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}
