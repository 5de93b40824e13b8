//! The CLSR feed-forward block at inference (DistilWhisper): per token, a hard gate
//! `g = 1[w_out · ReLU(W_in z + b_in) ≥ 0]` picks the language expert FFN (g = 1) or the
//! frozen shared FFN (g = 0), and the token runs through that one FFN only:
//! `out = residual + g·FFN_lang(z) + (1 − g)·FFN_shared(z)`.
//!
//! Routing stays on the GPU; no count is read back:
//! - many tokens: `clsr_gate.wgsl` writes the gates, `clsr_route.wgsl` (one workgroup)
//!   partitions the tokens into an expert list and a shared list, and each Linear runs as
//!   one `clsr_matmul.wgsl` dispatch whose row tiles cover the expert list first, then the
//!   shared list; its grid has one row tile more than the dense product would, and the
//!   tiles that turn out past the end of the lists exit at once.
//! - a few tokens (decoder steps): `clsr_gate.wgsl` (FEW_ROWS) writes the gates and the
//!   split-K `clsr_gemv.wgsl` reads them directly: each workgroup reads only the weights
//!   some token takes and keeps each token's sum from its own weight (on CPU drivers its
//!   `WALK` form: one thread per output).

use super::u;
use crate::gpu::shader::Kernel;
use crate::gpu::{DType, Gpu, Tensor, Weight};
use crate::pack::Expert;
use crate::Result;

const GATE: &str = include_str!("../../shaders/runtime/clsr_gate.wgsl");
const ROUTE: &str = include_str!("../../shaders/runtime/clsr_route.wgsl");
const MATMUL: &str = include_str!("../../shaders/runtime/clsr_matmul.wgsl");
const GEMV: &str = include_str!("../../shaders/runtime/clsr_gemv.wgsl");
/// Token counts up to which the few-row kernels run (the dense path switches at the same
/// count in `matmul::gemm`).
const FEW_ROWS: usize = 4;
/// Rows of a `clsr_matmul.wgsl` tile.
const TILE: usize = 64;
/// Slots before the token list in the route buffer (keeps the list 16-byte aligned).
const ROUTE_HEADER: usize = 4;

/// The frozen shared FFN of a layer: `fc2(GELU(fc1(z)))`.
#[derive(Clone, Copy)]
pub struct SharedFfn<'a> {
    /// [ffn, d]
    pub fc1: &'a Weight,
    /// `[ffn]`
    pub fc1_bias: &'a Weight,
    /// [d, ffn]
    pub fc2: &'a Weight,
    /// `[d]`
    pub fc2_bias: &'a Weight,
}

/// Result of [`clsr_ffn`].
pub struct ClsrOutput {
    /// [T, d]: residual + the FFN each token was routed to.
    pub out: Tensor,
    /// `[T]` u32: 1 where the token took the expert, 0 where it took the shared FFN.
    pub gates: Tensor,
}

/// Per-layer gate counters kept on the GPU, so that the fraction of tokens each layer
/// routes to its expert can be read once per transcription rather than per layer.
pub struct GateCounts {
    /// u32 pairs (expert tokens, tokens), one per slot.
    counts: Tensor,
}

/// What one counter slot has seen.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GateCount {
    pub expert: u32,
    pub tokens: u32,
}

impl GateCount {
    /// Fraction of tokens routed to the expert; `None` before any token.
    pub fn fraction(&self) -> Option<f64> {
        (self.tokens > 0).then(|| self.expert as f64 / self.tokens as f64)
    }
}

impl GateCounts {
    /// `slots` zeroed counters (e.g. one per CLSR layer: encoder layers, then decoder).
    pub fn new(gpu: &Gpu, slots: usize) -> Result<GateCounts> {
        let counts = gpu.upload_u32(&vec![0; 2 * slots], &[slots, 2])?;
        Ok(GateCounts { counts })
    }

    pub fn slots(&self) -> usize {
        self.counts.shape()[0]
    }

