//! Matrix multiplication: the tiled batched kernel (`matmul.wgsl`) and the few-row
//! weight kernel (`gemv.wgsl`), with bias, GELU and residual fused into the store.

use super::u;
use crate::gpu::shader::Kernel;
use crate::gpu::{DType, Gpu, Tensor, Weight};

const MATMUL: &str = include_str!("../../shaders/runtime/matmul.wgsl");
const GEMV: &str = include_str!("../../shaders/runtime/gemv.wgsl");
/// Rows up to which a weight product uses the GEMV kernel.
const GEMV_MAX_ROWS: usize = 4;
/// Rows up to which a weight product runs as GEMV dispatches of `GEMV_MAX_ROWS` rows each
/// (beam search steps: each reads the weights once, where a 64-row matmul tile would be
/// mostly empty).
const GEMV_GROUPS_MAX_ROWS: usize = 16;
/// Shortest K for which the GEMV kernel splits each row over lanes.
const SPLIT_K_MIN: usize = 256;
/// Outputs per workgroup of the split-K GEMV (`OUTS` in gemv.wgsl), with and without
/// subgroups.
const SPLIT_K_OUTS: [usize; 2] = [8, 16];
/// Blocks of 128×128 from which the GPU matmul's wide form takes them (`LARGE_TILE`): the
/// grid must still fill a GPU's compute units, which WebGPU does not report; 64 lets a
/// whisper-tiny encoder's QKV projection and fc1 (108 and 144 blocks) take them and leaves
/// its 384-wide products (36) to 64×64 blocks. `scripts/gpu-bench.sh` compares the two.
const LARGE_TILE_MIN_BLOCKS: usize = 64;

