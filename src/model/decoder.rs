//! The text decoder: token + learned position embedding, pre-LN blocks with causal
//! self-attention over a KV cache and cross-attention over the encoder output, final LN, and
//! logits tied to the token embedding.

use super::block::{Block, BlockDims, BlockIo, BlockTape, Dense, FfnStrategy, LayerId, SelfKv};
use super::clsr::Route;
use super::config::WhisperConfig;
use super::layers::LayerNorm;
use super::weights::WeightFile;
use crate::gpu::{Gpu, Tensor, Weight};
use crate::ops::embedding::{embed_tokens, ChunkedTable};
use crate::ops::matmul::{gemm, Epilogue, Gemm, Layout, Rhs};
use crate::ops::softmax::Mask;
use crate::pack::Part;
use crate::{Error, Result};

pub struct Decoder {
    pub tokens: ChunkedTable,
    pub positions: Weight,
    pub blocks: Vec<Block>,
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
        let dims = BlockDims {
            d_model: d,
            heads: c.decoder_attention_heads,
            ffn: c.decoder_ffn_dim,
            cross_attention: true,
        };
        let blocks = (0..c.decoder_layers)
            .map(|i| Block::load(gpu, file, &format!("{p}.layers.{i}"), dims))
            .collect::<Result<Vec<_>>>()?;
        Ok(Decoder {
            positions: file.load_as(
                gpu,
                &format!("{p}.embed_positions.weight"),
                &[c.max_target_positions, d],
                dtype,
            )?,
            tokens,
            blocks,
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
        let cross = self.cross_kv(gpu, encoded);
        let cache = self
            .blocks
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
            route,
        }
    }

    /// Each block's cross-attention keys and values [frames, d] for the encoder output
    /// `encoded` [frames, d].
    pub fn cross_kv(&self, gpu: &Gpu, encoded: &Tensor) -> Vec<(Tensor, Tensor)> {
        self.blocks
            .iter()
            .map(|b| {
                let attn = &b.cross.as_ref().expect("decoder blocks cross-attend").attn;
                (attn.k.forward(gpu, encoded), attn.v.forward(gpu, encoded))
            })
            .collect()
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
        if let Some(&(layer, head)) = keep.iter().find(|&&(l, h)| {
            let heads = |b: &Block| b.cross.as_ref().map_or(0, |c| c.attn.heads);
            l >= self.blocks.len() || h >= heads(&self.blocks[l])
        }) {
            return Err(Error::InvalidInput(format!(
                "alignment head ({layer}, {head}) is outside the decoder's {} layers",
                self.blocks.len()
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
        let (t, past) = (tokens.len(), state.len);
        let x = self.embed(gpu, tokens, past)?;
        let mask = if t > 1 {
            Mask::Causal { q_len: t, past }
        } else {
            Mask::None
        };
        let cache = &state.cache;
        let self_kv = |i: usize| SelfKv::Cached {
            k: &cache[i].0,
            v: &cache[i].1,
            past,
        };
        let cross = &state.cross;
        let (x, kept, _) = match state.route {
            Some(mut route) => {
                self.forward_blocks(gpu, x, self_kv, mask, cross, keep, &mut route, false)
            }
            None => self.forward_blocks(gpu, x, self_kv, mask, cross, keep, &mut Dense, false),
        };
        state.len = past + t;
        Ok((self.ln.forward(gpu, &x), kept))
    }

    /// Teacher forcing, the training forward: every token of `tokens` at once from
    /// position 0, each block projecting its keys/values from its own input under a causal
    /// mask (no cache). Returns the hidden states before the final layer norm [T, d] and,
    /// with `record`, each block's [`BlockTape`].
    pub fn forward_teacher_forced(
        &self,
        gpu: &Gpu,
        tokens: &[u32],
        cross: &[(Tensor, Tensor)],
        ffn: &mut dyn FfnStrategy,
        record: bool,
    ) -> Result<(Tensor, Vec<BlockTape>)> {
        let x = self.embed(gpu, tokens, 0)?;
        let mask = Mask::Causal {
            q_len: tokens.len(),
            past: 0,
        };
        let (x, _, tapes) =
            self.forward_blocks(gpu, x, |_| SelfKv::Fresh, mask, cross, &[], ffn, record);
        Ok((x, tapes))
    }

    /// Token + position embeddings of `tokens` placed after `past` positions, [T, d].
    fn embed(&self, gpu: &Gpu, tokens: &[u32], past: usize) -> Result<Tensor> {
        let t = tokens.len();
        if t == 0 {
            return Err(Error::InvalidInput(
                "a decoder step needs at least one token".into(),
            ));
        }
        if past + t > self.max_positions {
            return Err(Error::InvalidInput(format!(
                "the decoder holds at most {} positions; {past} + {t} requested",
                self.max_positions
            )));
        }
        if let Some(&bad) = tokens.iter().find(|&&id| id as usize >= self.vocab_size()) {
            return Err(Error::InvalidInput(format!(
                "token id {bad} is outside the vocabulary of {}",
                self.vocab_size()
            )));
        }
        let ids = gpu.upload_u32(tokens, &[t])?;
        Ok(embed_tokens(gpu, &ids, &self.tokens, &self.positions, past))
    }

    /// The blocks over `x` [T, d], before the final layer norm; returns the kept
    /// cross-attention probabilities (in `keep` order) and, with `record`, the tapes.
    #[allow(clippy::too_many_arguments)]
    fn forward_blocks<'k>(
        &self,
        gpu: &Gpu,
        mut x: Tensor,
        self_kv: impl Fn(usize) -> SelfKv<'k>,
        mask: Mask,
        cross: &[(Tensor, Tensor)],
        keep: &[(usize, usize)],
        ffn: &mut dyn FfnStrategy,
        record: bool,
    ) -> (Tensor, Vec<Tensor>, Vec<BlockTape>) {
        let mut kept: Vec<Option<Tensor>> = keep.iter().map(|_| None).collect();
        let mut tapes = Vec::new();
        for (index, block) in self.blocks.iter().enumerate() {
            let heads: Vec<usize> = keep
                .iter()
                .filter(|&&(l, _)| l == index)
                .map(|&(_, h)| h)
                .collect();
            let io = BlockIo {
                layer: LayerId {
                    part: Part::Decoder,
                    index,
                },
                self_kv: self_kv(index),
                mask,
                cross_kv: Some((&cross[index].0, &cross[index].1)),
                keep: &heads,
                record,
            };
            let out = block.forward(gpu, x, io, ffn);
            x = out.x;
            tapes.extend(out.tape);
            for (&head, p) in heads.iter().zip(out.kept) {
                let slot = keep
                    .iter()
                    .position(|&k| k == (index, head))
                    .expect("kept head");
                kept[slot] = Some(p);
            }
        }
        let kept = kept
            .into_iter()
            .map(|p| p.expect("every kept head is captured"))
            .collect();
        (x, kept, tapes)
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
