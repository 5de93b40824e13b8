//! One pre-LN transformer block, written once for the encoder, the decoder and the trainer
//! (in the spirit of Whisper's `ResidualAttentionBlock`):
//!
//! ```text
//! x_self = x + SelfAttention(LN_self(x))
//! x_mid  = x_self + CrossAttention(LN_cross(x_self), encoder K/V)     (decoder only)
//! out    = FFN(LN_ffn(x_mid)) + x_mid
//! ```
//!
//! What varies is passed in: where self-attention keys/values come from ([`SelfKv`]: the
//! block's own input, or a KV cache), the FFN strategy ([`FfnStrategy`]: the dense FFN,
//! the hard-gated CLSR experts of inference, or the trainer's soft-gated CLSR) and whether
//! the activations the backward pass needs are kept ([`BlockTape`]).

use super::layers::{AttentionWeights, FeedForward, LayerNorm};
use super::step_weights::{norm_table, StepAttention, StepWeights};
use super::weights::WeightFile;
use crate::gpu::{Gpu, Tensor, Weight};
use crate::ops::attention::{attention_keeping, AttentionShape};
use crate::ops::attention_step::{attention_step, cross_chunk, fits, StepKv};
use crate::ops::flash_attention::{self, flash_attention};
use crate::ops::matmul::Rhs;
use crate::ops::softmax::Mask;
use crate::pack::Part;
use crate::Result;

/// Where a block sits: its stack and index.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LayerId {
    pub part: Part,
    pub index: usize,
}

/// How a block's FFN sub-layer runs.
pub trait FfnStrategy {
    /// `residual + FFN(z)`, where `z` [T, d] is the output of the block's FFN layer norm
    /// and `residual` its input.
    fn forward(
        &mut self,
        gpu: &Gpu,
        layer: LayerId,
        ffn: &FeedForward,
        z: &Tensor,
        residual: &Tensor,
    ) -> Tensor;

    /// `x + FFN(LN(x))` for a decoder step's few rows, with `ln` the block's FFN layer norm
    /// and `norm` its f32 `[gamma | beta]` table. By default the norm is its own dispatch.
    fn forward_step(
        &mut self,
        gpu: &Gpu,
        layer: LayerId,
        ffn: &FeedForward,
        (ln, _norm): (&LayerNorm, &Weight),
        x: &Tensor,
    ) -> Tensor {
        let z = ln.forward(gpu, x);
        self.forward(gpu, layer, ffn, &z, x)
    }
}

/// The frozen FFN of the base model.
pub struct Dense;

impl FfnStrategy for Dense {
    fn forward(
        &mut self,
        gpu: &Gpu,
        _: LayerId,
        ffn: &FeedForward,
        z: &Tensor,
        residual: &Tensor,
    ) -> Tensor {
        ffn.forward_residual(gpu, z, residual)
    }

    /// The norm folded into fc1 (one dispatch fewer per layer).
    fn forward_step(
        &mut self,
        gpu: &Gpu,
        _: LayerId,
        ffn: &FeedForward,
        (ln, norm): (&LayerNorm, &Weight),
        x: &Tensor,
    ) -> Tensor {
        ffn.forward_normed_residual(gpu, ln, norm, x)
    }
}

/// Where self-attention keys and values come from.
pub enum SelfKv<'a> {
    /// Projected from this block's input alone: the encoder, and the teacher-forced decoder
    /// (with a causal mask).
    Fresh,
    /// Appended to a KV cache at position `past`; attention reads positions `0..past + T`
    /// (incremental decoding). The cache is laid out [position, beam, d] for `beams`
    /// sequences decoded side by side (beam search), each input row one beam's token; with
    /// one beam it is [position, d] and the T rows are consecutive positions.
    Cached {
        k: &'a Tensor,
        v: &'a Tensor,
        past: usize,
        beams: usize,
    },
}

/// How a block computes an unmasked self-attention over its own keys and values (the
/// encoder's). Masked, cached and cross-attention always take the composed path.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SelfAttentionKernel {
    /// One `flash_attention.wgsl` dispatch per layer, no score tensor (head sizes 8, 16,
    /// 32, 64; others fall back to `Composed`).
    #[default]
    Flash,
    /// Scores, softmax and P·V as separate dispatches (`ops::attention`).
    Composed,
}

