//! Throughput of the tiled matmul kernel on the shapes that dominate a whisper-base encoder
//! pass: a Linear over 1500 frames (f16 and f32 weights; the GPU forms side by side: wide in
//! 128×128 blocks, wide in 64×64 blocks, wide with f32 tiles, scalar tiled) and the two attention products of 8 heads (Q·Kᵀ and
//! P·V), in GFLOPS, on the device it names; and one encoder layer op by op (the runtime's
//! own ops, f16 weights) with each op's share of the layer; and a greedy decoder step's
//! logits GEMV and token pick over Whisper's 51865 ids at each model width, with the argmax
//! partials the GEMV leaves for the pick and with the pick reading the whole row, side by
//! side. On a CPU device the products run the walking form unless
//! `WHISPER_CLSR_KERNEL_FORMS=gpu`.
//!
//! `cargo run --release --no-default-features --example bench_matmul [-- ITERS] [--pick-only]`
//! (`--pick-only`: the logits and pick comparison alone)

use rand::{Rng, SeedableRng};
use web_time::Instant;
use whisper_clsr::gpu::{DType, Gpu, GpuOptions, Tensor};
use whisper_clsr::ops::layer_norm::layer_norm;
use whisper_clsr::ops::matmul::{
    argmax_partials, gemm, linear, ArgmaxOut, Epilogue, Gemm, Layout, Rhs,
};
use whisper_clsr::ops::softmax::{softmax_rows, Mask};
use whisper_clsr::ops::token_pick::{pick_token, ArgmaxPartials, Pick};

fn random(rng: &mut impl Rng, n: usize) -> Vec<f32> {
    (0..n).map(|_| rng.random_range(-1.0f32..1.0)).collect()
}

/// Seconds per call of `op`, recorded back to back with one final wait.
fn time(gpu: &Gpu, iters: usize, mut op: impl FnMut()) -> f64 {
    let probe = gpu.tensor(&[1]);
    op();
    pollster::block_on(gpu.read(&probe)).unwrap();
    let start = Instant::now();
    for _ in 0..iters {
        op();
    }
    pollster::block_on(gpu.read(&probe)).unwrap();
    start.elapsed().as_secs_f64() / iters as f64
}

fn report(name: &str, g: &Gemm, secs: f64) {
    let flops = 2.0 * (g.m * g.n * g.k * g.batch) as f64;
    println!(
        "{name:<40} {:>5}×{:<5}×{:<5} ×{:<2} {:>9.1} ms {:>7.2} GFLOPS",
        g.m,
        g.n,
        g.k,
        g.batch,
        secs * 1e3,
        flops / secs / 1e9
    );
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let pick_only = args.iter().any(|a| a == "--pick-only");
    let iters = args
        .iter()
        .find(|a| !a.starts_with("--"))
        .map(|s| s.parse().expect("ITERS is a number"))
        .unwrap_or(3);
    let gpu = pollster::block_on(Gpu::new(GpuOptions::default())).expect("a GPU adapter");
    println!("device: {}", gpu.describe());
    let mut rng = rand::rngs::StdRng::seed_from_u64(1);
    if pick_only {
        logits_and_pick(&gpu, iters.max(10), &mut rng);
        return;
    }
    let (t, d, ffn) = (1500, 512, 2048);

    let linear = Gemm {
        m: t,
        n: ffn,
        k: d,
        batch: 1,
        a: Layout::dense(t, d),
        b: Layout::dense(ffn, d),
        c: Layout::dense(t, ffn),
        trans_b: true,
        alpha: 1.0,
    };
    // The GPU forms side by side on fc1 (on a CPU device they run with
    // WHISPER_CLSR_KERNEL_FORMS=gpu; otherwise every row is the walking form): the wide form
    // (16-byte loads; f16 workgroup tiles for f16 weights where the device has shader-f16) in
    // 128×128 blocks (fc1 has 192 of them) and in 64×64 blocks
    // (`Gpu::set_large_matmul_tiles(false)`), the same with f32 tiles (a second device opened
    // without shader-f16), and the scalar tiled form (`Gpu::set_wide_matmul(false)`).
    let plain = (gpu.shader_f16() && !gpu.cpu_forms()).then(|| {
        pollster::block_on(Gpu::new(GpuOptions {
            shader_f16: false,
            ..GpuOptions::default()
        }))
        .expect("a second device")
    });
    // (label, device, wide, large tiles)
    let mut devices: Vec<(&str, &Gpu, bool, bool)> = vec![
        ("wide, 128×128 blocks", &gpu, true, true),
        ("wide, 64×64 blocks", &gpu, true, false),
    ];
    if let Some(plain) = &plain {
        devices.push(("wide, f32 tiles", plain, true, true));
    }
    devices.push(("tiled, scalar loads", &gpu, false, false));
    let weights = random(&mut rng, ffn * d);
    let inputs = random(&mut rng, t * d);
    for dtype in [DType::F16, DType::F32] {
        for &(form, device, wide, large) in &devices {
            device.set_wide_matmul(wide);
            device.set_large_matmul_tiles(large);
            let x = device.upload(&inputs, &[t, d]).unwrap();
            let w = device.weight_f32(&weights, &[ffn, d], dtype).unwrap();
            let out: Tensor = device.tensor(&[t, ffn]);
            let secs = time(device, iters, || {
                gemm(
                    device,
                    &x,
                    Rhs::Weight(&w),
                    &out,
                    &linear,
                    &Epilogue::default(),
                )
            });
            device.set_wide_matmul(true);
            device.set_large_matmul_tiles(true);
            report(&format!("fc1, {dtype:?} weight, {form}"), &linear, secs);
        }
    }

    encoder_layer_ops(&gpu, iters, &mut rng);
    logits_and_pick(&gpu, iters.max(10), &mut rng);
}

