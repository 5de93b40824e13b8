//! Multi-head attention backward that recomputes the scores instead of storing them
//! between forward and backward. Per group of heads: `S = scale·Q·Kᵀ` and `dP = dO·Vᵀ`
//! on the runtime's tiled matmul, the row pass of `train/attention_backward.wgsl`
//! (softmax → P, `dS = P∘(dP − rowsum(dO∘O))`), then `dQ = scale·dS·K`,
//! `dKᵀ = scale·Qᵀ·dS` and `dVᵀ = dOᵀ·P` as matmuls again; the small [head_dim, T]
//! operands are transposed in and out of the [T, d] activations (`transpose`). The
//! score buffers are transient and sized to a memory budget (heads are grouped so that a
//! group's [heads, q_len, kv_len] scores fit it), so a 1500-frame encoder layer never keeps
//! 1500×1500 scores per head, and the work runs at matmul speed. The same gradients without
//! score buffers come from [`super::flash_attention`], through [`attention_backward_with`].

use std::sync::OnceLock;

use whisper_clsr::gpu::shader::Kernel;
use whisper_clsr::gpu::{Gpu, Tensor};
use whisper_clsr::ops::attention::AttentionShape;
use whisper_clsr::ops::matmul::{gemm, Epilogue, Gemm, Layout, Rhs};

use super::flash_attention;
use crate::kernel::{rows_grid, u};
use crate::transpose::transpose;

const SOURCE: &str = include_str!("../../../shaders/train/attention_backward.wgsl");
/// Default bytes of one transient score buffer (two are live during a call).
pub const SCORE_BUDGET: u64 = 16 << 20;

whisper_clsr::params_struct! {
    struct Params {
        q_len: u32,
        kv_len: u32,
        head_dim: u32,
        d: u32,
        causal: u32,
        past: u32,
        h0: u32,
        rows: u32,
    }
}

const KERNEL: Kernel = Kernel::new::<Params>("train/attention_backward.wgsl", SOURCE, "main");

pub(crate) fn kernels() -> Vec<Kernel> {
    vec![KERNEL]
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

/// What the backward reads of an attention forward: its inputs Q [q_len, d], K and V (at
/// least [kv_len, d]) and its output O [q_len, d].
#[derive(Clone, Copy)]
pub struct AttentionTape<'a> {
    pub q: &'a Tensor,
    pub k: &'a Tensor,
    pub v: &'a Tensor,
    pub o: &'a Tensor,
}

/// How [`attention_backward_with`] computes the gradients.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AttentionBackwardKernel {
    /// Scores and their gradients recomputed into transient buffers of at most
    /// `score_budget` bytes each and worked on by matmuls (this module's path).
    Recompute { score_budget: u64 },
    /// No score buffers: `train/flash_attention_backward.wgsl` (head sizes 8, 16, 32 and
    /// 64; [`flash_attention::supports`]).
    Flash,
}

impl AttentionBackwardKernel {
    /// The recompute path with the default budget.
    pub const RECOMPUTE: Self = Self::Recompute {
        score_budget: SCORE_BUDGET,
    };
}

/// Backward of `ops::attention::attention` given its `tape` and `dout`.
/// `causal` is `Some(past)` for decoder self-attention. Runs the recompute path, which
/// measured faster than the flash kernel at every shape on lavapipe (docs/benchmarks.md);
/// `WHISPER_CLSR_FLASH_ATTENTION_BACKWARD=1` in the environment picks the flash kernel
/// wherever the shape allows it (to compare the two in a whole training step).
pub fn attention_backward(
    gpu: &Gpu,
    tape: AttentionTape,
    dout: &Tensor,
    s: AttentionShape,
    causal: Option<usize>,
) -> AttentionGrads {
    static FLASH: OnceLock<bool> = OnceLock::new();
    let flash = *FLASH.get_or_init(|| {
        std::env::var("WHISPER_CLSR_FLASH_ATTENTION_BACKWARD").is_ok_and(|v| v == "1")
    });
    let kernel = if flash && flash_attention::supports(&s) {
        AttentionBackwardKernel::Flash
    } else {
        AttentionBackwardKernel::RECOMPUTE
    };
    attention_backward_with(gpu, tape, dout, s, causal, kernel)
}