/// The per-call inputs of [`Block::forward`] besides the hidden states.
pub struct BlockIo<'a> {
    pub layer: LayerId,
    pub self_kv: SelfKv<'a>,
    pub mask: Mask,
    /// The kernel of an unmasked [`SelfKv::Fresh`] self-attention.
    pub self_attention: SelfAttentionKernel,
    /// This layer's cross-attention keys and values [frames, d] (decoder blocks only): f32
    /// activations, or packed halves (`Decoder::cross_kv_f16`).
    pub cross_kv: Option<(Rhs<'a>, Rhs<'a>)>,
    /// Cross-attention heads whose probabilities [T, frames] to return (word timestamps).
    pub keep: &'a [usize],
    /// Keep the activations the backward pass needs ([`BlockTape`]); needs [`SelfKv::Fresh`].
    pub record: bool,
    /// Let a decoder step whose rows are one token per sequence run each attention
    /// sub-layer as one dispatch (`ops::attention_step`); the general path otherwise.
    pub fused_step: bool,
}

/// Activations of one attention sub-layer that its backward needs.
pub struct AttentionTape {
    /// Sub-layer input [T, d] (its layer norm's input and the residual).
    pub x_in: Tensor,
    /// Queries [T, d].
    pub q: Tensor,
    /// Attention output before the output projection [T, d].
    pub attn: Tensor,
}

/// Everything a block's backward pass needs, each tensor named with its shape.
pub struct BlockTape {
    pub self_attn: AttentionTape,
    /// Self-attention keys and values [T, d].
    pub self_k: Tensor,
    pub self_v: Tensor,
    /// Decoder blocks: the cross-attention sub-layer (its keys/values belong to the caller).
    pub cross_attn: Option<AttentionTape>,
    /// FFN sub-layer input [T, d] (its layer norm's input and the residual).
    pub x_mid: Tensor,
    /// FFN layer-norm output [T, d].
    pub z: Tensor,
}

/// What [`Block::forward`] returns.
pub struct BlockOutput {
    /// Block output [T, d].
    pub x: Tensor,
    /// Probabilities of the `keep` heads, in that order.
    pub kept: Vec<Tensor>,
    pub tape: Option<BlockTape>,
}

/// Cross-attention sub-layer of a decoder block.
pub struct CrossAttention {
    pub ln: LayerNorm,
    pub attn: AttentionWeights,
}

pub struct Block {
    pub self_ln: LayerNorm,
    pub self_attn: AttentionWeights,
    pub cross: Option<CrossAttention>,
    pub ffn_ln: LayerNorm,
    pub ffn: FeedForward,
    /// Decoder blocks: the attention weights in the one-dispatch step kernel's layout.
    pub step: Option<StepWeights>,
}

/// Sizes of a block.
#[derive(Clone, Copy, Debug)]
pub struct BlockDims {
    pub d_model: usize,
    pub heads: usize,
    pub ffn: usize,
    pub cross_attention: bool,
}

impl Block {
    /// Loads the Hugging Face layer `prefix` (e.g. `model.decoder.layers.3`).
    pub fn load(gpu: &Gpu, file: &WeightFile, prefix: &str, dims: BlockDims) -> Result<Block> {
        let (d, heads) = (dims.d_model, dims.heads);
        let name = |part: &str| format!("{prefix}.{part}");
        let cross = if dims.cross_attention {
            Some(CrossAttention {
                ln: LayerNorm::load(gpu, file, &name("encoder_attn_layer_norm"), d)?,
                attn: AttentionWeights::load(gpu, file, &name("encoder_attn"), d, heads)?,
            })
        } else {
            None
        };
        let step_attention = |norm: &str, attn: &str, self_attention: bool| {
            let names = (name(norm), name(attn));
            StepAttention::load(gpu, file, (&names.0, &names.1), d, heads, self_attention)
        };
        let step = if dims.cross_attention {
            Some(StepWeights {
                self_attn: step_attention("self_attn_layer_norm", "self_attn", true)?,
                cross: step_attention("encoder_attn_layer_norm", "encoder_attn", false)?,
                ffn_norm: norm_table(gpu, file, &name("final_layer_norm"), d)?,
            })
        } else {
            None
        };
        Ok(Block {
            self_ln: LayerNorm::load(gpu, file, &name("self_attn_layer_norm"), d)?,
            self_attn: AttentionWeights::load(gpu, file, &name("self_attn"), d, heads)?,
            cross,
            ffn_ln: LayerNorm::load(gpu, file, &name("final_layer_norm"), d)?,
            ffn: FeedForward::load(gpu, file, prefix, d, dims.ffn)?,
            step,
        })
    }

