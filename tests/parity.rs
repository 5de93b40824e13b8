//! Whole-model outputs against an independent implementation: candle-transformers' Whisper
//! on the CPU, on the same weights. A tiny random model (f32 weights) checks the arithmetic
//! tightly; the real checkpoints check the full pipeline, greedy tokens and transcripts.
//! Where candle's own f32 rounding exceeds the bound (whisper-base's encoder), an f64
//! evaluation of the encoder (the test kit's `F64Whisper`) is the reference. candle keeps
//! the decoder's cross-attention keys and values in f32, so the first-step logits are held
//! to candle's with ours in f32 too, and with ours in halves (the default for these f16
//! checkpoints) to the f64 decoder rounding them the same way.

use whisper_clsr_test_kit as kit;

use kit::candle_ref::CandleWhisper;
use kit::random_model::{load_network, write_random_model, TinyConfig};
use kit::reference::F64Whisper;
use kit::{error_vs, max_abs_diff, read};
use whisper_clsr::audio::{load_audio_file, log_mel_spectrogram, mel_window, LogMel, HOP_LENGTH};
use whisper_clsr::decode::{DecodeOptions, Task};
use whisper_clsr::gpu::shader::with_tanh_gelu;
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
    let model = load_network(&gpu, dir);
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

/// What a real model's transcription of jfk.wav is checked for.
enum TranscriptCheck {
    /// Greedy without timestamps in English: the same tokens as candle's greedy decoding
    /// (with candle's tanh GELU), then, with Whisper's exact GELU, the f64 reference's greedy
    /// tokens and the transcript word for word.
    GreedyLikeCandle,
    /// One transcription with the default options (language detection, timestamps,
    /// Whisper's exact GELU): English detected, the transcript word for word.
    DetectsEnglish,
}

/// On jfk.wav, all with candle's tanh GELU so that both compute the same function: the
/// encoder output and the first-step logits within 1e-3 of candle's (`encoder_check` says
/// what the encoder output is held to, within 1e-3); then the transcript (`transcript` says
/// how).
fn real_model_parity(name: &str, encoder_check: EncoderCheck, transcript: TranscriptCheck) {
    let dir = kit::model_dir(name);
    let (wav, reference) = kit::fixtures::jfk();
    let samples = load_audio_file(&wav).unwrap();
    let mut whisper = Whisper::load_dir(kit::gpu(), &dir).unwrap();
    assert!(
        whisper.model.decoder.cross_kv_f16,
        "{name}: f16 weights keep cross-attention keys and values in halves"
    );
    let english = TranscribeOptions {
        language: Some("en".into()),
        decode: DecodeOptions::greedy(),
        ..Default::default()
    };
    let options = match transcript {
        TranscriptCheck::GreedyLikeCandle => {
            // The encoder's input is the first window exactly as transcription cuts it (the
            // whole file's log-mel, zero-padded to 30 s in the mel domain), so that candle's
            // encoder output serves its greedy decoding too.
            let window = first_window(&samples, whisper.config().num_mel_bins);
            with_tanh_gelu(|| {
                let (candle, theirs) =
                    same_function_as_candle(name, &mut whisper, &dir, &window, encoder_check);
                same_greedy_tokens_as_candle(name, &whisper, candle, &theirs, &samples, &english)
            });
            english
        }
        TranscriptCheck::DetectsEnglish => {
            // The log-mel of the clip padded to 30 s with silence.
            let mel = log_mel_spectrogram(&samples, whisper.config().num_mel_bins).unwrap();
            with_tanh_gelu(|| {
                same_function_as_candle(name, &mut whisper, &dir, &mel, encoder_check);
            });
            TranscribeOptions::default()
        }
    };

    // Whisper's exact GELU: the transcript.
    let t = pollster::block_on(whisper.transcribe(&samples, &options, &mut |_| Ok(()))).unwrap();
    match transcript {
        TranscriptCheck::GreedyLikeCandle => {
            let window = first_window(&samples, whisper.config().num_mel_bins);
            same_greedy_tokens_as_f64(name, &whisper, &dir, &window, &t.tokens);
        }
        TranscriptCheck::DetectsEnglish => {
            assert_eq!(t.language, "en", "{name}: detected language");
            assert!(t.language_detected, "{name}: the language was detected");
        }
    }
    assert_eq!(
        kit::words(&t.text),
        kit::words(&reference),
        "{name} transcript"
    );
}

