//! Bind groups reused across dispatches (`gpu/bind_groups.rs`, docs/architecture.md): a kept
//! group is only ever used for the very buffers and parameter slot it was made for, whole
//! transcriptions decode exactly what fresh groups decode, a warm transcription creates no
//! bind group at all, and what is kept stays bounded and goes with `release_pooled`.

use whisper_clsr_test_kit as kit;

use whisper_clsr::gpu::{DType, Gpu, Tensor, Weight, KEPT_BIND_GROUPS_MAX};
use whisper_clsr::ops::layer_norm::layer_norm;
use whisper_clsr::{TranscribeOptions, Whisper};

/// Layer norms of `inputs`, each read back alone (so each dispatch is slot 0 of its own
/// submission, where a kept group for another input would be found if the key missed the
/// buffers).
fn norms(gpu: &Gpu, inputs: &[Tensor], gamma: &Weight, beta: &Weight) -> Vec<Vec<f32>> {
    inputs
        .iter()
        .map(|x| kit::read(gpu, &layer_norm(gpu, x, gamma, beta)))
        .collect()
}

#[test]
fn a_kept_bind_group_serves_only_its_own_buffers() {
    let gpu = kit::gpu();
    let mut r = kit::rng(61);
    let inputs: Vec<Tensor> = (0..6)
        .map(|_| gpu.upload(&kit::random(&mut r, 4 * 64), &[4, 64]).unwrap())
        .collect();
    let (gamma, _) = kit::weight(&gpu, &[1.5; 64], &[64], DType::F32);
    let (beta, _) = kit::weight(&gpu, &[0.25; 64], &[64], DType::F32);
    gpu.set_bind_group_reuse(false);
    let fresh = norms(&gpu, &inputs, &gamma, &beta);
    gpu.set_bind_group_reuse(true);
    for round in 0..3 {
        let created = gpu.bind_groups_created();
        assert_eq!(norms(&gpu, &inputs, &gamma, &beta), fresh, "round {round}");
        if round > 0 {
            assert_eq!(
                gpu.bind_groups_created(),
                created,
                "round {round} found every group kept"
            );
        }
    }
    // Distinct inputs give distinct outputs, so a group bound to the wrong input would show.
    for pair in fresh.windows(2) {
        assert_ne!(pair[0], pair[1]);
    }
}

fn options(temperature: f32) -> TranscribeOptions {
    let mut o = TranscribeOptions {
        language: Some("en".into()),
        ..TranscribeOptions::default()
    };
    o.decode.temperatures = vec![temperature];
    o.decode.max_new_tokens = 12;
    o.decode.compression_ratio_threshold = None;
    o.decode.logprob_threshold = None;
    o.decode.no_speech_threshold = None;
    o
}

/// Tokens and segments (times, text, log-probabilities) of one transcription.
fn run(whisper: &Whisper, samples: &[f32], options: &TranscribeOptions) -> (Vec<u32>, String) {
    let t = pollster::block_on(whisper.transcribe(samples, options, &mut |_| Ok(())))
        .expect("transcribes");
    (t.tokens, format!("{:?}", t.segments))
}

#[test]
fn transcriptions_with_kept_bind_groups_match_fresh_ones_and_create_none_when_warm() {
    let dir = std::env::temp_dir().join(format!("whisper-clsr-bind-{}", std::process::id()));
    kit::tiny_whisper::write(&dir, 53);
    let whisper = Whisper::load_dir(kit::gpu(), &dir).unwrap();
    std::fs::remove_dir_all(&dir).ok();
    let samples: Vec<f32> = (0..16_000)
        .map(|i| 0.3 * (i as f32 * 0.05).sin() + 0.1 * (i as f32 * 0.29).cos())
        .collect();
    for temperature in [0.0, 1.0] {
        let options = options(temperature);
        whisper.gpu.set_bind_group_reuse(false);
        let fresh = run(&whisper, &samples, &options);
        whisper.gpu.set_bind_group_reuse(true);
        assert!(
            !fresh.0.is_empty(),
            "T {temperature}: something was decoded"
        );
        for _ in 0..2 {
            assert_eq!(run(&whisper, &samples, &options), fresh, "T {temperature}");
        }
        let (created, dispatches) = (
            whisper.gpu.bind_groups_created(),
            whisper.gpu.dispatch_count(),
        );
        assert_eq!(run(&whisper, &samples, &options), fresh, "T {temperature}");
        let dispatched = whisper.gpu.dispatch_count() - dispatches;
        assert!(dispatched > 50, "a transcription dispatches");
        assert_eq!(
            whisper.gpu.bind_groups_created() - created,
            0,
            "T {temperature}: a warm transcription of {dispatched} dispatches created bind groups"
        );
    }
}

#[test]
fn kept_bind_groups_stay_bounded_and_go_with_the_pool() {
    let gpu = kit::gpu();
    let mut r = kit::rng(62);
    // 61 inputs against 512 parameter slots per submission: the (buffer, slot) pairs repeat
    // only after 61 · 512 dispatches, far more than the cache may keep.
    let inputs: Vec<Tensor> = (0..61)
        .map(|_| gpu.upload(&kit::random(&mut r, 64), &[1, 64]).unwrap())
        .collect();
    let (gamma, _) = kit::weight(&gpu, &[1.0; 64], &[64], DType::F32);
    let (beta, _) = kit::weight(&gpu, &[0.0; 64], &[64], DType::F32);
    let mut most = 0;
    for _ in 0..2 * KEPT_BIND_GROUPS_MAX / inputs.len() {
        let outs: Vec<Tensor> = inputs
            .iter()
            .map(|x| layer_norm(&gpu, x, &gamma, &beta))
            .collect();
        drop(outs);
        most = most.max(gpu.kept_bind_groups());
    }
    assert!(
        most <= KEPT_BIND_GROUPS_MAX,
        "{most} bind groups kept, bound {KEPT_BIND_GROUPS_MAX}"
    );
    assert!(most > KEPT_BIND_GROUPS_MAX / 2, "the cache filled: {most}");
    gpu.release_pooled();
    assert_eq!(
        gpu.kept_bind_groups(),
        0,
        "release_pooled drops kept groups"
    );
}