/// The right-hand operand: another activation, a stored weight, or an activation stored in
/// packed halves.
#[derive(Clone, Copy)]
pub enum Rhs<'a> {
    Act(&'a Tensor),
    Weight(&'a Weight),
    /// Halves packed two per u32 (low half first, as an f16 [`Weight`]): a u32 tensor
    /// [rows, cols / 2] holding [rows, cols] values ([`super::pack_halves`]).
    Halves(&'a Tensor),
}

impl Rhs<'_> {
    pub(crate) fn buffer(&self) -> &wgpu::Buffer {
        match self {
            Rhs::Act(t) | Rhs::Halves(t) => t.buffer(),
            Rhs::Weight(w) => w.buffer(),
        }
    }

    /// Whether the elements are packed halves.
    pub fn is_f16(&self) -> bool {
        match self {
            Rhs::Act(_) => false,
            Rhs::Weight(w) => w.dtype() == DType::F16,
            Rhs::Halves(_) => true,
        }
    }

    /// Rows and columns of the values, as a matrix (a weight's first dimension and the
    /// product of the others).
    pub fn dims(&self) -> (usize, usize) {
        let (shape, per_element) = match self {
            Rhs::Act(t) => (t.shape(), 1),
            Rhs::Weight(w) => (w.shape(), 1),
            Rhs::Halves(t) => (t.shape(), 2),
        };
        let rows = shape.first().copied().unwrap_or(1);
        let rest: usize = shape.iter().skip(1).product();
        (rows, rest * per_element)
    }

    /// Number of values.
    pub fn elements(&self) -> usize {
        let (rows, cols) = self.dims();
        rows * cols
    }
}

/// Where a matrix lives inside its buffer (all in elements). Item `b` of the batch starts
/// at `offset + b * batch_stride`; row `i` at `+ i * row_stride`.
#[derive(Clone, Copy, Debug, Default)]
pub struct Layout {
    pub offset: usize,
    pub row_stride: usize,
    pub batch_stride: usize,
}

impl Layout {
    /// A dense row-major matrix with `cols` columns, batches packed one after another.
    pub fn dense(rows: usize, cols: usize) -> Layout {
        Layout {
            offset: 0,
            row_stride: cols,
            batch_stride: rows * cols,
        }
    }
}

/// A full description of one (batched) product.
#[derive(Clone, Copy, Debug)]
pub struct Gemm {
    pub m: usize,
    pub n: usize,
    pub k: usize,
    pub batch: usize,
    pub a: Layout,
    pub b: Layout,
    pub c: Layout,
    /// B is stored [n, k] (a Linear weight, or keys for Q·Kᵀ).
    pub trans_b: bool,
    pub alpha: f32,
}

/// What happens to each output before it is stored.
#[derive(Clone, Copy, Default)]
pub struct Epilogue<'a> {
    /// Per-column bias (same storage type as the weight B), starting at element `.1`.
    pub bias: Option<(&'a Weight, usize)>,
    pub gelu: bool,
    /// Added after the activation, laid out like C.
    pub residual: Option<(&'a Tensor, Layout)>,
    /// A layer norm applied to A's rows as they are read: an f32 `[gamma | beta]` table of
    /// 2·k. Only for products the GEMV kernel takes (at most `GEMV_MAX_ROWS` rows, or
    /// up to 16 in groups), and never with a residual (they share a binding).
    pub norm: Option<&'a Weight>,
    /// Argmax partials of the outputs for a greedy token pick, left beside them (one-row
    /// GEMV products without bias, GELU, residual or norm: a step's logits).
    pub argmax: Option<ArgmaxOut<'a>>,
}

/// Where a one-row GEMV leaves the argmax partials of its outputs (`lib/argmax_partials.wgsl`):
/// one `[max, id, sum of exp(v − max)]` triple per workgroup over the outputs whose id lies
/// below `limit` and passes `mask`, for [`super::token_pick`]'s pick to merge.
#[derive(Clone, Copy)]
pub struct ArgmaxOut<'a> {
    /// The pick's suppress mask over the vocabulary; output n is id `c.offset + n` (the
    /// logits row starts its buffer).
    pub mask: &'a Tensor,
    /// Ids from here on are left out (EOT, the specials and the timestamps: their rules
    /// change from step to step).
    pub limit: u32,
    /// u32 triples; this product's first workgroup writes triple `first`, and it writes
    /// [`argmax_partials`] of them.
    pub out: &'a Tensor,
    pub first: usize,
}

crate::params_struct! {
    /// The uniform of both kernels (lib/gemm_io.wgsl); each reads the fields it needs.
    struct MatmulParams {
        m: u32,
        n: u32,
        k: u32,
        batch: u32,
        a_off: u32,
        lda: u32,
        a_bs: u32,
        b_off: u32,
        ldb: u32,
        b_bs: u32,
        c_off: u32,
        ldc: u32,
        c_bs: u32,
        r_off: u32,
        ldr: u32,
        r_bs: u32,
        bias_off: u32,
        alpha: f32,
        b_sk: u32,
        b_sn: u32,
        pick_limit: u32,
        pick_first: u32,
        _pad: [u32; 2],
    }
}

/// How the matmul kernel (matmul.wgsl) computes a product of more rows than the GEMV takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum MatmulForm {
    /// GPU drivers: 64×64 blocks through workgroup memory, scalar loads; any layout.
    Tiled,
    /// GPU drivers, B stored [n, k] and both operands aligned to 16 bytes ([`wide_fits`]):
    /// the same tiling with 16-byte loads along K (`lib/wide_tile.wgsl`); with `f16_tile`
    /// (f16 B on a device with `shader-f16`) B's workgroup tile holds halves; with `large`
    /// 128×128 blocks, each thread four 4×4 tiles.
    Wide { f16_tile: bool, large: bool },
    /// CPU drivers, B stored [n, k]: each thread walks rows of A and B along K
    /// ([`crate::gpu::KernelForms`]); with `wide_a` (operands aligned as for `Wide`) A's
    /// rows are read 16 bytes at a time too.
    Walk { wide_a: bool },
}

impl MatmulForm {
    fn of(gpu: &Gpu, g: &Gemm, b_f16: bool) -> MatmulForm {
        if g.trans_b && gpu.cpu_forms() {
            MatmulForm::Walk {
                wide_a: wide_fits(g, b_f16),
            }
        } else if gpu.wide_matmul() && wide_fits(g, b_f16) {
            let large_blocks = g.m.div_ceil(128) * g.n.div_ceil(128) * g.batch;
            MatmulForm::Wide {
                f16_tile: b_f16 && gpu.shader_f16(),
                large: gpu.large_matmul_tiles() && large_blocks >= LARGE_TILE_MIN_BLOCKS,
            }
        } else {
            MatmulForm::Tiled
        }
    }