/// The first window of `samples` as transcription cuts it: the whole file's log-mel,
/// zero-padded to 30 s in the mel domain.
fn first_window(samples: &[f32], n_mels: usize) -> Vec<f32> {
    let (full, frames) = LogMel::new(n_mels).unwrap().compute_full(samples).unwrap();
    mel_window(&full, frames, n_mels, 0, samples.len() / HOP_LENGTH)
}

/// The first decoder step's logits of `prompt` over the encoder output `enc`, with the
/// cross-attention keys and values in halves or in f32.
fn first_step_logits(
    whisper: &mut Whisper,
    enc: &whisper_clsr::gpu::Tensor,
    prompt: &[u32],
    halves: bool,
) -> Vec<f32> {
    whisper.model.decoder.cross_kv_f16 = halves;
    let gpu = &whisper.gpu;
    let decoder = &whisper.model.decoder;
    let mut state = decoder.start(gpu, enc, None);
    let logits = read(gpu, &decoder.step(gpu, &mut state, prompt).unwrap());
    whisper.model.decoder.cross_kv_f16 = true;
    logits
}

/// With the tanh GELU (candle's): encoder output and first-step logits on the log-mel `mel`
/// (cross-attention keys and values in f32 against candle, in halves against the f64
/// decoder on our encoder output). Returns candle's model and its encoder output for further
/// comparisons.
fn same_function_as_candle(
    name: &str,
    whisper: &mut Whisper,
    dir: &std::path::Path,
    mel: &[f32],
    encoder_check: EncoderCheck,
) -> (CandleWhisper, Vec<f32>) {
    let gpu = &whisper.gpu;
    let n_mels = whisper.config().num_mel_bins;

    let enc = whisper.encode(mel).unwrap();
    let ours = read(gpu, &enc);
    let mut candle = CandleWhisper::load(dir);
    let theirs = candle.encoder_output(mel, n_mels);
    let enc_diff = max_abs_diff(&ours, &theirs);

    let prompt = whisper
        .tokenizer
        .prompt(Some("en"), Task::Transcribe)
        .unwrap();
    let logits = first_step_logits(whisper, &enc, &prompt, false);
    let want = candle.decoder_logits(&theirs, &prompt);
    let logit_diff = max_abs_diff(&logits, &want);
    eprintln!(
        "{name}: encoder max |diff| {enc_diff:.2e}, first-step logits max |diff| {logit_diff:.2e}"
    );
    // Keys and values in halves: the f64 decoder on our encoder output, rounding them alike
    // (and, for the record, not rounding them).
    let logits = first_step_logits(whisper, &enc, &prompt, true);
    let mut exact = F64Whisper::load(dir);
    exact.tanh_gelu = true;
    let enc64 = kit::f64s(&ours);
    let last_row = |exact: &F64Whisper| {
        let hidden = exact.decoder(&enc64, &prompt, &mut exact.shared_ffn());
        let all = exact.logits(&hidden);
        all[all.len() - exact.vocab..].to_vec()
    };
    let unrounded = last_row(&exact);
    exact.cross_kv_f16 = true;
    let (halves_err, _) = error_vs(&logits, &last_row(&exact), 1e-3);
    let (unrounded_err, _) = error_vs(&logits, &unrounded, 1e-3);
    eprintln!(
        "{name}: first-step logits with keys/values in halves vs the f64 decoder rounding them: \
         max |diff| {halves_err:.2e} (vs not rounding them: {unrounded_err:.2e})"
    );
    assert!(
        halves_err <= 1e-3,
        "{name}: first-step logits with keys/values in halves: max |diff| {halves_err}"
    );
    match encoder_check {
        EncoderCheck::Candle => {
            assert!(enc_diff <= 1e-3, "{name}: encoder max |diff| {enc_diff}")
        }
        EncoderCheck::ExactF64 => {
            let mut exact = F64Whisper::load_encoder(dir);
            exact.tanh_gelu = true;
            let reference = exact.encoder(mel);
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
    (candle, theirs)
}

/// With the tanh GELU (candle's): greedy tokens, candle's decoded from its encoder output
/// `theirs` of the first window.
fn same_greedy_tokens_as_candle(
    name: &str,
    whisper: &Whisper,
    mut candle: CandleWhisper,
    theirs: &[f32],
    samples: &[f32],
    english: &TranscribeOptions,
) {
    let prompt = whisper
        .tokenizer
        .prompt(Some("en"), Task::Transcribe)
        .unwrap();
    // Greedy without timestamps, on the first window exactly as transcription cuts it.
    let t = pollster::block_on(whisper.transcribe(samples, english, &mut |_| Ok(()))).unwrap();
    let (always, first) = whisper.suppressed_tokens();
    let eot = whisper.tokenizer.eot;
    let candle_tokens = candle.greedy_from_encoded(theirs, &prompt, always, first, eot, 224);
    assert_eq!(
        t.tokens, candle_tokens,
        "{name}: greedy tokens differ from candle's"
    );
}

/// With Whisper's exact GELU (which candle does not compute): greedy `tokens` (English, no
/// timestamps, the first window `mel`) against the f64 reference run end to end, encoder
/// included. The f64 decoder is fed our tokens (teacher forcing) and each of ours must be its
/// pick under the same suppression, unless the two are within `TIE` of each other there:
/// a tie closer than our logits' own error (1e-3 against the f64 decoder) may go either way.
fn same_greedy_tokens_as_f64(
    name: &str,
    whisper: &Whisper,
    dir: &std::path::Path,
    mel: &[f32],
    tokens: &[u32],
) {
    const TIE: f64 = 1e-2;
    let exact = F64Whisper::load(dir);
    let prompt = whisper
        .tokenizer
        .prompt(Some("en"), Task::Transcribe)
        .unwrap();
    let eot = whisper.tokenizer.eot;
    let (always, first) = whisper.suppressed_tokens();
    let fed: Vec<u32> = prompt.iter().chain(tokens).copied().collect();
    let wanted: Vec<u32> = tokens.iter().copied().chain([eot]).collect();
    let hidden = exact.decoder(&exact.encoder(mel), &fed, &mut exact.shared_ffn());
    let logits = exact.logits(&hidden);
    let rows = logits.chunks(exact.vocab).skip(prompt.len() - 1);
    let mut closest = f64::INFINITY;
    for (step, (row, &ours)) in rows.zip(&wanted).enumerate() {
        let mut row = row.to_vec();
        let banned = always.iter().chain(if step == 0 { first } else { &[] });
        for &id in banned {
            row[id as usize] = f64::NEG_INFINITY;
        }
        let pick = (0..row.len()).fold(0, |b, i| if row[i] > row[b] { i } else { b });
        let runner_up = (0..row.len())
            .filter(|&i| i != pick)
            .fold(f64::NEG_INFINITY, |m, i| m.max(row[i]));
        closest = closest.min(row[pick] - runner_up);
        let behind = row[pick] - row[ours as usize];
        assert!(
            behind <= TIE,
            "{name}: greedy step {step}: ours {ours}, the f64 reference's {pick} by {behind:.4}"
        );
    }
    eprintln!(
        "{name}: exact GELU: greedy tokens as the f64 reference's, closest call {closest:.4} logits"
    );
}

#[test]
fn tiny_en_matches_candle_and_transcribes_jfk() {
    // tiny.en leaves out the commas of jfk.txt, and candle agrees token for token: compare
    // words. After "for you" the f64 reference prefers " ask" to "," by 0.09 logits.
    real_model_parity(
        "whisper-tiny.en",
        EncoderCheck::Candle,
        TranscriptCheck::GreedyLikeCandle,
    );
}

#[test]
fn base_matches_candle_transcribes_jfk_and_detects_english() {
    // whisper-base's encoder output differs from candle's by up to 1.1e-2 in about 200 of its
    // 768000 values (a few channels in the silent padding frames). An f64 evaluation of the
    // same encoder settles it: ours is within 7.4e-4 of it everywhere, candle's f32 output is
    // off by up to 1.07e-2 — its residual stream reaches |x| ≈ 540 in layers 4–6, where f32
    // rounding alone is ~3e-5 per add. So the encoder is held to the f64 reference here; the
    // first-step logits are still compared with candle's (greedy tokens against candle are
    // tiny.en's test). One transcription with the default options follows: it detects the
    // language and decodes with timestamp tokens, where whisper-base leaves out the comma
    // after "Americans" (greedy without timestamps gives jfk.txt exactly): compare words.
    real_model_parity(
        "whisper-base",
        EncoderCheck::ExactF64,
        TranscriptCheck::DetectsEnglish,
    );
}
