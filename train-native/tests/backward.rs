//! Backward kernels against plain CPU implementations (f64) and against central finite
//! differences of the forward kernels, on random inputs of several shapes incl. odd sizes.

use whisper_clsr::gpu::{DType, Gpu};
use whisper_clsr::ops::attention::{attention, AttentionShape};
use whisper_clsr::ops::layer_norm::layer_norm;
use whisper_clsr::ops::matmul::linear;
use whisper_clsr::ops::softmax::Mask;
use whisper_clsr_test_kit::reference::{
    add, attention_backward as cpu_attention, layer_norm_backward as cpu_layer_norm_backward,
    linear as cpu_linear, linear_backward, transpose as cpu_transpose, AttnMask,
};
use whisper_clsr_test_kit::*;
use whisper_clsr_train::backward::attention::{
    attention_backward_with, AttentionBackwardKernel, AttentionTape, SCORE_BUDGET,
};
use whisper_clsr_train::backward::flash_attention;
use whisper_clsr_train::backward::gelu::{gelu as gpu_gelu, gelu_backward};
use whisper_clsr_train::backward::layer_norm::layer_norm_backward;
use whisper_clsr_train::backward::linear::{grad_bias, grad_input, grad_weight};
use whisper_clsr_train::elementwise::fill;
use whisper_clsr_train::transpose::transpose;

const RTOL: f64 = 1e-4;
const FD_RTOL: f64 = 2e-3;
/// For the linear kernels: any step is exact up to rounding, and h = 0.5 keeps rounding
/// small against the difference.
const FD_LINEAR: FiniteDiff = FiniteDiff::new(0.5, FD_RTOL);
const FD: FiniteDiff = FiniteDiff::new(1e-2, FD_RTOL);

/// L = Σ r·linear(x, W, b) evaluated on the GPU.
#[allow(clippy::too_many_arguments)]
fn linear_loss(
    gpu: &Gpu,
    x: &[f32],
    w: &[f32],
    b: &[f32],
    r: &[f32],
    rows: usize,
    k: usize,
    n: usize,
) -> f64 {
    let xt = upload(gpu, x, &[rows, k]);
    let wt = gpu.weight_f32(w, &[n, k], DType::F32).unwrap();
    let bt = gpu.weight_f32(b, &[n], DType::F32).unwrap();
    dot(
        r,
        &read(gpu, &linear(gpu, &xt, &wt, Some(&bt), false, None)),
    )
}

