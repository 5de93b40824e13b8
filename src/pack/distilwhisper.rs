//! Importing the DistilWhisper authors' released experts (`expert.{catalan,tamil,thai}.bin`,
//! PyTorch state dicts written by their reference code) into a pack for the base model they
//! were trained on. docs/pack-format.md ("Importing the paper's experts") describes the
//! mapping; the tensors need no transposes, both sides keep PyTorch's `[out, in]` layout.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Seek};

use super::{
    base_fingerprint, Expert, ExpertLayer, ExpertPack, ExpertTensor, PackMeta, Part, FORMAT_VERSION,
};
use crate::convert::torch::{StorageType, TorchCheckpoint, TorchTensor};
use crate::decode::languages::normalize_language;
use crate::gpu::DType;
use crate::model::{WeightFile, WhisperConfig};
use crate::{Error, Result};

/// A tensor name of the reference code, `[model.]{part}.layers.{i}.ffn_clsr.{rest}` with
/// `{rest}` one of `proj.{lang}.fc1.weight` (and `fc1.bias`, `fc2.weight`, `fc2.bias`),
/// `gate_in.{lang}.weight`, `gate_in.{lang}.bias`, `gate_out.{lang}.weight`.
#[derive(Clone, Debug, PartialEq)]
struct ExpertName {
    part: Part,
    index: usize,
    /// The lowercase English language name, e.g. `catalan`.
    language: String,
    tensor: ExpertTensor,
}

/// `proj.shared.*` (the frozen FFN in a whole-model checkpoint) and every tensor outside
/// `ffn_clsr` give `None`.
fn parse_name(name: &str) -> Option<ExpertName> {
    let parts: Vec<&str> = name
        .strip_prefix("model.")
        .unwrap_or(name)
        .split('.')
        .collect();
    let (part, index, rest) = match parts.as_slice() {
        [part, "layers", index, "ffn_clsr", rest @ ..] => (*part, *index, rest),
        _ => return None,
    };
    let part = match part {
        "encoder" => Part::Encoder,
        "decoder" => Part::Decoder,
        _ => return None,
    };
    let index = index.parse().ok()?;
    let (language, tensor) = match rest {
        ["proj", lang, "fc1", "weight"] => (lang, ExpertTensor::Fc1),
        ["proj", lang, "fc1", "bias"] => (lang, ExpertTensor::Fc1Bias),
        ["proj", lang, "fc2", "weight"] => (lang, ExpertTensor::Fc2),
        ["proj", lang, "fc2", "bias"] => (lang, ExpertTensor::Fc2Bias),
        ["gate_in", lang, "weight"] => (lang, ExpertTensor::GateIn),
        ["gate_in", lang, "bias"] => (lang, ExpertTensor::GateInBias),
        ["gate_out", lang, "weight"] => (lang, ExpertTensor::GateOut),
        _ => return None,
    };
    (*language != "shared").then(|| ExpertName {
        part,
        index,
        language: language.to_string(),
        tensor,
    })
}

/// The reference code's name of `tensor` in layer `index` of `part` for `language`.
fn reference_name(part: Part, index: usize, language: &str, tensor: ExpertTensor) -> String {
    let rest = match tensor {
        ExpertTensor::Fc1 => format!("proj.{language}.fc1.weight"),
        ExpertTensor::Fc1Bias => format!("proj.{language}.fc1.bias"),
        ExpertTensor::Fc2 => format!("proj.{language}.fc2.weight"),
        ExpertTensor::Fc2Bias => format!("proj.{language}.fc2.bias"),
        ExpertTensor::GateIn => format!("gate_in.{language}.weight"),
        ExpertTensor::GateInBias => format!("gate_in.{language}.bias"),
        ExpertTensor::GateOut => format!("gate_out.{language}.weight"),
    };
    format!("model.{}.layers.{index}.ffn_clsr.{rest}", part.name())
}

/// The Whisper size with this width, for messages.
fn size_name(d_model: usize) -> &'static str {
    match d_model {
        384 => " (whisper-tiny)",
        512 => " (whisper-base)",
        768 => " (whisper-small)",
        1024 => " (whisper-medium)",
        1280 => " (whisper-large)",
        _ => "",
    }
}

/// Where each of a layer's seven tensors sits in the checkpoint's tensor list, in
/// [`ExpertTensor::ALL`] order.
struct LayerPlan {
    part: Part,
    index: usize,
    tensors: [usize; 7],
}

