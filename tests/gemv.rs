//! The weight GEMV (`runtime/gemv.wgsl`, decoder-step Linears) in each of its forms on the
//! same device: the GPU forms' split K with subgroup reductions (where the adapter offers
//! `Features::SUBGROUP`) and with the workgroup-memory fallback forced
//! (`GpuOptions::subgroups = false`, as `WHISPER_CLSR_NO_SUBGROUPS=1` does), and the CPU
//! drivers' form (`KernelForms::Cpu`: a thread walks each row), against a plain f64 CPU
//! product on fresh random inputs: K not a multiple of 8 and past the kernel's chunk sizes, odd n, 1–4 rows, f32
//! and f16 weights, rows that do and do not start on a 16-byte boundary; and with a layer
//! norm folded into the read of the activation rows (decoder steps' fc1) against the f64
//! layer norm followed by the product.

use whisper_clsr_test_kit as kit;

use kit::reference::gelu;
use kit::reference::ops::layer_norm;
use kit::{assert_close, f64s, random, read, rng, weight};
use whisper_clsr::gpu::{DType, Gpu, GpuOptions, KernelForms};
use whisper_clsr::ops::matmul::{gemm, Epilogue, Gemm, Layout, Rhs};

const RTOL: f64 = 1e-4;

fn open(subgroups: bool, kernel_forms: KernelForms) -> Gpu {
    pollster::block_on(Gpu::new(GpuOptions {
        subgroups,
        kernel_forms,
        ..GpuOptions::default()
    }))
    .expect("a Vulkan device")
}

/// The device opened three ways: GPU forms with subgroups (where offered) and without, and
/// CPU forms.
fn devices() -> Vec<(&'static str, Gpu)> {
    let with = open(true, KernelForms::Gpu);
    let without = open(false, KernelForms::Gpu);
    let walk = open(true, KernelForms::Cpu);
    assert!(!without.subgroups(), "subgroups were turned off");
    assert!(
        !with.cpu_forms() && walk.cpu_forms(),
        "kernel forms as asked"
    );
    let mut all = vec![("fallback", without), ("cpu forms", walk)];
    if with.subgroups() {
        all.push(("subgroups", with));
    } else {
        eprintln!(
            "NOTICE: {} has no subgroups (not offered, or WHISPER_CLSR_NO_SUBGROUPS=1); only the fallback split-K GEMV is tested",
            with.describe()
        );
    }
    all
}

/// What happens around the product: bias, GELU, residual after it, or a layer norm of the
/// activation rows before it.
#[derive(Clone, Copy, Default)]
struct Around {
    bias: bool,
    gelu: bool,
    residual: bool,
    norm: bool,
}

const PLAIN: Around = Around {
    bias: false,
    gelu: false,
    residual: false,
    norm: false,
};

/// `rows` activation rows [rows, k] times B's rows n (starting at `b_off + n * ldb` in a
/// flat weight), with the epilogue and layer norm as asked, on `gpu` and on the CPU.
#[allow(clippy::too_many_arguments)]
fn check(
    gpu: &Gpu,
    r: &mut impl rand::Rng,
    (rows, n, k): (usize, usize, usize),
    (b_off, ldb): (usize, usize),
    dtype: DType,
    around: Around,
    what: &str,
) {
    let (use_bias, use_gelu, use_res) = (around.bias, around.gelu, around.residual);
    let x = random(r, rows * k);
    let gamma: Vec<f32> = random(r, k).iter().map(|v| 1.0 + 0.5 * v).collect();
    let beta = random(r, k);
    let table = gpu
        .weight_f32(
            &[gamma.clone(), beta.clone()].concat(),
            &[2 * k],
            DType::F32,
        )
        .unwrap();
    let len = b_off + (n - 1) * ldb + k;
    let (w, w_seen) = weight(gpu, &random(r, len), &[len], dtype);
    let (bias, bias_seen) = weight(gpu, &random(r, n), &[n], dtype);
    let res = random(r, rows * n);
    let xt = gpu.upload(&x, &[rows, k]).unwrap();
    let rt = gpu.upload(&res, &[rows, n]).unwrap();
    let out = gpu.tensor(&[rows, n]);
    let g = Gemm {
        m: rows,
        n,
        k,
        batch: 1,
        a: Layout::dense(rows, k),
        b: Layout {
            offset: b_off,
            row_stride: ldb,
            batch_stride: 0,
        },
        c: Layout::dense(rows, n),
        trans_b: true,
        alpha: 1.0,
    };
    let epi = Epilogue {
        bias: use_bias.then_some((&bias, 0)),
        gelu: use_gelu,
        residual: use_res.then_some((&rt, Layout::dense(rows, n))),
        norm: around.norm.then_some(&table),
        ..Epilogue::default()
    };
    gemm(gpu, &xt, Rhs::Weight(&w), &out, &g, &epi);
    let (mut xs, ws) = (f64s(&x), f64s(&w_seen));
    if around.norm {
        xs = xs
            .chunks(k)
            .flat_map(|row| layer_norm(row, &f64s(&gamma), &f64s(&beta)))
            .collect();
    }
    let mut want = vec![0.0f64; rows * n];
    for m in 0..rows {
        for j in 0..n {
            let row = &ws[b_off + j * ldb..][..k];
            let mut v: f64 = (0..k).map(|t| xs[m * k + t] * row[t]).sum();
            if use_bias {
                v += bias_seen[j] as f64;
            }
            if use_gelu {
                v = gelu(v);
            }
            if use_res {
                v += res[m * n + j] as f64;
            }
            want[m * n + j] = v;
        }
    }
    let what = format!(
        "{what}: {rows}x{k}·{n} b_off={b_off} ldb={ldb} {dtype:?} bias={use_bias} \
         gelu={use_gelu} res={use_res} norm={}",
        around.norm
    );
    assert_close(&read(gpu, &out), &want, RTOL, &what);
}

