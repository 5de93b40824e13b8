//! The text decoder: token + learned position embedding, pre-LN blocks with causal
//! self-attention over a KV cache and cross-attention over the encoder output, final LN, and
//! logits tied to the token embedding.

use super::clsr::{routed_ffn, Route};
use super::config::WhisperConfig;
use super::layers::{AttentionWeights, FeedForward, LayerNorm};
use super::weights::WeightFile;
use crate::gpu::{Gpu, Tensor, Weight};
use crate::ops::embedding::{embed_tokens, ChunkedTable};
use crate::ops::matmul::{gemm, Epilogue, Gemm, Layout, Rhs};
use crate::ops::softmax::Mask;
use crate::pack::Part;
use crate::{Error, Result};

pub struct DecoderLayer {
    pub self_ln: LayerNorm,
    pub self_attn: AttentionWeights,
    pub cross_ln: LayerNorm,
    pub cross_attn: AttentionWeights,
    pub ffn_ln: LayerNorm,
    pub ffn: FeedForward,
}

pub struct Decoder {
    pub tokens: ChunkedTable,
    pub positions: Weight,
    pub layers: Vec<DecoderLayer>,
    pub ln: LayerNorm,
    d_model: usize,
    max_positions: usize,
}

/// Per-audio decoder state: cross-attention keys/values (computed once from the encoder
/// output), the self-attention KV cache, preallocated to the longest sequence, and the
/// language experts the FFNs route through, if any.
pub struct DecoderState<'a> {
    cross: Vec<(Tensor, Tensor)>,
    cache: Vec<(Tensor, Tensor)>,
    /// Positions already in the cache.
    pub len: usize,
    frames: usize,
    route: Option<Route<'a>>,
}

impl DecoderState<'_> {
    /// Forgets the cached positions (cross-attention keys/values stay).
    pub fn reset(&mut self) {
        self.len = 0;
    }
}

