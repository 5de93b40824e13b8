//! The text decoder: token + learned position embedding, pre-LN blocks with causal
//! self-attention over a KV cache and cross-attention over the encoder output, final LN, and
//! logits tied to the token embedding.

use super::block::{
    Block, BlockDims, BlockIo, BlockTape, Dense, FfnStrategy, LayerId, SelfAttentionKernel, SelfKv,
};
use super::clsr::Route;
use super::config::WhisperConfig;
use super::layers::LayerNorm;
use super::weights::WeightFile;
use crate::gpu::{DType, Gpu, Tensor, Weight};
use crate::ops::beam_gather::gather_beams;
use crate::ops::embedding::{embed_tokens, ChunkedTable};
use crate::ops::matmul::{argmax_partials, gemm, ArgmaxOut, Epilogue, Gemm, Layout, Rhs};
use crate::ops::pack_halves::pack_halves;
use crate::ops::softmax::Mask;
use crate::ops::token_pick::ArgmaxPartials;
use crate::pack::Part;
use crate::{Error, Result};

pub struct Decoder {
    pub tokens: ChunkedTable,
    pub positions: Weight,
    pub blocks: Vec<Block>,
    pub ln: LayerNorm,
    /// Steps of one token per sequence run each attention sub-layer as one dispatch
    /// (`ops::attention_step`, docs/kernels.md); on by default with the GPU kernel forms.
    /// Off, they take the general path (separate layer norm, projections, scores, softmax
    /// and weighted sum), which the tests and `bench_random` compare against. Off by
    /// default with the CPU forms: on lavapipe the general path's steps are faster, and the
    /// fused kernel's dispatches leak host memory inside the driver (docs/kernels.md).
    pub fused_step: bool,
    /// Greedy and sampled windows record each step before the previous token is read back
    /// (`decode::window`); off: one step at a time (tests compare the two). On natively, off
    /// in the browser, where it measured slower in Chromium on lavapipe (docs/benchmarks.md,
    /// "Kernels prepared at load, and overlapped decoder steps in the browser").
    pub overlapped_steps: bool,
    /// Cross-attention keys and values stored in halves ([`Decoder::start`]; the math
    /// stays f32): half their memory, and half of what every decoder step reads of them.
    /// On for models whose weights are stored in f16 (their keys and values come from f16
    /// weights anyway), off for f32 models (docs/kernels.md).
    pub cross_kv_f16: bool,
    /// Greedy steps' logits products leave argmax partials of the text ids for the pick
    /// ([`Decoder::step_with`]), which then reads only the special and timestamp logits.
    /// On for GPU drivers; off for CPU drivers, where the partials cost the GEMV about what
    /// they save the pick (docs/benchmarks.md, "Argmax partials in the logits epilogue").
    pub argmax_partials: bool,
    d_model: usize,
    max_positions: usize,
}

/// The logits of a step ([1, vocab]) and, for a greedy pick, the argmax partials their
/// product left.
pub struct StepLogits {
    pub logits: Tensor,
    pub partials: Option<ArgmaxPartials>,
}

/// The filter of the greedy pick that follows a step: its suppress mask and EOT (the
/// partials cover the ids below it).
#[derive(Clone, Copy)]
pub struct GreedyPick<'a> {
    pub mask: &'a Tensor,
    pub eot: u32,
}

/// Per-audio decoder state: cross-attention keys/values (computed once from the encoder
/// output), the self-attention KV cache, preallocated to the longest sequence, and the
/// language experts the FFNs route through, if any.
///
/// The cache holds one sequence, or several decoded side by side (beam search), laid out
/// [position, beam, d] so that one step's rows for every beam are adjacent.
pub struct DecoderState<'a> {
    cross: Vec<CrossKv>,
    cache: Vec<(Tensor, Tensor)>,
    /// Positions already in the cache.
    pub len: usize,
    /// Sequences in the cache.
    beams: usize,
    /// Sequences the cache has room for.
    capacity: usize,
    route: Option<Route<'a>>,
}

/// One layer's cross-attention keys and values [frames, d]: f32, or packed halves.
struct CrossKv {
    k: Tensor,
    v: Tensor,
    halves: bool,
}

impl CrossKv {
    fn operands(&self) -> (Rhs<'_>, Rhs<'_>) {
        if self.halves {
            (Rhs::Halves(&self.k), Rhs::Halves(&self.v))
        } else {
            (Rhs::Act(&self.k), Rhs::Act(&self.v))
        }
    }
}

impl<'a> DecoderState<'a> {
    /// Forgets the cached positions and beams (cross-attention keys/values stay).
    pub fn reset(&mut self) {
        self.len = 0;
        self.beams = 1;
    }