    /// Rows and columns of C per workgroup.
    fn block(self) -> usize {
        match self {
            MatmulForm::Walk { .. } => 32,
            MatmulForm::Wide { large: true, .. } => 128,
            MatmulForm::Tiled | MatmulForm::Wide { large: false, .. } => 64,
        }
    }
}

/// Whether the wide form can read `g`'s operands as 16-byte units: B stored [n, k], A's rows
/// (and batch items) starting on 4-element boundaries and B's on unit boundaries (8 halves
/// or 4 f32), with K a whole number of units, so that a unit lies wholly inside or outside
/// the matrix.
fn wide_fits(g: &Gemm, b_f16: bool) -> bool {
    let unit = if b_f16 { 8 } else { 4 };
    let aligned = |l: &Layout, to: usize| {
        l.offset.is_multiple_of(to)
            && l.row_stride.is_multiple_of(to)
            && (g.batch == 1 || l.batch_stride.is_multiple_of(to))
    };
    g.trans_b && g.k.is_multiple_of(unit) && aligned(&g.a, 4) && aligned(&g.b, unit)
}

fn matmul_kernel(
    form: MatmulForm,
    f16: bool,
    trans_b: bool,
    bias: bool,
    gelu: bool,
    residual: bool,
) -> Kernel {
    let walk = matches!(form, MatmulForm::Walk { .. });
    let wide = matches!(form, MatmulForm::Wide { .. });
    let wide_a = wide || form == MatmulForm::Walk { wide_a: true };
    assert!(
        trans_b || form == MatmulForm::Tiled,
        "the walking and wide forms read B stored [n, k]"
    );
    Kernel::new::<MatmulParams>("runtime/matmul.wgsl", MATMUL, "main")
        .define_if("F16", f16)
        .define_if("TRANS_B", trans_b)
        .define_if("WALK", walk)
        .define_if("WIDE", wide)
        .define_if("WIDE_A", wide_a)
        .define_if("WIDE_B", walk || wide)
        .define_if(
            "F16_TILE",
            matches!(form, MatmulForm::Wide { f16_tile: true, .. }),
        )
        .define_if(
            "LARGE_TILE",
            matches!(form, MatmulForm::Wide { large: true, .. }),
        )
        .define_if("BIAS", bias)
        .define_if("GELU", gelu)
        .define_if("RESIDUAL", residual)
}

/// The number of argmax partials a one-row product `g` of `b` leaves ([`ArgmaxOut`]): one per
/// GEMV workgroup.
pub fn argmax_partials(gpu: &Gpu, g: &Gemm, b: Rhs) -> usize {
    g.n.div_ceil(GemvForm::of(gpu, g, b.is_f16(), false).outputs())
}

/// How the GEMV kernel walks B (gemv.wgsl).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum GemvForm {
    /// B stored [n, k] with long rows, on a GPU: each output's K split over lanes, with
    /// subgroup reductions or in workgroup memory.
    SplitK { subgroups: bool },
    /// B stored [n, k], on a CPU driver: each thread walks its own output's row; with
    /// `wide_x` (A's rows aligned as [`wide_fits`] says, no folded norm) it reads the
    /// activations 16 bytes at a time too.
    Walk { wide_x: bool },
    /// Short K on a GPU, or B stored [k, n]: each thread walks its output with strides.
    Strided,
}

impl GemvForm {
    /// Every form, for the variant lists.
    const ALL: [GemvForm; 5] = [
        GemvForm::SplitK { subgroups: false },
        GemvForm::SplitK { subgroups: true },
        GemvForm::Walk { wide_x: false },
        GemvForm::Walk { wide_x: true },
        GemvForm::Strided,
    ];

    fn of(gpu: &Gpu, g: &Gemm, b_f16: bool, norm: bool) -> GemvForm {
        if !g.trans_b {
            GemvForm::Strided
        } else if gpu.cpu_forms() {
            GemvForm::Walk {
                wide_x: !norm && wide_fits(g, b_f16),
            }
        } else if g.k >= SPLIT_K_MIN {
            GemvForm::SplitK {
                subgroups: gpu.subgroups(),
            }
        } else {
            GemvForm::Strided
        }
    }

