//! A decoder step's attention sub-layer in one dispatch (`attention_step.wgsl`): layer norm,
//! the query projection (self-attention: query, key and value, the new key and value
//! written into the KV cache), and attention over the cached or encoder keys/values. It
//! replaces the layer norm, projection, Q·Kᵀ, softmax and P·V dispatches of the general
//! path for steps whose rows are each one sequence's newest token (greedy and beam steps).
//! Cross-attention over more than [`CROSS_CHUNK`] frames is split over chunks of frames
//! (flash-decoding), whose partial results `attention_combine.wgsl` merges.
//! See docs/kernels.md.

use super::layer_norm::EPS;
use super::matmul::Rhs;
use super::u;
use crate::gpu::shader::Kernel;
use crate::gpu::{DType, Gpu, Tensor, Weight};

const SOURCE: &str = include_str!("../../shaders/runtime/attention_step.wgsl");
const COMBINE_SOURCE: &str = include_str!("../../shaders/runtime/attention_combine.wgsl");
/// The kernel's workgroup-memory limits (`MAX_D`, `MAX_HEAD_DIM`, `MAX_KV` there).
const MAX_D: usize = 1280;
const MAX_HEAD_DIM: usize = 128;
const MAX_KV: usize = 1536;
/// Frames per workgroup of cross-attention: Whisper's 1500 frames become 6 chunks, so a
/// step runs 6 × heads workgroups per row instead of heads. Each recomputes the row's layer
/// norm and the head's query (head_dim × d weights, read from cache after the first chunk).
pub const CROSS_CHUNK: usize = 256;

/// Frames per cross-attention workgroup on `gpu`: [`CROSS_CHUNK`] on a GPU; on a CPU driver
/// all of them (one chunk, no combining pass), as two to sixteen cores have no use for
/// more workgroups, and each chunk repeats the layer norm and the query projection.
pub fn cross_chunk(gpu: &Gpu) -> usize {
    if gpu.cpu_forms() {
        usize::MAX
    } else {
        CROSS_CHUNK
    }
}

crate::params_struct! {
    struct Params {
        d: u32,
        head_dim: u32,
        kv_len: u32,
        kv_stride: u32,
        kv_beam: u32,
        past: u32,
        eps: f32,
        scale: f32,
        split: u32,
    }
}

crate::params_struct! {
    struct CombineParams {
        d: u32,
        head_dim: u32,
        chunks: u32,
        _pad: u32,
    }
}

/// The step kernel for self-attention, cross-attention in one chunk, or (`split`) one
/// chunk's partial cross-attention.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Variant {
    SelfAttention,
    Cross,
    CrossSplit,
}

/// `f16`: packed-half projection weights; `kv_f16`: packed-half cross-attention keys and
/// values.
fn kernel(variant: Variant, f16: bool, kv_f16: bool) -> Kernel {
    assert!(
        !(kv_f16 && variant == Variant::SelfAttention),
        "the self-attention cache is f32"
    );
    Kernel::new::<Params>("runtime/attention_step.wgsl", SOURCE, "main")
        .define_if("SELF", variant == Variant::SelfAttention)
        .define_if("SPLIT", variant == Variant::CrossSplit)
        .define_if("F16", f16)
        .define_if("KV_F16", kv_f16)
}

fn combine_kernel() -> Kernel {
    Kernel::new::<CombineParams>("runtime/attention_combine.wgsl", COMBINE_SOURCE, "main")
}

pub(crate) fn kernels() -> Vec<Kernel> {
    let variants = [Variant::SelfAttention, Variant::Cross, Variant::CrossSplit];
    let mut all = Vec::new();
    for v in variants {
        for f16 in [false, true] {
            all.push(kernel(v, f16, false));
            if v != Variant::SelfAttention {
                all.push(kernel(v, f16, true));
            }
        }
    }
    all.push(combine_kernel());
    all
}

/// Whether the kernel handles a model of width `d` with `heads` heads over `kv_len`
/// positions (its workgroup memory holds a normalised row, a head's q/k/v and the scores;
/// its threads weigh the values two columns at a time, so the head size is even).
pub fn fits(d: usize, heads: usize, kv_len: usize) -> bool {
    heads > 0
        && d.is_multiple_of(heads)
        && d <= MAX_D
        && (d / heads).is_multiple_of(2)
        && d / heads <= MAX_HEAD_DIM
        && kv_len <= MAX_KV
}

