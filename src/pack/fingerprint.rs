//! Identifying the base model a pack was trained on.

use super::ExpertPack;
use crate::model::weights::HostTensor;
use crate::model::{WeightFile, WhisperConfig};
use crate::{Error, Result};

/// A stable identifier of a Whisper checkpoint: FNV-1a (64-bit) over its architecture
/// numbers and the values of four frozen tensors — `model.encoder.conv1.weight`, encoder
/// layer 0's `fc1.weight`, the last decoder layer's `fc2.weight` and
/// `model.decoder.embed_positions.weight`. They span the stem, both stacks and the decoder
/// input, so two different trainings practically never agree on all of them, while hashing
/// a few MB keeps loading fast in the browser (every tensor would be hundreds of MB).
/// Values are hashed as f16 bit patterns, so the same checkpoint stored as f32 or as f16
/// gives the same fingerprint.
pub fn base_fingerprint(config: &WhisperConfig, file: &WeightFile) -> Result<String> {
    config.check_weights(file)?;
    let mut h = Fnv1a::new();
    h.bytes(b"whisper-clsr base v1");
    for n in [
        config.d_model,
        config.encoder_layers,
        config.decoder_layers,
        config.encoder_attention_heads,
        config.decoder_attention_heads,
        config.encoder_ffn_dim,
        config.decoder_ffn_dim,
        config.num_mel_bins,
        config.vocab_size,
        config.max_source_positions,
        config.max_target_positions,
    ] {
        h.bytes(&(n as u64).to_le_bytes());
    }
    let d = config.d_model;
    let last = config.decoder_layers.checked_sub(1).ok_or_else(|| {
        Error::Model("config.json: decoder_layers is 0; a Whisper model has decoder layers".into())
    })?;
    let tensors = [
        (
            "model.encoder.conv1.weight".to_string(),
            vec![d, config.num_mel_bins, 3],
        ),
        (
            "model.encoder.layers.0.fc1.weight".to_string(),
            vec![config.encoder_ffn_dim, d],
        ),
        (
            format!("model.decoder.layers.{last}.fc2.weight"),
            vec![d, config.decoder_ffn_dim],
        ),
        (
            "model.decoder.embed_positions.weight".to_string(),
            vec![config.max_target_positions, d],
        ),
    ];
    for (name, shape) in &tensors {
        h.bytes(name.as_bytes());
        match file.host(name, shape)? {
            HostTensor::F16(v) => v.iter().for_each(|x| h.bytes(&x.to_le_bytes())),
            HostTensor::F32(v) => v
                .iter()
                .for_each(|&x| h.bytes(&half::f16::from_f32(x).to_le_bytes())),
        }
    }
    Ok(format!("fnv1a64:{:016x}", h.0))
}

struct Fnv1a(u64);

impl Fnv1a {
    fn new() -> Fnv1a {
        Fnv1a(0xcbf2_9ce4_8422_2325)
    }

    fn bytes(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ b as u64).wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
}

impl ExpertPack {
    /// Refuses a pack trained for another base model or whose layers do not fit `config`.
    /// `fingerprint` is [`base_fingerprint`] of the loaded model.
    pub fn check_base(&self, fingerprint: &str, config: &WhisperConfig) -> Result<()> {
        let m = &self.meta;
        let err = |what: String| {
            Err(Error::Model(format!(
                "expert pack `{}`: {what}",
                m.language
            )))
        };
        if m.base_fingerprint != fingerprint {
            return err(format!(
                "the pack was trained for a different base model (pack base {}, loaded model {}); \
                 load the model it was trained on or use a pack trained for this one",
                m.base_fingerprint, fingerprint
            ));
        }
        let ffn = [config.encoder_ffn_dim, config.decoder_ffn_dim];
        if m.d_model != config.d_model || ffn.iter().any(|&f| f != m.ffn_dim) {
            return err(format!(
                "pack dimensions d_model {} / ffn {} do not match the model's {} / {:?}",
                m.d_model, m.ffn_dim, config.d_model, ffn
            ));
        }
        for (what, listed, count) in [
            ("encoder", &m.encoder_layers, config.encoder_layers),
            ("decoder", &m.decoder_layers, config.decoder_layers),
        ] {
            if let Some(i) = listed.iter().find(|&&i| i >= count) {
                return err(format!(
                    "covers {what} layer {i} but the model has {count} {what} layers"
                ));
            }
        }
        Ok(())
    }
}