    /// Zeroes every counter, after the work recorded so far.
    pub fn reset(&self, gpu: &Gpu) {
        gpu.write(&self.counts, &vec![0.0; self.counts.len()]);
    }

    /// Reads every slot (one readback).
    pub async fn read(&self, gpu: &Gpu) -> Result<Vec<GateCount>> {
        let raw = gpu.read_u32(&self.counts).await?;
        Ok(raw
            .chunks_exact(2)
            .map(|c| GateCount {
                expert: c[0],
                tokens: c[1],
            })
            .collect())
    }
}

crate::params_struct! {
    struct GateParams {
        rows: u32,
        cols: u32,
        hidden: u32,
        slot: u32,
    }
}

crate::params_struct! {
    struct RouteParams {
        rows: u32,
        slot: u32,
        _pad: [u32; 2],
    }
}

crate::params_struct! {
    struct LinearParams {
        rows: u32,
        n: u32,
        k: u32,
        _pad: u32,
    }
}

/// How many token rows a dispatch handles, which picks the kernel shape.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Rows {
    One,
    Few,
    Many,
}

impl Rows {
    fn of(rows: usize) -> Rows {
        match rows {
            1 => Rows::One,
            r if r <= FEW_ROWS => Rows::Few,
            _ => Rows::Many,
        }
    }

    fn few(self) -> bool {
        self != Rows::Many
    }
}

fn gate_kernel(f16: bool, rows: Rows, stats: bool) -> Kernel {
    Kernel::new::<GateParams>("runtime/clsr_gate.wgsl", GATE, "main")
        .define_if("F16", f16)
        .define_if("FEW_ROWS", rows.few())
        .define_if("ONE_ROW", rows == Rows::One)
        .define_if("STATS", stats)
}

fn route_kernel(stats: bool) -> Kernel {
    Kernel::new::<RouteParams>("runtime/clsr_route.wgsl", ROUTE, "main").define_if("STATS", stats)
}

/// How the few-row routed Linear reads its operands.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Walk {
    /// The GPU form: 32 lanes split each output's K.
    No,
    /// The CPU drivers' form ([`crate::gpu::KernelForms`]): a thread walks each output's
    /// weight row 16 bytes at a time, and with `wide_a` (K a whole number of the weights'
    /// 16-byte units) the activation rows too.
    Yes { wide_a: bool },
}

/// The routed Linear: tiled (`clsr_matmul.wgsl`) or few-row (`clsr_gemv.wgsl`, walking or
/// not); with `gelu` it is fc1, otherwise fc2 accumulating into the residual.
fn linear_kernel(rows: Rows, f16: bool, gelu: bool, walk: Walk) -> Kernel {
    let kernel = if rows.few() {
        Kernel::new::<LinearParams>("runtime/clsr_gemv.wgsl", GEMV, "main")
            .define_if("ONE_ROW", rows == Rows::One)
            .define_if("WALK", walk != Walk::No)
            .define_if("WIDE_A", walk == Walk::Yes { wide_a: true })
    } else {
        Kernel::new::<LinearParams>("runtime/clsr_matmul.wgsl", MATMUL, "main")
    };
    kernel.define_if("F16", f16).define_if("GELU", gelu)
}

/// Every variant, for shader validation.
pub(crate) fn kernels() -> Vec<Kernel> {
    let mut all = vec![route_kernel(false), route_kernel(true)];
    for f16 in [false, true] {
        all.push(gate_kernel(f16, Rows::Many, false));
        for rows in [Rows::One, Rows::Few] {
            all.push(gate_kernel(f16, rows, false));
            all.push(gate_kernel(f16, rows, true));
        }
        for rows in [Rows::One, Rows::Few, Rows::Many] {
            for gelu in [false, true] {
                all.push(linear_kernel(rows, f16, gelu, Walk::No));
                if rows.few() {
                    for wide_a in [false, true] {
                        all.push(linear_kernel(rows, f16, gelu, Walk::Yes { wide_a }));
                    }
                }
            }
        }
    }
    all
}

