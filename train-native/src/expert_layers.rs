//! Which layers carry trainable experts. The paper puts a CLSR block in every encoder and
//! decoder layer (`All`, the default). `Decoder` trains the decoder's experts only: the
//! encoder is then the frozen one, so its output depends on the clip alone and is computed
//! once per clip and kept (docs/training.md, "Decoder-only experts"). The exported pack
//! covers the trained layers; the runtime keeps the frozen FFN in the others.

use std::fmt;
use std::str::FromStr;

use whisper_clsr::model::{LayerId, WhisperConfig};
use whisper_clsr::pack::Part;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ExpertLayers {
    /// Every encoder and decoder layer (the paper's CLSR).
    #[default]
    All,
    /// The decoder's layers; the encoder stays frozen.
    Decoder,
}

impl ExpertLayers {
    pub fn name(self) -> &'static str {
        match self {
            ExpertLayers::All => "all",
            ExpertLayers::Decoder => "decoder",
        }
    }

    pub fn covers(self, part: Part) -> bool {
        self == ExpertLayers::All || part == Part::Decoder
    }

    /// The covered layers in expert order: encoder layers, then decoder layers.
    pub fn layers(self, c: &WhisperConfig) -> Vec<LayerId> {
        [
            (Part::Encoder, c.encoder_layers),
            (Part::Decoder, c.decoder_layers),
        ]
        .into_iter()
        .filter(|&(part, _)| self.covers(part))
        .flat_map(|(part, count)| (0..count).map(move |index| LayerId { part, index }))
        .collect()
    }

    /// The position of `layer`'s expert in [`ExpertLayers::layers`]' order; `None` for a
    /// frozen layer. `encoder_layers` is the model's encoder depth.
    pub fn slot(self, encoder_layers: usize, layer: LayerId) -> Option<usize> {
        match (self, layer.part) {
            (ExpertLayers::All, Part::Encoder) => Some(layer.index),
            (ExpertLayers::All, Part::Decoder) => Some(encoder_layers + layer.index),
            (ExpertLayers::Decoder, Part::Encoder) => None,
            (ExpertLayers::Decoder, Part::Decoder) => Some(layer.index),
        }
    }
}

impl fmt::Display for ExpertLayers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for ExpertLayers {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "all" => Ok(ExpertLayers::All),
            "decoder" => Ok(ExpertLayers::Decoder),
            other => Err(format!(
                "'{other}' is not a choice of expert layers: give all (every encoder and \
                 decoder layer, the paper's) or decoder"
            )),
        }
    }
}
