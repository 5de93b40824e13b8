//! Multi-head attention backward without score buffers (`train/flash_attention_backward.wgsl`),
//! on the tiles of the runtime's flash attention: a statistics pass (each query row's
//! base-2 log-sum-exp L and D = dO·O), a pass per key row (dK, dV) and a pass per query row
//! (dQ), each recomputing its scores from Q and K. It does more arithmetic than the
//! recomputing backward of [`super::attention`] (four score-sized products' worth per key
//! pass, three per query pass and one for the statistics, against five) but keeps only
//! [heads, q_len] statistics, where that one needs two score buffers per group of heads.

use whisper_clsr::gpu::shader::Kernel;
use whisper_clsr::gpu::{Gpu, Tensor};
use whisper_clsr::ops::attention::AttentionShape;
use whisper_clsr::ops::flash_attention::HEAD_DIMS;

use super::attention::{AttentionGrads, AttentionTape};
use crate::kernel::u;

const SOURCE: &str = include_str!("../../../shaders/train/flash_attention_backward.wgsl");
/// Invocations per workgroup (`INVOCATIONS` in the shader), one row each.
const INVOCATIONS: usize = 64;

whisper_clsr::params_struct! {
    struct Params {
        q_len: u32,
        kv_len: u32,
        row_vec4s: u32,
        scale_log2: f32,
        scale: f32,
        causal: u32,
        past: u32,
    }
}

/// The shader's passes, in the order they run.
#[derive(Clone, Copy)]
enum Pass {
    Stats,
    Keys,
    Queries,
}

impl Pass {
    const ALL: [Pass; 3] = [Pass::Stats, Pass::Keys, Pass::Queries];

    fn define(self) -> &'static str {
        match self {
            Pass::Stats => "STATS",
            Pass::Keys => "KEYS",
            Pass::Queries => "QUERIES",
        }
    }
}

fn kernel(pass: Pass, head_dim: &'static str) -> Kernel {
    Kernel::new::<Params>("train/flash_attention_backward.wgsl", SOURCE, "main")
        .define_if(pass.define(), true)
        .define_if(head_dim, true)
}

pub(crate) fn kernels() -> Vec<Kernel> {
    let mut all = Vec::new();
    for &(_, head_dim) in &HEAD_DIMS {
        for pass in Pass::ALL {
            all.push(kernel(pass, head_dim));
        }
    }
    all
}

/// Whether [`flash_attention_backward`] handles this shape: one sequence and a head size with
/// a kernel variant (those of the runtime's flash attention).
pub fn supports(s: &AttentionShape) -> bool {
    s.beams == 1 && HEAD_DIMS.iter().any(|&(hd, _)| hd == s.head_dim)
}

/// Gradients of `O = softmax(Q·Kᵀ/√hd [causal: keys ≤ i + past])·V` given its `tape` and
/// `dout`; `causal` is `Some(past)` for decoder self-attention. The shape must be
/// [`supports`]ed; the caller checked the operands' shapes.
pub fn flash_attention_backward(
    gpu: &Gpu,
    tape: AttentionTape,
    dout: &Tensor,
    s: AttentionShape,
    causal: Option<usize>,
) -> AttentionGrads {
    let AttentionTape { q, k, v, o } = tape;
    let head_dim = HEAD_DIMS
        .iter()
        .find(|&&(hd, _)| hd == s.head_dim && s.beams == 1)
        .map(|&(_, define)| define)
        .unwrap_or_else(|| panic!("flash attention backward does not support {s:?}"));
    let d = s.heads * s.head_dim;
    let grid = |rows: usize| {
        let groups = [u(rows.div_ceil(INVOCATIONS)), u(s.heads), 1];
        assert!(
            groups[0] <= 65535 && groups[1] <= 65535,
            "flash attention backward grid too large for {s:?}"
        );
        groups
    };
    let params = Params {
        q_len: u(s.q_len),
        kv_len: u(s.kv_len),
        row_vec4s: u(d / 4),
        scale_log2: std::f32::consts::LOG2_E / (s.head_dim as f32).sqrt(),
        scale: 1.0 / (s.head_dim as f32).sqrt(),
        causal: causal.is_some() as u32,
        past: u(causal.unwrap_or(0)),
    };
    let dispatch = |pass: Pass, rows: usize, buffers: &[(u32, &wgpu::Buffer)]| {
        gpu.dispatch(
            &kernel(pass, head_dim),
            bytemuck::bytes_of(&params),
            buffers,
            grid(rows),
        );
    };
    let (q, k, v, o, dout) = (
        q.buffer(),
        k.buffer(),
        v.buffer(),
        o.buffer(),
        dout.buffer(),
    );
    // (L, D) per head and query row.
    let stats = gpu.tensor(&[s.heads, s.q_len, 2]);
    let st = stats.buffer();
    dispatch(
        Pass::Stats,
        s.q_len,
        &[(1, q), (2, k), (3, dout), (4, o), (5, st)],
    );
    let dk = gpu.tensor(&[s.kv_len, d]);
    let dv = gpu.tensor(&[s.kv_len, d]);
    dispatch(
        Pass::Keys,
        s.kv_len,
        &[
            (1, q),
            (2, k),
            (3, dout),
            (4, v),
            (5, st),
            (6, dk.buffer()),
            (7, dv.buffer()),
        ],
    );
    let dq = gpu.tensor(&[s.q_len, d]);
    dispatch(
        Pass::Queries,
        s.q_len,
        &[(1, q), (2, k), (3, dout), (4, v), (5, st), (6, dq.buffer())],
    );
    AttentionGrads { dq, dk, dv }
}
