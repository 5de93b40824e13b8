//! Beam search: hypotheses decoded side by side (one batch per step, a beam dimension in the
//! KV cache, reordered on the GPU) give each hypothesis the logits it would get decoded
//! alone; beam search of width 1 picks what greedy decoding picks. Both are structural and
//! run random-weight models. The bookkeeping's scoring
//! is unit-tested in `src/decode/beam.rs`; beam search against faster-whisper is in
//! `tests/longform.rs`.

use whisper_clsr_test_kit as kit;

use kit::random_model::{load_network, write_random_model, TinyConfig};
use kit::read;
use whisper_clsr::audio::{load_audio_file, LogMel};
use whisper_clsr::decode::beam::BeamOptions;
use whisper_clsr::decode::window::{decode_window, decode_window_beams, WindowOptions};
use whisper_clsr::decode::Task;
use whisper_clsr::gpu::Gpu;
use whisper_clsr::model::{Decoder, DecoderState};

/// Logits of `tokens` decoded as one sequence in a fresh state: [vocab]. That path is held
/// to candle and an f64 Whisper in `tests/parity.rs`.
fn alone(gpu: &Gpu, decoder: &Decoder, state: &mut DecoderState, tokens: &[u32]) -> Vec<f64> {
    state.reset();
    let logits = read(gpu, &decoder.step(gpu, state, tokens).unwrap());
    logits.into_iter().map(f64::from).collect()
}

#[test]
fn beams_stepped_together_get_the_logits_each_gets_alone() {
    let dir = std::env::temp_dir().join(format!("whisper-clsr-beam-{}", std::process::id()));
    let config = TinyConfig {
        heads: 4,
        ..TinyConfig::default()
    };
    write_random_model(&dir, &config, safetensors::Dtype::F16, &mut kit::rng(51));
    let gpu = kit::gpu();
    let model = load_network(&gpu, &dir);
    let mel = kit::random(&mut kit::rng(52), 80 * 3000);
    let encoded = model
        .encoder
        .forward(&gpu, &gpu.upload(&mel, &[80, 3000]).unwrap(), None)
        .unwrap();
    let decoder = &model.decoder;
    let mut beams = decoder.start(&gpu, &encoded, None);
    let mut single = decoder.start(&gpu, &encoded, None);

    let prompt = [1u32, 7, 42];
    decoder.step(&gpu, &mut beams, &prompt).unwrap();
    let mut histories = vec![prompt.to_vec()];
    // Each step: which old beam each new beam continues, and its next token. The beam count
    // grows (the cache grows past its capacity), reorders, repeats a source and shrinks.
    let steps: [(&[u32], &[u32]); 5] = [
        (&[0, 0, 0], &[5, 9, 13]),
        (&[2, 0, 0], &[20, 21, 22]),
        (&[1, 1, 2, 0], &[30, 31, 32, 33]),
        (&[3, 0], &[40, 299]),
        (&[1, 0, 1], &[50, 51, 52]),
    ];
    for (n, (sources, tokens)) in steps.into_iter().enumerate() {
        decoder.reorder_beams(&gpu, &mut beams, sources).unwrap();
        histories = sources
            .iter()
            .zip(tokens)
            .map(|(&s, &t)| {
                let mut h = histories[s as usize].clone();
                h.push(t);
                h
            })
            .collect();
        let logits = read(&gpu, &decoder.step_beams(&gpu, &mut beams, tokens).unwrap());
        let vocab = decoder.vocab_size();
        assert_eq!(logits.len(), tokens.len() * vocab);
        for (b, history) in histories.iter().enumerate() {
            let want = alone(&gpu, decoder, &mut single, history);
            let got = &logits[b * vocab..(b + 1) * vocab];
            let what = format!("step {n}, beam {b} ({history:?})");
            kit::assert_close(got, &want, 1e-4, &what);
        }
    }
    // Misuse is an error, not a wrong answer.
    let wrong = decoder.step_beams(&gpu, &mut beams, &[1, 2]).err().unwrap();
    assert!(wrong.to_string().contains("one token per beam"), "{wrong}");
    let missing = decoder.reorder_beams(&gpu, &mut beams, &[7]).err().unwrap();
    assert!(missing.to_string().contains("does not exist"), "{missing}");
    let single_step = decoder.step(&gpu, &mut beams, &[1]).err().unwrap();
    assert!(
        single_step.to_string().contains("step_beams"),
        "{single_step}"
    );
    std::fs::remove_dir_all(&dir).ok();
}