#[test]
fn linear_backward_matches_cpu_and_finite_differences() {
    let gpu = gpu();
    let mut rg = rng(11);
    // (rows, in, out): GEMV-sized and tiled dX, one and several 256-row chunks for dW/db.
    for &(rows, k, n) in &[
        (1, 3, 5),
        (3, 17, 9),
        (70, 33, 65),
        (300, 20, 67),
        (5, 64, 130),
    ] {
        let x = random(&mut rg, rows * k);
        let w = random(&mut rg, n * k);
        let b = random(&mut rg, n);
        let r = random(&mut rg, rows * n);
        let dy = upload(&gpu, &r, &[rows, n]);
        let xt = upload(&gpu, &x, &[rows, k]);
        // CPU reference.
        let (_, want_dw, want_db) = linear_backward(&f64s(&x), &f64s(&w), &f64s(&r), n);
        for dtype in [DType::F32, DType::F16] {
            let (wt, w_seen) = weight(&gpu, &w, &[n, k], dtype);
            let dx = read(&gpu, &grad_input(&gpu, &dy, &wt, None));
            let (want, _, _) = linear_backward(&f64s(&x), &f64s(&w_seen), &f64s(&r), n);
            assert_close(&dx, &want, RTOL, &format!("dX {rows}x{k}->{n} {dtype:?}"));
        }
        // Weight and bias gradients, fresh and accumulated.
        let dw = gpu.tensor(&[n, k]);
        let db = gpu.tensor(&[n]);
        grad_weight(&gpu, &dy, &xt, &dw, false);
        grad_bias(&gpu, &dy, &db, false);
        let dw_v = read(&gpu, &dw);
        let db_v = read(&gpu, &db);
        assert_close(&dw_v, &want_dw, RTOL, &format!("dW {rows}x{k}->{n}"));
        assert_close(&db_v, &want_db, RTOL, &format!("db {rows}x{k}->{n}"));
        grad_weight(&gpu, &dy, &xt, &dw, true);
        grad_bias(&gpu, &dy, &db, true);
        let twice = |v: &[f64]| v.iter().map(|x| 2.0 * x).collect::<Vec<_>>();
        assert_close(&read(&gpu, &dw), &twice(&want_dw), RTOL, "dW accumulated");
        assert_close(&read(&gpu, &db), &twice(&want_db), RTOL, "db accumulated");
        // Finite differences of the forward kernel.
        let dx_v = read(
            &gpu,
            &grad_input(
                &gpu,
                &dy,
                &gpu.weight_f32(&w, &[n, k], DType::F32).unwrap(),
                None,
            ),
        );
        let loss = |x: &[f32], w: &[f32], b: &[f32]| linear_loss(&gpu, x, w, b, &r, rows, k, n);
        let idx = probe_indices(&mut rg, rows * k, 4);
        FD_LINEAR.check("dX vs FD", &dx_v, &x, &idx, |x| loss(x, &w, &b));
        let idx = probe_indices(&mut rg, n * k, 4);
        FD_LINEAR.check("dW vs FD", &dw_v, &w, &idx, |w| loss(&x, w, &b));
        let idx = probe_indices(&mut rg, n, 3);
        FD_LINEAR.check("db vs FD", &db_v, &b, &idx, |b| loss(&x, &w, b));
    }
}

#[test]
fn layer_norm_backward_matches_cpu_and_finite_differences() {
    let gpu = gpu();
    let mut rg = rng(12);
    for &(rows, cols) in &[(1, 5), (3, 64), (7, 300), (2, 513)] {
        for dtype in [DType::F32, DType::F16] {
            for with_res in [false, true] {
                let x = random(&mut rg, rows * cols);
                let gamma_raw: Vec<f32> = random(&mut rg, cols)
                    .iter()
                    .map(|v| 1.0 + 0.5 * v)
                    .collect();
                let beta_raw = random(&mut rg, cols);
                let (gamma, gamma_seen) = weight(&gpu, &gamma_raw, &[cols], dtype);
                let (beta, _) = weight(&gpu, &beta_raw, &[cols], dtype);
                let r = random(&mut rg, rows * cols);
                let res = random(&mut rg, rows * cols);
                let xt = upload(&gpu, &x, &[rows, cols]);
                let dy = upload(&gpu, &r, &[rows, cols]);
                let rt = upload(&gpu, &res, &[rows, cols]);
                let dx = read(
                    &gpu,
                    &layer_norm_backward(&gpu, &xt, &gamma, &dy, with_res.then_some(&rt)),
                );
                let mut want = cpu_layer_norm_backward(&f64s(&x), &f64s(&gamma_seen), &f64s(&r));
                if with_res {
                    for (w, &v) in want.iter_mut().zip(&res) {
                        *w += v as f64;
                    }
                }
                let what = format!("layer norm backward {rows}x{cols} {dtype:?} res={with_res}");
                assert_close(&dx, &want, RTOL, &what);
                if with_res {
                    continue;
                }
                let loss = |x: &[f32]| {
                    dot(
                        &r,
                        &read(
                            &gpu,
                            &layer_norm(&gpu, &upload(&gpu, x, &[rows, cols]), &gamma, &beta),
                        ),
                    )
                };
                let idx = probe_indices(&mut rg, rows * cols, 4);
                FD.check(&what, &dx, &x, &idx, loss);
            }
        }
    }
}