    /// Outputs per workgroup.
    fn outputs(self) -> usize {
        match self {
            GemvForm::SplitK { subgroups } => SPLIT_K_OUTS[usize::from(subgroups)],
            GemvForm::Walk { .. } | GemvForm::Strided => 64,
        }
    }
}

/// What a GEMV does around its product.
#[derive(Clone, Copy, Default)]
struct GemvTail {
    bias: bool,
    gelu: bool,
    residual: bool,
    norm: bool,
    /// Argmax partials (one row, nothing else around).
    pick: bool,
}

fn gemv_kernel(form: GemvForm, one_row: bool, f16: bool, tail: GemvTail) -> Kernel {
    let GemvTail {
        bias,
        gelu,
        residual,
        norm,
        pick,
    } = tail;
    let split_k = matches!(form, GemvForm::SplitK { .. });
    let walk = matches!(form, GemvForm::Walk { .. });
    let wide_x = form == GemvForm::Walk { wide_x: true };
    assert!(
        !wide_x || !norm,
        "the walking GEMV reads activations 16 bytes at a time only unnormalised"
    );
    assert!(
        !pick || (one_row && !bias && !gelu && !residual && !norm),
        "argmax partials come from one-row products with nothing around them"
    );
    Kernel::new::<MatmulParams>("runtime/gemv.wgsl", GEMV, "main")
        .define_if("ONE_ROW", one_row)
        .define_if("WIDE_A", wide_x)
        .define_if("F16", f16)
        .define_if("SPLIT_K", split_k)
        .define_if("WALK", walk)
        .define_if("WIDE_B", split_k || walk)
        .define_if("SUBGROUPS", form == GemvForm::SplitK { subgroups: true })
        .define_if("BIAS", bias)
        .define_if("GELU", gelu)
        .define_if("RESIDUAL", residual)
        .define_if("NORM", norm)
        .define_if("PICK", pick)
}

/// Every variant, for shader validation.
pub(crate) fn kernels() -> Vec<Kernel> {
    let mut all = Vec::new();
    for bits in 0..32u32 {
        let f = |i: u32| bits & (1 << i) != 0;
        let mut forms = vec![MatmulForm::Tiled];
        if f(1) {
            forms.extend([
                MatmulForm::Walk { wide_a: false },
                MatmulForm::Walk { wide_a: true },
            ]);
            for large in [false, true] {
                forms.push(MatmulForm::Wide {
                    f16_tile: false,
                    large,
                });
                if f(0) {
                    forms.push(MatmulForm::Wide {
                        f16_tile: true,
                        large,
                    });
                }
            }
        }
        for form in forms {
            all.push(matmul_kernel(form, f(0), f(1), f(2), f(3), f(4)));
        }
        // Bit 4: RESIDUAL, or NORM (never both).
        let tails: &[(bool, bool)] = if f(4) {
            &[(true, false), (false, true)]
        } else {
            &[(false, false)]
        };
        for form in GemvForm::ALL {
            for &(residual, norm) in tails {
                if form == (GemvForm::Walk { wide_x: true }) && norm {
                    continue;
                }
                let tail = GemvTail {
                    bias: f(2),
                    gelu: f(3),
                    residual,
                    norm,
                    pick: false,
                };
                all.push(gemv_kernel(form, f(0), f(1), tail));
            }
        }
    }
    for form in GemvForm::ALL {
        for f16 in [false, true] {
            let tail = GemvTail {
                pick: true,
                ..GemvTail::default()
            };
            all.push(gemv_kernel(form, true, f16, tail));
        }
    }
    all
}