/// A greedy step's logits (one row against the token table, f16) and its pick, with the
/// GEMV's argmax partials and with the pick reading the whole row, alternating per width.
fn logits_and_pick(gpu: &Gpu, iters: usize, rng: &mut impl Rng) {
    let (vocab, eot) = (51865, 50257);
    println!("\na greedy step's logits GEMV + pick over {vocab} ids, ms per step ({iters} steps):");
    println!(
        "{:<8} {:>16} {:>12} {:>7}",
        "width", "argmax partials", "whole row", "ratio"
    );
    let mask = gpu.upload(&vec![0.0; vocab], &[vocab]).unwrap();
    let pick = Pick {
        ts_begin: 50364,
        eot,
        timestamps: None,
        temperature: 0.0,
        seed: 0,
        step: 0,
    };
    let picked = gpu.tensor(&[2]);
    for d in [384, 512, 768, 1024, 1280] {
        let values: Vec<f32> = (0..vocab * d)
            .map(|_| rng.random_range(-0.05f32..0.05))
            .collect();
        let table = gpu.weight_f32(&values, &[vocab, d], DType::F16).unwrap();
        let x = gpu.upload(&random(rng, d), &[1, d]).unwrap();
        let logits = gpu.tensor(&[1, vocab]);
        let g = Gemm {
            m: 1,
            n: vocab,
            k: d,
            batch: 1,
            a: Layout::dense(1, d),
            b: Layout::dense(vocab, d),
            c: Layout::dense(1, vocab),
            trans_b: true,
            alpha: 1.0,
        };
        let partials = ArgmaxPartials::new(gpu, argmax_partials(gpu, &g, Rhs::Weight(&table)));
        let step = |with_partials: bool| {
            let argmax = with_partials.then_some(ArgmaxOut {
                mask: &mask,
                limit: eot,
                out: &partials.tensor,
                first: 0,
            });
            let epi = Epilogue {
                argmax,
                ..Epilogue::default()
            };
            gemm(gpu, &x, Rhs::Weight(&table), &logits, &g, &epi);
            let partials = with_partials.then_some(&partials);
            pick_token(gpu, &logits, 0, &mask, &pick, partials, &picked);
        };
        // Alternating rounds, so that both see the same load on the machine.
        let (mut merged, mut whole) = (0.0, 0.0);
        for _ in 0..2 {
            merged += time(gpu, iters / 2, || step(true));
            whole += time(gpu, iters / 2, || step(false));
        }
        println!(
            "{d:<8} {:>16.2} {:>12.2} {:>7.2}",
            merged * 500.0,
            whole * 500.0,
            merged / whole
        );
    }
}

