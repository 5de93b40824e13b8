//! The GPU matmul's wide form (`runtime/matmul.wgsl` with `WIDE`: 16-byte loads along K of
//! both operands, `lib/wide_tile.wgsl`) against the f64 reference, on every operand it takes
//! (f32 and f16 weights, f32 activations, activations in packed halves), with f16 and f32
//! workgroup tiles, in 64×64 and 128×128 blocks (`LARGE_TILE`), at block edges, K tails and
//! batched head layouts; and the products it
//! must leave to the scalar tiled form (misaligned operands, B stored [k, n]).

use whisper_clsr_test_kit as kit;

use kit::reference::linear_epilogue;
use kit::{assert_close, defines_of, f64s, one_dispatch, random, rng, through_f16, weight};
use whisper_clsr::gpu::{DType, Gpu, GpuOptions, KernelForms};
use whisper_clsr::ops::matmul::{gemm, linear, Epilogue, Gemm, Layout, Rhs};
use whisper_clsr::ops::pack_halves::pack_halves;

const RTOL: f64 = 1e-4;
/// Columns of NaN padding after each row of an operand.
const PAD: usize = 8;

/// The test device with the GPU kernel forms, asking for shader-f16 or not.
fn gpu_forms(shader_f16: bool) -> Gpu {
    kit::gpu_with_options(GpuOptions {
        kernel_forms: KernelForms::Gpu,
        shader_f16,
        ..GpuOptions::default()
    })
}

/// The devices to test on: with f16 tiles where the adapter offers shader-f16, and without.
fn devices() -> Vec<Gpu> {
    let with = gpu_forms(true);
    if !with.shader_f16() {
        eprintln!(
            "NOTICE: {} has no shader-f16 (not offered, or WHISPER_CLSR_NO_SHADER_F16=1); \
             the f16 workgroup tiles are not tested",
            with.describe()
        );
        return vec![with];
    }
    vec![with, gpu_forms(false)]
}

/// Checks the variant: the wide form (with f16 tiles exactly when `f16_tile`) or not.
fn assert_form(variant: &str, wide: bool, f16_tile: bool, what: &str) {
    let defines = defines_of(variant);
    assert!(
        variant.starts_with("runtime/matmul.wgsl"),
        "{what}: ran {variant}"
    );
    assert_eq!(defines.contains(&"WIDE"), wide, "{what}: ran {variant}");
    assert_eq!(
        defines.contains(&"F16_TILE"),
        f16_tile,
        "{what}: ran {variant}"
    );
}

/// Blocks of 128×128 from which the wide form takes them (`LARGE_TILE`).
const LARGE_TILE_MIN_BLOCKS: usize = 64;

/// Whether a product of `batch` items of [m, n] has enough 128×128 blocks for the large tiles.
fn large_tiles(m: usize, n: usize, batch: usize) -> bool {
    m.div_ceil(128) * n.div_ceil(128) * batch >= LARGE_TILE_MIN_BLOCKS
}

/// A Linear with every epilogue through `gemm`, A's rows padded with NaN (a load past K would
/// poison the sums), against the f64 reference; checks that the wide form ran, with f16 tiles
/// for f16 weights where the device has shader-f16, and with large tiles exactly when the
/// product has enough blocks.
fn check_wide_linear(gpu: &Gpu, seed: u64, rows: usize, n: usize, k: usize) {
    let mut r = rng(seed);
    for dtype in [DType::F32, DType::F16] {
        for (bias, act, res) in [
            (false, false, false),
            (true, true, false),
            (true, false, true),
        ] {
            let x = random(&mut r, rows * k);
            let (w, w_seen) = weight(gpu, &random(&mut r, n * k), &[n, k], dtype);
            let (b, b_seen) = weight(gpu, &random(&mut r, n), &[n], dtype);
            let residual = random(&mut r, rows * n);
            let padded: Vec<f32> = x
                .chunks(k)
                .flat_map(|row| row.iter().copied().chain([f32::NAN; PAD]))
                .collect();
            let xt = gpu.upload(&padded, &[rows, k + PAD]).unwrap();
            let rt = gpu.upload(&residual, &[rows, n]).unwrap();
            let c = gpu.tensor(&[rows, n]);
            let g = Gemm {
                m: rows,
                n,
                k,
                batch: 1,
                a: Layout {
                    offset: 0,
                    row_stride: k + PAD,
                    batch_stride: 0,
                },
                b: Layout::dense(n, k),
                c: Layout::dense(rows, n),
                trans_b: true,
                alpha: 1.0,
            };
            let epi = Epilogue {
                bias: bias.then_some((&b, 0)),
                gelu: act,
                residual: res.then_some((&rt, Layout::dense(rows, n))),
                ..Epilogue::default()
            };
            let (got, variant) = one_dispatch(gpu, || {
                gemm(gpu, &xt, Rhs::Weight(&w), &c, &g, &epi);
                c
            });
            let what = format!(
                "{} {rows}x{k}·{n} {dtype:?} bias={bias} gelu={act} res={res}",
                gpu.describe()
            );
            let f16_tile = dtype == DType::F16 && gpu.shader_f16();
            assert_form(&variant, true, f16_tile, &what);
            assert_large(&variant, large_tiles(rows, n, 1), &what);
            let bias_seen = bias.then(|| f64s(&b_seen));
            let want = linear_epilogue(
                &f64s(&x),
                &f64s(&w_seen),
                bias_seen.as_deref(),
                n,
                act,
                res.then_some(&residual[..]),
            );
            assert_close(&got, &want, RTOL, &what);
        }
    }
}

