//! The Whisper network: configuration, weights and the encoder/decoder forward passes,
//! written against the kernel wrappers in [`crate::ops`].

pub mod clsr;
pub mod config;
pub mod decoder;
pub mod encoder;
pub mod layers;
pub mod weights;

pub use clsr::{LanguageExperts, Route};
pub use config::WhisperConfig;
pub use decoder::{Decoder, DecoderState};
pub use encoder::Encoder;
pub use weights::WeightFile;

use crate::gpu::Gpu;
use crate::Result;

/// Encoder and decoder weights on the GPU.
pub struct WhisperModel {
    pub config: WhisperConfig,
    pub encoder: Encoder,
    pub decoder: Decoder,
}

impl WhisperModel {
    /// Uploads every tensor of `file`, checking names and shapes against `config` (and first
    /// that `config` does not contradict the tensors).
    pub fn load(gpu: &Gpu, config: WhisperConfig, file: &WeightFile) -> Result<WhisperModel> {
        config.check_weights(file)?;
        let encoder = Encoder::load(gpu, &config, file)?;
        let decoder = Decoder::load(gpu, &config, file)?;
        Ok(WhisperModel {
            config,
            encoder,
            decoder,
        })
    }
}
