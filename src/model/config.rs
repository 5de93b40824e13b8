//! `config.json` of a Hugging Face Whisper checkpoint.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::weights::WeightFile;
use crate::{Error, Result};

/// The architecture numbers of a Whisper model, with the token lists to suppress: read from
/// a checkpoint's `config.json`, and written into the one the converter produces.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
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
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub suppress_tokens: Vec<u32>,
    /// Tokens not sampled at the first generated position.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub begin_suppress_tokens: Vec<u32>,
}

/// d_model of the released Whisper sizes (tiny to large), all with 64-wide heads.
const RELEASED_D_MODELS: [usize; 5] = [384, 512, 768, 1024, 1280];
const WHISPER_HEAD_DIM: usize = 64;

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
        if self.max_source_positions != crate::audio::N_FRAMES / 2 {
            return bad(format!(
                "max_source_positions = {} but 30 s of audio gives {} encoder frames",
                self.max_source_positions,
                crate::audio::N_FRAMES / 2
            ));
        }
        Ok(())
    }

    /// Refuses a config that contradicts the weights it is loaded with: d_model, mel bins,
    /// vocabulary, positions, FFN widths and layer counts are read off the tensor shapes and
    /// names, and attention heads must give Whisper's 64-wide heads wherever d_model is one
    /// of the released sizes. A tensor that is missing altogether is left to the loader,
    /// which names it.
    pub fn check_weights(&self, file: &WeightFile) -> Result<()> {
        let shapes: BTreeMap<String, Vec<usize>> = file.shapes().into_iter().collect();
        let origin = file.origin();
        let contradiction = |field: &str, value: usize, tensor: &str, found: usize| {
            let shape = &shapes[tensor];
            let expected = self.expected_shape(tensor);
            Err(Error::Model(format!(
                "config.json says {field} = {value}, but {origin} tensor {tensor} has shape \
                 {shape:?} where this config expects {expected:?}, which means {field} = \
                 {found}; if this config.json belongs to another model, use the one that came \
                 with these weights (or set {field} to {found})"
            )))
        };
        // (field, config value, tensor, which dimension of it)
        let by_shape = [
            ("d_model", self.d_model, "model.encoder.conv1.weight", 0),
            (
                "num_mel_bins",
                self.num_mel_bins,
                "model.encoder.conv1.weight",
                1,
            ),
            (
                "vocab_size",
                self.vocab_size,
                "model.decoder.embed_tokens.weight",
                0,
            ),
            (
                "d_model",
                self.d_model,
                "model.decoder.embed_tokens.weight",
                1,
            ),
            (
                "max_target_positions",
                self.max_target_positions,
                "model.decoder.embed_positions.weight",
                0,
            ),
            (
                "max_source_positions",
                self.max_source_positions,
                "model.encoder.embed_positions.weight",
                0,
            ),
            (
                "encoder_ffn_dim",
                self.encoder_ffn_dim,
                "model.encoder.layers.0.fc1.weight",
                0,
            ),
            (
                "decoder_ffn_dim",
                self.decoder_ffn_dim,
                "model.decoder.layers.0.fc1.weight",
                0,
            ),
        ];
        for (field, value, tensor, dim) in by_shape {
            if let Some(&found) = shapes.get(tensor).and_then(|s| s.get(dim)) {
                if found != value {
                    return contradiction(field, value, tensor, found);
                }
            }
        }
        for (part, field, value) in [
            ("encoder", "encoder_layers", self.encoder_layers),
            ("decoder", "decoder_layers", self.decoder_layers),
        ] {
            let prefix = format!("model.{part}.layers.");
            let indices = shapes.keys().filter_map(|name| {
                let index = name.strip_prefix(&prefix)?.split('.').next()?;
                Some((index.parse::<usize>().ok()?, name))
            });
            let last = indices.max_by_key(|&(i, _)| i);
            let present = last.map_or(0, |(i, _)| i.saturating_add(1));
            if present < value {
                return Err(Error::Model(format!(
                    "config.json says {field} = {value}, but {origin} only has tensors for \
                     {present} {part} layers; this config.json belongs to another model: use \
                     the one that came with these weights (or set {field} to {present})"
                )));
            }
            if let Some((index, name)) = last {
                if index >= value {
                    return Err(Error::Model(format!(
                        "config.json says {field} = {value}, but {origin} has tensors of \
                         {part} layer {index} (e.g. {name}), so the model has at least {} \
                         {part} layers; this config.json belongs to another model: use the \
                         one that came with these weights (or set {field} to {})",
                        index.saturating_add(1),
                        index.saturating_add(1)
                    )));
                }
            }
        }
        for (field, heads) in [
            ("encoder_attention_heads", self.encoder_attention_heads),
            ("decoder_attention_heads", self.decoder_attention_heads),
        ] {
            let expected = self.d_model / WHISPER_HEAD_DIM;
            if RELEASED_D_MODELS.contains(&self.d_model) && heads != expected {
                return Err(Error::Model(format!(
                    "config.json says {field} = {heads} with d_model = {}, but every Whisper of \
                     that width has {expected} heads of {WHISPER_HEAD_DIM} channels (attention \
                     heads cannot be read off the weights, and the wrong count silently garbles \
                     the output); set {field} to {expected}",
                    self.d_model
                )));
            }
        }
        Ok(())
    }

    /// The shape this config gives one of the tensors [`Self::check_weights`] reads sizes from.
    fn expected_shape(&self, tensor: &str) -> Vec<usize> {
        let d = self.d_model;
        match tensor {
            "model.encoder.conv1.weight" => vec![d, self.num_mel_bins, 3],
            "model.decoder.embed_tokens.weight" => vec![self.vocab_size, d],
            "model.decoder.embed_positions.weight" => vec![self.max_target_positions, d],
            "model.encoder.embed_positions.weight" => vec![self.max_source_positions, d],
            "model.encoder.layers.0.fc1.weight" => vec![self.encoder_ffn_dim, d],
            _ => vec![self.decoder_ffn_dim, d],
        }
    }

    pub fn head_dim(&self) -> usize {
        self.d_model / self.encoder_attention_heads
    }
}
