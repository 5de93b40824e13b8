//! The benchmark option `DecodeOptions::suppress_eot` (the browser benchmark's
//! `benchmarkTokens`): end-of-text is never picked, so a window decodes exactly
//! `max_new_tokens` tokens, and a length beyond the decoder's room is refused. On the test
//! kit's tiny random-weight Whisper (32 decoder positions), a second of noise.

use whisper_clsr::decode::DecodeOptions;
use whisper_clsr::{Event, TranscribeOptions};
use whisper_clsr_test_kit as kit;

fn forced(tokens: usize) -> TranscribeOptions {
    TranscribeOptions {
        language: Some("en".into()),
        decode: DecodeOptions {
            max_new_tokens: tokens,
            suppress_eot: true,
            timestamps: false,
            temperatures: vec![0.0],
            compression_ratio_threshold: None,
            logprob_threshold: None,
            no_speech_threshold: None,
            condition_on_previous_text: false,
            ..DecodeOptions::default()
        },
        ..TranscribeOptions::default()
    }
}

#[test]
fn suppressing_eot_decodes_exactly_the_tokens_asked_for() {
    let dir = kit::fixtures::scratch_dir("whisper-clsr-forced-decode");
    kit::tiny_whisper::write(&dir, 17);
    let whisper = kit::tiny_whisper::load(kit::gpu(), &dir).unwrap();
    let noise = kit::random(&mut kit::rng(18), 16000);
    // 32 positions less the prompt <|startoftranscript|> <|notimestamps|>: room for 30.
    for tokens in [1, 7, 30] {
        let mut seen = Vec::new();
        let mut on_event = |e: Event<'_>| {
            if let Event::Token(t) = e {
                seen.push(t);
            }
            Ok(())
        };
        let t =
            pollster::block_on(whisper.transcribe(&noise, &forced(tokens), &mut on_event)).unwrap();
        assert_eq!(seen.len(), tokens, "tokens decoded");
        assert!(!seen.contains(&whisper.tokenizer.eot));
        let rate = tokens as f64 / (t.timings.decoder_ms / 1e3);
        assert!((t.timings.tokens_per_s - rate).abs() <= 1e-9 * rate);
    }
    let err = pollster::block_on(whisper.transcribe(&noise, &forced(31), &mut |_| Ok(())))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("31 forced decoder tokens do not fit") && err.contains("room for 30"),
        "{err}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
