//! The Whisper network: configuration, weights and the encoder/decoder forward passes,
//! written against the kernel wrappers in [`crate::ops`].

pub mod block;
pub mod clsr;
pub mod config;
pub mod decoder;
pub mod encoder;
pub mod layers;
pub mod step_weights;
pub mod weights;

pub use block::{Block, BlockTape, Dense, FfnStrategy, LayerId};
pub use clsr::{LanguageExperts, Route};
pub use config::WhisperConfig;
pub use decoder::{Decoder, DecoderState, GreedyPick, StepLogits};
pub use encoder::Encoder;
pub use weights::WeightFile;

use crate::gpu::Gpu;
use crate::Result;

/// The bare Whisper network: encoder and decoder weights on the GPU with their config
/// (the transcription API around it is [`crate::Whisper`]).
pub struct WhisperNetwork {
    pub config: WhisperConfig,
    pub encoder: Encoder,
    pub decoder: Decoder,
}

impl WhisperNetwork {
    /// Uploads every tensor of `file`, checking names and shapes against `config` (and first
    /// that `config` does not contradict the tensors).
    pub fn load(gpu: &Gpu, config: WhisperConfig, file: &WeightFile) -> Result<WhisperNetwork> {
        config.check_weights(file)?;
        let encoder = Encoder::load(gpu, &config, file)?;
        let decoder = Decoder::load(gpu, &config, file)?;
        Ok(WhisperNetwork {
            config,
            encoder,
            decoder,
        })
    }
}
