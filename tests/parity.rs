//! Whole-model outputs against an independent implementation: candle-transformers' Whisper
//! on the CPU, on the same weights. A tiny random model (f32 weights) checks the arithmetic
//! tightly; the real checkpoints check the full pipeline, greedy tokens and transcripts.
//! Where candle's own f32 rounding exceeds the bound (whisper-base's encoder), an f64
//! evaluation of the encoder (the test kit's `F64Whisper`) is the reference.

use whisper_clsr_test_kit as kit;

use kit::candle_ref::CandleWhisper;
use kit::random_model::{write_random_model, TinyConfig};
use kit::reference::F64Whisper;
use kit::{error_vs, max_abs_diff, read};
use whisper_clsr::audio::{load_audio_file, log_mel_spectrogram, mel_window, LogMel, HOP_LENGTH};
use whisper_clsr::decode::{DecodeOptions, Task};
use whisper_clsr::gpu::shader::with_tanh_gelu;
use whisper_clsr::model::{WeightFile, WhisperConfig, WhisperNetwork};
use whisper_clsr::{TranscribeOptions, Whisper};

/// What a real model's encoder output must be within 1e-3 of.
enum EncoderCheck {
    /// candle-transformers' f32 output.
    Candle,
    /// The f64 reference encoder (for models where candle's own f32 rounding exceeds 1e-3).
    ExactF64,
}

#[test]
fn random_f32_model_matches_candle_through_the_kv_cache() {
    let dir = std::env::temp_dir().join(format!("whisper-clsr-parity-{}", std::process::id()));
    write_random_model(
        &dir,
        &TinyConfig::default(),
        safetensors::Dtype::F32,
        &mut kit::rng(11),
    );
    // candle's Whisper uses the tanh approximation of GELU: run ours in that form too, so
    // that both compute the same function.
    with_tanh_gelu(|| random_model_matches_candle(&dir));
}

fn random_model_matches_candle(dir: &std::path::Path) {
    let gpu = kit::gpu();
    let config =
        WhisperConfig::from_json(&std::fs::read(dir.join("config.json")).unwrap()).unwrap();
    let file = WeightFile::new(
        std::fs::read(dir.join("model.safetensors")).unwrap(),
        "random",
    )
    .unwrap();
    let model = WhisperNetwork::load(&gpu, config, &file).unwrap();
    let mel: Vec<f32> = kit::random(&mut kit::rng(12), 80 * 3000);

    let enc = model
        .encoder
        .forward(&gpu, &gpu.upload(&mel, &[80, 3000]).unwrap(), None)
        .unwrap();
    let ours = read(&gpu, &enc);
    let mut candle = CandleWhisper::load(dir);
    let theirs = candle.encoder_output(&mel, 80);
    let diff = max_abs_diff(&ours, &theirs);
    assert!(diff <= 1e-3, "encoder max |diff| {diff}");

    // A 3-token prompt (causal within the step), then two cached single-token steps.
    let mut state = model.decoder.start(&gpu, &enc, None);
    let mut tokens = vec![1u32, 7, 42];
    let mut fed = tokens.clone();
    for next in [5u32, 299] {
        let logits = read(&gpu, &model.decoder.step(&gpu, &mut state, &fed).unwrap());
        let want = candle.decoder_logits(&theirs, &tokens);
        let diff = max_abs_diff(&logits, &want);
        assert!(
            diff <= 1e-3,
            "logits after {} tokens: max |diff| {diff}",
            tokens.len()
        );
        tokens.push(next);
        fed = vec![next];
    }
}

/// On jfk.wav: encoder output and first-step logits within 1e-3 of candle's and the same
/// greedy tokens, all with candle's tanh GELU so both compute the same function; then, with
/// Whisper's exact GELU, the transcript (`exact`: character for character, else word for
/// word). `encoder_check` says what the encoder output is held to (within 1e-3).
fn real_model_parity(name: &str, exact: bool, encoder_check: EncoderCheck) -> Whisper {
    let dir = kit::model_dir(name);
    let (wav, reference) = kit::fixtures::jfk();
    let samples = load_audio_file(&wav).unwrap();
    let whisper = Whisper::load_dir(kit::gpu(), &dir).unwrap();
    let english = TranscribeOptions {
        language: Some("en".into()),
        decode: DecodeOptions::greedy(),
        ..Default::default()
    };
    with_tanh_gelu(|| {
        same_function_as_candle(name, &whisper, &dir, &samples, &english, encoder_check)
    });

    // Whisper's exact GELU: the transcript.
    let t = pollster::block_on(whisper.transcribe(&samples, &english, &mut |_| Ok(()))).unwrap();
    if exact {
        assert_eq!(t.text, reference, "{name} transcript");
    } else {
        assert_eq!(
            kit::words(&t.text),
            kit::words(&reference),
            "{name} transcript"
        );
    }
    whisper
}