/// The random model [`beam_search_of_width_one_decodes_like_greedy_on_jfk`] decodes with:
/// the test kit's tokenizer and a vocabulary of 300 (its 37 tokens, then timestamps), two
/// decoder layers, 64 positions; these weights (seed 55) decode jfk.wav to a sequence of
/// several text and timestamp tokens (random weights soon repeat one token).
fn width_one_model(dir: &std::path::Path) {
    let config = TinyConfig {
        encoder_layers: 1,
        vocab: 300,
        ..TinyConfig::default()
    };
    write_random_model(dir, &config, safetensors::Dtype::F32, &mut kit::rng(55));
    std::fs::write(
        dir.join("tokenizer.json"),
        kit::tiny_whisper::tokenizer_json(),
    )
    .unwrap();
}

#[test]
fn beam_search_of_width_one_decodes_like_greedy_on_jfk() {
    let (wav, _) = kit::fixtures::jfk();
    let samples = load_audio_file(&wav).unwrap();
    let dir = kit::fixtures::scratch_dir("whisper-clsr-beam1");
    width_one_model(&dir);
    let whisper = kit::tiny_whisper::load(kit::gpu(), &dir).unwrap();
    let gpu = &whisper.gpu;
    let tok = &whisper.tokenizer;
    let decoder = &whisper.model.decoder;
    let (mel, _) = LogMel::new(80).unwrap().compute_full(&samples).unwrap();
    let window = whisper_clsr::audio::mel_window(&mel, mel.len() / 80, 80, 0, 3000);
    let encoded = whisper.encode(&window).unwrap();
    let mut state = decoder.start(gpu, &encoded, None);
    let prompt = tok.sot_sequence(Some("en"), Task::Transcribe).unwrap();
    for timestamps in [true, false] {
        let mut prompt = prompt.clone();
        if !timestamps {
            prompt.push(tok.no_timestamps);
        }
        let options = WindowOptions {
            timestamps,
            max_initial_timestamp: Some(50),
            temperature: 0.0,
            seed: 0,
            sample_len: 224,
        };
        let greedy = pollster::block_on(decode_window(
            gpu,
            decoder,
            &mut state,
            &prompt,
            0,
            whisper.masks(),
            tok,
            &options,
            &mut |_| Ok(()),
        ))
        .unwrap();
        let width_one = BeamOptions {
            beam_size: 1,
            patience: 1.0,
        };
        let beam = pollster::block_on(decode_window_beams(
            gpu,
            decoder,
            &mut state,
            &prompt,
            0,
            whisper.masks(),
            tok,
            &options,
            width_one,
            None,
            &mut |_| Ok(()),
        ))
        .unwrap();
        assert!(greedy.tokens.len() > 10, "jfk decodes to a sequence");
        if timestamps {
            let mut distinct = greedy.tokens.clone();
            distinct.sort_unstable();
            distinct.dedup();
            assert!(
                distinct.len() >= 4 && distinct.iter().any(|&t| t > tok.timestamp_begin),
                "several tokens and a timestamp after the first: {:?}",
                greedy.tokens
            );
        }
        assert_eq!(beam.tokens, greedy.tokens, "timestamps {timestamps}");
        assert!(
            (beam.sum_logprob - greedy.sum_logprob).abs() <= 1e-4 * greedy.sum_logprob.abs(),
            "sum log-prob {} vs {}",
            beam.sum_logprob,
            greedy.sum_logprob
        );
        assert_eq!(beam.no_speech_prob, greedy.no_speech_prob);
    }
    std::fs::remove_dir_all(&dir).ok();
}
