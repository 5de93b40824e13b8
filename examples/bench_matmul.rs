//! Throughput of the tiled matmul kernel on the shapes that dominate a whisper-base encoder
//! pass: a Linear over 1500 frames (f16 and f32 weights) and the two attention products of
//! 8 heads (Q·Kᵀ and P·V). Prints GFLOPS per shape and the device.
//!
//! `cargo run --release --no-default-features --example bench_matmul [-- ITERS]`

use rand::{Rng, SeedableRng};
use web_time::Instant;
use whisper_clsr::gpu::{DType, Gpu, GpuOptions, Tensor};
use whisper_clsr::ops::matmul::{gemm, Epilogue, Gemm, Layout, Rhs};

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
        "{name:<28} {:>5}×{:<5}×{:<5} ×{:<2} {:>9.1} ms {:>7.2} GFLOPS",
        g.m,
        g.n,
        g.k,
        g.batch,
        secs * 1e3,
        flops / secs / 1e9
    );
}

fn main() {
    let iters = std::env::args()
        .nth(1)
        .map(|s| s.parse().expect("ITERS is a number"))
        .unwrap_or(3);
    let gpu = pollster::block_on(Gpu::new(GpuOptions::default())).expect("a GPU adapter");
    println!("device: {}", gpu.describe());
    let mut rng = rand::rngs::StdRng::seed_from_u64(1);
    let (t, d, ffn, heads, hd) = (1500, 512, 2048, 8, 64);

    let x = gpu.upload(&random(&mut rng, t * d), &[t, d]).unwrap();
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
    let out: Tensor = gpu.tensor(&[t, ffn]);
    for dtype in [DType::F16, DType::F32] {
        let w = gpu
            .weight_f32(&random(&mut rng, ffn * d), &[ffn, d], dtype)
            .unwrap();
        let secs = time(&gpu, iters, || {
            gemm(
                &gpu,
                &x,
                Rhs::Weight(&w),
                &out,
                &linear,
                &Epilogue::default(),
            )
        });
        report(&format!("linear fc1 ({dtype:?} weight)"), &linear, secs);
    }

    // Heads addressed in place inside [T, d] activations, as the attention op does.
    let head_cols = Layout {
        offset: 0,
        row_stride: d,
        batch_stride: hd,
    };
    let qk = Gemm {
        m: t,
        n: t,
        k: hd,
        batch: heads,
        a: head_cols,
        b: head_cols,
        c: Layout::dense(t, t),
        trans_b: true,
        alpha: 0.125,
    };
    let scores = gpu.tensor(&[heads, t, t]);
    let secs = time(&gpu, iters, || {
        gemm(&gpu, &x, Rhs::Act(&x), &scores, &qk, &Epilogue::default())
    });
    report("attention Q·Kᵀ", &qk, secs);
    let pv = Gemm {
        m: t,
        n: hd,
        k: t,
        batch: heads,
        a: Layout::dense(t, t),
        b: head_cols,
        c: head_cols,
        trans_b: false,
        alpha: 1.0,
    };
    let attended = gpu.tensor(&[t, d]);
    let secs = time(&gpu, iters, || {
        gemm(
            &gpu,
            &scores,
            Rhs::Act(&x),
            &attended,
            &pv,
            &Epilogue::default(),
        )
    });
    report("attention P·V", &pv, secs);
}
