//! A language's experts on the GPU and how the forward passes reach them: each covered
//! layer's FFN runs as a hard-gated CLSR block ([`crate::ops::clsr`]) instead of the plain
//! frozen FFN.

use super::block::{FfnStrategy, LayerId};
use super::layers::FeedForward;
use super::WhisperNetwork;
use crate::gpu::{Gpu, Tensor, Weight};
use crate::ops::clsr::{clsr_ffn_counted, GateCounts};
use crate::pack::{Expert, ExpertPack, Part};
use crate::{Error, Result};

/// One language pack uploaded next to the base model it was checked against.
pub struct LanguageExperts {
    pub language: String,
    /// Per encoder layer: the expert, or `None` where the pack leaves the layer shared.
    pub encoder: Vec<Option<Expert<Weight>>>,
    /// Per decoder layer, likewise.
    pub decoder: Vec<Option<Expert<Weight>>>,
}

impl LanguageExperts {
    /// Whether any encoder layer has an expert (else the encoder's output does not depend
    /// on these experts).
    pub fn routes_encoder(&self) -> bool {
        self.encoder.iter().any(Option::is_some)
    }

    /// Uploads `pack`'s layers with the storage type of the model's frozen FFN weights (the
    /// routed kernels read both with one type). The pack must already have passed
    /// [`ExpertPack::check_base`].
    pub fn upload(gpu: &Gpu, model: &WhisperNetwork, pack: &ExpertPack) -> Result<LanguageExperts> {
        let stack = |part: Part, ffns: Vec<&FeedForward>| -> Result<Vec<Option<Expert<Weight>>>> {
            ffns.iter()
                .enumerate()
                .map(|(index, ffn)| {
                    let Some(layer) = pack.layer(part, index) else {
                        return Ok(None);
                    };
                    let dtype = ffn.fc1.weight.dtype();
                    if ffn.fc2.weight.dtype() != dtype {
                        return Err(Error::Model(format!(
                            "{} layer {index}: fc1 and fc2 are stored with different types; \
                             language experts need one type per FFN (convert the model to \
                             one dtype)",
                            part.name()
                        )));
                    }
                    Expert::upload(gpu, &layer.expert, dtype).map(Some)
                })
                .collect()
        };
        let encoder = stack(
            Part::Encoder,
            model.encoder.blocks.iter().map(|l| &l.ffn).collect(),
        )?;
        let decoder = stack(
            Part::Decoder,
            model.decoder.blocks.iter().map(|l| &l.ffn).collect(),
        )?;
        Ok(LanguageExperts {
            language: pack.meta.language.clone(),
            encoder,
            decoder,
        })
    }
}

/// The experts one forward pass routes through, and the counters it adds its gates to.
#[derive(Clone, Copy)]
pub struct Route<'a> {
    pub experts: &'a LanguageExperts,
    pub counts: &'a GateCounts,
}

/// Each covered layer's FFN runs as the hard-gated CLSR block with the layer's expert
/// (counting its gates); layers the pack leaves shared run the frozen FFN.
impl FfnStrategy for Route<'_> {
    fn forward(
        &mut self,
        gpu: &Gpu,
        layer: LayerId,
        ffn: &FeedForward,
        z: &Tensor,
        residual: &Tensor,
    ) -> Tensor {
        let LayerId { part, index } = layer;
        let (experts, slot) = match part {
            Part::Encoder => (&self.experts.encoder, index),
            Part::Decoder => (&self.experts.decoder, self.experts.encoder.len() + index),
        };
        match &experts[index] {
            None => ffn.forward_residual(gpu, z, residual),
            Some(expert) => {
                let counts = Some((self.counts, slot));
                clsr_ffn_counted(gpu, z, ffn.shared(), expert, residual, counts).out
            }
        }
    }
}
