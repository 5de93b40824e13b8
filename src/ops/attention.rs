//! Multi-head scaled dot-product attention, composed from the batched matmul and softmax
//! kernels: scores = Q·Kᵀ/√d per head, softmax (optionally causal), out = P·V. Heads are
//! addressed in place inside [T, d_model] activations (head h is columns h·d..(h+1)·d), and
//! are processed in groups small enough that a group's scores fit one storage binding.
//!
//! Beam search runs several sequences at once: one query row per beam, each attending to its
//! own keys/values in a cache laid out [position, beam, d_model]. Query row b, head h is then
//! batch entry b·heads + h at column offset (b·heads + h)·head_dim of the queries, and of the
//! key/value rows when their stride is beams·d_model, so beams are simply more batch entries
//! of the same matmuls.

use super::matmul::{gemm, Epilogue, Gemm, Layout, Rhs};
use super::softmax::{softmax_rows, Mask};
use crate::gpu::{Gpu, Tensor};

/// Shape of one attention call.
#[derive(Clone, Copy, Debug)]
pub struct AttentionShape {
    pub heads: usize,
    pub head_dim: usize,
    /// Query rows (per beam).
    pub q_len: usize,
    /// Valid key/value positions (the first `kv_len` of `k` and `v`).
    pub kv_len: usize,
    /// Independent sequences, each one query row over its own keys/values in the
    /// [position, beam, d] layout (see the module docs); 1 for ordinary attention.
    pub beams: usize,
}

/// softmax(q·kᵀ/√head_dim [+ mask])·v for q [q_len, d], k and v [≥ kv_len, d]; returns [q_len, d].
/// With `beams` > 1: q [beams, d] (q_len 1), k and v [≥ kv_len, beams, d]; returns [beams, d].
pub fn attention(
    gpu: &Gpu,
    q: &Tensor,
    k: &Tensor,
    v: &Tensor,
    s: AttentionShape,
    mask: Mask,
) -> Tensor {
    attention_keeping(gpu, q, Rhs::Act(k), Rhs::Act(v), s, mask, &[]).0
}

/// [`attention`] over keys and values that may also be stored weights (the decoder's
/// cross-attention keys and values in packed halves), also returning the attention
/// probabilities `[q_len, kv_len]` of each head in `keep` (for word timestamps), copied out
/// before the scores buffer is reused.
pub fn attention_keeping(
    gpu: &Gpu,
    q: &Tensor,
    k: Rhs,
    v: Rhs,
    s: AttentionShape,
    mask: Mask,
    keep: &[usize],
) -> (Tensor, Vec<Tensor>) {
    let d = s.heads * s.head_dim;
    assert_eq!(q.shape()[1], d, "query width");
    assert!(s.beams >= 1, "at least one sequence");
    assert!(
        s.beams == 1 || (s.q_len == 1 && keep.is_empty()),
        "beams attend one query row each, without kept probabilities"
    );
    assert!(
        k.elements() >= s.kv_len * s.beams * d && v.elements() >= s.kv_len * s.beams * d,
        "keys/values too short"
    );
    // One batch entry per (beam, head).
    let units = s.beams * s.heads;
    let out = gpu.tensor(&[s.beams * s.q_len, d]);
    let per_unit = (s.q_len * s.kv_len * 4) as u64;
    let group = ((gpu.max_binding_bytes() / per_unit.max(1)) as usize).clamp(1, units);
    let scores = gpu.tensor(&[group, s.q_len, s.kv_len]);
    let scale = 1.0 / (s.head_dim as f32).sqrt();
    let mut kept: Vec<Option<Tensor>> = keep.iter().map(|_| None).collect();
    let mut h0 = 0;
    while h0 < units {
        let hn = group.min(units - h0);
        let cols = |offset, row_stride| Layout {
            offset,
            row_stride,
            batch_stride: s.head_dim,
        };
        let head_cols = |offset| cols(offset, d);
        let kv_cols = |offset| cols(offset, s.beams * d);
        let qk = Gemm {
            m: s.q_len,
            n: s.kv_len,
            k: s.head_dim,
            batch: hn,
            a: head_cols(h0 * s.head_dim),
            b: kv_cols(h0 * s.head_dim),
            c: Layout::dense(s.q_len, s.kv_len),
            trans_b: true,
            alpha: scale,
        };
        gemm(gpu, q, k, &scores, &qk, &Epilogue::default());
        softmax_rows(gpu, &scores, hn * s.q_len, s.kv_len, mask);
        for (slot, &h) in kept.iter_mut().zip(keep) {
            if (h0..h0 + hn).contains(&h) {
                let probs = gpu.tensor(&[s.q_len, s.kv_len]);
                let bytes = (s.q_len * s.kv_len * 4) as u64;
                gpu.copy(
                    scores.buffer(),
                    (h - h0) as u64 * bytes,
                    probs.buffer(),
                    0,
                    bytes,
                );
                *slot = Some(probs);
            }
        }
        let pv = Gemm {
            m: s.q_len,
            n: s.head_dim,
            k: s.kv_len,
            batch: hn,
            a: Layout::dense(s.q_len, s.kv_len),
            b: kv_cols(h0 * s.head_dim),
            c: head_cols(h0 * s.head_dim),
            trans_b: false,
            alpha: 1.0,
        };
        gemm(gpu, &scores, v, &out, &pv, &Epilogue::default());
        h0 += hn;
    }
    let kept = kept
        .into_iter()
        .map(|t| t.expect("kept heads are below the head count"))
        .collect();
    (out, kept)
}
