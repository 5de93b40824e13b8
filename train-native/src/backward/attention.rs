//! Multi-head attention backward that recomputes scores instead of storing them
//! (`train_attention_backward.wgsl`): memory O(T·d) per call, so a 1500-frame encoder layer
//! never holds 1500×1500 scores per head.

use bytemuck::{Pod, Zeroable};
use whisper_clsr::gpu::shader::Kernel;
use whisper_clsr::gpu::{Gpu, Tensor};
use whisper_clsr::ops::attention::AttentionShape;

use crate::kernel::{threads_grid, u};

const SOURCE: &str = include_str!("../../../shaders/train_attention_backward.wgsl");
/// Largest head width the kernels' per-thread accumulators hold.
pub const MAX_HEAD_DIM: usize = 64;

#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct Params {
    heads: u32,
    head_dim: u32,
    q_len: u32,
    kv_len: u32,
    d: u32,
    causal: u32,
    past: u32,
    scale: f32,
}

fn kernel(entry: &'static str) -> Kernel {
    Kernel::new("train_attention_backward.wgsl", SOURCE, entry)
}

pub(crate) fn kernels() -> Vec<Kernel> {
    vec![kernel("row_stats"), kernel("grad_q"), kernel("grad_kv")]
}

/// Gradients of `O = softmax(Q·Kᵀ/√hd [causal: keys ≤ i + past])·V`.
pub struct AttentionGrads {
    /// [q_len, d]
    pub dq: Tensor,
    /// [kv_len, d]
    pub dk: Tensor,
    /// [kv_len, d]
    pub dv: Tensor,
}

/// Backward of `ops::attention::attention` given its inputs, its output `o` and `dout`.
/// `causal` is `Some(past)` for decoder self-attention.
#[allow(clippy::too_many_arguments)]
pub fn attention_backward(
    gpu: &Gpu,
    q: &Tensor,
    k: &Tensor,
    v: &Tensor,
    o: &Tensor,
    dout: &Tensor,
    s: AttentionShape,
    causal: Option<usize>,
) -> AttentionGrads {
    let d = s.heads * s.head_dim;
    assert!(
        s.head_dim <= MAX_HEAD_DIM,
        "attention backward: head_dim {} > {MAX_HEAD_DIM}",
        s.head_dim
    );
    for (what, t, rows) in [
        ("q", q, s.q_len),
        ("o", o, s.q_len),
        ("dout", dout, s.q_len),
    ] {
        assert_eq!(t.shape(), &[rows, d], "attention backward: {what} shape");
    }
    for (what, t) in [("k", k), ("v", v)] {
        assert!(
            t.len() >= s.kv_len * d,
            "attention backward: {what} too short"
        );
    }
    let params = Params {
        heads: u(s.heads),
        head_dim: u(s.head_dim),
        q_len: u(s.q_len),
        kv_len: u(s.kv_len),
        d: u(d),
        causal: causal.is_some() as u32,
        past: u(causal.unwrap_or(0)),
        scale: 1.0 / (s.head_dim as f32).sqrt(),
    };
    let bytes = bytemuck::bytes_of(&params);
    let stats = gpu.tensor(&[s.heads, s.q_len, 2]);
    let dq = gpu.tensor(&[s.q_len, d]);
    let dk = gpu.tensor(&[s.kv_len, d]);
    let dv = gpu.tensor(&[s.kv_len, d]);
    let q_threads = threads_grid(s.heads * s.q_len, 64);
    gpu.dispatch(
        &kernel("row_stats"),
        bytes,
        &[
            (1, q.buffer()),
            (2, k.buffer()),
            (4, o.buffer()),
            (5, dout.buffer()),
            (6, stats.buffer()),
        ],
        q_threads,
    );
    gpu.dispatch(
        &kernel("grad_q"),
        bytes,
        &[
            (1, q.buffer()),
            (2, k.buffer()),
            (3, v.buffer()),
            (5, dout.buffer()),
            (7, stats.buffer()),
            (8, dq.buffer()),
        ],
        q_threads,
    );
    gpu.dispatch(
        &kernel("grad_kv"),
        bytes,
        &[
            (1, q.buffer()),
            (2, k.buffer()),
            (3, v.buffer()),
            (5, dout.buffer()),
            (7, stats.buffer()),
            (9, dk.buffer()),
            (10, dv.buffer()),
        ],
        threads_grid(s.heads * s.kv_len, 64),
    );
    AttentionGrads { dq, dk, dv }
}