    /// Whether this call can take [`Self::forward_step`]: a decoder block, no tape, no kept
    /// probabilities, one new token per cached sequence, sizes within the kernel's limits.
    fn takes_step_path(&self, io: &BlockIo, rows: usize) -> bool {
        let d = self.self_attn.q.weight.shape()[0];
        let heads = self.self_attn.heads;
        let cached_step = match io.self_kv {
            SelfKv::Cached { past, beams, .. } => rows == beams && fits(d, heads, past + 1),
            SelfKv::Fresh => false,
        };
        let cross_fits = io.cross_kv.is_some_and(|(k, _)| fits(d, heads, k.dims().0));
        io.fused_step
            && self.step.is_some()
            && !io.record
            && io.keep.is_empty()
            && cached_step
            && cross_fits
    }

    /// A decoder step with each attention sub-layer as one dispatch (layer norm, projections,
    /// cache write and attention), then the output projections and the FFN as usual.
    fn forward_step(&self, gpu: &Gpu, x: Tensor, io: BlockIo, ffn: &mut dyn FfnStrategy) -> Tensor {
        let step = self
            .step
            .as_ref()
            .expect("decoder blocks have step weights");
        let cross = self.cross.as_ref().expect("decoder blocks cross-attend");
        let (SelfKv::Cached { k, v, past, .. }, Some((ck, cv))) = (io.self_kv, io.cross_kv) else {
            unreachable!("checked by takes_step_path")
        };
        let self_proj = step.self_attn.projection(&self.self_attn.q.weight);
        let attn = attention_step(gpu, &x, self_proj, StepKv::Cache { k, v, past });
        let x_self = self.self_attn.out.forward_residual(gpu, &attn, &x);
        drop(x);
        let cross_proj = step.cross.projection(&cross.attn.q.weight);
        let cross_kv = StepKv::Cross {
            k: ck,
            v: cv,
            chunk: cross_chunk(gpu),
        };
        let attn = attention_step(gpu, &x_self, cross_proj, cross_kv);
        let x_mid = cross.attn.out.forward_residual(gpu, &attn, &x_self);
        drop(x_self);
        let norm = (&self.ffn_ln, &step.ffn_norm);
        ffn.forward_step(gpu, io.layer, &self.ffn, norm, &x_mid)
    }

