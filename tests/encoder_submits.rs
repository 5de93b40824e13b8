//! The encoder submits its work after every block (a driver watchdog resets a GPU whose
//! single submission runs for seconds): the transcript and the encoder's output are
//! bit-identical to one submission for the whole encoder, and the cost of the extra
//! submissions on this device is printed (docs/architecture.md, "GPU faults").

use whisper_clsr_test_kit as kit;

use whisper_clsr::{TranscribeOptions, Whisper};

fn encode_bits(whisper: &Whisper, mel: &[f32]) -> (Vec<u32>, u64, f64) {
    let gpu = &whisper.gpu;
    let submits = gpu.submit_count();
    let started = std::time::Instant::now();
    let out = whisper.encode(mel).unwrap();
    let bits = kit::read(gpu, &out).iter().map(|x| x.to_bits()).collect();
    (
        bits,
        gpu.submit_count() - submits,
        started.elapsed().as_secs_f64(),
    )
}

#[test]
fn per_layer_submits_change_no_bit_of_tiny_en() {
    let mut whisper = Whisper::load_dir(kit::gpu(), &kit::model_dir("whisper-tiny.en")).unwrap();
    let (clip, _) = kit::fixtures::jfk();
    let samples = whisper_clsr::audio::load_audio_file(&clip).unwrap();
    let mel = whisper_clsr::audio::LogMel::new(80)
        .unwrap()
        .compute(&samples[..16_000 * 5])
        .unwrap();
    let layers = whisper.model.encoder.blocks.len() as u64;
    assert!(whisper.model.encoder.submit_per_layer, "on by default");

    // Warm up the pipelines, then time each way a few times.
    encode_bits(&whisper, &mel);
    let mut per_layer = Vec::new();
    let mut whole = Vec::new();
    for _ in 0..3 {
        whisper.model.encoder.submit_per_layer = true;
        let (bits_layered, submits_layered, t) = encode_bits(&whisper, &mel);
        per_layer.push(t);
        assert!(
            submits_layered > layers,
            "{submits_layered} submissions for {layers} layers"
        );
        whisper.model.encoder.submit_per_layer = false;
        let (bits_whole, submits_whole, t) = encode_bits(&whisper, &mel);
        whole.push(t);
        assert!(submits_whole < submits_layered);
        assert!(bits_layered == bits_whole, "the encoder output differs");
    }
    let best = |v: &[f64]| v.iter().cloned().fold(f64::INFINITY, f64::min);
    eprintln!(
        "{}: encoder {:.1} ms with a submission per layer, {:.1} ms in one (best of 3)",
        whisper.gpu.describe(),
        best(&per_layer) * 1e3,
        best(&whole) * 1e3
    );

    let options = TranscribeOptions {
        language: Some("en".into()),
        ..TranscribeOptions::default()
    };
    let mut run = |layered: bool| {
        whisper.model.encoder.submit_per_layer = layered;
        pollster::block_on(whisper.transcribe(&samples, &options, &mut |_| Ok(()))).unwrap()
    };
    let layered = run(true);
    let one = run(false);
    assert_eq!(layered.tokens, one.tokens);
    assert_eq!(layered.text, one.text);
    assert!(
        layered.text.to_lowercase().contains("ask not"),
        "{}",
        layered.text
    );
}