#[test]
fn gelu_forward_and_backward_match_cpu_and_finite_differences() {
    let gpu = gpu();
    let mut rg = rng(13);
    for &n in &[1usize, 7, 1000, 70_001] {
        let x: Vec<f32> = random(&mut rg, n).iter().map(|v| 4.0 * v).collect();
        let r = random(&mut rg, n);
        let xt = upload(&gpu, &x, &[n]);
        let y = read(&gpu, &gpu_gelu(&gpu, &xt));
        let want: Vec<f64> = x.iter().map(|&v| gelu(v as f64)).collect();
        assert_close(&y, &want, RTOL, &format!("gelu forward n={n}"));
        let dx = read(&gpu, &gelu_backward(&gpu, &xt, &upload(&gpu, &r, &[n])));
        let want: Vec<f64> = x
            .iter()
            .zip(&r)
            .map(|(&v, &g)| g as f64 * gelu_grad(v as f64))
            .collect();
        assert_close(&dx, &want, RTOL, &format!("gelu backward n={n}"));
        let idx = probe_indices(&mut rg, n, 6);
        let loss = |x: &[f32]| dot(&r, &read(&gpu, &gpu_gelu(&gpu, &upload(&gpu, x, &[n]))));
        FD.check("gelu vs FD", &dx, &x, &idx, loss);
    }
}

