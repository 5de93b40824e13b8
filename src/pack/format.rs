//! Reading and writing the pack file (safetensors + JSON metadata).

use std::collections::HashMap;

use safetensors::tensor::TensorView;
use safetensors::{Dtype, SafeTensors};

use super::{
    Expert, ExpertLayer, ExpertPack, ExpertTensor, PackMeta, Part, FORMAT_VERSION, META_KEY,
};
use crate::gpu::DType;
use crate::model::weights::NonFinite;
use crate::{Error, Result};

impl ExpertPack {
    /// Parses a pack. `origin` (a path or URL) names the pack in error messages.
    pub fn from_bytes(bytes: &[u8], origin: &str) -> Result<ExpertPack> {
        let err = |what: String| Error::Model(format!("expert pack {origin}: {what}"));
        let tensors = SafeTensors::deserialize(bytes).map_err(|e| {
            err(format!(
                "not a readable safetensors file ({e}); it may be truncated — download or copy it again"
            ))
        })?;
        let (_, header) = SafeTensors::read_metadata(bytes).expect("validated by deserialize");
        let text = header
            .metadata()
            .as_ref()
            .and_then(|m| m.get(META_KEY))
            .ok_or_else(|| {
                err(format!(
                    "no `{META_KEY}` entry in the safetensors metadata, so this is not a \
                     whisper-clsr expert pack (the paper's expert.*.bin files must be imported \
                     into a pack first)"
                ))
            })?;
        let meta = parse_meta(text).map_err(err)?;
        let (d, ffn, gate) = (meta.d_model, meta.ffn_dim, meta.gate_dim);

        let mut layers = Vec::new();
        let mut all_f16 = true;
        let listed = (meta.encoder_layers.iter().map(|&i| (Part::Encoder, i)))
            .chain(meta.decoder_layers.iter().map(|&i| (Part::Decoder, i)));
        for (part, index) in listed {
            let prefix = format!("{}.layers.{index}.", part.name());
            let expert = Expert::try_from_fn(|tensor| {
                let name = format!("{prefix}{}", tensor.name());
                let shape = tensor.shape((d, ffn, gate));
                let view = tensors.tensor(&name).map_err(|_| {
                    err(format!(
                        "missing tensor {name} (shape {shape:?}); the metadata lists {} layer {index}",
                        part.name()
                    ))
                })?;
                if view.shape() != shape.as_slice() {
                    return Err(err(format!(
                        "tensor {name} has shape {:?}, expected {shape:?} (d_model {d}, ffn_dim \
                         {ffn}, gate_dim {gate} from the metadata)",
                        view.shape()
                    )));
                }
                all_f16 &= view.dtype() == Dtype::F16;
                to_f32(&view).map_err(|e| err(format!("tensor {name}: {e}")))
            })?;
            layers.push(ExpertLayer {
                part,
                index,
                expert,
            });
        }
        // Every tensor must belong to a listed layer: anything else would sit in memory
        // unread (a pack is a download from anywhere).
        let listed: std::collections::HashSet<String> = layers
            .iter()
            .flat_map(|l| {
                let prefix = format!("{}.layers.{}.", l.part.name(), l.index);
                ExpertTensor::ALL.map(|t| format!("{prefix}{}", t.name()))
            })
            .collect();
        if tensors.len() != listed.len() {
            let mut extra: Vec<_> = tensors
                .names()
                .into_iter()
                .filter(|n| !listed.contains(*n))
                .collect();
            extra.sort();
            return Err(err(format!(
                "{} tensor(s) that no listed layer uses (first: {}); a pack holds only the \
                 experts of the layers its metadata lists",
                extra.len(),
                extra.first().map_or("?", |n| *n)
            )));
        }
        let dtype = if all_f16 && !layers.is_empty() {
            DType::F16
        } else {
            DType::F32
        };
        Ok(ExpertPack {
            meta,
            layers,
            dtype,
        })
    }

    /// Serialises the pack with every tensor stored as `dtype`. The metadata's layer lists
    /// are written from `layers`, so they always match the tensors.
    pub fn to_bytes(&self, dtype: DType) -> Vec<u8> {
        let (d, ffn, gate) = (self.meta.d_model, self.meta.ffn_dim, self.meta.gate_dim);
        let mut meta = self.meta.clone();
        meta.format_version = FORMAT_VERSION;
        meta.encoder_layers = self.indices(Part::Encoder);
        meta.decoder_layers = self.indices(Part::Decoder);

        let mut owned: Vec<(String, Vec<usize>, Vec<u8>)> = Vec::new();
        for layer in &self.layers {
            let prefix = layer.prefix();
            for (tensor, values) in layer.expert.tensors() {
                let (suffix, shape) = (tensor.name(), tensor.shape((d, ffn, gate)));
                assert_eq!(
                    values.len(),
                    shape.iter().product::<usize>(),
                    "{prefix}{suffix} does not match the pack's dimensions"
                );
                let bytes = match dtype {
                    DType::F32 => bytemuck::cast_slice(values).to_vec(),
                    DType::F16 => values
                        .iter()
                        .flat_map(|&x| half::f16::from_f32(x).to_le_bytes())
                        .collect(),
                };
                owned.push((format!("{prefix}{suffix}"), shape, bytes));
            }
        }
        let st_dtype = match dtype {
            DType::F32 => Dtype::F32,
            DType::F16 => Dtype::F16,
        };
        let views = owned.iter().map(|(name, shape, bytes)| {
            let view = TensorView::new(st_dtype, shape.clone(), bytes).expect("sizes checked");
            (name.clone(), view)
        });
        let info = HashMap::from([(
            META_KEY.to_string(),
            serde_json::to_string(&meta).expect("metadata serialises"),
        )]);
        safetensors::serialize(views, Some(info)).expect("pack tensors serialise")
    }

