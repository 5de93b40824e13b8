//! Export of the trained experts as an expert pack in the runtime's format
//! (`whisper_clsr::pack`), loadable with `whisper-clsr transcribe --expert`.

use std::path::Path;

use whisper_clsr::gpu::{DType, Gpu};
use whisper_clsr::model::{WeightFile, WhisperNetwork};
use whisper_clsr::pack::{base_fingerprint, ExpertPack, PackMeta, Part, FORMAT_VERSION, GATE_DIM};
use whisper_clsr::Result;

use crate::trainer::Trainer;

/// The trainer's experts as a pack for `language` on the base model in `file`.
pub fn to_pack(
    gpu: &Gpu,
    trainer: &Trainer,
    model: &WhisperNetwork,
    file: &WeightFile,
    language: &str,
    training: serde_json::Value,
) -> Result<ExpertPack> {
    let c = &model.config;
    let layers = trainer.pack_layers(gpu)?;
    let covered = |part| {
        layers
            .iter()
            .filter(|l| l.part == part)
            .map(|l| l.index)
            .collect()
    };
    let gate_dim = layers.first().map_or(GATE_DIM, |l| l.expert.dims().2);
    Ok(ExpertPack {
        meta: PackMeta {
            format_version: FORMAT_VERSION,
            language: language.to_string(),
            base_fingerprint: base_fingerprint(c, file)?,
            d_model: c.d_model,
            ffn_dim: c.encoder_ffn_dim,
            gate_dim,
            encoder_layers: covered(Part::Encoder),
            decoder_layers: covered(Part::Decoder),
            training,
        },
        layers,
        dtype: DType::F32,
    })
}

/// Writes the pack atomically; `f16` halves its size (unquantized either way).
pub fn write_pack(pack: &ExpertPack, path: &Path, f16: bool) -> Result<()> {
    pack.write_atomic(path, if f16 { DType::F16 } else { DType::F32 })
}