#[test]
fn attention_backward_matches_cpu_and_finite_differences() {
    let gpu = gpu();
    let mut rg = rng(15);
    // (heads, head_dim, q_len, kv_len, causal past, score budget in bytes). Lengths that
    // are not multiples of the matmul's 64-wide tiles or the transpose's 16-wide tiles (nor
    // of the flash kernel's 64-row workgroups and 16-row tiles), causal rows with earlier
    // keys (past) and workgroups of keys no early query sees, and budgets that split the
    // heads into groups with a shorter last group. Each case runs the recompute path with
    // its budget and, where the head size allows, the flash kernel.
    type Case = (usize, usize, usize, usize, Option<usize>, u64);
    let cases: &[Case] = &[
        (2, 8, 5, 7, None, SCORE_BUDGET),
        (1, 64, 3, 3, Some(0), SCORE_BUDGET),
        (3, 16, 9, 9, Some(0), SCORE_BUDGET),
        (2, 4, 1, 6, Some(5), SCORE_BUDGET),
        (2, 8, 33, 70, None, SCORE_BUDGET),
        (1, 64, 67, 130, None, SCORE_BUDGET),
        (2, 16, 70, 75, Some(5), SCORE_BUDGET),
        (2, 8, 130, 130, Some(0), SCORE_BUDGET),
        (3, 8, 17, 66, None, 2 * 17 * 66 * 4),
        (5, 4, 21, 23, Some(2), 1),
    ];
    for &(heads, head_dim, q_len, kv_len, causal, budget) in cases {
        let d = heads * head_dim;
        let s = AttentionShape {
            heads,
            head_dim,
            q_len,
            kv_len,
            beams: 1,
        };
        let q = random(&mut rg, q_len * d);
        let k = random(&mut rg, kv_len * d);
        let v = random(&mut rg, kv_len * d);
        let r = random(&mut rg, q_len * d);
        let mask = causal.map_or(Mask::None, |past| Mask::Causal { q_len, past });
        let fwd = |q: &[f32], k: &[f32], v: &[f32]| {
            attention(
                &gpu,
                &upload(&gpu, q, &[q_len, d]),
                &upload(&gpu, k, &[kv_len, d]),
                &upload(&gpu, v, &[kv_len, d]),
                s,
                mask,
            )
        };
        let o = fwd(&q, &k, &v);
        let ref_mask = causal.map_or(AttnMask::Full, |past| AttnMask::Causal { past });
        let want = cpu_attention(
            &f64s(&q),
            &f64s(&k),
            &f64s(&v),
            &f64s(&r),
            heads,
            d,
            ref_mask,
        );
        let what = format!(
            "attention {heads}x{head_dim} q{q_len} kv{kv_len} causal={causal:?} budget={budget}"
        );
        assert_close(&read(&gpu, &o), &want.o, RTOL, &format!("{what}: forward"));
        // Keys and values may be longer than kv_len (a cache): pad them with rows that
        // must not take part.
        let pad = |x: &[f32]| {
            let mut x = x.to_vec();
            x.extend(random(&mut rng(9), 2 * d));
            x
        };
        let (gq, gk, gv) = (
            upload(&gpu, &q, &[q_len, d]),
            upload(&gpu, &pad(&k), &[kv_len + 2, d]),
            upload(&gpu, &pad(&v), &[kv_len + 2, d]),
        );
        let tape = AttentionTape {
            q: &gq,
            k: &gk,
            v: &gv,
            o: &o,
        };
        let dout = upload(&gpu, &r, &[q_len, d]);
        let mut kernels = vec![AttentionBackwardKernel::Recompute {
            score_budget: budget,
        }];
        if flash_attention::supports(&s) {
            kernels.push(AttentionBackwardKernel::Flash);
        }
        let mut grads = Vec::new();
        for kernel in kernels {
            let what = format!("{what} {kernel:?}");
            let g = attention_backward_with(&gpu, tape, &dout, s, causal, kernel);
            let (dk_len, dv_len) = (g.dk.len(), g.dv.len());
            assert_eq!(
                (dk_len, dv_len),
                (kv_len * d, kv_len * d),
                "{what}: dK/dV sizes"
            );
            let (dq, dk, dv) = (read(&gpu, &g.dq), read(&gpu, &g.dk), read(&gpu, &g.dv));
            assert_close(&dq, &want.dq, RTOL, &format!("{what}: dQ"));
            assert_close(&dk, &want.dk, RTOL, &format!("{what}: dK"));
            assert_close(&dv, &want.dv, RTOL, &format!("{what}: dV"));
            grads.push((what, dq, dk, dv));
        }
        let loss = |q: &[f32], k: &[f32], v: &[f32]| dot(&r, &read(&gpu, &fwd(q, k, v)));
        // The loss sums up to thousands of f32 outputs, whose rounding (~1e-5 absolute)
        // would dominate a difference over h = 1e-2 on the larger shapes; the O(h²)
        // truncation error at h = 3e-2 stays far below the tolerance (it passes at 1e-1).
        let fd = FiniteDiff::new(3e-2, FD_RTOL);
        let q_idx = probe_indices(&mut rg, q_len * d, 3);
        let kv_idx = probe_indices(&mut rg, kv_len * d, 3);
        for (what, dq, dk, dv) in &grads {
            fd.check(&format!("{what}: dQ vs FD"), dq, &q, &q_idx, |q| {
                loss(q, &k, &v)
            });
            fd.check(&format!("{what}: dK vs FD"), dk, &k, &kv_idx, |k| {
                loss(&q, k, &v)
            });
            fd.check(&format!("{what}: dV vs FD"), dv, &v, &kv_idx, |v| {
                loss(&q, &k, v)
            });
        }
    }
}

#[test]
fn fill_sets_every_element() {
    let gpu = gpu();
    let t = gpu.tensor(&[70_000]);
    fill(&gpu, &t, 2.5);
    assert!(read(&gpu, &t).iter().all(|&v| v == 2.5));
}

/// `x · W[first..first + n]ᵀ` on the forward matmul kernel (the logits projection).
fn rows_product(
    gpu: &Gpu,
    x: &[f32],
    w: &whisper_clsr::gpu::Weight,
    first: usize,
    m: usize,
    n: usize,
    k: usize,
) -> Vec<f32> {
    use whisper_clsr::ops::matmul::{gemm, Epilogue, Gemm, Layout, Rhs};
    let xt = upload(gpu, x, &[m, k]);
    let out = gpu.tensor(&[m, n]);
    let g = Gemm {
        m,
        n,
        k,
        batch: 1,
        a: Layout::dense(m, k),
        b: Layout {
            offset: first * k,
            row_stride: k,
            batch_stride: 0,
        },
        c: Layout::dense(m, n),
        trans_b: true,
        alpha: 1.0,
    };
    gemm(gpu, &xt, Rhs::Weight(w), &out, &g, &Epilogue::default());
    read(gpu, &out)
}

