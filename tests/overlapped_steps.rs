//! Decoding with each step recorded before the previous token is read back (the step embeds
//! the id its pick wrote on the GPU, and the GPU keeps the timestamp rules' history) decodes
//! exactly what one step at a time does: the same tokens, segments and log-probabilities, on
//! a tiny random model whose three timestamp tokens make the timestamp rules bite, greedy and
//! sampled, with and without timestamps, with a length limit that stops decoding before EOT.
//! The pick's timestamp rules from the GPU history against the host's rules, pick by pick,
//! on random logits where timestamps are picked often.
//! Greedy windows whose steps leave argmax partials for the pick decode what whole-row
//! picks decode.

use whisper_clsr_test_kit as kit;

use whisper_clsr::decode::timestamps::timestamp_filter;
use whisper_clsr::ops::token_pick::{new_history, pick_token, pick_token_tracked, Pick};
use whisper_clsr::{TranscribeOptions, Whisper};

fn samples() -> Vec<f32> {
    (0..8_000)
        .map(|i| 0.3 * (i as f32 * 0.07).sin() + 0.1 * (i as f32 * 0.31).cos())
        .collect()
}

/// Tokens and a rendering of the segments (times, text, log-probabilities) of one run.
fn run(whisper: &Whisper, options: &TranscribeOptions) -> (Vec<u32>, String) {
    let t = pollster::block_on(whisper.transcribe(&samples(), options, &mut |_| Ok(())))
        .expect("transcribes");
    (t.tokens, format!("{:?}", t.segments))
}

/// A tiny random Whisper (seed `seed`) loaded on the test GPU.
fn tiny_whisper(name: &str, seed: u64) -> Whisper {
    let dir = std::env::temp_dir().join(format!("whisper-clsr-{name}-{}", std::process::id()));
    kit::tiny_whisper::write(&dir, seed);
    let whisper = Whisper::load_dir(kit::gpu(), &dir).unwrap();
    std::fs::remove_dir_all(&dir).ok();
    whisper
}

/// English, one temperature, no fallback thresholds.
fn options(
    temperature: f32,
    timestamps: bool,
    max_new_tokens: usize,
    seed: u64,
) -> TranscribeOptions {
    let mut options = TranscribeOptions {
        language: Some("en".into()),
        ..TranscribeOptions::default()
    };
    options.decode.temperatures = vec![temperature];
    options.decode.timestamps = timestamps;
    options.decode.max_new_tokens = max_new_tokens;
    options.decode.seed = seed;
    options.decode.compression_ratio_threshold = None;
    options.decode.logprob_threshold = None;
    options.decode.no_speech_threshold = None;
    options
}

#[test]
fn overlapped_steps_decode_what_one_step_at_a_time_decodes() {
    let mut whisper = tiny_whisper("overlap", 47);
    let mut compared = 0;
    for seed in 0..2u64 {
        for (temperature, timestamps, max_new_tokens) in [
            (0.0, true, 12),
            (1.0, true, 12),
            (1.0, false, 12),
            (1.0, true, 2),
        ] {
            let options = options(temperature, timestamps, max_new_tokens, seed);
            let what = format!("seed {seed}, T {temperature}, timestamps {timestamps}");
            whisper.model.decoder.overlapped_steps = false;
            let one_by_one = run(&whisper, &options);
            whisper.model.decoder.overlapped_steps = true;
            let overlapped = run(&whisper, &options);
            assert!(!one_by_one.0.is_empty(), "{what}: something was decoded");
            assert_eq!(overlapped, one_by_one, "{what}");
            compared += one_by_one.0.len();
        }
    }
    assert!(compared > 30, "{compared} tokens compared");
}

