//! The Hugging Face `config.json` written next to the converted weights, with the special
//! token ids read from `tokenizer.json` and the suppression lists of the CTranslate2 package.

use serde::{Deserialize, Serialize};

use crate::model::WhisperConfig;
use crate::{Error, Result};

/// The `config.json` written next to converted weights: the model's [`WhisperConfig`]
/// plus the keys other Hugging Face loaders (transformers, candle) expect.
#[derive(Clone, Debug, Serialize)]
pub struct HfConfigFile {
    pub model_type: &'static str,
    pub architectures: [&'static str; 1],
    /// Absent suppression lists (no CTranslate2 config) leave loaders their defaults.
    #[serde(flatten)]
    pub whisper: WhisperConfig,
    pub num_hidden_layers: usize,
    pub activation_function: &'static str,
    pub scale_embedding: bool,
    pub is_encoder_decoder: bool,
    pub tie_word_embeddings: bool,
    pub use_cache: bool,
    pub torch_dtype: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bos_token_id: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub eos_token_id: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pad_token_id: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decoder_start_token_id: Option<u32>,
}

/// The parts of a CTranslate2 Whisper `config.json` that matter here.
#[derive(Debug, Default, Deserialize)]
pub struct Ct2Config {
    #[serde(default)]
    pub suppress_ids: Option<Vec<u32>>,
    #[serde(default)]
    pub suppress_ids_begin: Option<Vec<u32>>,
    /// Decoder (layer, head) pairs for word timestamps.
    #[serde(default)]
    pub alignment_heads: Option<Vec<(usize, usize)>>,
}

impl Ct2Config {
    pub fn from_json(text: &[u8]) -> Result<Self> {
        serde_json::from_slice(text)
            .map_err(|e| Error::Convert(format!("CTranslate2 config.json is not valid: {e}")))
    }
}

#[derive(Deserialize)]
struct AddedToken {
    id: u32,
    content: String,
}

#[derive(Deserialize)]
struct TokenizerJson {
    #[serde(default)]
    added_tokens: Vec<AddedToken>,
}

/// Special token ids of a Whisper `tokenizer.json`.
#[derive(Clone, Debug, Default)]
pub struct SpecialTokens {
    pub end_of_text: Option<u32>,
    pub start_of_transcript: Option<u32>,
    /// Highest id among the added tokens (must fit in the model's vocabulary).
    pub max_added_id: Option<u32>,
}

impl SpecialTokens {
    pub fn from_tokenizer_json(text: &[u8]) -> Result<Self> {
        let tok: TokenizerJson = serde_json::from_slice(text)
            .map_err(|e| Error::Convert(format!("tokenizer.json is not valid: {e}")))?;
        let find = |content: &str| {
            tok.added_tokens
                .iter()
                .find(|t| t.content == content)
                .map(|t| t.id)
        };
        Ok(Self {
            end_of_text: find("<|endoftext|>"),
            start_of_transcript: find("<|startoftranscript|>"),
            max_added_id: tok.added_tokens.iter().map(|t| t.id).max(),
        })
    }
}

pub fn build(
    config: &WhisperConfig,
    dtype: &'static str,
    tokens: &SpecialTokens,
    ct2: &Ct2Config,
) -> Result<HfConfigFile> {
    let vocab = config.vocab_size;
    if let Some(max) = tokens.max_added_id.filter(|&m| m as usize >= vocab) {
        return Err(Error::Convert(format!(
            "tokenizer.json has token id {max} but the model's vocabulary has {vocab} entries; \
             the tokenizer belongs to another model"
        )));
    }
    for (key, list) in [
        ("suppress_ids", &ct2.suppress_ids),
        ("suppress_ids_begin", &ct2.suppress_ids_begin),
    ] {
        if let Some(bad) = list.iter().flatten().find(|&&id| id as usize >= vocab) {
            return Err(Error::Convert(format!(
                "CTranslate2 config.json: {key} contains {bad}, outside the vocabulary of {vocab}"
            )));
        }
    }
    Ok(HfConfigFile {
        model_type: "whisper",
        architectures: ["WhisperForConditionalGeneration"],
        whisper: WhisperConfig {
            suppress_tokens: ct2.suppress_ids.clone().unwrap_or_default(),
            begin_suppress_tokens: ct2.suppress_ids_begin.clone().unwrap_or_default(),
            ..config.clone()
        },
        num_hidden_layers: config.encoder_layers,
        activation_function: "gelu",
        scale_embedding: false,
        is_encoder_decoder: true,
        tie_word_embeddings: true,
        use_cache: true,
        torch_dtype: dtype,
        // HF's Whisper tokenizer uses <|endoftext|> as bos, eos and pad.
        bos_token_id: tokens.end_of_text,
        eos_token_id: tokens.end_of_text,
        pad_token_id: tokens.end_of_text,
        decoder_start_token_id: tokens.start_of_transcript,
    })
}
