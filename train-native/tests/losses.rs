//! Losses on the GPU against CPU references (f64) and finite differences: cross-entropy
//! with label smoothing and Jensen–Shannon over vocabulary chunks, the gate budget, and
//! the two-pass sums they rely on.

use whisper_clsr::gpu::{Gpu, Tensor};
use whisper_clsr_test_kit::reference::{jensen_shannon, log_softmax, smoothed_cross_entropy};
use whisper_clsr_test_kit::*;
use whisper_clsr_train::loss::budget::budget_loss;
use whisper_clsr_train::loss::vocab::{CrossEntropy, JensenShannon, LossSpec, IGNORE};
use whisper_clsr_train::reduce::{sum, sum_into, Term};

const RTOL: f64 = 1e-4;
const FD: FiniteDiff = FiniteDiff::new(1e-3, 1e-3);

/// Mean label-smoothed cross-entropy over non-padding rows, scaled.
fn cpu_ce(z: &[f64], targets: &[u32], vocab: usize, eps: f64, scale: f64) -> f64 {
    let count = targets.iter().filter(|&&t| t != IGNORE).count() as f64;
    let mut total = 0.0;
    for (r, &t) in targets.iter().enumerate() {
        if t == IGNORE {
            continue;
        }
        let lp = log_softmax(&z[r * vocab..(r + 1) * vocab]);
        total += smoothed_cross_entropy(&lp, t as usize, eps);
    }
    scale * total / count
}

/// τ²·mean JS(p_teacher, q_student) over non-padding rows, scaled.
fn cpu_js(z: &[f64], zt: &[f64], targets: &[u32], vocab: usize, tau: f64, scale: f64) -> f64 {
    let count = targets.iter().filter(|&&t| t != IGNORE).count() as f64;
    let mut total = 0.0;
    for (r, &t) in targets.iter().enumerate() {
        if t == IGNORE {
            continue;
        }
        let row = |v: &[f64]| {
            log_softmax(
                &v[r * vocab..(r + 1) * vocab]
                    .iter()
                    .map(|x| x / tau)
                    .collect::<Vec<_>>(),
            )
        };
        total += jensen_shannon(&row(zt), &row(z));
    }
    scale * tau * tau * total / count
}

/// Columns v0..v0+vc of a [rows, vocab] matrix as a [rows, vc] tensor.
fn chunk(gpu: &Gpu, z: &[f32], rows: usize, vocab: usize, v0: usize, vc: usize) -> Tensor {
    let data: Vec<f32> = (0..rows)
        .flat_map(|r| z[r * vocab + v0..r * vocab + v0 + vc].to_vec())
        .collect();
    upload(gpu, &data, &[rows, vc])
}

fn chunks(vocab: usize, size: usize) -> Vec<(usize, usize)> {
    (0..vocab)
        .step_by(size)
        .map(|v0| (v0, size.min(vocab - v0)))
        .collect()
}

/// GPU loss value and full gradient [rows, vocab] of CE (and, with teacher logits, + JS).
#[allow(clippy::too_many_arguments)]
fn gpu_losses(
    gpu: &Gpu,
    z: &[f32],
    zt: Option<&[f32]>,
    targets: &[u32],
    vocab: usize,
    chunk_size: usize,
    eps: f32,
    tau: f32,
    ce_scale: f32,
    js_scale: f32,
) -> (f64, f64, Vec<f32>) {
    let rows = targets.len();
    let count = targets.iter().filter(|&&t| t != IGNORE).count();
    let tt = gpu.upload_u32(targets, &[rows]).unwrap();
    let spec = |scale| LossSpec {
        rows,
        vocab,
        count,
        scale,
    };
    let ce = CrossEntropy::new(gpu, spec(ce_scale), eps);
    let js = JensenShannon::new(gpu, spec(js_scale), tau);
    let parts = chunks(vocab, chunk_size);
    // Every chunk uploaded once and kept alive: an upload lands before the next submission,
    // so a pooled buffer must not be reused for another upload before its readers ran.
    let zc: Vec<Tensor> = parts
        .iter()
        .map(|&(v0, vc)| chunk(gpu, z, rows, vocab, v0, vc))
        .collect();
    let ztc: Vec<Tensor> = match zt {
        Some(zt) => parts
            .iter()
            .map(|&(v0, vc)| chunk(gpu, zt, rows, vocab, v0, vc))
            .collect(),
        None => Vec::new(),
    };
    for (i, &(v0, _)) in parts.iter().enumerate() {
        ce.add_chunk(gpu, &zc[i], v0, &tt);
        if zt.is_some() {
            js.add_lse_chunk(gpu, &zc[i], &ztc[i], v0);
        }
    }
    if zt.is_some() {
        for (i, &(v0, _)) in parts.iter().enumerate() {
            js.add_value_chunk(gpu, &zc[i], &ztc[i], v0);
        }
    }
    let ce_loss: f64 = read(gpu, &ce.finish(gpu, &tt))
        .iter()
        .map(|&v| v as f64)
        .sum();
    let js_loss: f64 = match zt {
        Some(_) => read(gpu, &js.finish(gpu, &tt))
            .iter()
            .map(|&v| v as f64)
            .sum(),
        None => 0.0,
    };
    let mut grad = vec![0.0f32; rows * vocab];
    for (i, &(v0, vc)) in parts.iter().enumerate() {
        let dz = gpu.tensor(&[rows, vc]);
        ce.grad_chunk(gpu, &zc[i], v0, &tt, &dz, false);
        if zt.is_some() {
            js.grad_chunk(gpu, &zc[i], &ztc[i], v0, &tt, &dz, true);
        }
        let g = read(gpu, &dz);
        for r in 0..rows {
            grad[r * vocab + v0..r * vocab + v0 + vc].copy_from_slice(&g[r * vc..(r + 1) * vc]);
        }
    }
    (ce_loss, js_loss, grad)
}