/// [`attention_backward`] on a chosen kernel (a score budget, or the flash kernel where the
/// shape allows it).
pub fn attention_backward_with(
    gpu: &Gpu,
    tape: AttentionTape,
    dout: &Tensor,
    s: AttentionShape,
    causal: Option<usize>,
    kernel: AttentionBackwardKernel,
) -> AttentionGrads {
    let AttentionTape { q, k, v, o } = tape;
    let d = s.heads * s.head_dim;
    assert!(
        s.heads > 0 && s.head_dim > 0 && s.q_len > 0 && s.kv_len > 0,
        "attention backward: empty shape {s:?}"
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
    match kernel {
        AttentionBackwardKernel::Recompute { score_budget } => {
            recompute(gpu, tape, dout, s, causal, score_budget)
        }
        AttentionBackwardKernel::Flash => {
            flash_attention::flash_attention_backward(gpu, tape, dout, s, causal)
        }
    }
}

/// The recompute path on operands already checked.
fn recompute(
    gpu: &Gpu,
    tape: AttentionTape,
    dout: &Tensor,
    s: AttentionShape,
    causal: Option<usize>,
    budget: u64,
) -> AttentionGrads {
    let AttentionTape { q, k, v, o } = tape;
    let (hd, d) = (s.head_dim, s.heads * s.head_dim);
    let per_head = (s.q_len * s.kv_len * 4) as u64;
    assert!(
        per_head <= gpu.max_binding_bytes(),
        "attention backward: one head's {}×{} scores exceed the device's binding limit",
        s.q_len,
        s.kv_len
    );
    let group = ((budget.min(gpu.max_binding_bytes()) / per_head) as usize).clamp(1, s.heads);
    let scale = 1.0 / (hd as f32).sqrt();
    let scores = gpu.tensor(&[group, s.q_len, s.kv_len]);
    let dscores = gpu.tensor(&[group, s.q_len, s.kv_len]);
    let rows_t = gpu.tensor(&[group, hd, s.q_len]);
    let grad_t = gpu.tensor(&[group, hd, s.kv_len]);
    let dq = gpu.tensor(&[s.q_len, d]);
    let dk = gpu.tensor(&[s.kv_len, d]);
    let dv = gpu.tensor(&[s.kv_len, d]);
    let heads = |h0: usize| Layout {
        offset: h0 * hd,
        row_stride: d,
        batch_stride: hd,
    };
    let scores_l = Layout::dense(s.q_len, s.kv_len);
    let qt_l = Layout::dense(hd, s.q_len);
    let kt_l = Layout::dense(hd, s.kv_len);
    let none = Epilogue::default();
    let mut h0 = 0;
    while h0 < s.heads {
        let hn = group.min(s.heads - h0);
        // S = scale·Q·Kᵀ and dP = dO·Vᵀ, [hn, q_len, kv_len].
        let qk = Gemm {
            m: s.q_len,
            n: s.kv_len,
            k: hd,
            batch: hn,
            a: heads(h0),
            b: heads(h0),
            c: scores_l,
            trans_b: true,
            alpha: scale,
        };
        gemm(gpu, q, Rhs::Act(k), &scores, &qk, &none);
        let dov = Gemm { alpha: 1.0, ..qk };
        gemm(gpu, dout, Rhs::Act(v), &dscores, &dov, &none);
        let p = Params {
            q_len: u(s.q_len),
            kv_len: u(s.kv_len),
            head_dim: u(hd),
            d: u(d),
            causal: causal.is_some() as u32,
            past: u(causal.unwrap_or(0)),
            h0: u(h0),
            rows: u(hn * s.q_len),
        };
        gpu.dispatch(
            &KERNEL,
            bytemuck::bytes_of(&p),
            &[
                (1, o.buffer()),
                (2, dout.buffer()),
                (3, scores.buffer()),
                (4, dscores.buffer()),
            ],
            rows_grid(hn * s.q_len),
        );
        // dQ = scale·dS·K, written into the heads' columns.
        let dsk = Gemm {
            m: s.q_len,
            n: hd,
            k: s.kv_len,
            batch: hn,
            a: scores_l,
            b: heads(h0),
            c: heads(h0),
            trans_b: false,
            alpha: scale,
        };
        gemm(gpu, &dscores, Rhs::Act(k), &dq, &dsk, &none);
        // dKᵀ = scale·Qᵀ·dS and dVᵀ = dOᵀ·P, [hn, hd, kv_len], then into the heads' columns.
        let t_product = |rows: &Tensor, probs: &Tensor, alpha: f32, out: &Tensor| {
            transpose(gpu, rows, heads(h0), &rows_t, qt_l, s.q_len, hd, hn);
            let g = Gemm {
                m: hd,
                n: s.kv_len,
                k: s.q_len,
                batch: hn,
                a: qt_l,
                b: scores_l,
                c: kt_l,
                trans_b: false,
                alpha,
            };
            gemm(gpu, &rows_t, Rhs::Act(probs), &grad_t, &g, &none);
            transpose(gpu, &grad_t, kt_l, out, heads(h0), hd, s.kv_len, hn);
        };
        t_product(q, &dscores, scale, &dk);
        t_product(dout, &scores, 1.0, &dv);
        h0 += hn;
    }
    AttentionGrads { dq, dk, dv }
}