/// Records `C = epilogue(alpha · A·B)` into `c`.
pub fn gemm(gpu: &Gpu, a: &Tensor, b: Rhs, c: &Tensor, g: &Gemm, epi: &Epilogue) {
    if g.m > GEMV_MAX_ROWS && g.m <= GEMV_GROUPS_MAX_ROWS && g.batch == 1 {
        for first in (0..g.m).step_by(GEMV_MAX_ROWS) {
            let down = |l: Layout| Layout {
                offset: l.offset + first * l.row_stride,
                ..l
            };
            let rows = Gemm {
                m: GEMV_MAX_ROWS.min(g.m - first),
                a: down(g.a),
                c: down(g.c),
                ..*g
            };
            let epi = Epilogue {
                residual: epi.residual.map(|(r, l)| (r, down(l))),
                ..*epi
            };
            gemm(gpu, a, b, c, &rows, &epi);
        }
        return;
    }
    if let Some((bias, _)) = epi.bias {
        assert_eq!(
            bias.dtype() == DType::F16,
            b.is_f16(),
            "bias and weight must share a storage type"
        );
    }
    // Few rows: the GEMV kernel.
    let use_gemv = g.m <= GEMV_MAX_ROWS && (epi.residual.is_none() || g.batch == 1);
    if let Some(norm) = epi.norm {
        assert!(
            use_gemv && epi.residual.is_none(),
            "a folded layer norm needs the GEMV kernel and no residual"
        );
        assert!(
            norm.dtype() == DType::F32 && norm.len() == 2 * g.k,
            "layer-norm table"
        );
    }
    let (r_off, ldr, r_bs) = epi
        .residual
        .map(|(_, l)| (l.offset, l.row_stride, l.batch_stride))
        .unwrap_or_default();
    let bias_off = epi.bias.map(|(_, o)| o).unwrap_or(0);
    let mut buffers: Vec<(u32, &wgpu::Buffer)> =
        vec![(1, a.buffer()), (2, b.buffer()), (3, c.buffer())];
    if let Some((bias, _)) = epi.bias {
        buffers.push((4, bias.buffer()));
    }
    if let Some((r, _)) = epi.residual {
        buffers.push((5, r.buffer()));
    }
    if let Some(norm) = epi.norm {
        buffers.push((5, norm.buffer()));
    }
    if let Some(pick) = epi.argmax {
        assert!(
            use_gemv && g.m == 1 && g.batch == 1 && g.c.offset + g.n <= pick.mask.len(),
            "argmax partials of one row of logits, within the mask"
        );
        let end = pick.first + argmax_partials(gpu, g, b);
        assert!(3 * end <= pick.out.len(), "argmax partials past the end");
        buffers.push((6, pick.mask.buffer()));
        buffers.push((7, pick.out.buffer()));
    }
    let params = MatmulParams {
        m: u(g.m),
        n: u(g.n),
        k: u(g.k),
        batch: u(g.batch),
        a_off: u(g.a.offset),
        lda: u(g.a.row_stride),
        a_bs: u(g.a.batch_stride),
        b_off: u(g.b.offset),
        ldb: u(g.b.row_stride),
        b_bs: u(g.b.batch_stride),
        c_off: u(g.c.offset),
        ldc: u(g.c.row_stride),
        c_bs: u(g.c.batch_stride),
        r_off: u(r_off),
        ldr: u(ldr),
        r_bs: u(r_bs),
        bias_off: u(bias_off),
        alpha: g.alpha,
        b_sk: if g.trans_b { 1 } else { u(g.b.row_stride) },
        b_sn: if g.trans_b { u(g.b.row_stride) } else { 1 },
        pick_limit: epi.argmax.map_or(0, |pick| pick.limit),
        pick_first: epi.argmax.map_or(0, |pick| u(pick.first)),
        _pad: [0; 2],
    };
    if use_gemv {
        let form = GemvForm::of(gpu, g, b.is_f16(), epi.norm.is_some());
        let tail = GemvTail {
            bias: epi.bias.is_some(),
            gelu: epi.gelu,
            residual: epi.residual.is_some(),
            norm: epi.norm.is_some(),
            pick: epi.argmax.is_some(),
        };
        let kernel = gemv_kernel(form, g.m == 1, b.is_f16(), tail);
        let mut groups = crate::gpu::grid(u(g.n.div_ceil(form.outputs())));
        groups[2] = u(g.batch);
        gpu.dispatch(&kernel, bytemuck::bytes_of(&params), &buffers, groups);
    } else {
        let form = MatmulForm::of(gpu, g, b.is_f16());
        let kernel = matmul_kernel(
            form,
            b.is_f16(),
            g.trans_b,
            epi.bias.is_some(),
            epi.gelu,
            epi.residual.is_some(),
        );
        let block = form.block();
        let groups = [u(g.n.div_ceil(block)), u(g.m.div_ceil(block)), u(g.batch)];
        assert!(
            groups[1] <= 65535 && groups[2] <= 65535,
            "matmul grid too large"
        );
        gpu.dispatch(&kernel, bytemuck::bytes_of(&params), &buffers, groups);
    }
}

