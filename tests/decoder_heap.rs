//! Decoder steps of whisper-tiny.en keep the process's live heap flat (docs/testing.md).
//! Real shapes, because a driver's per-dispatch leak showed with them and not with the tiny
//! random model's; a binary of its own, so that its few hundred MB of weights and driver
//! memory do not move the resident-memory figures of `tests/long_running.rs`.

use whisper_clsr_test_kit as kit;

/// Steps in [`decoder_steps_of_a_real_model_keep_the_heap_flat`] after the warm-up ones.
const MEASURED_STEPS: usize = 48;

/// Heap growth over the measured steps that fails the test: what the fused attention step
/// leaked inside lavapipe (Mesa 22.3) in 2 steps, 11 MiB each with tiny.en's shapes.
const STEP_HEAP_SLACK: usize = 16 << 20;

/// The default decoder on this device, stepping one token at a time as a long transcription
/// or a live stream does, holds its host memory flat. With tiny.en's shapes the fused
/// attention-step kernel leaked ~1.4 MiB of driver memory per dispatch on lavapipe, so a
/// 26 s clip with temperature fallback reached 15 GB; the tiny random model's shapes did
/// not show it.
#[test]
fn decoder_steps_of_a_real_model_keep_the_heap_flat() {
    let whisper =
        whisper_clsr::Whisper::load_dir(kit::gpu(), &kit::model_dir("whisper-tiny.en")).unwrap();
    let (gpu, decoder) = (&whisper.gpu, &whisper.model.decoder);
    let config = whisper.config();
    let mel: Vec<f32> = (0..config.num_mel_bins * 3000)
        .map(|i| ((i % 97) as f32) * 0.01 - 0.5)
        .collect();
    let encoded = whisper.encode(&mel).unwrap();
    let mut state = decoder.start(gpu, &encoded, None);
    // Text tokens of the English vocabulary, cycled; the cache is reset before it fills.
    let mut step = |i: usize| {
        if state.len + 1 >= decoder.max_positions() {
            state.reset();
        }
        let logits = decoder
            .step(gpu, &mut state, &[(1000 + i % 50) as u32])
            .unwrap();
        pollster::block_on(gpu.read(&logits)).unwrap();
    };
    for i in 0..8 {
        step(i);
    }
    let before = kit::memory::heap_bytes();
    for i in 0..MEASURED_STEPS {
        step(i);
    }
    let grown = kit::memory::heap_bytes().saturating_sub(before);
    eprintln!(
        "heap after warm-up: {before} bytes; grown by {grown} over {MEASURED_STEPS} steps \
         (fused attention step: {})",
        decoder.fused_step
    );
    assert!(
        grown <= STEP_HEAP_SLACK,
        "the heap grew by {grown} bytes over {MEASURED_STEPS} decoder steps"
    );
}