#[test]
fn cross_entropy_with_label_smoothing_matches_cpu_and_finite_differences() {
    let gpu = gpu();
    let mut rg = rng(21);
    // (rows, vocab, chunk): one chunk, several with a short last one, chunk > workgroup.
    for &(vocab, chunk_size) in &[(7, 7), (1000, 300), (2051, 512)] {
        let targets = [3u32, IGNORE, 0, (vocab - 1) as u32, 5, IGNORE];
        let rows = targets.len();
        let z: Vec<f32> = random(&mut rg, rows * vocab)
            .iter()
            .map(|v| 4.0 * v)
            .collect();
        let (loss, _, grad) = gpu_losses(
            &gpu, &z, None, &targets, vocab, chunk_size, 0.1, 1.0, 0.7, 0.0,
        );
        let zd = f64s(&z);
        let want = cpu_ce(&zd, &targets, vocab, 0.1, 0.7);
        let what = format!("CE vocab {vocab} chunk {chunk_size}");
        assert_scalar_close(loss, want, RTOL, &format!("{what}: loss"));
        let idx = probe_indices(&mut rg, rows * vocab, 12);
        FD.check(&format!("{what}: gradient"), &grad, &zd, &idx, |z| {
            cpu_ce(z, &targets, vocab, 0.1, 0.7)
        });
        // Padding rows get no gradient at all.
        assert!(
            grad[vocab..2 * vocab].iter().all(|&g| g == 0.0),
            "{what}: padding row gradient"
        );
        // The analytic gradient everywhere: softmax − smoothed target.
        let mut want_grad = vec![0.0f64; rows * vocab];
        let count = 4.0;
        for (r, &t) in targets.iter().enumerate() {
            if t == IGNORE {
                continue;
            }
            let lp = log_softmax(&zd[r * vocab..(r + 1) * vocab]);
            for c in 0..vocab {
                let target = if c == t as usize { 0.9 } else { 0.0 } + 0.1 / vocab as f64;
                want_grad[r * vocab + c] = 0.7 * (lp[c].exp() - target) / count;
            }
        }
        assert_close(&grad, &want_grad, RTOL, &format!("{what}: gradient vs CPU"));
    }
}

#[test]
fn jensen_shannon_is_zero_for_equal_symmetric_and_matches_cpu() {
    let gpu = gpu();
    let mut rg = rng(22);
    for &(vocab, chunk_size, tau) in &[(9, 4, 1.0f32), (1000, 300, 1.0), (777, 256, 2.0)] {
        let targets = [1u32, 2, IGNORE, 4];
        let rows = targets.len();
        let z: Vec<f32> = random(&mut rg, rows * vocab)
            .iter()
            .map(|v| 3.0 * v)
            .collect();
        let zt: Vec<f32> = random(&mut rg, rows * vocab)
            .iter()
            .map(|v| 3.0 * v)
            .collect();
        let what = format!("JS vocab {vocab} chunk {chunk_size} tau {tau}");
        // Zero when student = teacher, with a zero gradient.
        // JS alone (no CE), scaled by `scale`, of student logits `a` against teacher `b`.
        let js_of = |a: &[f32], b: &[f32], scale| {
            gpu_losses(
                &gpu,
                a,
                Some(b),
                &targets,
                vocab,
                chunk_size,
                0.1,
                tau,
                0.0,
                scale,
            )
        };
        let (_, same, grad_same) = js_of(&z, &z, 1.0);
        assert!(same.abs() < 1e-6, "{what}: JS(p, p) = {same}");
        assert!(
            grad_same.iter().all(|g| g.abs() < 1e-7),
            "{what}: gradient at p = q"
        );
        // Symmetric.
        let (_, ab, grad) = js_of(&z, &zt, 2.0);
        let (_, ba, _) = js_of(&zt, &z, 2.0);
        assert!(
            (ab - ba).abs() <= 1e-5 * ab.abs(),
            "{what}: JS(p,q) {ab} vs JS(q,p) {ba}"
        );
        // Against the CPU reference and its finite differences (student logits).
        let (zd, ztd) = (f64s(&z), f64s(&zt));
        let want = cpu_js(&zd, &ztd, &targets, vocab, tau as f64, 2.0);
        assert_scalar_close(ab, want, RTOL, &what);
        assert!(ab > 0.0, "{what}: positive for different distributions");
        let idx = probe_indices(&mut rg, rows * vocab, 12);
        FD.check(&format!("{what}: gradient"), &grad, &zd, &idx, |z| {
            cpu_js(z, &ztd, &targets, vocab, tau as f64, 2.0)
        });
    }
}

