//! Language detection with an expert pack whose experts are all in the decoder (a random
//! multilingual model): the first window's encoder pass is not repeated after detection —
//! neither its output nor the cross-attention keys and values depend on such a pack — and
//! the transcript equals the one with the detected language given.

use whisper_clsr_test_kit as kit;

use rand::Rng;
use whisper_clsr::pack::{ExpertPack, Part};
use whisper_clsr::{TranscribeOptions, Transcript, Whisper};

fn transcribe(whisper: &Whisper, language: Option<&str>) -> (Transcript, u64) {
    let samples: Vec<f32> = (0..16_000)
        .map(|i| 0.3 * (i as f32 * 0.05).sin() + 0.1 * (i as f32 * 0.23).cos())
        .collect();
    let mut options = TranscribeOptions {
        language: language.map(str::to_string),
        ..TranscribeOptions::default()
    };
    options.decode.temperatures = vec![0.0];
    options.decode.max_new_tokens = 4;
    let before = whisper.gpu.dispatch_count();
    let transcript = pollster::block_on(whisper.transcribe(&samples, &options, &mut |_| Ok(())))
        .expect("transcribes");
    (transcript, whisper.gpu.dispatch_count() - before)
}

#[test]
fn detection_with_a_decoder_only_pack_keeps_the_encoder_pass() {
    let (mut whisper, file) = kit::tiny_whisper::multilingual(61);

    // Without a pack: what detection costs beyond decoding with the language given.
    let (plain, auto_plain) = transcribe(&whisper, None);
    assert!(plain.language_detected, "the language was detected");
    let language = plain.language.clone();
    let (_, given_plain) = transcribe(&whisper, Some(&language));
    let detection = auto_plain - given_plain;

    // A pack for the detected language with experts in the decoder only, perturbed so that
    // routing through it changes what is decoded.
    let mut pack = ExpertPack::init_from_base(whisper.config(), &file, &language).unwrap();
    pack.layers.retain(|layer| layer.part == Part::Decoder);
    let mut r = kit::rng(62);
    for layer in &mut pack.layers {
        for w in &mut layer.expert.fc2_bias {
            *w += r.random_range(-1.0f32..1.0);
        }
    }
    whisper.add_expert(&pack).unwrap();
    let (auto, auto_dispatches) = transcribe(&whisper, None);
    let (given, given_dispatches) = transcribe(&whisper, Some(&language));
    assert_eq!(auto.expert.as_deref(), Some(language.as_str()));
    assert_ne!(
        given.tokens, plain.tokens,
        "the pack changes what is decoded"
    );
    assert_eq!(auto.tokens, given.tokens, "detected vs given language");
    assert_eq!(
        auto_dispatches - given_dispatches,
        detection,
        "detection with the pack costs what it costs without: no second encoder pass"
    );
}
