//! The CPU drivers' walking products (`KernelForms::Cpu`: `runtime/matmul.wgsl` with `WALK`,
//! and `runtime/gemv.wgsl` with `WALK` for 1–4 rows) read A 16 bytes at a time where its rows
//! start on 16-byte boundaries and K is a whole number of B's units (`WIDE_A`). Against the
//! f64 reference with A's rows padded with NaN (a load past K would poison the sums), the
//! variant checked; the same product with A one element off the boundary, or K not whole
//! units, takes the element-by-element reads, and gives the same bits (the same products
//! added in the same order).

use whisper_clsr_test_kit as kit;

use kit::reference::{linear as cpu_linear, linear_epilogue};
use kit::{assert_close, defines_of, f64s, one_dispatch, random, rng, weight};
use whisper_clsr::gpu::{DType, Gpu, KernelForms, Tensor, Weight};
use whisper_clsr::ops::matmul::{gemm, Epilogue, Gemm, Layout, Rhs};

const RTOL: f64 = 1e-4;
/// Columns of NaN padding after each row of A.
const PAD: usize = 8;

/// `x` [rows, k] as a tensor whose rows start `lead` elements into rows of k + PAD (NaN
/// around them), and the layout that reads it.
fn padded_rows(gpu: &Gpu, x: &[f32], k: usize, lead: usize) -> (Tensor, Layout) {
    let rows = x.len() / k;
    let stride = k + PAD;
    let mut data = vec![f32::NAN; lead + rows * stride];
    for (r, row) in x.chunks(k).enumerate() {
        data[lead + r * stride..][..k].copy_from_slice(row);
    }
    let t = gpu.upload(&data, &[data.len()]).unwrap();
    let layout = Layout {
        offset: lead,
        row_stride: stride,
        batch_stride: 0,
    };
    (t, layout)
}

/// One product `x · wᵀ (+ bias, GELU, + residual)` with A read at `lead`: its values and
/// the kernel variant that computed them.
#[allow(clippy::too_many_arguments)]
fn product(
    gpu: &Gpu,
    x: &[f32],
    w: &Weight,
    bias: Option<&Weight>,
    act: bool,
    residual: Option<&Tensor>,
    (rows, n, k): (usize, usize, usize),
    lead: usize,
) -> (Vec<f32>, String) {
    let (xt, a) = padded_rows(gpu, x, k, lead);
    let g = Gemm {
        m: rows,
        n,
        k,
        batch: 1,
        a,
        b: Layout::dense(n, k),
        c: Layout::dense(rows, n),
        trans_b: true,
        alpha: 1.0,
    };
    let epi = Epilogue {
        bias: bias.map(|b| (b, 0)),
        gelu: act,
        residual: residual.map(|r| (r, Layout::dense(rows, n))),
        ..Epilogue::default()
    };
    one_dispatch(gpu, || {
        let c = gpu.tensor(&[rows, n]);
        gemm(gpu, &xt, Rhs::Weight(w), &c, &g, &epi);
        c
    })
}

#[test]
fn walking_products_read_aligned_rows_16_bytes_at_a_time() {
    let gpu = kit::gpu_with(KernelForms::Cpu);
    assert!(gpu.cpu_forms(), "CPU kernel forms as asked");
    let mut r = rng(41);
    // (rows, n, k): the GEMV of a decoder step (one row, or one per beam: three rows
    // repeat the last into the fourth lane) with several workgroups of outputs; the walking
    // matmul (more rows than the GEMV groups take) with edges in m and n.
    for &(rows, n, k) in &[
        (1, 70, 512),
        (1, 33, 136),
        (3, 70, 136),
        (4, 9, 264),
        (70, 100, 40),
        (33, 65, 264),
    ] {
        let kernel = if rows <= 4 {
            "runtime/gemv.wgsl"
        } else {
            "runtime/matmul.wgsl"
        };
        for dtype in [DType::F32, DType::F16] {
            for (use_bias, act, use_res) in [
                (false, false, false),
                (true, true, false),
                (true, false, true),
            ] {
                let x = random(&mut r, rows * k);
                let (w, w_seen) = weight(&gpu, &random(&mut r, n * k), &[n, k], dtype);
                let (b, b_seen) = weight(&gpu, &random(&mut r, n), &[n], dtype);
                let residual = random(&mut r, rows * n);
                let rt = gpu.upload(&residual, &[rows, n]).unwrap();
                let (bias, res) = (use_bias.then_some(&b), use_res.then_some(&rt));
                let what =
                    format!("{rows}x{k}·{n} {dtype:?} bias={use_bias} gelu={act} res={use_res}");
                let shape = (rows, n, k);
                let (wide, variant) = product(&gpu, &x, &w, bias, act, res, shape, 0);
                assert!(variant.starts_with(kernel), "{what}: ran {variant}");
                let defines = defines_of(&variant);
                assert!(
                    defines.contains(&"WALK") && defines.contains(&"WIDE_A"),
                    "{what}: ran {variant}"
                );
                let bias_seen = use_bias.then(|| f64s(&b_seen));
                let want = linear_epilogue(
                    &f64s(&x),
                    &f64s(&w_seen),
                    bias_seen.as_deref(),
                    n,
                    act,
                    use_res.then_some(&residual[..]),
                );
                assert_close(&wide, &want, RTOL, &what);
                // One element off the 16-byte boundary: element by element, the same bits.
                let (narrow, variant) = product(&gpu, &x, &w, bias, act, res, shape, 1);
                let defines = defines_of(&variant);
                assert!(
                    defines.contains(&"WALK") && !defines.contains(&"WIDE_A"),
                    "{what}, misaligned: ran {variant}"
                );
                let differ = wide
                    .iter()
                    .zip(&narrow)
                    .filter(|(a, b)| a.to_bits() != b.to_bits())
                    .count();
                assert_eq!(
                    differ, 0,
                    "{what}: 16-byte and element reads differ in {differ} outputs"
                );
            }
        }
    }
}

#[test]
fn k_not_whole_units_reads_element_by_element() {
    let gpu = kit::gpu_with(KernelForms::Cpu);
    let mut r = rng(42);
    // f16 weights come in units of 8, f32 in units of 4.
    for &(rows, n, k, dtype) in &[
        (1, 20, 36, DType::F16),
        (40, 20, 36, DType::F16),
        (1, 20, 34, DType::F32),
    ] {
        let x = random(&mut r, rows * k);
        let (w, w_seen) = weight(&gpu, &random(&mut r, n * k), &[n, k], dtype);
        let (got, variant) = product(&gpu, &x, &w, None, false, None, (rows, n, k), 0);
        let what = format!("{rows}x{k}·{n} {dtype:?}");
        let defines = defines_of(&variant);
        assert!(
            defines.contains(&"WALK") && !defines.contains(&"WIDE_A"),
            "{what}: ran {variant}"
        );
        assert_close(
            &got,
            &cpu_linear(&f64s(&x), &f64s(&w_seen), None, n),
            RTOL,
            &what,
        );
    }
}