/// With the tanh GELU (candle's): encoder output, first-step logits and greedy tokens.
fn same_function_as_candle(
    name: &str,
    whisper: &Whisper,
    dir: &std::path::Path,
    samples: &[f32],
    english: &TranscribeOptions,
    encoder_check: EncoderCheck,
) {
    let gpu = &whisper.gpu;
    let n_mels = whisper.config().num_mel_bins;
    let mel = log_mel_spectrogram(samples, n_mels).unwrap();

    let enc = whisper.encode(&mel).unwrap();
    let ours = read(gpu, &enc);
    let mut candle = CandleWhisper::load(dir);
    let theirs = candle.encoder_output(&mel, n_mels);
    let enc_diff = max_abs_diff(&ours, &theirs);

    let prompt = whisper
        .tokenizer
        .prompt(Some("en"), Task::Transcribe)
        .unwrap();
    let mut state = whisper.model.decoder.start(gpu, &enc, None);
    let logits = read(
        gpu,
        &whisper
            .model
            .decoder
            .step(gpu, &mut state, &prompt)
            .unwrap(),
    );
    let want = candle.decoder_logits(&theirs, &prompt);
    let logit_diff = max_abs_diff(&logits, &want);
    eprintln!(
        "{name}: encoder max |diff| {enc_diff:.2e}, first-step logits max |diff| {logit_diff:.2e}"
    );
    match encoder_check {
        EncoderCheck::Candle => {
            assert!(enc_diff <= 1e-3, "{name}: encoder max |diff| {enc_diff}")
        }
        EncoderCheck::ExactF64 => {
            let mut exact = F64Whisper::load_encoder(dir);
            exact.tanh_gelu = true;
            let reference = exact.encoder(&mel);
            let (ours_err, _) = error_vs(&ours, &reference, 1e-3);
            let (candle_err, candle_over) = error_vs(&theirs, &reference, 1e-3);
            eprintln!(
                "{name}: encoder vs f64: ours max |diff| {ours_err:.2e}, candle {candle_err:.2e} \
                 ({candle_over} values over 1e-3)"
            );
            assert!(
                ours_err <= 1e-3,
                "{name}: encoder vs f64: max |diff| {ours_err}"
            );
        }
    }
    assert!(
        logit_diff <= 1e-3,
        "{name}: first-step logits max |diff| {logit_diff}"
    );

    // Greedy without timestamps, on the first window exactly as transcription cuts it (the
    // whole file's log-mel, zero-padded to 30 s in the mel domain).
    let t = pollster::block_on(whisper.transcribe(samples, english, &mut |_| Ok(()))).unwrap();
    let (full, frames) = LogMel::new(n_mels).unwrap().compute_full(samples).unwrap();
    let window = mel_window(&full, frames, n_mels, 0, samples.len() / HOP_LENGTH);
    let (always, first) = whisper.suppressed_tokens();
    let candle_tokens = candle.greedy(&window, &prompt, always, first, whisper.tokenizer.eot, 224);
    assert_eq!(
        t.tokens, candle_tokens,
        "{name}: greedy tokens differ from candle's"
    );
}

#[test]
fn tiny_en_matches_candle_and_transcribes_jfk() {
    // tiny.en leaves out the comma after "Americans" in jfk.txt, and candle agrees token
    // for token: compare words.
    real_model_parity("whisper-tiny.en", false, EncoderCheck::Candle);
}

#[test]
fn base_matches_candle_transcribes_jfk_and_detects_english() {
    // whisper-base's encoder output differs from candle's by up to 1.1e-2 in about 200 of its
    // 768000 values (a few channels in the silent padding frames). An f64 evaluation of the
    // same encoder settles it: ours is within 7.4e-4 of it everywhere, candle's f32 output is
    // off by up to 1.07e-2 — its residual stream reaches |x| ≈ 540 in layers 4–6, where f32
    // rounding alone is ~3e-5 per add. So the encoder is held to the f64 reference here; the
    // first-step logits and the greedy tokens are still compared with candle's.
    let whisper = real_model_parity("whisper-base", true, EncoderCheck::ExactF64);
    let (wav, reference) = kit::fixtures::jfk();
    let samples = load_audio_file(&wav).unwrap();
    let t = pollster::block_on(whisper.transcribe(
        &samples,
        &TranscribeOptions::default(),
        &mut |_| Ok(()),
    ))
    .unwrap();
    assert_eq!(t.language, "en");
    assert!(t.language_detected);
    // The default path decodes with timestamp tokens, where whisper-base leaves out the comma
    // after "Americans" (the greedy path without timestamps above gives jfk.txt exactly).
    assert_eq!(kit::words(&t.text), kit::words(&reference));
}