#[test]
fn long_contraction_input_gradient_matches_cpu_and_finite_differences() {
    use whisper_clsr_train::backward::linear::grad_input_long;
    let gpu = gpu();
    let mut rg = rng(16);
    // (rows m, contraction n, width k, first row of W, rows of W)
    for &(m, n, k, first, total) in &[
        (1, 5, 3, 0, 5),
        (7, 1000, 64, 300, 1400),
        (3, 8192, 64, 0, 8192),
        (9, 333, 66, 17, 400),
    ] {
        for dtype in [DType::F32, DType::F16] {
            let (w, w_seen) = weight(&gpu, &random(&mut rg, total * k), &[total, k], dtype);
            let r = random(&mut rg, m * n);
            let acc = random(&mut rg, m * k);
            let dx = upload(&gpu, &acc, &[m, k]);
            grad_input_long(&gpu, &upload(&gpu, &r, &[m, n]), &w, first, &dx, true);
            let got = read(&gpu, &dx);
            // dX += r · W[first..first + n]: a Linear with weight W[first..first + n]ᵀ.
            let rows_t = cpu_transpose(&f64s(&w_seen[first * k..(first + n) * k]), n, k);
            let want = add(&f64s(&acc), &cpu_linear(&f64s(&r), &rows_t, None, k));
            let what = format!("long dX m{m} n{n} k{k} first{first} {dtype:?}");
            assert_close(&got, &want, RTOL, &what);
            let grad: Vec<f32> = got.iter().zip(&acc).map(|(g, a)| g - a).collect();
            let x = random(&mut rg, m * k);
            let idx = probe_indices(&mut rg, m * k, 3);
            let loss = |x: &[f32]| dot(&r, &rows_product(&gpu, x, &w, first, m, n, k));
            FD_LINEAR.check(&what, &grad, &x, &idx, loss);
        }
    }
}

#[test]
fn strided_transpose_matches_cpu() {
    use whisper_clsr::ops::matmul::Layout;
    let gpu = gpu();
    let mut rg = rng(31);
    // (rows, cols, batch, input row stride, input offset): heads inside wider rows too.
    for &(rows, cols, batch, ld, off) in &[
        (1, 1, 1, 1, 0),
        (17, 33, 1, 33, 0),
        (70, 8, 3, 24, 0),
        (5, 16, 2, 48, 16),
        (130, 64, 1, 64, 0),
    ] {
        let from = Layout {
            offset: off,
            row_stride: ld,
            batch_stride: cols,
        };
        let len = off + (batch - 1) * cols + (rows - 1) * ld + cols;
        let x = random(&mut rg, len);
        let input = upload(&gpu, &x, &[len]);
        let to = Layout {
            offset: 3,
            row_stride: rows + 1,
            batch_stride: cols * (rows + 1),
        };
        let out_len = 3 + batch * cols * (rows + 1);
        let out = gpu.tensor(&[out_len]);
        fill(&gpu, &out, -7.0);
        transpose(&gpu, &input, from, &out, to, rows, cols, batch);
        let got = read(&gpu, &out);
        let mut want = vec![-7.0f64; out_len];
        for b in 0..batch {
            for r in 0..rows {
                for c in 0..cols {
                    want[3 + b * to.batch_stride + c * to.row_stride + r] =
                        x[off + b * cols + r * ld + c] as f64;
                }
            }
        }
        assert_close(
            &got,
            &want,
            0.0,
            &format!("transpose {rows}x{cols}x{batch}"),
        );
    }
}