/// Checks whether the variant computes 128×128 blocks.
fn assert_large(variant: &str, large: bool, what: &str) {
    assert_eq!(
        defines_of(variant).contains(&"LARGE_TILE"),
        large,
        "{what}: ran {variant}"
    );
}

#[test]
fn wide_linear_matches_cpu_at_edges_and_tails() {
    for gpu in devices() {
        // (rows, n, k): one interior block; edges in m and n with a K tail of one 8-unit;
        // several blocks and steps with every edge.
        for &(rows, n, k) in &[(64, 64, 32), (70, 100, 40), (130, 65, 264), (200, 136, 96)] {
            check_wide_linear(&gpu, 31, rows, n, k);
        }
    }
}

/// The large tiles (128×128 blocks, K steps of 16) on products with enough blocks: whole
/// blocks and steps only, then edges in m and n (a block's last 4×4 tiles partly or wholly
/// outside) with a K tail of half a step.
#[test]
fn large_tiles_match_cpu_at_edges_and_tails() {
    for gpu in devices() {
        for &(rows, n, k) in &[(1024, 1024, 48), (1030, 1100, 40)] {
            assert!(large_tiles(rows, n, 1));
            check_wide_linear(&gpu, 35, rows, n, k);
        }
    }
}

/// Q·Kᵀ per head with the heads side by side in [rows, heads·hd] (the attention products),
/// K as f32 or as packed halves (cross-attention keys stored in halves).
#[test]
fn wide_batched_head_products_match_cpu() {
    for gpu in devices() {
        let mut r = rng(32);
        for &(heads, m, n, hd) in &[
            (3, 70, 90, 64),
            (2, 65, 8, 16),
            (4, 130, 100, 32),
            (8, 300, 290, 64),
        ] {
            let d = heads * hd;
            let q = random(&mut r, m * d);
            let keys = random(&mut r, n * d);
            // K's rows padded with NaN: a load past the last head's K would poison the sums.
            let padded: Vec<f32> = keys
                .chunks(d)
                .flat_map(|row| row.iter().copied().chain([f32::NAN; PAD]))
                .collect();
            let qt = gpu.upload(&q, &[m, d]).unwrap();
            let kt = gpu.upload(&padded, &[n, d + PAD]).unwrap();
            let halves = pack_halves(&gpu, &kt);
            let heads_layout = |row_stride| Layout {
                offset: 0,
                row_stride,
                batch_stride: hd,
            };
            let g = Gemm {
                m,
                n,
                k: hd,
                batch: heads,
                a: heads_layout(d),
                b: heads_layout(d + PAD),
                c: Layout::dense(m, n),
                trans_b: true,
                alpha: 0.125,
            };
            for (rhs, seen, f16) in [
                (Rhs::Act(&kt), keys.clone(), false),
                (Rhs::Halves(&halves), through_f16(&keys), true),
            ] {
                let c = gpu.tensor(&[heads, m, n]);
                let (got, variant) = one_dispatch(&gpu, || {
                    gemm(&gpu, &qt, rhs, &c, &g, &Epilogue::default());
                    c
                });
                let what = format!(
                    "{} q·kᵀ heads={heads} m={m} n={n} hd={hd} halves={f16}",
                    gpu.describe()
                );
                assert_form(&variant, true, f16 && gpu.shader_f16(), &what);
                assert_large(&variant, large_tiles(m, n, heads), &what);
                let mut want = vec![0.0f64; heads * m * n];
                for h in 0..heads {
                    for i in 0..m {
                        for j in 0..n {
                            let s: f64 = (0..hd)
                                .map(|t| {
                                    q[i * d + h * hd + t] as f64 * seen[j * d + h * hd + t] as f64
                                })
                                .sum();
                            want[(h * m + i) * n + j] = 0.125 * s;
                        }
                    }
                }
                assert_close(&got, &want, RTOL, &what);
            }
        }
    }
}

