//! Language detection: one decoder step on `<|startoftranscript|>`, the most likely language
//! token wins.

use super::tokenizer::WhisperTokenizer;
use crate::gpu::{Gpu, Tensor};
use crate::model::{Decoder, DecoderState};
use crate::{Error, Result};

/// Runs `<|startoftranscript|>` through the decoder and returns the most likely language
/// (code, probability among language tokens). The state is reset afterwards.
pub async fn detect_language(
    gpu: &Gpu,
    decoder: &Decoder,
    state: &mut DecoderState<'_>,
    tok: &WhisperTokenizer,
) -> Result<(&'static str, f32)> {
    if tok.is_english_only() {
        return Ok(("en", 1.0));
    }
    let logits: Tensor = decoder.step(gpu, state, &[tok.sot])?;
    let values = gpu.read(&logits).await?;
    state.reset();
    let scores: Vec<(&'static str, f32)> = tok
        .languages
        .iter()
        .filter_map(|&(code, id)| values.get(id as usize).map(|&v| (code, v)))
        .collect();
    let max = scores.iter().map(|s| s.1).fold(f32::NEG_INFINITY, f32::max);
    let total: f32 = scores.iter().map(|s| (s.1 - max).exp()).sum();
    let (code, best) = scores
        .iter()
        .copied()
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .ok_or_else(|| Error::Tokenizer("no language tokens to detect with".into()))?;
    Ok((code, (best - max).exp() / total))
}
