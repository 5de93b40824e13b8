//! `config.json` of a Hugging Face Whisper checkpoint.

use serde::Deserialize;

use crate::{Error, Result};

/// The architecture numbers the runtime needs, with the token lists to suppress.
#[derive(Clone, Debug, Deserialize)]
pub struct WhisperConfig {
    pub d_model: usize,
    pub encoder_layers: usize,
    pub decoder_layers: usize,
    pub encoder_attention_heads: usize,
    pub decoder_attention_heads: usize,
    pub encoder_ffn_dim: usize,
    pub decoder_ffn_dim: usize,
    pub num_mel_bins: usize,
    pub vocab_size: usize,
    #[serde(default = "default_source_positions")]
    pub max_source_positions: usize,
    #[serde(default = "default_target_positions")]
    pub max_target_positions: usize,
    /// Tokens never sampled (from the checkpoint; empty means "use the built-in list").
    #[serde(default)]
    pub suppress_tokens: Vec<u32>,
    /// Tokens not sampled at the first generated position.
    #[serde(default)]
    pub begin_suppress_tokens: Vec<u32>,
}

fn default_source_positions() -> usize {
    1500
}

fn default_target_positions() -> usize {
    448
}

impl WhisperConfig {
    /// Parses and sanity-checks `config.json` text.
    pub fn from_json(text: &[u8]) -> Result<WhisperConfig> {
        let config: WhisperConfig = serde_json::from_slice(text)
            .map_err(|e| Error::Model(format!("config.json is not a Whisper config: {e}")))?;
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> Result<()> {
        let bad = |what: String| Err(Error::Model(format!("config.json: {what}")));
        if self.d_model == 0 || self.vocab_size == 0 || self.num_mel_bins == 0 {
            return bad("d_model, vocab_size and num_mel_bins must be positive".into());
        }
        for (name, heads) in [
            ("encoder_attention_heads", self.encoder_attention_heads),
            ("decoder_attention_heads", self.decoder_attention_heads),
        ] {
            if heads == 0 || !self.d_model.is_multiple_of(heads) {
                return bad(format!(
                    "{name} = {heads} does not divide d_model = {}",
                    self.d_model
                ));
            }
        }
        if self.max_source_positions * 2 != crate::audio::N_FRAMES {
            return bad(format!(
                "max_source_positions = {} but 30 s of audio gives {} encoder frames",
                self.max_source_positions,
                crate::audio::N_FRAMES / 2
            ));
        }
        Ok(())
    }

    pub fn head_dim(&self) -> usize {
        self.d_model / self.encoder_attention_heads
    }
}