impl Decoder {
    pub fn load(gpu: &Gpu, c: &WhisperConfig, file: &WeightFile) -> Result<Decoder> {
        let d = c.d_model;
        let p = "model.decoder";
        let tokens =
            file.load_chunked(gpu, &format!("{p}.embed_tokens.weight"), c.vocab_size, d)?;
        let dtype = tokens.chunks[0].1.dtype();
        let layers = (0..c.decoder_layers)
            .map(|i| {
                let l = format!("{p}.layers.{i}");
                let heads = c.decoder_attention_heads;
                Ok(DecoderLayer {
                    self_ln: LayerNorm::load(gpu, file, &format!("{l}.self_attn_layer_norm"), d)?,
                    self_attn: AttentionWeights::load(
                        gpu,
                        file,
                        &format!("{l}.self_attn"),
                        d,
                        heads,
                    )?,
                    cross_ln: LayerNorm::load(
                        gpu,
                        file,
                        &format!("{l}.encoder_attn_layer_norm"),
                        d,
                    )?,
                    cross_attn: AttentionWeights::load(
                        gpu,
                        file,
                        &format!("{l}.encoder_attn"),
                        d,
                        heads,
                    )?,
                    ffn_ln: LayerNorm::load(gpu, file, &format!("{l}.final_layer_norm"), d)?,
                    ffn: FeedForward::load(gpu, file, &l, d, c.decoder_ffn_dim)?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Decoder {
            positions: file.load_as(
                gpu,
                &format!("{p}.embed_positions.weight"),
                &[c.max_target_positions, d],
                dtype,
            )?,
            tokens,
            layers,
            ln: LayerNorm::load(gpu, file, &format!("{p}.layer_norm"), d)?,
            d_model: d,
            max_positions: c.max_target_positions,
        })
    }

    pub fn vocab_size(&self) -> usize {
        self.tokens.rows
    }

    pub fn max_positions(&self) -> usize {
        self.max_positions
    }

    /// Prepares decoding of one audio: projects the encoder output [frames, d] to each
    /// layer's cross-attention keys and values, and allocates an empty KV cache. Steps route
    /// their FFNs through `route`'s experts when given.
    pub fn start<'a>(
        &self,
        gpu: &Gpu,
        encoded: &Tensor,
        route: Option<Route<'a>>,
    ) -> DecoderState<'a> {
        let cross = self
            .layers
            .iter()
            .map(|l| {
                (
                    l.cross_attn.k.forward(gpu, encoded),
                    l.cross_attn.v.forward(gpu, encoded),
                )
            })
            .collect();
        let cache = self
            .layers
            .iter()
            .map(|_| {
                let shape = [self.max_positions, self.d_model];
                (gpu.tensor(&shape), gpu.tensor(&shape))
            })
            .collect();
        DecoderState {
            cross,
            cache,
            len: 0,
            frames: encoded.shape()[0],
            route,
        }
    }

    /// Feeds `tokens` after the cached positions and returns the logits of the last one
    /// ([1, vocab]); the tokens join the cache.
    pub fn step(&self, gpu: &Gpu, state: &mut DecoderState, tokens: &[u32]) -> Result<Tensor> {
        let t = tokens.len();
        let (x, _) = self.forward(gpu, state, tokens, &[])?;
        Ok(self.logits_of_row(gpu, &x, t - 1))
    }

    /// Feeds `tokens` like [`Self::step`] and returns the final hidden states [t, d] (after
    /// the last layer norm; [`Self::logits_of_row`] projects a row) and the cross-attention
    /// probabilities [t, frames] of each (layer, head) in `keep`, for word timestamps.
    pub fn step_keeping_cross_attention(
        &self,
        gpu: &Gpu,
        state: &mut DecoderState,
        tokens: &[u32],
        keep: &[(usize, usize)],
    ) -> Result<(Tensor, Vec<Tensor>)> {
        if let Some(&(layer, head)) = keep
            .iter()
            .find(|&&(l, h)| l >= self.layers.len() || h >= self.layers[l].cross_attn.heads)
        {
            return Err(Error::InvalidInput(format!(
                "alignment head ({layer}, {head}) is outside the decoder's {} layers",
                self.layers.len()
            )));
        }
        self.forward(gpu, state, tokens, keep)
    }

    fn forward(
        &self,
        gpu: &Gpu,
        state: &mut DecoderState,
        tokens: &[u32],
        keep: &[(usize, usize)],
    ) -> Result<(Tensor, Vec<Tensor>)> {
        let t = tokens.len();
        if t == 0 {
            return Err(Error::InvalidInput(
                "a decoder step needs at least one token".into(),
            ));
        }
        if state.len + t > self.max_positions {
            return Err(Error::InvalidInput(format!(
                "the decoder holds at most {} positions; {} + {t} requested",
                self.max_positions, state.len
            )));
        }
        if let Some(&bad) = tokens.iter().find(|&&id| id as usize >= self.vocab_size()) {
            return Err(Error::InvalidInput(format!(
                "token id {bad} is outside the vocabulary of {}",
                self.vocab_size()
            )));
        }
        let ids = gpu.upload_u32(tokens, &[t])?;
        let mut x = embed_tokens(gpu, &ids, &self.tokens, &self.positions, state.len);
        let mut kept: Vec<Option<Tensor>> = keep.iter().map(|_| None).collect();
        let kv_len = state.len + t;
        let mask = if t > 1 {
            Mask::Causal {
                q_len: t,
                past: state.len,
            }
        } else {
            Mask::None
        };
        for (i, layer) in self.layers.iter().enumerate() {
            let (k_cache, v_cache) = &state.cache[i];
            let h = layer.self_ln.forward(gpu, &x);
            layer
                .self_attn
                .k
                .forward_into_rows(gpu, &h, k_cache, state.len);
            layer
                .self_attn
                .v
                .forward_into_rows(gpu, &h, v_cache, state.len);
            x = layer
                .self_attn
                .attend(gpu, &h, k_cache, v_cache, kv_len, mask, &x);
            let (k_cross, v_cross) = &state.cross[i];
            let h = layer.cross_ln.forward(gpu, &x);
            let heads: Vec<usize> = keep
                .iter()
                .filter(|&&(l, _)| l == i)
                .map(|&(_, h)| h)
                .collect();
            let (y, probs) = layer.cross_attn.attend_keeping(
                gpu,
                &h,
                k_cross,
                v_cross,
                state.frames,
                Mask::None,
                &x,
                &heads,
            );
            x = y;
            for (&head, p) in heads.iter().zip(probs) {
                let slot = keep
                    .iter()
                    .position(|&k| k == (i, head))
                    .expect("kept head");
                kept[slot] = Some(p);
            }
            let h = layer.ffn_ln.forward(gpu, &x);
            x = routed_ffn(state.route, gpu, Part::Decoder, i, &layer.ffn, &h, &x);
        }
        state.len = kv_len;
        let kept = kept
            .into_iter()
            .map(|p| p.expect("every kept head is captured"))
            .collect();
        Ok((self.ln.forward(gpu, &x), kept))
    }

    /// Tied output projection of one row of `x` onto the token table, chunk by chunk.
    pub fn logits_of_row(&self, gpu: &Gpu, x: &Tensor, row: usize) -> Tensor {
        let d = self.d_model;
        let logits = gpu.tensor(&[1, self.vocab_size()]);
        for (start, chunk) in &self.tokens.chunks {
            let n = chunk.shape()[0];
            let g = Gemm {
                m: 1,
                n,
                k: d,
                batch: 1,
                a: Layout {
                    offset: row * d,
                    row_stride: d,
                    batch_stride: 0,
                },
                b: Layout::dense(n, d),
                c: Layout {
                    offset: *start,
                    row_stride: self.vocab_size(),
                    batch_stride: 0,
                },
                trans_b: true,
                alpha: 1.0,
            };
            gemm(
                gpu,
                x,
                Rhs::Weight(chunk),
                &logits,
                &g,
                &Epilogue::default(),
            );
        }
        logits
    }
}