/// The projection weights of one fused attention sub-layer: `weight` is the query weight
/// [d, d] (cross-attention) or `[q; k; v]` [3d, d] (self-attention); `norm_bias` is f32
/// `[gamma | beta | bias]` of length 2d + rows of `weight`, zeros where there is no bias.
#[derive(Clone, Copy)]
pub struct StepProjection<'a> {
    pub weight: &'a Weight,
    pub norm_bias: &'a Weight,
    pub heads: usize,
}

/// Where the step's keys and values are.
pub enum StepKv<'a> {
    /// A KV cache [positions, beams, d] holding `past` positions; row b of `x` is beam b's
    /// newest token, whose key and value are written at position `past`.
    Cache {
        k: &'a Tensor,
        v: &'a Tensor,
        past: usize,
    },
    /// Encoder keys/values [frames, d] (f32 activations, or weights of either storage
    /// type), read by every row, in chunks of at most `chunk` frames per workgroup
    /// ([`CROSS_CHUNK`] in the decoder; more than one chunk adds the combine dispatch).
    Cross {
        k: Rhs<'a>,
        v: Rhs<'a>,
        chunk: usize,
    },
}

/// Attention output [rows, d] (before the output projection) of `x` [rows, d].
pub fn attention_step(gpu: &Gpu, x: &Tensor, proj: StepProjection, kv: StepKv) -> Tensor {
    let (rows, d) = (x.shape()[0], x.shape()[1]);
    let heads = proj.heads;
    let head_dim = d / heads;
    let parts = match kv {
        StepKv::Cache { .. } => 3,
        StepKv::Cross { .. } => 1,
    };
    assert_eq!(
        proj.weight.shape(),
        [parts * d, d],
        "step projection weight"
    );
    assert_eq!(proj.norm_bias.dtype(), DType::F32, "norm/bias table is f32");
    assert_eq!(proj.norm_bias.len(), (2 + parts) * d, "norm/bias table");
    let (k, v, kv_len, kv_stride, kv_beam, past, chunk) = match kv {
        StepKv::Cache { k, v, past } => {
            assert!(
                k.len() >= (past + 1) * rows * d && v.len() >= (past + 1) * rows * d,
                "KV cache too short"
            );
            (
                Rhs::Act(k),
                Rhs::Act(v),
                past + 1,
                rows * d,
                1,
                past,
                past + 1,
            )
        }
        StepKv::Cross { k, v, chunk } => {
            assert!(chunk > 0, "cross-attention chunks hold at least one frame");
            assert_eq!(
                k.is_f16(),
                v.is_f16(),
                "keys and values share a storage type"
            );
            let frames = k.dims().0;
            assert!(
                k.dims() == (frames, d) && v.dims() == (frames, d),
                "cross-attention keys/values [frames, d]"
            );
            assert!(
                !k.is_f16() || head_dim.is_multiple_of(2),
                "keys/values in halves need an even head size"
            );
            (k, v, frames, d, 0, 0, chunk.min(frames))
        }
    };
    assert!(
        fits(d, heads, kv_len),
        "attention step beyond the kernel's limits"
    );
    let chunks = kv_len.div_ceil(chunk);
    let variant = match kv {
        StepKv::Cache { .. } => Variant::SelfAttention,
        StepKv::Cross { .. } if chunks == 1 => Variant::Cross,
        StepKv::Cross { .. } => Variant::CrossSplit,
    };
    let out = gpu.tensor(&[rows, d]);
    let partials =
        (variant == Variant::CrossSplit).then(|| gpu.tensor(&[rows, heads, chunks, 2 + head_dim]));
    let params = Params {
        d: u(d),
        head_dim: u(head_dim),
        kv_len: u(kv_len),
        kv_stride: u(kv_stride),
        kv_beam,
        past: u(past),
        eps: EPS,
        scale: 1.0 / (head_dim as f32).sqrt(),
        split: u(chunk),
    };
    gpu.dispatch(
        &kernel(variant, proj.weight.dtype() == DType::F16, k.is_f16()),
        bytemuck::bytes_of(&params),
        &[
            (1, x.buffer()),
            (2, proj.weight.buffer()),
            (3, proj.norm_bias.buffer()),
            (4, k.buffer()),
            (5, v.buffer()),
            (6, partials.as_ref().unwrap_or(&out).buffer()),
        ],
        [u(heads), u(rows), u(chunks)],
    );
    if let Some(partials) = partials {
        let params = CombineParams {
            d: u(d),
            head_dim: u(head_dim),
            chunks: u(chunks),
            _pad: 0,
        };
        gpu.dispatch(
            &combine_kernel(),
            bytemuck::bytes_of(&params),
            &[(1, partials.buffer()), (2, out.buffer())],
            [u(heads), u(rows), 1],
        );
    }
    out
}