impl ExpertPack {
    /// Imports one language's experts from a DistilWhisper checkpoint into a pack for the
    /// base model (`config`, `base`) — every layer of both stacks, as the reference code
    /// trains them. `language` (a code or name) picks one when the checkpoint holds several.
    /// `progress(done, total)` is called with bytes of tensor data read.
    pub fn import_distilwhisper<R: Read + Seek>(
        checkpoint: &mut TorchCheckpoint<R>,
        config: &WhisperConfig,
        base: &WeightFile,
        language: Option<&str>,
        progress: &mut dyn FnMut(u64, u64),
    ) -> Result<ExpertPack> {
        let origin = checkpoint.origin().to_string();
        let err =
            |what: String| Error::Convert(format!("DistilWhisper checkpoint {origin}: {what}"));
        config.check_weights(base)?;
        let (d, ffn) = (config.d_model, config.encoder_ffn_dim);
        if config.decoder_ffn_dim != ffn {
            return Err(err(format!(
                "the base model's encoder and decoder FFN widths differ ({ffn} vs {}); a pack \
                 has one ffn_dim",
                config.decoder_ffn_dim
            )));
        }
        let found = expert_tensors(checkpoint.tensors()).map_err(err)?;
        let name = choose_language(&found, language).map_err(err)?;
        let code = normalize_language(&name).ok_or_else(|| {
            err(format!(
                "its experts are for '{name}', which is not a Whisper language name"
            ))
        })?;
        let (gate, plan) = plan_layers(checkpoint.tensors(), &found, &name, config).map_err(err)?;

        let tensors = checkpoint.tensors();
        let planned = || {
            plan.iter()
                .flat_map(|l| l.tensors.iter().map(|&i| &tensors[i]))
        };
        let total: u64 = planned().map(|t| t.bytes()).sum();
        let all_f16 = planned().all(|t| t.dtype == StorageType::F16);
        let mut done = 0;
        progress(done, total);
        let mut layers = Vec::with_capacity(plan.len());
        for layer in &plan {
            let mut values = Vec::with_capacity(7);
            for &i in &layer.tensors {
                let t = checkpoint.tensors()[i].clone();
                let v = checkpoint.read_f32(&t.name)?;
                if let Some(bad) = v.iter().find(|v| !v.is_finite()) {
                    return Err(err(format!(
                        "tensor {} holds {bad}; the checkpoint is corrupt or its training \
                         diverged",
                        t.name
                    )));
                }
                done += t.bytes();
                progress(done, total);
                values.push(v);
            }
            // Read in ExpertTensor::ALL order, the order try_from_fn asks for them.
            let mut values = values.into_iter();
            let expert =
                Expert::try_from_fn(|_| values.next().ok_or(())).expect("seven tensors read");
            layers.push(ExpertLayer {
                part: layer.part,
                index: layer.index,
                expert,
            });
        }
        let file_name = std::path::Path::new(&origin)
            .file_name()
            .map_or(origin.clone(), |n| n.to_string_lossy().into_owned());
        Ok(ExpertPack {
            meta: PackMeta {
                format_version: FORMAT_VERSION,
                language: code.to_string(),
                base_fingerprint: base_fingerprint(config, base)?,
                d_model: d,
                ffn_dim: ffn,
                gate_dim: gate,
                encoder_layers: (0..config.encoder_layers).collect(),
                decoder_layers: (0..config.decoder_layers).collect(),
                training: serde_json::json!({
                    "source": "DistilWhisper checkpoint (PyTorch state dict), imported by \
                               whisper-clsr pack import-distilwhisper",
                    "checkpoint": file_name,
                    "checkpoint_language": name,
                }),
            },
            layers,
            dtype: if all_f16 { DType::F16 } else { DType::F32 },
        })
    }
}

/// The checkpoint's expert tensors with their positions; an error when there are none.
fn expert_tensors(tensors: &[TorchTensor]) -> Result<Vec<(ExpertName, usize)>, String> {
    let found: Vec<(ExpertName, usize)> = (tensors.iter().enumerate())
        .filter_map(|(i, t)| parse_name(&t.name).map(|n| (n, i)))
        .collect();
    if found.is_empty() {
        return Err(format!(
            "none of its {} tensors is a language expert (named \
             model.{{encoder|decoder}}.layers.{{i}}.ffn_clsr.proj.{{language}}.fc1.weight and \
             so on){}; is this one of the paper's expert.<language>.bin files?",
            tensors.len(),
            tensors.first().map_or(String::new(), |t| format!(
                "; its first tensor is {}",
                t.name
            ))
        ));
    }
    Ok(found)
}