    pub fn forward(
        &self,
        gpu: &Gpu,
        x: Tensor,
        io: BlockIo,
        ffn: &mut dyn FfnStrategy,
    ) -> BlockOutput {
        let t = x.shape()[0];
        if self.takes_step_path(&io, t) {
            return BlockOutput {
                x: self.forward_step(gpu, x, io, ffn),
                kept: Vec::new(),
                tape: None,
            };
        }
        let flash = io.self_attention == SelfAttentionKernel::Flash
            && matches!(io.self_kv, SelfKv::Fresh)
            && io.mask == Mask::None;
        let h = self.self_ln.forward(gpu, &x);
        let (fresh, self_kv) = match io.self_kv {
            SelfKv::Fresh => {
                let k = self.self_attn.k.forward(gpu, &h);
                let v = self.self_attn.v.forward(gpu, &h);
                (Some((k, v)), None)
            }
            SelfKv::Cached { k, v, past, beams } => {
                assert!(!io.record, "a recorded block projects its own keys/values");
                assert!(beams == 1 || t == beams, "one token per beam");
                self.self_attn.k.forward_into_rows(gpu, &h, k, past * beams);
                self.self_attn.v.forward_into_rows(gpu, &h, v, past * beams);
                let len = past + t / beams;
                let (k, v) = (Rhs::Act(k), Rhs::Act(v));
                (None, Some(KvView { k, v, len, beams }))
            }
        };
        let kv = match (&fresh, self_kv) {
            (Some((k, v)), _) => KvView {
                k: Rhs::Act(k),
                v: Rhs::Act(v),
                len: t,
                beams: 1,
            },
            (None, Some(kv)) => kv,
            (None, None) => unreachable!("fresh keys/values were projected"),
        };
        let self_out = attend(&self.self_attn, gpu, &h, kv, io.mask, &x, &[], flash);
        drop(h);
        let x_self = self_out.out;
        let self_tape = io.record.then(|| AttentionTape {
            x_in: x,
            q: self_out.q,
            attn: self_out.attn,
        });

        let (x_mid, cross_tape, kept) = match (&self.cross, io.cross_kv) {
            (Some(cross), Some((k, v))) => {
                let h = cross.ln.forward(gpu, &x_self);
                // Every beam's query row reads the same encoder keys/values.
                let kv = KvView {
                    k,
                    v,
                    len: k.dims().0,
                    beams: 1,
                };
                let out = attend(
                    &cross.attn,
                    gpu,
                    &h,
                    kv,
                    Mask::None,
                    &x_self,
                    io.keep,
                    false,
                );
                let tape = io.record.then(|| AttentionTape {
                    x_in: x_self,
                    q: out.q,
                    attn: out.attn,
                });
                (out.out, tape, out.kept)
            }
            (None, None) => (x_self, None, Vec::new()),
            _ => panic!("cross-attention keys/values are given to exactly the decoder's blocks"),
        };

        let z = self.ffn_ln.forward(gpu, &x_mid);
        let out = ffn.forward(gpu, io.layer, &self.ffn, &z, &x_mid);
        let tape = self_tape.map(|self_attn| {
            let (self_k, self_v) = fresh.expect("recorded blocks project their keys/values");
            BlockTape {
                self_attn,
                self_k,
                self_v,
                cross_attn: cross_tape,
                x_mid,
                z,
            }
        });
        BlockOutput { x: out, kept, tape }
    }
}

struct Attended {
    /// `residual + out_proj(attn)`.
    out: Tensor,
    q: Tensor,
    attn: Tensor,
    kept: Vec<Tensor>,
}

/// The keys and values an attention reads: the first `len` positions of `k` and `v`, laid
/// out [position, beam, d] for `beams` sequences ([position, d] for one).
#[derive(Clone, Copy)]
struct KvView<'a> {
    k: Rhs<'a>,
    v: Rhs<'a>,
    len: usize,
    beams: usize,
}

/// Queries from `h`, attention over `kv`, output projection added to `residual`. With
/// `flash` (unmasked, nothing kept) the flash-attention kernel where it supports the shape.
#[allow(clippy::too_many_arguments)]
fn attend(
    weights: &AttentionWeights,
    gpu: &Gpu,
    h: &Tensor,
    kv: KvView,
    mask: Mask,
    residual: &Tensor,
    keep: &[usize],
    flash: bool,
) -> Attended {
    let q = weights.q.forward(gpu, h);
    let d = q.shape()[1];
    let shape = AttentionShape {
        heads: weights.heads,
        head_dim: d / weights.heads,
        q_len: q.shape()[0] / kv.beams,
        kv_len: kv.len,
        beams: kv.beams,
    };
    let (attn, kept) = match (kv.k, kv.v) {
        (Rhs::Act(k), Rhs::Act(v))
            if flash && keep.is_empty() && flash_attention::supports(&shape) =>
        {
            debug_assert_eq!(mask, Mask::None, "flash attention has no mask");
            (flash_attention(gpu, &q, k, v, shape), Vec::new())
        }
        _ => attention_keeping(gpu, &q, kv.k, kv.v, shape, mask, keep),
    };
    let out = weights.out.forward_residual(gpu, &attn, residual);
    Attended { out, q, attn, kept }
}
