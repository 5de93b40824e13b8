//! Unmasked multi-head attention in one kernel (`flash_attention.wgsl`): softmax(Q·Kᵀ/√d)·V
//! with an online softmax over key tiles, so the [heads, q_len, kv_len] scores of
//! [`attention`](super::attention::attention) are never stored. Heads are addressed in place
//! inside [T, d_model] activations, as there. Used for the encoder's self-attention; masked
//! attention, beams and kept probabilities stay on the composed path (docs/kernels.md).
//! Natively on CPU drivers ([`Gpu::cpu_forms`]) heads of 64 take the kernel's `WALK` form.

use super::attention::AttentionShape;
use super::u;
use crate::gpu::shader::Kernel;
use crate::gpu::{Gpu, Tensor};

const SOURCE: &str = include_str!("../../shaders/runtime/flash_attention.wgsl");
/// Invocations per workgroup of the tiled form (`INVOCATIONS` in the shader).
const INVOCATIONS: usize = 64;
/// Query rows per invocation with a kernel variant, and its define.
const ROWS_PER_INVOCATION: [(usize, Option<&str>); 3] =
    [(1, None), (2, Some("ROWS_2")), (4, Some("ROWS_4"))];
/// The rows per invocation [`flash_attention`] uses in the tiled form.
pub const DEFAULT_ROWS_PER_INVOCATION: usize = 2;
/// Query rows per workgroup of the `WALK` form: 16 invocations of 8 rows (the shader's
/// `INVOCATIONS` and `R`). The form exists for heads of 64 (every Whisper model's).
const WALK_ROWS_PER_GROUP: usize = 128;
/// The head sizes with a kernel variant, and its define (`lib/head_dim.wgsl`; the trainer's
/// flash attention backward has the same variants). Whisper's heads are 64 wide; the
/// smaller ones serve tiny test models. Wider heads would not fit a key/value tile in
/// WebGPU's default 16 KiB of workgroup memory.
pub const HEAD_DIMS: [(usize, &str); 4] = [
    (8, "HEAD_DIM_8"),
    (16, "HEAD_DIM_16"),
    (32, "HEAD_DIM_32"),
    (64, "HEAD_DIM_64"),
];

crate::params_struct! {
    struct Params {
        q_len: u32,
        kv_len: u32,
        row_vec4s: u32,
        scale_log2: f32,
    }
}

fn kernel(head_dim: &'static str, rows: Option<&'static str>) -> Kernel {
    let kernel = Kernel::new::<Params>("runtime/flash_attention.wgsl", SOURCE, "main")
        .define_if(head_dim, true);
    match rows {
        Some(rows) => kernel.define_if(rows, true),
        None => kernel,
    }
}

/// The tiled form for heads of `head_dim` with `rows_per_invocation` rows per invocation.
fn tiled_kernel(head_dim: usize, rows_per_invocation: usize) -> Kernel {
    let rows = ROWS_PER_INVOCATION
        .iter()
        .find(|&&(n, _)| n == rows_per_invocation)
        .map(|&(_, define)| define)
        .unwrap_or_else(|| panic!("no variant with {rows_per_invocation} rows per invocation"));
    let head_dim = HEAD_DIMS
        .iter()
        .find(|&&(hd, _)| hd == head_dim)
        .map(|&(_, define)| define)
        .unwrap_or_else(|| panic!("flash attention has no variant for heads of {head_dim}"));
    kernel(head_dim, rows)
}

fn walk_kernel() -> Kernel {
    kernel("HEAD_DIM_64", None).define_if("WALK", true)
}

pub(crate) fn kernels() -> Vec<Kernel> {
    let mut all = vec![walk_kernel()];
    for &(_, head_dim) in &HEAD_DIMS {
        for &(_, rows) in &ROWS_PER_INVOCATION {
            all.push(kernel(head_dim, rows));
        }
    }
    all
}

/// Whether [`flash_attention`] takes the `WALK` form: on CPU drivers, for heads of 64, and
/// natively only. The written-out form is a large shader: lavapipe compiles it in about 16 s
/// (Mesa 22.3) to 2 minutes (Mesa 25.0), once per machine where Mesa's shader cache keeps it.
/// In Chromium it made the encoder pass 12× slower than the tiled form (docs/benchmarks.md,
/// "Written out for CPU drivers"), so a browser runs the tiled form.
fn walks(cpu_forms: bool, head_dim: usize) -> bool {
    cpu_forms && head_dim == 64 && cfg!(not(target_arch = "wasm32"))
}

