//! Language experts inside the real model (whisper-tiny.en on jfk.wav): a pack whose experts
//! equal the shared FFN changes nothing whatever its gates (transcripts of jfk.wav's last
//! phrase, which has fewer decoder steps than the whole clip), perturbed experts behind open
//! gates change the logits, and packs that do not fit are refused with a clear error.

use whisper_clsr_test_kit as kit;

use rand::Rng;
use whisper_clsr::audio::{load_audio_file, log_mel_spectrogram};
use whisper_clsr::decode::Task;
use whisper_clsr::gpu::DType;
use whisper_clsr::model::{LanguageExperts, Route, WeightFile};
use whisper_clsr::ops::clsr::GateCounts;
use whisper_clsr::pack::ExpertPack;
use whisper_clsr::{TranscribeOptions, Whisper};

const MODEL: &str = "whisper-tiny.en";

fn load() -> (Whisper, ExpertPack) {
    let dir = kit::model_dir(MODEL);
    let whisper = Whisper::load_dir(kit::gpu(), &dir).unwrap();
    let file = WeightFile::new(
        std::fs::read(dir.join("model.safetensors")).unwrap(),
        "model.safetensors",
    )
    .unwrap();
    let pack = ExpertPack::init_from_base(whisper.config(), &file, "en").unwrap();
    (whisper, pack)
}

fn jfk_samples() -> Vec<f32> {
    load_audio_file(&kit::fixtures::jfk().0).unwrap()
}

fn transcribe(whisper: &Whisper, samples: &[f32]) -> whisper_clsr::Transcript {
    let options = TranscribeOptions {
        language: Some("en".into()),
        decode: whisper_clsr::decode::DecodeOptions::greedy(),
        ..Default::default()
    };
    pollster::block_on(whisper.transcribe(samples, &options, &mut |_| Ok(()))).unwrap()
}

/// Gates that send some tokens of each layer to the expert and others to the shared FFN.
fn randomize_gates(pack: &mut ExpertPack, seed: u64) {
    let mut rng = kit::rng(seed);
    for layer in &mut pack.layers {
        for w in &mut layer.expert.gate_out {
            *w = rng.random_range(-1.0f32..1.0);
        }
    }
}

/// First-step logits after the English prompt, with or without a pack's experts.
fn first_logits(whisper: &Whisper, mel: &[f32], experts: Option<&LanguageExperts>) -> Vec<f32> {
    let gpu = &whisper.gpu;
    let counts = GateCounts::new(
        gpu,
        whisper.model.encoder.blocks.len() + whisper.model.decoder.blocks.len(),
    )
    .unwrap();
    let route = experts.map(|experts| Route {
        experts,
        counts: &counts,
    });
    let n_mels = whisper.config().num_mel_bins;
    let mel = gpu.upload(mel, &[n_mels, mel.len() / n_mels]).unwrap();
    let encoded = whisper.model.encoder.forward(gpu, &mel, route).unwrap();
    let mut state = whisper.model.decoder.start(gpu, &encoded, route);
    let prompt = whisper
        .tokenizer
        .prompt(Some("en"), Task::Transcribe)
        .unwrap();
    let logits = whisper
        .model
        .decoder
        .step(gpu, &mut state, &prompt)
        .unwrap();
    kit::read(gpu, &logits)
}

fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

#[test]
fn experts_equal_to_the_shared_ffn_give_the_base_transcript_whatever_the_gates() {
    let (mut whisper, mut pack) = load();
    let (samples, phrase) = kit::fixtures::jfk_phrase();
    let base = transcribe(&whisper, &samples);
    assert!(base.expert.is_none() && base.gate_stats.is_none());
    assert_eq!(
        kit::words(&base.text),
        phrase,
        "the base model hears the phrase"
    );

    // The paper's initialisation: w_out = 0, so G = 0 and every gate is open.
    whisper
        .add_expert_pack(&pack.to_bytes(DType::F32), "init.safetensors")
        .unwrap();
    let open = transcribe(&whisper, &samples);
    assert_eq!(open.expert.as_deref(), Some("en"));
    let stats = open.gate_stats.as_ref().expect("gate stats with a pack");
    assert_eq!(stats.encoder.len(), 4);
    assert_eq!(stats.decoder.len(), 4);
    for fraction in stats.encoder.iter().chain(&stats.decoder) {
        assert_eq!(*fraction, Some(1.0), "all gates open: {stats:?}");
    }
    assert_eq!(open.tokens, base.tokens);
    assert_eq!(open.text, base.text);

    // Random gates: each layer splits its tokens between expert and shared FFN.
    randomize_gates(&mut pack, 5);
    whisper
        .add_expert_pack(&pack.to_bytes(DType::F32), "random-gates.safetensors")
        .unwrap();
    assert_eq!(whisper.expert_packs().count(), 1, "same language replaces");
    let mixed = transcribe(&whisper, &samples);
    let stats = mixed.gate_stats.as_ref().unwrap();
    let split = stats
        .encoder
        .iter()
        .chain(&stats.decoder)
        .filter(|f| matches!(f, Some(f) if *f > 0.05 && *f < 0.95))
        .count();
    assert!(split >= 4, "gates should split tokens: {stats:?}");
    assert_eq!(mixed.tokens, base.tokens);
    assert_eq!(mixed.text, base.text);
}

