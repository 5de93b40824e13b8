//! Encoder self-attention, the composed path (`ops::attention`: Q·Kᵀ scores, row softmax,
//! P·V) against the flash kernel (`ops::flash_attention`), side by side in one process:
//! attention alone at whisper-tiny's and whisper-base's encoder shapes (T = 1500, 6 and 8
//! heads of 64) with every tiling of the tiled form and the CPU drivers' `WALK` form, then a
//! whole encoder pass of a real model on jfk.wav with either kernel (flash in the form the
//! device dispatches) —
//! milliseconds (median), the largest output difference, and the activation memory the pass
//! allocated (docs/benchmarks.md).
//!
//! `cargo run --release --example bench_attention -- [--runs N] [MODEL_DIR]`
//! (default models/whisper-tiny.en).

use std::path::PathBuf;

use rand::{Rng, SeedableRng};
use web_time::Instant;
use whisper_clsr::audio::{load_audio_file, mel_window, LogMel, N_FRAMES};
use whisper_clsr::gpu::{Gpu, GpuOptions, Tensor};
use whisper_clsr::model::block::SelfAttentionKernel;
use whisper_clsr::ops::attention::{attention, AttentionShape};
use whisper_clsr::ops::flash_attention::{flash_attention_tiled, flash_attention_walk};
use whisper_clsr::ops::softmax::Mask;
use whisper_clsr::Whisper;
use whisper_clsr_test_kit as kit;

fn read(gpu: &Gpu, t: &Tensor) -> Vec<f32> {
    pollster::block_on(gpu.read(t)).expect("readback")
}

fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).fold(0.0, |m, (x, y)| m.max((x - y).abs()))
}

/// Median milliseconds of `runs` calls of `op` (each waited for), after one warm-up call.
fn median_ms(runs: usize, mut op: impl FnMut() -> Vec<f32>) -> (f64, Vec<f32>) {
    let out = op();
    let mut times: Vec<f64> = (0..runs)
        .map(|_| {
            let start = Instant::now();
            op();
            start.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    times.sort_by(f64::total_cmp);
    (times[times.len() / 2], out)
}

fn attention_alone(gpu: &Gpu, runs: usize) {
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    println!(
        "\n{:<22} {:>12} {:>24} {:>9} {:>11}",
        "attention alone", "composed ms", "flash ms (rows/invoc.)", "speedup", "max |diff|"
    );
    for (name, heads) in [("tiny (6×64, T 1500)", 6), ("base (8×64, T 1500)", 8)] {
        let (t, head_dim) = (1500, 64);
        let d = heads * head_dim;
        let mut upload = || {
            let data: Vec<f32> = (0..t * d).map(|_| rng.random_range(-1.0f32..1.0)).collect();
            gpu.upload(&data, &[t, d]).unwrap()
        };
        let (q, k, v) = (upload(), upload(), upload());
        let shape = AttentionShape {
            heads,
            head_dim,
            q_len: t,
            kv_len: t,
            beams: 1,
        };
        let (composed, a) = median_ms(runs, || {
            read(gpu, &attention(gpu, &q, &k, &v, shape, Mask::None))
        });
        for rows in [Some(1), Some(2), Some(4), None] {
            let (flash, b) = median_ms(runs, || match rows {
                Some(rows) => read(gpu, &flash_attention_tiled(gpu, &q, &k, &v, shape, rows)),
                None => read(gpu, &flash_attention_walk(gpu, &q, &k, &v, shape)),
            });
            let form = rows.map_or("WALK".to_string(), |rows| rows.to_string());
            println!(
                "{name:<22} {composed:>12.1} {:>24} {:>8.2}× {:>11.2e}",
                format!("{flash:.1} ({form})"),
                composed / flash,
                max_abs_diff(&a, &b)
            );
        }
    }
}

fn whole_encoder(gpu: Gpu, dir: &std::path::Path, runs: usize) {
    let mut whisper = Whisper::load_dir(gpu, dir).expect("model");
    let (clip, _) = kit::fixtures::jfk();
    let samples = load_audio_file(&clip).expect("audio");
    let n_mels = whisper.config().num_mel_bins;
    let (mel, frames) = LogMel::new(n_mels).unwrap().compute_full(&samples).unwrap();
    let window = mel_window(&mel, frames, n_mels, 0, N_FRAMES);
    println!(
        "\n{:<24} {:>13} {:>22}",
        format!("{} encoder", dir.file_name().unwrap().to_string_lossy()),
        "ms",
        "activation memory MiB"
    );
    let mut outputs = Vec::new();
    for kernel in [SelfAttentionKernel::Composed, SelfAttentionKernel::Flash] {
        whisper.model.encoder.self_attention = kernel;
        // Warm-up (pipeline compilation), then measure what one pass allocates from an
        // empty pool: every buffer the pool holds afterwards was live at some point, and a
        // buffer is only allocated when none of its size is idle, so this is the peak.
        read(&whisper.gpu, &whisper.encode(&window).unwrap());
        whisper.gpu.release_pooled();
        let encoded = whisper.encode(&window).unwrap();
        let out = read(&whisper.gpu, &encoded);
        drop(encoded);
        let peak = whisper.gpu.activation_bytes() as f64 / (1 << 20) as f64;
        let (ms, _) = median_ms(runs, || {
            read(&whisper.gpu, &whisper.encode(&window).unwrap())
        });
        println!("{:<24} {ms:>13.1} {peak:>22.1}", format!("{kernel:?}"));
        outputs.push(out);
    }
    println!(
        "max |flash − composed| over the encoder output: {:.2e}",
        max_abs_diff(&outputs[0], &outputs[1])
    );
}

fn main() {
    let mut args = std::env::args().skip(1);
    let mut runs = 3;
    let mut model = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/models/whisper-tiny.en"
    ));
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--runs" => runs = args.next().and_then(|n| n.parse().ok()).expect("--runs N"),
            _ => model = PathBuf::from(arg),
        }
    }
    let gpu = pollster::block_on(Gpu::new(GpuOptions::default())).expect("a GPU adapter");
    println!(
        "device: {}; median of {runs} runs after a warm-up",
        gpu.describe()
    );
    attention_alone(&gpu, runs);
    whole_encoder(gpu, &model, runs);
}
