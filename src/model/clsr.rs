//! A language's experts on the GPU and how the forward passes reach them: each covered
//! layer's FFN runs as a hard-gated CLSR block ([`crate::ops::clsr`]) instead of the plain
//! frozen FFN.

use super::layers::{FeedForward, Linear};
use super::WhisperModel;
use crate::gpu::{Gpu, Tensor, Weight};
use crate::ops::clsr::{clsr_ffn_counted, ExpertWeights, GateCounts};
use crate::pack::{ExpertPack, Part};
use crate::{Error, Result};

/// One language pack uploaded next to the base model it was checked against.
pub struct LanguageExperts {
    pub language: String,
    /// Per encoder layer: the expert, or `None` where the pack leaves the layer shared.
    pub encoder: Vec<Option<ExpertWeights>>,
    /// Per decoder layer, likewise.
    pub decoder: Vec<Option<ExpertWeights>>,
}

impl LanguageExperts {
    /// Uploads `pack`'s layers with the storage type of the model's frozen FFN weights (the
    /// routed kernels read both with one type). The pack must already have passed
    /// [`ExpertPack::check_base`].
    pub fn upload(gpu: &Gpu, model: &WhisperModel, pack: &ExpertPack) -> Result<LanguageExperts> {
        let stack = |part: Part, ffns: Vec<&FeedForward>| -> Result<Vec<Option<ExpertWeights>>> {
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
                    ExpertWeights::upload(gpu, layer, dtype).map(Some)
                })
                .collect()
        };
        let encoder = stack(
            Part::Encoder,
            model.encoder.layers.iter().map(|l| &l.ffn).collect(),
        )?;
        let decoder = stack(
            Part::Decoder,
            model.decoder.layers.iter().map(|l| &l.ffn).collect(),
        )?;
        Ok(LanguageExperts {
            language: pack.meta.language.clone(),
            encoder,
            decoder,
        })
    }
}

fn bias(linear: &Linear) -> &Weight {
    linear
        .bias
        .as_ref()
        .expect("Whisper FFN layers have biases")
}

/// The experts one forward pass routes through, and the counters it adds its gates to.
#[derive(Clone, Copy)]
pub struct Route<'a> {
    pub experts: &'a LanguageExperts,
    pub counts: &'a GateCounts,
}

/// `residual + FFN(x_ln)` for layer `index` of `part`: routed through the layer's expert
/// when a route is given and its pack covers the layer, the frozen FFN otherwise.
pub fn routed_ffn(
    route: Option<Route<'_>>,
    gpu: &Gpu,
    part: Part,
    index: usize,
    ffn: &FeedForward,
    x_ln: &Tensor,
    residual: &Tensor,
) -> Tensor {
    let expert = route.and_then(|r| {
        let (layers, slot) = match part {
            Part::Encoder => (&r.experts.encoder, index),
            Part::Decoder => (&r.experts.decoder, r.experts.encoder.len() + index),
        };
        layers[index].as_ref().map(|e| (e, r.counts, slot))
    });
    match expert {
        None => ffn.forward_residual(gpu, x_ln, residual),
        Some((expert, counts, slot)) => {
            let (fc1, fc2) = (&ffn.fc1, &ffn.fc2);
            let shared = (&fc1.weight, bias(fc1), &fc2.weight, bias(fc2));
            clsr_ffn_counted(gpu, x_ln, shared, expert, residual, Some((counts, slot))).out
        }
    }
}
