//! The encoder submits its work after every block (a driver watchdog resets a GPU whose
//! single submission runs for seconds): whisper-tiny.en's transcript is bit-identical to
//! one submission for the whole encoder, and the encoder times of both are printed
//! (docs/architecture.md, "GPU faults and long-running use").

use whisper_clsr_test_kit as kit;

use whisper_clsr::{TranscribeOptions, Transcript, Whisper};

#[test]
fn per_layer_submits_change_no_bit_of_a_tiny_en_transcript() {
    let mut whisper = Whisper::load_dir(kit::gpu(), &kit::model_dir("whisper-tiny.en")).unwrap();
    let (clip, _) = kit::fixtures::jfk();
    let samples = whisper_clsr::audio::load_audio_file(&clip).unwrap();
    let layers = whisper.model.encoder.blocks.len() as u64;
    assert!(whisper.model.encoder.submit_per_layer, "on by default");
    let options = TranscribeOptions {
        language: Some("en".into()),
        ..TranscribeOptions::default()
    };
    let mut run = |per_layer: bool| -> (Transcript, u64) {
        whisper.model.encoder.submit_per_layer = per_layer;
        let before = whisper.gpu.submit_count();
        let t =
            pollster::block_on(whisper.transcribe(&samples, &options, &mut |_| Ok(()))).unwrap();
        (t, whisper.gpu.submit_count() - before)
    };
    // The first run also compiles the pipelines; the timed pair follows it.
    let (cold, _) = run(true);
    let (whole, submits_whole) = run(false);
    let (layered, submits_layered) = run(true);
    assert_eq!(layered.tokens, whole.tokens, "tokens differ");
    assert_eq!(layered.tokens, cold.tokens);
    assert_eq!(layered.text, whole.text);
    // A submission after every block; the one after the last may coincide with the
    // submission that follows the encoder anyway.
    assert!(
        submits_layered >= submits_whole + layers - 1,
        "{submits_layered} submissions with per-block submits, {submits_whole} without"
    );
    assert!(
        layered.text.to_lowercase().contains("ask not"),
        "{}",
        layered.text
    );
    eprintln!(
        "{}: encoder {:.0} ms with a submission per block ({layers} blocks), {:.0} ms in one \
         submission; {} vs {} submissions per transcription; {} bytes pooled",
        whisper.gpu.describe(),
        layered.timings.encoder_ms,
        whole.timings.encoder_ms,
        submits_layered,
        submits_whole,
        whisper.gpu.pooled_bytes(),
    );
}
