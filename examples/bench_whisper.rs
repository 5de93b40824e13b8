//! Whole-pipeline speed on one clip: this crate's Whisper (WGSL kernels on the wgpu device)
//! side by side with candle-transformers' Whisper on the CPU, on the same weights, in one
//! process. Prints mel ms, encoder ms, decoder ms per token and the real-time factor of each,
//! and candle's time over ours.
//!
//! `cargo run --release --example bench_whisper -- [--runs N] [--audio WAV] [--general-step | --fused-step]
//! [--one-by-one] [--composed-attention] MODEL_DIR...` (`scripts/bench.sh` runs it on whisper-tiny.en and
//! whisper-base with jfk.wav). `--general-step` turns the decoder's one-dispatch attention
//! step off (`Decoder::fused_step`, on by default with the GPU kernel forms), to compare
//! against the general path, and `--fused-step` on (the CPU forms' default is off); `--one-by-one`
//! reads each decoder step's token back before recording the next
//! (`Decoder::overlapped_steps` off); `--composed-attention` runs the encoder's
//! self-attention as separate products and softmax instead of the flash kernel.

use std::path::PathBuf;

use web_time::Instant;
use whisper_clsr::audio::{load_audio_file, mel_filters, SAMPLE_RATE};
use whisper_clsr::decode::Task;
use whisper_clsr::gpu::{Gpu, GpuOptions};
use whisper_clsr::model::block::SelfAttentionKernel;
use whisper_clsr::{TranscribeOptions, Whisper};
use whisper_clsr_test_kit::candle_ref::{self, CandleWhisper};

/// One run's figures, in milliseconds.
#[derive(Clone, Copy, Default)]
struct Figures {
    mel: f64,
    encoder: f64,
    decoder_per_token: f64,
    total: f64,
}

fn median(mut runs: Vec<Figures>) -> Figures {
    runs.sort_by(|a, b| a.total.total_cmp(&b.total));
    runs[runs.len() / 2]
}

fn ms(since: Instant) -> f64 {
    since.elapsed().as_secs_f64() * 1e3
}

fn ours(whisper: &Whisper, samples: &[f32], runs: usize) -> (Figures, String) {
    let options = TranscribeOptions {
        language: (!whisper.tokenizer.is_english_only()).then(|| "en".to_string()),
        // Like candle's loop: greedy, no timestamps, no fallback.
        decode: whisper_clsr::decode::DecodeOptions::greedy(),
        ..Default::default()
    };
    let mut figures = Vec::new();
    let mut text = String::new();
    for _ in 0..=runs {
        let t = pollster::block_on(whisper.transcribe(samples, &options, &mut |_| Ok(())))
            .expect("transcription failed");
        let timings = &t.timings;
        figures.push(Figures {
            mel: timings.mel_ms,
            encoder: timings.encoder_ms,
            // The prompt step counts as one token, as in candle's loop below.
            decoder_per_token: timings.decoder_ms / (t.tokens.len() + 1) as f64,
            total: timings.mel_ms + timings.encoder_ms + timings.decoder_ms,
        });
        text = t.text;
    }
    figures.remove(0); // warm-up: pipeline compilation, first allocations
    (median(figures), text)
}

fn candle(
    dir: &std::path::Path,
    whisper: &Whisper,
    samples: &[f32],
    runs: usize,
) -> (Figures, usize) {
    let mut model = CandleWhisper::load(dir);
    let n_mels = whisper.config().num_mel_bins;
    let filters = mel_filters(n_mels);
    let language = (!whisper.tokenizer.is_english_only()).then_some("en");
    let prompt = whisper
        .tokenizer
        .prompt(language, Task::Transcribe)
        .expect("prompt");
    let (always, first) = whisper.suppressed_tokens();
    let mut figures = Vec::new();
    let mut generated = 0;
    for _ in 0..=runs {
        let t = Instant::now();
        let mel = candle_ref::pcm_to_mel(&model.config, samples, &filters);
        let mel_ms = ms(t);
        let t = Instant::now();
        let encoded = model.encoder_output(&mel, n_mels);
        let encoder_ms = ms(t);
        // candle's decoding loop re-encodes nothing but recomputes self-attention over the
        // whole prefix each step (its own example does the same).
        let t = Instant::now();
        let tokens =
            model.greedy_from_encoded(&encoded, &prompt, always, first, whisper.tokenizer.eot, 224);
        let decoder_ms = ms(t);
        generated = tokens.len();
        figures.push(Figures {
            mel: mel_ms,
            encoder: encoder_ms,
            decoder_per_token: decoder_ms / (tokens.len() + 1) as f64,
            total: mel_ms + encoder_ms + decoder_ms,
        });
    }
    figures.remove(0);
    (median(figures), generated)
}

fn main() {
    let mut args = std::env::args().skip(1);
    let mut runs = 3;
    let mut audio = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/fixtures/jfk.wav"
    ));
    let mut models = Vec::new();
    let mut fused_step = None;
    let mut overlapped = true;
    let mut composed = false;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--runs" => runs = args.next().and_then(|n| n.parse().ok()).expect("--runs N"),
            "--audio" => audio = args.next().expect("--audio WAV").into(),
            "--general-step" => fused_step = Some(false),
            "--fused-step" => fused_step = Some(true),
            "--one-by-one" => overlapped = false,
            "--composed-attention" => composed = true,
            _ => models.push(PathBuf::from(arg)),
        }
    }
    assert!(
        !models.is_empty(),
        "usage: bench_whisper [--runs N] [--audio WAV] [--general-step | --fused-step] [--one-by-one] [--composed-attention] MODEL_DIR..."
    );
    let samples = load_audio_file(&audio).expect("audio");
    let seconds = samples.len() as f64 / SAMPLE_RATE as f64;
    let open_gpu = || pollster::block_on(Gpu::new(GpuOptions::default())).expect("GPU");
    println!(
        "clip {} ({seconds:.1} s), median of {runs} runs after one warm-up",
        audio.display()
    );
    println!("ours: {}", open_gpu().describe());
    println!(
        "peer: candle-transformers 0.9 Whisper, CPU f32, {} threads",
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    println!(
        "\n{:<18} {:<7} {:>9} {:>11} {:>12} {:>8}",
        "model", "impl", "mel ms", "encoder ms", "dec ms/tok", "RTF"
    );
    for dir in &models {
        let name = dir.file_name().unwrap().to_string_lossy().to_string();
        let mut whisper = Whisper::load_dir(open_gpu(), dir).expect("model");
        if let Some(fused) = fused_step {
            whisper.model.decoder.fused_step = fused;
        }
        whisper.model.decoder.overlapped_steps = overlapped;
        if composed {
            whisper.model.encoder.self_attention = SelfAttentionKernel::Composed;
        }
        let (a, text) = ours(&whisper, &samples, runs);
        let (b, tokens) = candle(dir, &whisper, &samples, runs);
        for (who, f) in [("ours", a), ("candle", b)] {
            println!(
                "{name:<18} {who:<7} {:>9.1} {:>11.1} {:>12.2} {:>8.3}",
                f.mel,
                f.encoder,
                f.decoder_per_token,
                f.total / 1e3 / seconds
            );
        }
        println!(
            "{name:<18} {:<7} {:>9.2} {:>11.2} {:>12.2} {:>8.2}   (candle time / ours; {tokens} tokens) \"{text}\"",
            "ratio",
            b.mel / a.mel,
            b.encoder / a.encoder,
            b.decoder_per_token / a.decoder_per_token,
            b.total / a.total,
        );
    }
}