#[test]
fn combined_ce_and_js_gradients_add() {
    let gpu = gpu();
    let mut rg = rng(23);
    let (vocab, targets) = (500, [7u32, 499, IGNORE]);
    let rows = targets.len();
    let z = random(&mut rg, rows * vocab);
    let zt = random(&mut rg, rows * vocab);
    let (ce, js, grad) = gpu_losses(
        &gpu,
        &z,
        Some(&zt),
        &targets,
        vocab,
        128,
        0.1,
        1.0,
        1.0,
        2.0,
    );
    let (zd, ztd) = (f64s(&z), f64s(&zt));
    let total = |z: &[f64]| {
        cpu_ce(z, &targets, vocab, 0.1, 1.0) + cpu_js(z, &ztd, &targets, vocab, 1.0, 2.0)
    };
    assert!((ce + js - total(&zd)).abs() < RTOL * total(&zd));
    let idx = probe_indices(&mut rg, rows * vocab, 10);
    FD.check("CE + 2·JS gradient", &grad, &zd, &idx, total);
}

#[test]
fn two_pass_sums_match_cpu() {
    let gpu = gpu();
    let mut rg = rng(24);
    for &n in &[1usize, 255, 257, 100_000, 300_001] {
        let x = random(&mut rg, n);
        let w = random(&mut rg, n);
        let xt = upload(&gpu, &x, &[n]);
        let wt = upload(&gpu, &w, &[n]);
        let out = gpu.tensor(&[3]);
        sum_into(&gpu, xt.buffer(), n, Term::Plain, &out, 0, 1.0, false);
        sum_into(&gpu, xt.buffer(), n, Term::Square, &out, 1, 0.5, false);
        sum_into(
            &gpu,
            xt.buffer(),
            n,
            Term::Weighted(&wt),
            &out,
            2,
            1.0,
            false,
        );
        sum_into(&gpu, xt.buffer(), n, Term::Plain, &out, 2, 1.0, true);
        let got = read(&gpu, &out);
        let s: f64 = x.iter().map(|&v| v as f64).sum();
        let sq: f64 = x.iter().map(|&v| (v as f64).powi(2)).sum();
        let sw: f64 = x.iter().zip(&w).map(|(&a, &b)| a as f64 * b as f64).sum();
        // Sums of ±1 values cancel: compare against the sum of magnitudes.
        let mag: f64 = x.iter().map(|&v| (v as f64).abs()).sum();
        for (what, g, want) in [
            ("sum", got[0], s),
            ("sum sq", got[1], 0.5 * sq),
            ("weighted + sum", got[2], sw + s),
        ] {
            assert!(
                (g as f64 - want).abs() <= 1e-5 * mag.max(1.0),
                "{what} n={n}: {g} vs {want}"
            );
        }
        assert!((read(&gpu, &sum(&gpu, &xt))[0] as f64 - s).abs() <= 1e-5 * mag.max(1.0));
    }
}

#[test]
fn gate_budget_matches_cpu() {
    let gpu = gpu();
    let mut rg = rng(25);
    for &(n, budget) in &[(1usize, 0.5f32), (37, 0.5), (3000, 0.3), (3000, 0.9)] {
        let gates: Vec<f32> = random(&mut rg, n).iter().map(|v| 0.5 + 0.45 * v).collect();
        let mask: Vec<f32> = (0..n).map(|i| if i % 5 == 4 { 0.0 } else { 1.0 }).collect();
        let count = mask.iter().filter(|&&m| m > 0.0).count();
        let g = upload(&gpu, &gates, &[n]);
        let m = upload(&gpu, &mask, &[n]);
        let s = gpu.tensor(&[1]);
        sum_into(&gpu, g.buffer(), n, Term::Weighted(&m), &s, 0, 1.0, false);
        let out = read(&gpu, &budget_loss(&gpu, &s, count, budget, 1.0));
        let mean = gates
            .iter()
            .zip(&mask)
            .map(|(&a, &b)| a as f64 * b as f64)
            .sum::<f64>()
            / count as f64;
        let want = (mean - budget as f64).abs();
        assert!(
            (out[0] as f64 - want).abs() <= 1e-5,
            "budget n={n}: {} vs {want}",
            out[0]
        );
        let coef = (mean - budget as f64).signum() / count as f64;
        assert!(
            (out[1] as f64 - coef).abs() <= 1e-6 * coef.abs(),
            "budget coefficient n={n}"
        );
        // Finite difference of the budget w.r.t. one counted gate.
        let i = 0;
        let fd = central_difference(1e-4, |d| {
            let mean2 = mean + d / count as f64;
            (mean2 - budget as f64).abs()
        });
        assert!(
            (fd - coef * mask[i] as f64).abs() <= 1e-6,
            "budget FD n={n}"
        );
    }
}
