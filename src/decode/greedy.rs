//! Greedy decoding and language detection on the GPU: each step runs the decoder, applies
//! the suppression mask and takes the argmax there, so only one token id is read back.

use super::suppress::SuppressMasks;
use super::tokenizer::WhisperTokenizer;
use crate::gpu::{Gpu, Tensor};
use crate::model::{Decoder, DecoderState};
use crate::ops::argmax::argmax_into;
use crate::{Error, Result};

#[derive(Clone, Copy, Debug)]
pub struct DecodeOptions {
    /// Stop after this many generated tokens (EOT not counted).
    pub max_new_tokens: usize,
}

impl Default for DecodeOptions {
    fn default() -> Self {
        // Whisper's default sample length: half the decoder context.
        DecodeOptions {
            max_new_tokens: 224,
        }
    }
}

/// Decodes greedily after `prompt` until EOT or the length limit. Returns the generated
/// tokens without the prompt and without EOT; `on_token` sees each one as it is chosen.
#[allow(clippy::too_many_arguments)]
pub async fn greedy_decode(
    gpu: &Gpu,
    decoder: &Decoder,
    state: &mut DecoderState<'_>,
    prompt: &[u32],
    masks: &SuppressMasks,
    eot: u32,
    options: DecodeOptions,
    on_token: &mut dyn FnMut(u32),
) -> Result<Vec<u32>> {
    let room = decoder
        .max_positions()
        .saturating_sub(state.len + prompt.len());
    let max_new = options.max_new_tokens.min(room);
    let picked = gpu.tensor(&[1]);
    let mut generated = Vec::new();
    let mut input = prompt.to_vec();
    while generated.len() < max_new {
        let logits = decoder.step(gpu, state, &input)?;
        let mask = if generated.is_empty() {
            &masks.first
        } else {
            &masks.always
        };
        argmax_into(gpu, &logits, 0, mask, &picked);
        let token = gpu.read_u32(&picked).await?[0];
        if token == eot {
            break;
        }
        on_token(token);
        generated.push(token);
        input = vec![token];
    }
    Ok(generated)
}

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
