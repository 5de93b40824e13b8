//! [`WhisperRecognizer`] on a real device with tiny random-weight Whispers: its decoder work
//! per update is bounded by the buffer's length (docs/streaming.md) — such a model writes
//! text that never ends and repeats itself, the worst case of a live update — and, without a
//! language, each update detects one and is routed through that language's expert pack.

use whisper_clsr_test_kit as kit;

use kit::random_model::{write_random_model, TinyConfig};
use whisper_clsr::gpu::{Gpu, GpuOptions};
use whisper_clsr::pack::ExpertPack;
use whisper_clsr::stream::{token_budget, Recognizer, WhisperRecognizer};
use whisper_clsr::Whisper;

/// The test kit's tiny Whisper with Whisper's 448 decoder positions, so that the token budget
/// and not the context ends a decoding.
fn tiny_whisper(seed: u64, test: &str) -> Whisper {
    let dir = std::env::temp_dir().join(format!(
        "whisper-clsr-live-recognizer-{test}-{}",
        std::process::id()
    ));
    let config = TinyConfig {
        target_positions: 448,
        ..kit::tiny_whisper::config()
    };
    write_random_model(&dir, &config, safetensors::Dtype::F32, &mut kit::rng(seed));
    std::fs::write(
        dir.join("tokenizer.json"),
        kit::tiny_whisper::tokenizer_json(),
    )
    .unwrap();
    let gpu = pollster::block_on(Gpu::new(GpuOptions::default())).unwrap();
    let whisper = Whisper::load_dir(gpu, &dir).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    whisper
}

fn tone(seconds: f64) -> Vec<f32> {
    (0..(seconds * 16_000.0) as usize)
        .map(|i| 0.3 * (i as f32 * 0.05).sin() + 0.1 * (i as f32 * 0.23).cos())
        .collect()
}

/// Seed of a tiny model whose text runs on until it is stopped, and on 4 s of the tone
/// repeats itself at temperature 0.
const SEED: u64 = 43;

#[test]
fn a_decoding_stops_at_the_budget_of_its_buffer() {
    let whisper = tiny_whisper(SEED, "budget");
    let mut recognizer = WhisperRecognizer::new(&whisper, Some("en".into()));
    pollster::block_on(recognizer.recognize(&tone(1.0), "")).unwrap();
    let work = recognizer.work();
    assert_eq!((work.updates, work.fallbacks), (1, 0), "{work:?}");
    // 16 tokens where the decoder had room for 224 (and the text never ends).
    assert_eq!(token_budget(1.0, 224), 16);
    assert_eq!(work.tokens, 16, "{work:?}");
}

#[test]
fn a_repetitive_update_is_decoded_again_once_per_fallback_temperature() {
    let whisper = tiny_whisper(SEED, "fallback");
    let mut recognizer = WhisperRecognizer::new(&whisper, Some("en".into()));
    pollster::block_on(recognizer.recognize(&tone(4.0), "")).unwrap();
    let work = recognizer.work();
    let budget = token_budget(4.0, 224);
    assert_eq!(budget, 60);
    assert_eq!((work.updates, work.fallbacks), (1, 1), "{work:?}");
    // The greedy decoding and at most one sample at each of the five fallback temperatures,
    // each within the budget: long-form's fallback (best of 5, 224 tokens) would generate
    // at least 60 + 5 × 60 here.
    assert!(
        work.tokens > budget && work.tokens <= 6 * budget,
        "{} tokens generated, budget {budget}",
        work.tokens
    );
    assert_eq!(
        work.tokens % budget,
        0,
        "every decoding ran to the budget: {work:?}"
    );
}

#[test]
fn the_budget_follows_the_buffer_length_within_the_decoder_limit() {
    assert_eq!(token_budget(0.0, 224), 16);
    assert_eq!(token_budget(-1.0, 224), 16);
    assert_eq!(token_budget(0.5, 224), 16);
    assert_eq!(token_budget(2.0, 224), 30);
    assert_eq!(token_budget(10.0, 224), 150);
    assert_eq!(token_budget(20.0, 224), 224);
    assert_eq!(token_budget(10.0, 100), 100);
}

/// Without a language, an update detects one, as `transcribe` detects a file's, and is routed
/// through the expert pack of that language; the recognition names both. With another
/// language given, the base model decodes it. A random multilingual model (Whisper's
/// vocabulary, so that every language token exists) and the paper's initial pack.
#[test]
fn an_update_without_a_language_detects_one_and_routes_its_expert() {
    let (mut whisper, file) = kit::tiny_whisper::multilingual(63);
    let audio = tone(1.0);

    let plain =
        pollster::block_on(WhisperRecognizer::new(&whisper, None).recognize(&audio, "")).unwrap();
    let language = plain.language.expect("the recognition names its language");
    assert_eq!(plain.expert, None, "no pack loaded yet");

    let pack = ExpertPack::init_from_base(whisper.config(), &file, &language).unwrap();
    whisper.add_expert(&pack).unwrap();
    let mut auto = WhisperRecognizer::new(&whisper, None);
    for _ in 0..2 {
        let r = pollster::block_on(auto.recognize(&audio, "")).unwrap();
        assert_eq!(r.language.as_deref(), Some(language.as_str()));
        assert_eq!(r.expert.as_deref(), Some(language.as_str()), "routed");
    }
    let other = if language == "de" { "fr" } else { "de" };
    let r = pollster::block_on(
        WhisperRecognizer::new(&whisper, Some(other.into())).recognize(&audio, ""),
    )
    .unwrap();
    assert_eq!(
        (r.language.as_deref(), r.expert),
        (Some(other), None),
        "a language without a pack decodes with the base model"
    );
}
