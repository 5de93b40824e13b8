//! Expert packs: one safetensors file per language holding, for every covered layer, the
//! language FFN (`FFN_lang`) and its CLSR gate, plus JSON metadata naming the base model.
//!
//! Tensors, with `{part}` = `encoder` | `decoder` and `{i}` the layer index:
//! `{part}.layers.{i}.expert.fc1.weight [ffn, d]`, `.expert.fc1.bias [ffn]`,
//! `.expert.fc2.weight [d, ffn]`, `.expert.fc2.bias [d]`, `{part}.layers.{i}.gate.in.weight
//! [gate, d]`, `.gate.in.bias [gate]`, `.gate.out.weight [1, gate]`; f16 or f32, never
//! quantized. The safetensors `__metadata__` map holds [`PackMeta`] as a JSON string under
//! [`META_KEY`].

#[cfg(feature = "torch-import")]
mod distilwhisper;
mod expert;
mod fingerprint;
mod format;
mod init;

pub use expert::{Expert, ExpertTensor};
pub use fingerprint::base_fingerprint;

use serde::{Deserialize, Serialize};

use crate::gpu::DType;

/// Key of the pack metadata in the safetensors `__metadata__` map.
pub const META_KEY: &str = "whisper_clsr";
/// The pack format this build reads and writes.
pub const FORMAT_VERSION: u32 = 1;
/// Hidden width of the CLSR gate (the paper's value).
pub const GATE_DIM: usize = 64;

/// Which stack a layer belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Part {
    Encoder,
    Decoder,
}

impl Part {
    /// The tensor-name prefix: `encoder` or `decoder`.
    pub fn name(self) -> &'static str {
        match self {
            Part::Encoder => "encoder",
            Part::Decoder => "decoder",
        }
    }
}

/// The JSON metadata of a pack.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PackMeta {
    pub format_version: u32,
    /// Language code, e.g. `ca`.
    pub language: String,
    /// [`base_fingerprint`] of the model the experts were trained on.
    pub base_fingerprint: String,
    pub d_model: usize,
    pub ffn_dim: usize,
    pub gate_dim: usize,
    /// Indices of the encoder layers the pack covers.
    pub encoder_layers: Vec<usize>,
    /// Indices of the decoder layers the pack covers.
    pub decoder_layers: Vec<usize>,
    /// Free-form training summary (data, steps, budget, validation WER); may be empty.
    #[serde(default = "empty_object")]
    pub training: serde_json::Value,
}

fn empty_object() -> serde_json::Value {
    serde_json::Value::Object(Default::default())
}

/// One layer of a pack: where it sits and its expert, as f32 host values in PyTorch layout.
#[derive(Clone, Debug, PartialEq)]
pub struct ExpertLayer {
    pub part: Part,
    pub index: usize,
    pub expert: Expert<Vec<f32>>,
}

impl ExpertLayer {
    /// `{part}.layers.{i}.`
    pub fn prefix(&self) -> String {
        format!("{}.layers.{}.", self.part.name(), self.index)
    }
}

/// A language pack on the host.
#[derive(Clone, Debug, PartialEq)]
pub struct ExpertPack {
    pub meta: PackMeta,
    /// Encoder layers in `meta.encoder_layers` order, then decoder layers.
    pub layers: Vec<ExpertLayer>,
    /// How the tensors were stored in the file read (f16 only if all were f16); the
    /// natural choice when writing the pack back.
    pub dtype: DType,
}

impl ExpertPack {
    /// The expert of one layer, if the pack covers it.
    pub fn layer(&self, part: Part, index: usize) -> Option<&ExpertLayer> {
        self.layers
            .iter()
            .find(|l| l.part == part && l.index == index)
    }
}