    /// [`Self::reset`], then later steps route their FFNs through `route`. The cross-attention
    /// keys and values stay, so the encoder output they were made from must be the one
    /// `route` gives: the same when its pack has no encoder experts.
    pub fn reroute(&mut self, route: Option<Route<'a>>) {
        self.reset();
        self.route = route;
    }

    /// Sequences in the cache: 1 until [`Decoder::reorder_beams`] makes more.
    pub fn beams(&self) -> usize {
        self.beams
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
            fused_step: !gpu.cpu_forms(),
            overlapped_steps: !cfg!(target_arch = "wasm32"),
            argmax_partials: !gpu.cpu_forms(),
            cross_kv_f16: dtype == DType::F16,
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
    /// layer's cross-attention keys and values (in halves with [`Self::cross_kv_f16`]), and
    /// allocates an empty KV cache. Steps route their FFNs through `route`'s experts when
    /// given.
    pub fn start<'a>(
        &self,
        gpu: &Gpu,
        encoded: &Tensor,
        route: Option<Route<'a>>,
    ) -> DecoderState<'a> {
        DecoderState {
            cross: self.stored_cross_kv(gpu, encoded),
            cache: self.empty_cache(gpu, 1),
            len: 0,
            beams: 1,
            capacity: 1,
            route,
        }
    }

    /// Per block, a KV cache with room for `beams` sequences of the longest length.
    fn empty_cache(&self, gpu: &Gpu, beams: usize) -> Vec<(Tensor, Tensor)> {
        let shape = [self.max_positions * beams, self.d_model];
        self.blocks
            .iter()
            .map(|_| (gpu.tensor(&shape), gpu.tensor(&shape)))
            .collect()
    }

    /// Makes the cache hold `sources.len()` sequences, sequence b continuing the current
    /// sequence `sources[b]` (beam search: the surviving hypotheses after a step, or the
    /// prompt, decoded once, copied to every beam with sources = [0, 0, …]). Runs on the GPU.
    pub fn reorder_beams(
        &self,
        gpu: &Gpu,
        state: &mut DecoderState,
        sources: &[u32],
    ) -> Result<()> {
        if sources.is_empty() {
            return Err(Error::InvalidInput(
                "beam search needs at least one beam".into(),
            ));
        }
        if let Some(bad) = sources.iter().find(|&&b| b as usize >= state.beams) {
            return Err(Error::InvalidInput(format!(
                "beam {bad} does not exist: the cache holds {} beams",
                state.beams
            )));
        }
        let floats = state.len * state.beams * self.d_model;
        if sources.len() > state.capacity {
            let grown = self.empty_cache(gpu, sources.len());
            for ((k, v), (new_k, new_v)) in state.cache.iter().zip(&grown) {
                gpu.copy(k.buffer(), 0, new_k.buffer(), 0, floats as u64 * 4);
                gpu.copy(v.buffer(), 0, new_v.buffer(), 0, floats as u64 * 4);
            }
            state.cache = grown;
            state.capacity = sources.len();
        }
        for (k, v) in &state.cache {
            gather_beams(gpu, k, state.len, state.beams, sources)?;
            gather_beams(gpu, v, state.len, state.beams, sources)?;
        }
        state.beams = sources.len();
        Ok(())
    }

    /// [`Self::cross_kv`], each packed into halves as soon as it is projected with
    /// [`Self::cross_kv_f16`] (so only one f32 projection is alive at a time).
    fn stored_cross_kv(&self, gpu: &Gpu, encoded: &Tensor) -> Vec<CrossKv> {
        let halves = self.cross_kv_f16;
        let store = |t: Tensor| if halves { pack_halves(gpu, &t) } else { t };
        self.cross_projections(gpu, encoded, store)
            .into_iter()
            .map(|(k, v)| CrossKv { k, v, halves })
            .collect()
    }

    /// Each block's cross-attention keys and values [frames, d] for the encoder output
    /// `encoded` [frames, d].
    pub fn cross_kv(&self, gpu: &Gpu, encoded: &Tensor) -> Vec<(Tensor, Tensor)> {
        self.cross_projections(gpu, encoded, |t| t)
    }

    /// Each block's cross-attention key and value projections of `encoded`, each passed
    /// through `store` as soon as it is made.
    fn cross_projections<T>(
        &self,
        gpu: &Gpu,
        encoded: &Tensor,
        store: impl Fn(Tensor) -> T,
    ) -> Vec<(T, T)> {
        self.blocks
            .iter()
            .map(|b| {
                let attn = &b.cross.as_ref().expect("decoder blocks cross-attend").attn;
                let k = store(attn.k.forward(gpu, encoded));
                (k, store(attn.v.forward(gpu, encoded)))
            })
            .collect()
    }

    /// Feeds `tokens` after the cached positions of the single sequence and returns the
    /// logits of the last one ([1, vocab]); the tokens join the cache.
    pub fn step(&self, gpu: &Gpu, state: &mut DecoderState, tokens: &[u32]) -> Result<Tensor> {
        Ok(self.step_with(gpu, state, tokens, None)?.logits)
    }

    /// [`Self::step`], with the argmax partials for `greedy`'s pick where
    /// [`Self::argmax_partials`] is on.
    pub fn step_with(
        &self,
        gpu: &Gpu,
        state: &mut DecoderState,
        tokens: &[u32],
        greedy: Option<GreedyPick>,
    ) -> Result<StepLogits> {
        if state.beams != 1 {
            return Err(Error::InvalidInput(format!(
                "the cache holds {} beams: step them with step_beams",
                state.beams
            )));
        }
        let t = tokens.len();
        let (x, _) = self.forward(gpu, state, tokens, &[])?;
        Ok(self.step_logits(gpu, &x, t - 1, greedy))
    }

    /// Feeds one token per beam (`tokens[b]` continues beam b) and returns every beam's
    /// logits ([beams, vocab]), in one batched pass.
    pub fn step_beams(
        &self,
        gpu: &Gpu,
        state: &mut DecoderState,
        tokens: &[u32],
    ) -> Result<Tensor> {
        if tokens.len() != state.beams {
            return Err(Error::InvalidInput(format!(
                "{} tokens for {} beams: give one token per beam",
                tokens.len(),
                state.beams
            )));
        }
        let (x, _) = self.forward(gpu, state, tokens, &[])?;
        Ok(self.logits_of_rows(gpu, &x, 0, tokens.len()))
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
        let (t, past, beams) = (tokens.len(), state.len, state.beams);
        if beams > 1 && !keep.is_empty() {
            return Err(Error::InvalidInput(
                "cross-attention is kept for a single sequence only".into(),
            ));
        }
        let x = self.embed(gpu, tokens, past, beams)?;
        self.forward_embedded(gpu, state, x, t, keep)
    }

    /// Feeds the token id a pick wrote into `picked[0]` on the GPU (not read back yet) after
    /// the cached positions of the single sequence and returns its logits ([1, vocab]), like
    /// [`Self::step_with`]. The id is not checked against the vocabulary: the pick chose it
    /// from this decoder's logits.
    pub fn step_picked(
        &self,
        gpu: &Gpu,
        state: &mut DecoderState,
        picked: &Tensor,
        greedy: Option<GreedyPick>,
    ) -> Result<StepLogits> {
        if state.beams != 1 {
            return Err(Error::InvalidInput(format!(
                "the cache holds {} beams: step them with step_beams",
                state.beams
            )));
        }
        self.check_room(state.len, 1)?;
        let x = embed_tokens(
            gpu,
            (picked, 1),
            &self.tokens,
            &self.positions,
            state.len,
            1,
        );
        let (x, _) = self.forward_embedded(gpu, state, x, 1, &[])?;
        Ok(self.step_logits(gpu, &x, 0, greedy))
    }

    /// The blocks and the final layer norm over the embedded rows `x` of `t` tokens.
    fn forward_embedded(
        &self,
        gpu: &Gpu,
        state: &mut DecoderState,
        x: Tensor,
        t: usize,
        keep: &[(usize, usize)],
    ) -> Result<(Tensor, Vec<Tensor>)> {
        let (past, beams) = (state.len, state.beams);
        // Several beams feed one token each: no position sees another's.
        let mask = if t > 1 && beams == 1 {
            Mask::Causal { q_len: t, past }
        } else {
            Mask::None
        };
        let cache = &state.cache;
        let self_kv = |i: usize| SelfKv::Cached {
            k: &cache[i].0,
            v: &cache[i].1,
            past,
            beams,
        };
        let cross: Vec<_> = state.cross.iter().map(CrossKv::operands).collect();
        let cross = &cross;
        let (x, kept, _) = match state.route {
            Some(mut route) => {
                self.forward_blocks(gpu, x, self_kv, mask, cross, keep, &mut route, false)
            }
            None => self.forward_blocks(gpu, x, self_kv, mask, cross, keep, &mut Dense, false),
        };
        state.len = past + t / beams;
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
        let x = self.embed(gpu, tokens, 0, 1)?;
        let mask = Mask::Causal {
            q_len: tokens.len(),
            past: 0,
        };
        let cross: Vec<_> = cross
            .iter()
            .map(|(k, v)| (Rhs::Act(k), Rhs::Act(v)))
            .collect();
        let (x, _, tapes) =
            self.forward_blocks(gpu, x, |_| SelfKv::Fresh, mask, &cross, &[], ffn, record);
        Ok((x, tapes))
    }

    /// Token + position embeddings of `tokens` placed after `past` positions, [T, d]: one
    /// position per token, or with several `beams` one token per beam at position `past`.
    fn embed(&self, gpu: &Gpu, tokens: &[u32], past: usize, beams: usize) -> Result<Tensor> {
        let t = tokens.len();
        if t == 0 {
            return Err(Error::InvalidInput(
                "a decoder step needs at least one token".into(),
            ));
        }
        self.check_room(past, t / beams)?;
        if let Some(&bad) = tokens.iter().find(|&&id| id as usize >= self.vocab_size()) {
            return Err(Error::InvalidInput(format!(
                "token id {bad} is outside the vocabulary of {}",
                self.vocab_size()
            )));
        }
        let ids = gpu.upload_u32(tokens, &[t])?;
        Ok(embed_tokens(
            gpu,
            (&ids, t),
            &self.tokens,
            &self.positions,
            past,
            beams,
        ))
    }

    /// Whether `positions` more fit after `past`.
    fn check_room(&self, past: usize, positions: usize) -> Result<()> {
        if past + positions > self.max_positions {
            return Err(Error::InvalidInput(format!(
                "the decoder holds at most {} positions; {past} + {positions} requested",
                self.max_positions
            )));
        }
        Ok(())
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
        cross: &[(Rhs, Rhs)],
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
                // The decoder keeps the composed path (causal masks, KV caches, beams).
                self_attention: SelfAttentionKernel::Composed,
                cross_kv: Some(cross[index]),
                keep: &heads,
                record,
                fused_step: self.fused_step,
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

    /// Tied output projection of row `row` of `x` onto the token table ([1, vocab]).
    pub fn logits_of_row(&self, gpu: &Gpu, x: &Tensor, row: usize) -> Tensor {
        self.logits_of_rows(gpu, x, row, 1)
    }

    /// Tied output projection of `rows` rows of `x` from `first`, chunk by chunk of the
    /// token table ([rows, vocab]).
    pub fn logits_of_rows(&self, gpu: &Gpu, x: &Tensor, first: usize, rows: usize) -> Tensor {
        let logits = gpu.tensor(&[rows, self.vocab_size()]);
        for (start, chunk) in &self.tokens.chunks {
            let g = self.logits_gemm(first, rows, *start, chunk);
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

    /// The logits of row `row` of `x`, with the argmax partials for `greedy`'s pick where
    /// [`Self::argmax_partials`] is on.
    fn step_logits(
        &self,
        gpu: &Gpu,
        x: &Tensor,
        row: usize,
        greedy: Option<GreedyPick>,
    ) -> StepLogits {
        let Some(greedy) = greedy.filter(|_| self.argmax_partials) else {
            return StepLogits {
                logits: self.logits_of_row(gpu, x, row),
                partials: None,
            };
        };
        let logits = gpu.tensor(&[1, self.vocab_size()]);
        // Each chunk's product, and the partials it leaves.
        let products: Vec<_> = self
            .tokens
            .chunks
            .iter()
            .map(|(start, chunk)| {
                let g = self.logits_gemm(row, 1, *start, chunk);
                (g, chunk, argmax_partials(gpu, &g, Rhs::Weight(chunk)))
            })
            .collect();
        let partials = ArgmaxPartials::new(gpu, products.iter().map(|p| p.2).sum());
        let mut first = 0;
        for (g, chunk, count) in products {
            let epi = Epilogue {
                argmax: Some(ArgmaxOut {
                    mask: greedy.mask,
                    limit: greedy.eot,
                    out: &partials.tensor,
                    first,
                }),
                ..Epilogue::default()
            };
            gemm(gpu, x, Rhs::Weight(chunk), &logits, &g, &epi);
            first += count;
        }
        StepLogits {
            logits,
            partials: Some(partials),
        }
    }

    /// The product of `rows` rows of `x` from `first` with the token-table chunk starting at
    /// id `start`, into logits [rows, vocab].
    fn logits_gemm(&self, first: usize, rows: usize, start: usize, chunk: &Weight) -> Gemm {
        let (d, n) = (self.d_model, chunk.shape()[0]);
        Gemm {
            m: rows,
            n,
            k: d,
            batch: 1,
            a: Layout {
                offset: first * d,
                row_stride: d,
                batch_stride: 0,
            },
            b: Layout::dense(n, d),
            c: Layout {
                offset: start,
                row_stride: self.vocab_size(),
                batch_stride: 0,
            },
            trans_b: true,
            alpha: 1.0,
        }
    }
}