    /// Writes the pack to `path` through a temporary file and a rename, so a reader never
    /// sees a half-written pack.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn write_atomic(&self, path: &std::path::Path, dtype: DType) -> Result<()> {
        let mut tmp = path.as_os_str().to_owned();
        tmp.push(format!(".tmp{}", std::process::id()));
        let tmp = std::path::PathBuf::from(tmp);
        std::fs::write(&tmp, self.to_bytes(dtype)).map_err(|e| Error::io(&tmp, e))?;
        std::fs::rename(&tmp, path).map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            Error::io(path, e)
        })
    }

    /// Every tensor of the pack: name and shape, in file order.
    pub fn tensor_shapes(&self) -> Vec<(String, Vec<usize>)> {
        let (d, ffn, gate) = (self.meta.d_model, self.meta.ffn_dim, self.meta.gate_dim);
        self.layers
            .iter()
            .flat_map(|layer| {
                let prefix = layer.prefix();
                ExpertTensor::ALL
                    .map(|t| (format!("{prefix}{}", t.name()), t.shape((d, ffn, gate))))
            })
            .collect()
    }

    /// Parameters of the pack (all layers, experts and gates).
    pub fn parameter_count(&self) -> usize {
        self.tensor_shapes()
            .iter()
            .map(|(_, shape)| shape.iter().product::<usize>())
            .sum()
    }

    fn indices(&self, part: Part) -> Vec<usize> {
        self.layers
            .iter()
            .filter(|l| l.part == part)
            .map(|l| l.index)
            .collect()
    }
}

/// Parses the metadata JSON, checking the version before the other fields so that a pack
/// from a newer format says so instead of failing on a field it renamed.
fn parse_meta(text: &str) -> Result<PackMeta, String> {
    let value: serde_json::Value = serde_json::from_str(text)
        .map_err(|e| format!("the `{META_KEY}` metadata is not valid JSON ({e})"))?;
    let version = value.get("format_version").and_then(|v| v.as_u64());
    if version != Some(FORMAT_VERSION as u64) {
        let found = version.map_or("missing".to_string(), |v| v.to_string());
        return Err(format!(
            "unknown pack format version {found}; this build of whisper-clsr reads version \
             {FORMAT_VERSION} (a newer release may read this pack)"
        ));
    }
    let meta: PackMeta = serde_json::from_value(value)
        .map_err(|e| format!("the `{META_KEY}` metadata is incomplete ({e})"))?;
    for (part, list) in [
        ("encoder_layers", &meta.encoder_layers),
        ("decoder_layers", &meta.decoder_layers),
    ] {
        let mut seen = std::collections::BTreeSet::new();
        if let Some(i) = list.iter().find(|&&i| !seen.insert(i)) {
            return Err(format!(
                "metadata lists layer {i} twice in {part}; each layer has one expert"
            ));
        }
    }
    if meta.d_model == 0 || meta.ffn_dim == 0 || meta.gate_dim == 0 {
        return Err(format!(
            "metadata gives d_model {}, ffn_dim {}, gate_dim {}; all must be positive",
            meta.d_model, meta.ffn_dim, meta.gate_dim
        ));
    }
    Ok(meta)
}

fn to_f32(view: &TensorView) -> Result<Vec<f32>, String> {
    let data = view.data();
    if let Some(found) = NonFinite::find(view.dtype(), data) {
        return Err(format!(
            "holds {found}; the pack is corrupt or its training diverged — export it again \
             from a checkpoint taken before the loss became NaN"
        ));
    }
    Ok(match view.dtype() {
        Dtype::F32 => data
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect(),
        Dtype::F16 => data
            .chunks_exact(2)
            .map(|b| half::f16::from_le_bytes([b[0], b[1]]).to_f32())
            .collect(),
        Dtype::BF16 => data
            .chunks_exact(2)
            .map(|b| half::bf16::from_le_bytes([b[0], b[1]]).to_f32())
            .collect(),
        other => {
            return Err(format!(
                "stored as {other:?}; packs hold f16 or f32 values (never quantized)"
            ))
        }
    })
}