/// `residual + g·FFN_lang(x_ln) + (1 − g)·FFN_shared(x_ln)` with the hard gate, for
/// `x_ln` [T, d] (the output of the layer's `final_layer_norm`). `shared` is the frozen
/// FFN. Nothing is read back.
pub fn clsr_ffn(
    gpu: &Gpu,
    x_ln: &Tensor,
    shared: SharedFfn,
    expert: &Expert<Weight>,
    residual: &Tensor,
) -> ClsrOutput {
    clsr_ffn_counted(gpu, x_ln, shared, expert, residual, None)
}

/// [`clsr_ffn`], also adding (expert tokens, tokens) to slot `counts.1` of `counts.0`.
pub fn clsr_ffn_counted(
    gpu: &Gpu,
    x_ln: &Tensor,
    shared: SharedFfn,
    expert: &Expert<Weight>,
    residual: &Tensor,
    counts: Option<(&GateCounts, usize)>,
) -> ClsrOutput {
    let (rows, d) = (x_ln.shape()[0], x_ln.shape()[1]);
    let SharedFfn {
        fc1,
        fc1_bias,
        fc2,
        fc2_bias,
    } = shared;
    let ffn = fc1.shape()[0];
    let hidden = expert.gate_in.shape()[0];
    check_shapes(x_ln, shared, expert, residual);
    if let Some((c, slot)) = counts {
        assert!(
            slot < c.slots(),
            "gate counter slot {slot} of {}",
            c.slots()
        );
    }
    assert!(rows > 0, "clsr_ffn needs at least one token");
    let shape = Rows::of(rows);
    let few = shape.few();
    let f16 = fc1.dtype() == DType::F16;
    let walk = few && gpu.cpu_forms();

    // 1. Gates (and, for few rows, the counters).
    let gates = gpu.tensor(&[rows]);
    let gate_params = GateParams {
        rows: u(rows),
        cols: u(d),
        hidden: u(hidden),
        slot: u(counts.map_or(0, |c| c.1)),
    };
    let mut buffers = vec![
        (1, x_ln.buffer()),
        (2, expert.gate_in.buffer()),
        (3, expert.gate_in_bias.buffer()),
        (4, expert.gate_out.buffer()),
        (5, gates.buffer()),
    ];
    let gate_stats = few && counts.is_some();
    if let (true, Some((c, _))) = (gate_stats, counts) {
        buffers.push((6, c.counts.buffer()));
    }
    let groups = if few {
        [1, 1, 1]
    } else {
        crate::gpu::grid(u(rows.div_ceil(TILE)))
    };
    let gate_f16 = expert.gate_in.dtype() == DType::F16;
    gpu.dispatch(
        &gate_kernel(gate_f16, shape, gate_stats),
        bytemuck::bytes_of(&gate_params),
        &buffers,
        groups,
    );

    // 2. Many rows: partition the tokens into the expert list and the shared list.
    let route = (!few).then(|| {
        let route = gpu.tensor(&[ROUTE_HEADER + rows]);
        let params = RouteParams {
            rows: u(rows),
            slot: u(counts.map_or(0, |c| c.1)),
            _pad: [0; 2],
        };
        let mut buffers = vec![(1, gates.buffer()), (2, route.buffer())];
        if let Some((c, _)) = counts {
            buffers.push((3, c.counts.buffer()));
        }
        gpu.dispatch(
            &route_kernel(counts.is_some()),
            bytemuck::bytes_of(&params),
            &buffers,
            [1, 1, 1],
        );
        route
    });
    let routing = route.as_ref().unwrap_or(&gates);

    // 3. fc1 + GELU into h, then fc2 + bias added onto a copy of the residual.
    let h = gpu.tensor(&[rows, ffn]);
    let out = gpu.tensor(&[rows, d]);
    gpu.copy(residual.buffer(), 0, out.buffer(), 0, (rows * d * 4) as u64);
    let steps = [
        (
            x_ln,
            (fc1, fc1_bias),
            (&expert.fc1, &expert.fc1_bias),
            &h,
            ffn,
            d,
            true,
        ),
        (
            &h,
            (fc2, fc2_bias),
            (&expert.fc2, &expert.fc2_bias),
            &out,
            d,
            ffn,
            false,
        ),
    ];
    for (a, (ws, bs), (we, be), c, n, k, gelu) in steps {
        let params = LinearParams {
            rows: u(rows),
            n: u(n),
            k: u(k),
            _pad: 0,
        };
        let groups = if few {
            // Outputs per workgroup: 64 threads with one each (WALK), or 8 teams of 32.
            crate::gpu::grid(u(n.div_ceil(if walk { 64 } else { 8 })))
        } else {
            // Row tiles on x: see clsr_matmul.wgsl.
            let row_tiles = rows.div_ceil(TILE) + 1;
            assert!(row_tiles <= 65535, "clsr_ffn: too many tokens ({rows})");
            [u(row_tiles), u(n.div_ceil(TILE)), 1]
        };
        // Activation rows of k elements start on 16-byte boundaries when the weight rows
        // do: k a whole number of 16-byte units (8 halves or 4 f32).
        let form = if walk {
            Walk::Yes {
                wide_a: k.is_multiple_of(if f16 { 8 } else { 4 }),
            }
        } else {
            Walk::No
        };
        gpu.dispatch(
            &linear_kernel(shape, f16, gelu, form),
            bytemuck::bytes_of(&params),
            &[
                (1, a.buffer()),
                (2, ws.buffer()),
                (3, bs.buffer()),
                (4, we.buffer()),
                (5, be.buffer()),
                (6, c.buffer()),
                (7, routing.buffer()),
            ],
            groups,
        );
    }
    ClsrOutput { out, gates }
}