/// What the 16-byte loads cannot take goes to the scalar tiled form, still right: K not a
/// whole number of units, rows starting off a 16-byte boundary, B stored [k, n].
#[test]
fn unaligned_products_take_the_tiled_form() {
    let gpu = gpu_forms(true);
    let mut r = rng(33);
    let (m, n) = (70, 40);
    // (k, A's first column, B stored [n, k], dtype)
    for &(k, a_col, trans_b, dtype) in &[
        (36, 0, true, DType::F16),
        (34, 0, true, DType::F32),
        (32, 2, true, DType::F32),
        (32, 0, false, DType::F32),
    ] {
        let lda = k + a_col;
        let x = random(&mut r, m * lda);
        let bv = random(&mut r, n * k);
        let xt = gpu.upload(&x, &[m, lda]).unwrap();
        let (w, w_seen) = weight(&gpu, &bv, &[n, k], dtype);
        let c = gpu.tensor(&[m, n]);
        let g = Gemm {
            m,
            n,
            k,
            batch: 1,
            a: Layout {
                offset: a_col,
                row_stride: lda,
                batch_stride: 0,
            },
            b: if trans_b {
                Layout::dense(n, k)
            } else {
                Layout::dense(k, n)
            },
            c: Layout::dense(m, n),
            trans_b,
            alpha: 1.0,
        };
        let (got, variant) = one_dispatch(&gpu, || {
            gemm(&gpu, &xt, Rhs::Weight(&w), &c, &g, &Epilogue::default());
            c
        });
        let what = format!("k={k} a_col={a_col} trans_b={trans_b} {dtype:?}");
        assert_form(&variant, false, false, &what);
        let mut want = vec![0.0f64; m * n];
        for i in 0..m {
            for j in 0..n {
                want[i * n + j] = (0..k)
                    .map(|t| {
                        let b = if trans_b {
                            w_seen[j * k + t]
                        } else {
                            w_seen[t * n + j]
                        };
                        x[i * lda + a_col + t] as f64 * b as f64
                    })
                    .sum();
            }
        }
        assert_close(&got, &want, RTOL, &what);
    }
}

/// `Gpu::set_wide_matmul(false)` sends every product to the tiled form, which adds the same
/// products in the same order: both agree to f32 rounding.
#[test]
fn the_tiled_form_remains_reachable_and_agrees() {
    let gpu = gpu_forms(true);
    let mut r = rng(34);
    let (rows, n, k) = (100, 72, 136);
    let x = gpu.upload(&random(&mut r, rows * k), &[rows, k]).unwrap();
    let (w, _) = weight(&gpu, &random(&mut r, n * k), &[n, k], DType::F16);
    let mut outs = Vec::new();
    for wide in [true, false] {
        gpu.set_wide_matmul(wide);
        let (got, variant) = one_dispatch(&gpu, || linear(&gpu, &x, &w, None, false, None));
        assert_form(&variant, wide, wide && gpu.shader_f16(), "set_wide_matmul");
        outs.push(got);
    }
    gpu.set_wide_matmul(true);
    let reference: Vec<f64> = f64s(&outs[1]);
    assert_close(&outs[0], &reference, 1e-6, "wide against tiled");
}

/// `Gpu::set_large_matmul_tiles(false)` keeps a product with enough blocks on 64×64 blocks,
/// which add the same products in the same order: both agree to f32 rounding.
#[test]
fn the_64_blocks_remain_reachable_and_agree() {
    let gpu = gpu_forms(true);
    let mut r = rng(36);
    let (rows, n, k) = (1030, 1040, 64);
    let x = gpu.upload(&random(&mut r, rows * k), &[rows, k]).unwrap();
    let (w, _) = weight(&gpu, &random(&mut r, n * k), &[n, k], DType::F16);
    let mut outs = Vec::new();
    for large in [true, false] {
        gpu.set_large_matmul_tiles(large);
        let (got, variant) = one_dispatch(&gpu, || linear(&gpu, &x, &w, None, false, None));
        assert_form(&variant, true, gpu.shader_f16(), "set_large_matmul_tiles");
        assert_large(&variant, large, "set_large_matmul_tiles");
        outs.push(got);
    }
    gpu.set_large_matmul_tiles(true);
    assert_close(
        &outs[0],
        &f64s(&outs[1]),
        1e-6,
        "128×128 against 64×64 blocks",
    );
}