/// A Linear layer on rows of `x` [rows, in]: `x · Wᵀ + bias`, optionally GELU, optionally
/// plus `residual` [rows, out]. Returns [rows, out].
pub fn linear(
    gpu: &Gpu,
    x: &Tensor,
    weight: &Weight,
    bias: Option<&Weight>,
    gelu: bool,
    residual: Option<&Tensor>,
) -> Tensor {
    let (rows, k) = (x.shape()[0], x.shape()[1]);
    let (n, wk) = (weight.shape()[0], weight.shape()[1]);
    assert_eq!(
        k,
        wk,
        "linear: input width {k} vs weight {:?}",
        weight.shape()
    );
    let out = gpu.tensor(&[rows, n]);
    linear_into(
        gpu,
        x,
        weight,
        bias,
        gelu,
        residual,
        &out,
        Layout::dense(rows, n),
    );
    out
}

/// Like [`linear`], writing into a region of an existing tensor.
#[allow(clippy::too_many_arguments)]
pub fn linear_into(
    gpu: &Gpu,
    x: &Tensor,
    weight: &Weight,
    bias: Option<&Weight>,
    gelu: bool,
    residual: Option<&Tensor>,
    out: &Tensor,
    out_layout: Layout,
) {
    let (rows, k) = (x.shape()[0], x.shape()[1]);
    let n = weight.shape()[0];
    let g = Gemm {
        m: rows,
        n,
        k,
        batch: 1,
        a: Layout::dense(rows, k),
        b: Layout::dense(n, k),
        c: out_layout,
        trans_b: true,
        alpha: 1.0,
    };
    let epi = Epilogue {
        bias: bias.map(|b| (b, 0)),
        gelu,
        residual: residual.map(|r| (r, Layout::dense(rows, n))),
        ..Epilogue::default()
    };
    gemm(gpu, x, Rhs::Weight(weight), out, &g, &epi);
}

/// Whether a layer norm before a Linear of `rows` rows is best folded into it
/// ([`linear_normed`]): for the few rows of a decoder step on a GPU. Not on CPU drivers:
/// there each thread of the walking GEMV normalises the row again as it reads it (three
/// loads per element instead of one), and a layer-norm dispatch of its own is cheaper
/// (docs/benchmarks.md, "Decoder layer norm folded into fc1, or not, on CPU drivers").
pub fn folds_norm(gpu: &Gpu, rows: usize) -> bool {
    rows <= GEMV_GROUPS_MAX_ROWS && !gpu.cpu_forms()
}

/// `linear(layer_norm(x))` for at most `GEMV_GROUPS_MAX_ROWS` rows of `x` (decoder steps), in
/// one dispatch: the norm (`norm`: f32 `[gamma | beta]` of x's width) is applied as the GEMV
/// reads the rows.
pub fn linear_normed(
    gpu: &Gpu,
    x: &Tensor,
    norm: &Weight,
    weight: &Weight,
    bias: Option<&Weight>,
    gelu: bool,
) -> Tensor {
    let (rows, k) = (x.shape()[0], x.shape()[1]);
    assert!(rows <= GEMV_GROUPS_MAX_ROWS, "linear_normed: {rows} rows");
    let n = weight.shape()[0];
    assert_eq!(weight.shape()[1], k, "linear_normed: input width {k}");
    let out = gpu.tensor(&[rows, n]);
    let g = Gemm {
        m: rows,
        n,
        k,
        batch: 1,
        a: Layout::dense(rows, k),
        b: Layout::dense(n, k),
        c: Layout::dense(rows, n),
        trans_b: true,
        alpha: 1.0,
    };
    let epi = Epilogue {
        bias: bias.map(|b| (b, 0)),
        gelu,
        norm: Some(norm),
        ..Epilogue::default()
    };
    gemm(gpu, x, Rhs::Weight(weight), &out, &g, &epi);
    out
}
