//! A decoder step's attention sub-layer in one dispatch (`attention_step.wgsl`): layer norm,
//! the query projection (self-attention: query, key and value, the new key and value
//! written into the KV cache), and attention over the cached or encoder keys/values. It
//! replaces the layer norm, projection, Q·Kᵀ, softmax and P·V dispatches of the general
//! path for steps whose rows are each one sequence's newest token (greedy and beam steps).
//! See docs/kernels.md.

use super::layer_norm::EPS;
use super::u;
use crate::gpu::shader::Kernel;
use crate::gpu::{DType, Gpu, Tensor, Weight};

const SOURCE: &str = include_str!("../../shaders/runtime/attention_step.wgsl");
/// The kernel's workgroup-memory limits (`MAX_D`, `MAX_HEAD_DIM`, `MAX_KV` there).
const MAX_D: usize = 1280;
const MAX_HEAD_DIM: usize = 128;
const MAX_KV: usize = 1536;

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
    }
}

fn kernel(self_attention: bool, f16: bool) -> Kernel {
    Kernel::new::<Params>("runtime/attention_step.wgsl", SOURCE, "main")
        .define_if("SELF", self_attention)
        .define_if("F16", f16)
}

pub(crate) fn kernels() -> Vec<Kernel> {
    [(false, false), (false, true), (true, false), (true, true)]
        .into_iter()
        .map(|(s, f)| kernel(s, f))
        .collect()
}

/// Whether the kernel handles a model of width `d` with `heads` heads over `kv_len`
/// positions (its workgroup memory holds a normalised row, a head's q/k/v and the scores).
pub fn fits(d: usize, heads: usize, kv_len: usize) -> bool {
    heads > 0
        && d.is_multiple_of(heads)
        && d <= MAX_D
        && d.is_multiple_of(2)
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
    /// Encoder keys/values [frames, d], read by every row.
    Cross { k: &'a Tensor, v: &'a Tensor },
}

/// Attention output [rows, d] (before the output projection) of `x` [rows, d].
pub fn attention_step(gpu: &Gpu, x: &Tensor, proj: StepProjection, kv: StepKv) -> Tensor {
    let (rows, d) = (x.shape()[0], x.shape()[1]);
    let heads = proj.heads;
    let head_dim = d / heads;
    let self_attention = matches!(kv, StepKv::Cache { .. });
    let parts = if self_attention { 3 } else { 1 };
    assert_eq!(
        proj.weight.shape(),
        [parts * d, d],
        "step projection weight"
    );
    assert_eq!(proj.norm_bias.dtype(), DType::F32, "norm/bias table is f32");
    assert_eq!(proj.norm_bias.len(), (2 + parts) * d, "norm/bias table");
    let (k, v, kv_len, kv_stride, kv_beam, past) = match kv {
        StepKv::Cache { k, v, past } => {
            assert!(
                k.len() >= (past + 1) * rows * d && v.len() >= (past + 1) * rows * d,
                "KV cache too short"
            );
            (k, v, past + 1, rows * d, 1, past)
        }
        StepKv::Cross { k, v } => (k, v, k.shape()[0], d, 0, 0),
    };
    assert!(
        fits(d, heads, kv_len),
        "attention step beyond the kernel's limits"
    );
    let out = gpu.tensor(&[rows, d]);
    let params = Params {
        d: u(d),
        head_dim: u(head_dim),
        kv_len: u(kv_len),
        kv_stride: u(kv_stride),
        kv_beam,
        past: u(past),
        eps: EPS,
        scale: 1.0 / (head_dim as f32).sqrt(),
    };
    gpu.dispatch(
        &kernel(self_attention, proj.weight.dtype() == DType::F16),
        bytemuck::bytes_of(&params),
        &[
            (1, x.buffer()),
            (2, proj.weight.buffer()),
            (3, proj.norm_bias.buffer()),
            (4, k.buffer()),
            (5, v.buffer()),
            (6, out.buffer()),
        ],
        [u(heads), u(rows), 1],
    );
    out
}