#[test]
fn weight_gemv_matches_cpu_in_every_form() {
    // (rows, n, k): K from the split-K minimum (256) to fc2's 5120 (several chunks of the
    // activation tile), K % 8 = 0..7, odd n, n not a multiple of the outputs per workgroup;
    // short K (one thread per output in every form; below 16 bytes).
    let shapes = [
        (2, 19, 100),
        (1, 3, 7),
        (1, 1, 256),
        (2, 17, 300),
        (3, 33, 777),
        (4, 63, 1536),
        (1, 31, 3077),
        (2, 16, 1283),
        (4, 9, 5120),
        (1, 5, 5119),
        (3, 70, 390),
    ];
    let epilogues = [
        PLAIN,
        Around {
            bias: true,
            gelu: true,
            residual: true,
            norm: false,
        },
    ];
    for (name, gpu) in devices() {
        println!("{name}: {}", gpu.describe());
        let mut r = rng(11);
        for (i, &shape) in shapes.iter().enumerate() {
            let k = shape.2;
            for dtype in [DType::F32, DType::F16] {
                // Dense rows (16-byte aligned where k allows), and rows starting at odd
                // elements (the element-wise path).
                for layout in [(0, k), (3, k + 5)] {
                    let epilogue = epilogues[i % 2];
                    check(&gpu, &mut r, shape, layout, dtype, epilogue, name);
                }
            }
        }
    }
}

#[test]
fn weight_gemv_keeps_its_epilogues_on_decoder_shapes() {
    // Whisper tiny's decoder Linears (d = 384, fc2's K = 1536) for 1 and 4 rows, each
    // epilogue.
    for (name, gpu) in devices() {
        let mut r = rng(12);
        for shape in [
            (1, 384, 384),
            (4, 1536, 384),
            (1, 384, 1536),
            (4, 384, 1536),
        ] {
            for dtype in [DType::F32, DType::F16] {
                let bias = Around {
                    bias: true,
                    ..PLAIN
                };
                for epilogue in [
                    bias,
                    Around { gelu: true, ..bias },
                    Around {
                        residual: true,
                        ..bias
                    },
                ] {
                    check(&gpu, &mut r, shape, (0, shape.2), dtype, epilogue, name);
                }
            }
        }
    }
}

#[test]
fn gemv_with_a_folded_layer_norm_matches_layer_norm_then_product() {
    // (rows, n, k): the short-K kernel (k < 256: one thread per output), split-K within one
    // activation chunk and over several, 1-4 rows; fc1 of a decoder step (bias and GELU)
    // and a plain product.
    let shapes = [
        (1, 40, 32),
        (4, 17, 100),
        (1, 1536, 384),
        (4, 384, 384),
        (2, 33, 777),
        (1, 31, 3077),
        (3, 9, 1283),
    ];
    let fc1 = Around {
        bias: true,
        gelu: true,
        norm: true,
        ..PLAIN
    };
    for (name, gpu) in devices() {
        let mut r = rng(13);
        for (i, &shape) in shapes.iter().enumerate() {
            for dtype in [DType::F32, DType::F16] {
                let around = if i % 2 == 0 {
                    fc1
                } else {
                    Around {
                        norm: true,
                        ..PLAIN
                    }
                };
                check(&gpu, &mut r, shape, (0, shape.2), dtype, around, name);
            }
        }
    }
}