#[test]
fn perturbed_experts_behind_open_gates_change_the_logits() {
    let (whisper, mut pack) = load();
    let mel = log_mel_spectrogram(&jfk_samples(), whisper.config().num_mel_bins).unwrap();
    let base = first_logits(&whisper, &mel, None);

    pack.check_base(whisper.fingerprint(), whisper.config())
        .unwrap();
    let same = LanguageExperts::upload(&whisper.gpu, &whisper.model, &pack).unwrap();
    let diff = max_abs_diff(&first_logits(&whisper, &mel, Some(&same)), &base);
    assert!(diff <= 1e-3, "copied experts: logits max |diff| {diff}");

    let mut rng = kit::rng(9);
    for layer in &mut pack.layers {
        for w in &mut layer.expert.fc2_bias {
            *w += rng.random_range(-1.0f32..1.0);
        }
    }
    let perturbed = LanguageExperts::upload(&whisper.gpu, &whisper.model, &pack).unwrap();
    let diff = max_abs_diff(&first_logits(&whisper, &mel, Some(&perturbed)), &base);
    assert!(
        diff > 0.5,
        "perturbed experts: logits max |diff| only {diff}"
    );
}

#[test]
fn packs_that_do_not_fit_the_model_are_refused() {
    let (mut whisper, pack) = load();
    let bytes = pack.to_bytes(DType::F32);

    let err = whisper
        .add_expert_pack(&bytes[..bytes.len() / 2], "cut.safetensors")
        .unwrap_err()
        .to_string();
    assert!(err.contains("cut.safetensors"), "{err}");

    let mut other = pack.clone();
    other.meta.base_fingerprint = "fnv1a64:0000000000000000".into();
    let err = whisper
        .add_expert_pack(&other.to_bytes(DType::F32), "other.safetensors")
        .unwrap_err()
        .to_string();
    assert!(err.contains("base model"), "{err}");

    // A consistent pack for a wider model carrying this model's fingerprint.
    let mut wide = pack;
    let (d, ffn) = (512, wide.meta.ffn_dim);
    wide.meta.d_model = d;
    for layer in &mut wide.layers {
        layer.expert.fc1 = vec![0.0; ffn * d];
        layer.expert.fc2 = vec![0.0; d * ffn];
        layer.expert.fc2_bias = vec![0.0; d];
        layer.expert.gate_in = vec![0.0; wide.meta.gate_dim * d];
    }
    let err = whisper
        .add_expert_pack(&wide.to_bytes(DType::F32), "wide.safetensors")
        .unwrap_err()
        .to_string();
    assert!(err.contains("512"), "{err}");
    assert_eq!(whisper.expert_packs().count(), 0);
}

#[test]
fn a_packs_language_is_normalised_to_the_code_that_routes() {
    let (mut whisper, mut pack) = load();
    pack.meta.language = " English\n".into();
    let meta = whisper
        .add_expert_pack(&pack.to_bytes(DType::F16), "english.safetensors")
        .unwrap();
    assert_eq!(meta.language, "en");
    let listed: Vec<_> = whisper.expert_packs().map(|m| m.language.clone()).collect();
    assert_eq!(listed, ["en"]);
    assert!(
        !whisper.remove_expert("klingon"),
        "an unknown language names no pack"
    );
    assert!(
        whisper.remove_expert("English"),
        "removed by its English name"
    );
    assert!(!whisper.remove_expert("en"), "already removed");
    assert_eq!(whisper.expert_packs().count(), 0);
}