fn check_shapes(
    x_ln: &Tensor,
    SharedFfn {
        fc1,
        fc1_bias,
        fc2,
        fc2_bias,
    }: SharedFfn,
    e: &Expert<Weight>,
    residual: &Tensor,
) {
    let (rows, d) = (x_ln.shape()[0], x_ln.shape()[1]);
    let ffn = fc1.shape()[0];
    let hidden = e.gate_in.shape()[0];
    assert_eq!(residual.shape(), &[rows, d], "clsr_ffn: residual shape");
    for (what, w, shape) in [
        ("shared fc1", fc1, vec![ffn, d]),
        ("shared fc1 bias", fc1_bias, vec![ffn]),
        ("shared fc2", fc2, vec![d, ffn]),
        ("shared fc2 bias", fc2_bias, vec![d]),
        ("expert fc1", &e.fc1, vec![ffn, d]),
        ("expert fc1 bias", &e.fc1_bias, vec![ffn]),
        ("expert fc2", &e.fc2, vec![d, ffn]),
        ("expert fc2 bias", &e.fc2_bias, vec![d]),
        ("gate W_in", &e.gate_in, vec![hidden, d]),
        ("gate b_in", &e.gate_in_bias, vec![hidden]),
        ("gate w_out", &e.gate_out, vec![1, hidden]),
    ] {
        assert_eq!(w.shape(), shape.as_slice(), "clsr_ffn: {what} shape");
    }
    let dtype = fc1.dtype();
    for w in [
        fc1_bias,
        fc2,
        fc2_bias,
        &e.fc1,
        &e.fc1_bias,
        &e.fc2,
        &e.fc2_bias,
    ] {
        assert_eq!(
            w.dtype(),
            dtype,
            "clsr_ffn: expert and shared FFN weights must share a storage type \
             (upload the expert with the base model's type)"
        );
    }
    let gate = e.gate_in.dtype();
    assert!(
        e.gate_in_bias.dtype() == gate && e.gate_out.dtype() == gate,
        "clsr_ffn: gate weights must share a storage type"
    );
}