/// One whisper-base encoder layer as the runtime runs it, each op timed on its own.
fn encoder_layer_ops(gpu: &Gpu, iters: usize, rng: &mut impl Rng) {
    let (t, d, ffn, heads) = (1500, 512, 2048, 8);
    let weight = |rng: &mut dyn rand::RngCore, shape: &[usize]| {
        let n = shape.iter().product();
        let values: Vec<f32> = (0..n).map(|_| rng.random_range(-0.05f32..0.05)).collect();
        gpu.weight_f32(&values, shape, DType::F16).unwrap()
    };
    let x = gpu.upload(&random(rng, t * d), &[t, d]).unwrap();
    let (gamma, beta) = (weight(rng, &[d]), weight(rng, &[d]));
    let (w_d, b_d) = (weight(rng, &[d, d]), weight(rng, &[d]));
    let (w_fc1, b_fc1) = (weight(rng, &[ffn, d]), weight(rng, &[ffn]));
    let (w_fc2, b_fc2) = (weight(rng, &[d, ffn]), weight(rng, &[d]));
    let hidden = gpu.upload(&random(rng, t * ffn), &[t, ffn]).unwrap();
    let scores = gpu
        .upload(&random(rng, heads * t * t), &[heads, t, t])
        .unwrap();
    // Heads addressed in place inside [T, d] activations, as the attention op does.
    let head_cols = Layout {
        offset: 0,
        row_stride: d,
        batch_stride: d / heads,
    };
    let qk = Gemm {
        m: t,
        n: t,
        k: d / heads,
        batch: heads,
        a: head_cols,
        b: head_cols,
        c: Layout::dense(t, t),
        trans_b: true,
        alpha: 0.125,
    };
    let pv = Gemm {
        m: t,
        n: d / heads,
        k: t,
        batch: heads,
        a: Layout::dense(t, t),
        b: head_cols,
        c: head_cols,
        trans_b: false,
        alpha: 1.0,
    };
    let attended = gpu.tensor(&[t, d]);
    let qk_secs = time(gpu, iters, || {
        gemm(gpu, &x, Rhs::Act(&x), &scores, &qk, &Epilogue::default())
    });
    let pv_secs = time(gpu, iters, || {
        gemm(
            gpu,
            &scores,
            Rhs::Act(&x),
            &attended,
            &pv,
            &Epilogue::default(),
        )
    });
    report("attention Q·Kᵀ", &qk, qk_secs);
    report("attention P·V", &pv, pv_secs);
    // (name, times per layer, seconds per call)
    let ops: Vec<(&str, usize, f64)> = vec![
        (
            "layer norm",
            2,
            time(gpu, iters, || drop(layer_norm(gpu, &x, &gamma, &beta))),
        ),
        (
            "q/k/v/out projections",
            4,
            time(gpu, iters, || {
                drop(linear(gpu, &x, &w_d, Some(&b_d), false, None))
            }),
        ),
        ("Q·Kᵀ (8 heads)", 1, qk_secs),
        (
            "softmax (8×1500 rows)",
            1,
            time(gpu, iters, || {
                softmax_rows(gpu, &scores, heads * t, t, Mask::None)
            }),
        ),
        ("P·V (8 heads)", 1, pv_secs),
        (
            "fc1 + GELU",
            1,
            time(gpu, iters, || {
                drop(linear(gpu, &x, &w_fc1, Some(&b_fc1), true, None))
            }),
        ),
        (
            "fc2 + residual",
            1,
            time(gpu, iters, || {
                drop(linear(gpu, &hidden, &w_fc2, Some(&b_fc2), false, Some(&x)))
            }),
        ),
    ];
    let layer: f64 = ops.iter().map(|&(_, n, secs)| n as f64 * secs).sum();
    println!(
        "\none whisper-base encoder layer, op by op ({:.0} ms in all):",
        layer * 1e3
    );
    for (name, n, secs) in ops {
        println!(
            "{name:<24} {n} × {:>8.1} ms  {:>5.1} %",
            secs * 1e3,
            100.0 * n as f64 * secs / layer
        );
    }
}