/// The language name to import: the only one, or the one `wanted` (a code or name) names.
fn choose_language(found: &[(ExpertName, usize)], wanted: Option<&str>) -> Result<String, String> {
    let languages: BTreeSet<&str> = found.iter().map(|(n, _)| n.language.as_str()).collect();
    let listed = languages.iter().copied().collect::<Vec<_>>().join(", ");
    let chosen = match wanted {
        Some(wanted) => {
            let code = normalize_language(wanted).ok_or_else(|| {
                format!(
                    "unknown language '{wanted}'; give a Whisper language code or name (it \
                     holds experts for {listed})"
                )
            })?;
            languages
                .iter()
                .find(|l| normalize_language(l) == Some(code))
                .ok_or_else(|| format!("it holds experts for {listed}, not for '{wanted}'"))?
        }
        None if languages.len() == 1 => languages.first().expect("one language"),
        None => {
            return Err(format!(
                "it holds experts for several languages ({listed}); choose one (--language on \
                 the command line)"
            ))
        }
    };
    Ok(chosen.to_string())
}

/// Checks that `name`'s experts fit the base model — its widths, an expert in every layer
/// of both stacks, every tensor present and shaped as the pack format says — before any value
/// is read. Returns the gate width and the layers in pack order (encoder, then decoder).
fn plan_layers(
    tensors: &[TorchTensor],
    found: &[(ExpertName, usize)],
    name: &str,
    config: &WhisperConfig,
) -> Result<(usize, Vec<LayerPlan>), String> {
    let (d, ffn) = (config.d_model, config.encoder_ffn_dim);
    let mut slots: BTreeMap<(u8, usize), [Option<usize>; 7]> = BTreeMap::new();
    for (n, i) in found.iter().filter(|(n, _)| n.language == name) {
        let slot = ExpertTensor::ALL.iter().position(|&t| t == n.tensor);
        slots.entry((n.part as u8, n.index)).or_default()[slot.expect("listed")] = Some(*i);
    }
    let part_of = |p: u8| if p == 0 { Part::Encoder } else { Part::Decoder };

    // Widths first: a checkpoint for another Whisper size says so before anything else.
    let (&(first_part, first_index), &first) = slots.iter().next().expect("found is not empty");
    let shape_of = |slot: Option<usize>| slot.map(|i| tensors[i].shape.clone());
    if let Some(shape) = shape_of(first[0]) {
        if shape != [ffn, d] {
            let hint = shape.get(1).map_or("", |&w| size_name(w));
            return Err(format!(
                "its experts have fc1 weights of shape {shape:?}{hint}, but the base model has \
                 d_model {d} and ffn_dim {ffn} (fc1 [{ffn}, {d}]{}): the checkpoint was \
                 trained on another base model; import it with the model it was trained on",
                size_name(d)
            ));
        }
    }
    let gate = match shape_of(first[5]).as_deref() {
        Some(&[h]) if h > 0 => h,
        _ => {
            let bias = ExpertTensor::GateInBias;
            return Err(format!(
                "{} is missing or not a non-empty vector",
                reference_name(part_of(first_part), first_index, name, bias)
            ));
        }
    };
    for (part, count) in [
        (Part::Encoder, config.encoder_layers),
        (Part::Decoder, config.decoder_layers),
    ] {
        let covered: Vec<usize> = (slots.keys())
            .filter(|(p, _)| *p == part as u8)
            .map(|&(_, i)| i)
            .collect();
        if covered != (0..count).collect::<Vec<_>>() {
            return Err(format!(
                "its '{name}' experts cover {part} layers {covered:?}, but the base model's \
                 {part} has {count} layer{s} and the reference code puts an expert in each: \
                 the checkpoint was trained on another base model; import it with the model \
                 it was trained on",
                part = part.name(),
                s = if count == 1 { "" } else { "s" },
            ));
        }
    }

    let mut plan = Vec::with_capacity(slots.len());
    for (&(p, index), slots) in &slots {
        let part = part_of(p);
        let mut indices = [0; 7];
        for (slot, tensor) in ExpertTensor::ALL.into_iter().enumerate() {
            let reference = reference_name(part, index, name, tensor);
            let i = slots[slot].ok_or_else(|| format!("tensor {reference} is missing"))?;
            let want = tensor.shape((d, ffn, gate));
            if tensors[i].shape != want {
                return Err(format!(
                    "tensor {reference} has shape {:?}, expected {want:?} (d_model {d}, ffn_dim \
                     {ffn}, gate_dim {gate})",
                    tensors[i].shape
                ));
            }
            indices[slot] = i;
        }
        plan.push(LayerPlan {
            part,
            index,
            tensors: indices,
        });
    }
    Ok((gate, plan))
}