#[test]
fn greedy_steps_with_argmax_partials_decode_what_whole_row_picks_decode() {
    let mut whisper = tiny_whisper("partials", 49);
    let mut compared = 0;
    for overlapped in [true, false] {
        for timestamps in [true, false] {
            let options = options(0.0, timestamps, 16, 0);
            let decoder = &mut whisper.model.decoder;
            decoder.overlapped_steps = overlapped;
            decoder.argmax_partials = false;
            let whole =
                pollster::block_on(whisper.transcribe(&samples(), &options, &mut |_| Ok(())))
                    .expect("transcribes");
            whisper.model.decoder.argmax_partials = true;
            whisper.gpu.start_kernel_profile();
            let merged =
                pollster::block_on(whisper.transcribe(&samples(), &options, &mut |_| Ok(())))
                    .expect("transcribes");
            let ran: Vec<String> = whisper
                .gpu
                .take_kernel_profile()
                .into_iter()
                .map(|k| k.kernel)
                .collect();
            for define in ["PICK", "PARTIALS"] {
                assert!(
                    ran.iter().any(|k| kit::defines_of(k).contains(&define)),
                    "a {define} variant ran: {ran:?}"
                );
            }
            let what = format!("overlapped {overlapped}, timestamps {timestamps}");
            assert!(!whole.tokens.is_empty(), "{what}: something was decoded");
            assert_eq!(merged.tokens, whole.tokens, "{what}");
            assert_eq!(merged.segments.len(), whole.segments.len(), "{what}");
            for (a, b) in merged.segments.iter().zip(&whole.segments) {
                assert_eq!(
                    (a.start, a.end, &a.text),
                    (b.start, b.end, &b.text),
                    "{what}"
                );
                // The log-sum-exp is summed in another order: equal to rounding.
                assert!(
                    (a.avg_logprob - b.avg_logprob).abs() <= 1e-5 * b.avg_logprob.abs().max(1.0),
                    "{what}: {} vs {}",
                    a.avg_logprob,
                    b.avg_logprob
                );
            }
            compared += whole.tokens.len();
        }
    }
    assert!(compared > 20, "{compared} tokens compared");
}

fn read_u32(gpu: &whisper_clsr::gpu::Gpu, t: &whisper_clsr::gpu::Tensor) -> Vec<u32> {
    pollster::block_on(gpu.read_u32(t)).unwrap()
}

#[test]
fn the_gpu_history_applies_the_hosts_timestamp_rules() {
    let gpu = kit::gpu();
    // 30 text ids (EOT 29) and 30 timestamps, logits in [-1, 1): every rule decides some
    // picks (pairs, monotonic timestamps, the first pick's bound, the probability mass).
    let (n, ts_begin, eot) = (60usize, 30u32, 29u32);
    let mut r = kit::rng(48);
    let mask = gpu.upload(&vec![0.0; n], &[n]).unwrap();
    let mut steps = 0;
    for (sequence, temperature) in [(0, 0.0f32), (1, 1.0), (2, 0.5), (3, 1.0)] {
        let history = new_history(&gpu).unwrap();
        let mut sampled: Vec<u32> = Vec::new();
        for step in 0..24u32 {
            let logits = gpu.upload(&kit::random(&mut r, n), &[n]).unwrap();
            let pick = |sampled: &[u32]| Pick {
                ts_begin,
                eot,
                timestamps: Some(timestamp_filter(sampled, ts_begin, n as u32, Some(3))),
                temperature,
                seed: sequence,
                step,
            };
            let (host, tracked) = (gpu.tensor(&[2]), gpu.tensor(&[2]));
            pick_token(&gpu, &logits, 0, &mask, &pick(&sampled), None, &host);
            pick_token_tracked(&gpu, &logits, &mask, &pick(&[]), None, &history, &tracked);
            let want = read_u32(&gpu, &host);
            assert_eq!(
                read_u32(&gpu, &tracked),
                want,
                "sequence {sequence}, step {step} after {sampled:?}"
            );
            sampled.push(want[0]);
            steps += 1;
        }
        let stamps = sampled.iter().filter(|&&t| t >= ts_begin).count();
        assert!(
            stamps >= 4,
            "sequence {sequence}: {stamps} timestamps in {sampled:?}"
        );
    }
    assert_eq!(steps, 96);
}