/// Whether `kernel` is a flash attention variant that [`flash_attention`] dispatches on a
/// device with the CPU drivers' kernel forms or not: the default tiling, or where [`walks`]
/// says so the `WALK` form for heads of 64. The other tilings are for tests and benchmarks.
pub(crate) fn is_dispatched(kernel: &Kernel, cpu_forms: bool) -> bool {
    HEAD_DIMS.iter().any(|&(head_dim, _)| {
        let dispatched = if walks(cpu_forms, head_dim) {
            walk_kernel()
        } else {
            tiled_kernel(head_dim, DEFAULT_ROWS_PER_INVOCATION)
        };
        dispatched.key() == kernel.key()
    })
}

/// Whether `kernel` is one of this module's.
pub(crate) fn is_flash_attention(kernel: &Kernel) -> bool {
    kernel.source == SOURCE
}

/// Whether [`flash_attention`] computes attention of this shape: one sequence (no beams) and a
/// head size with a kernel variant.
pub fn supports(s: &AttentionShape) -> bool {
    s.beams == 1 && HEAD_DIMS.iter().any(|&(hd, _)| hd == s.head_dim)
}

/// softmax(q·kᵀ/√head_dim)·v for q [q_len, d], k and v [≥ kv_len, d] (the first `kv_len`
/// rows are read), without a mask; returns [q_len, d]. The shape must be [`supports`]ed.
/// The `WALK` form natively on CPU drivers where the heads are 64 wide, else the tiled form.
pub fn flash_attention(gpu: &Gpu, q: &Tensor, k: &Tensor, v: &Tensor, s: AttentionShape) -> Tensor {
    if walks(gpu.cpu_forms(), s.head_dim) {
        flash_attention_walk(gpu, q, k, v, s)
    } else {
        flash_attention_tiled(gpu, q, k, v, s, DEFAULT_ROWS_PER_INVOCATION)
    }
}

/// [`flash_attention`] in the `WALK` form (heads of 64, one sequence) on any device: the
/// form for CPU drivers, here callable anywhere so that tests and benchmarks compare it.
pub fn flash_attention_walk(
    gpu: &Gpu,
    q: &Tensor,
    k: &Tensor,
    v: &Tensor,
    s: AttentionShape,
) -> Tensor {
    assert!(
        s.head_dim == 64 && s.beams == 1,
        "the walking flash attention takes one sequence with heads of 64, not {s:?}"
    );
    dispatch(gpu, &walk_kernel(), q, k, v, s, WALK_ROWS_PER_GROUP)
}

/// [`flash_attention`] with `rows_per_invocation` query rows per invocation (1, 2 or 4): the
/// tiling the benchmark compares (docs/benchmarks.md).
pub fn flash_attention_tiled(
    gpu: &Gpu,
    q: &Tensor,
    k: &Tensor,
    v: &Tensor,
    s: AttentionShape,
    rows_per_invocation: usize,
) -> Tensor {
    assert!(s.beams == 1, "flash attention does not support {s:?}");
    dispatch(
        gpu,
        &tiled_kernel(s.head_dim, rows_per_invocation),
        q,
        k,
        v,
        s,
        INVOCATIONS * rows_per_invocation,
    )
}

/// Checks the operands and dispatches `kernel` with `rows_per_group` query rows per
/// workgroup (grid [⌈q_len/rows_per_group⌉, heads]).
fn dispatch(
    gpu: &Gpu,
    kernel: &Kernel,
    q: &Tensor,
    k: &Tensor,
    v: &Tensor,
    s: AttentionShape,
    rows_per_group: usize,
) -> Tensor {
    let d = s.heads * s.head_dim;
    assert!(s.q_len > 0 && s.kv_len > 0, "attention over no rows");
    assert_eq!(q.shape()[1], d, "query width");
    assert!(q.len() >= s.q_len * d, "queries too short");
    assert!(
        k.len() >= s.kv_len * d && v.len() >= s.kv_len * d,
        "keys/values too short"
    );
    let out = gpu.tensor(&[s.q_len, d]);
    let params = Params {
        q_len: u(s.q_len),
        kv_len: u(s.kv_len),
        row_vec4s: u(d / 4),
        scale_log2: std::f32::consts::LOG2_E / (s.head_dim as f32).sqrt(),
    };
    let groups = [u(s.q_len.div_ceil(rows_per_group)), u(s.heads), 1];
    assert!(
        groups[0] <= 65535 && groups[1] <= 65535,
        "flash attention grid too large"
    );
    gpu.dispatch(
        kernel,
        bytemuck::bytes_of(&params),
        &[
            (1, q.buffer()),
            (2, k.buffer()),
            (3, v.buffer()),
            (4, out.buffer()),
        ],
        groups,
    );
    out
}
