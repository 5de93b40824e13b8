//! The trainer runs the runtime's model code. Its forward ([`student::forward`]: encoder
//! blocks, then the teacher-forced decoder) and the runtime's (`Encoder::forward`, then
//! `Decoder` steps over the KV cache) must give the same encoder output, decoder hidden
//! states and logits on real weights (whisper-tiny.en on the jfk clip):
//! - for the frozen model (the teacher's path), and
//! - with a language expert in every layer whose gate is saturated open, so that the
//!   trainer's soft gate σ(G) is exactly 1 and the runtime's hard gate 1[G ≥ 0] takes the
//!   expert for every token: training-mode CLSR (both FFNs, mixed) against the routed
//!   inference kernels.

use whisper_clsr::audio::{load_audio_file, log_mel_spectrogram};
use whisper_clsr::decode::{Task, WhisperTokenizer};
use whisper_clsr::gpu::Gpu;
use whisper_clsr::model::{LanguageExperts, Route, WeightFile, WhisperConfig, WhisperNetwork};
use whisper_clsr::ops::clsr::GateCounts;
use whisper_clsr::pack::{Expert, ExpertPack};
use whisper_clsr_test_kit::{self as kit, gpu, random, read, rng, through_f16};
use whisper_clsr_train::clsr::{trainable, TrainMode};
use whisper_clsr_train::expert_layers::ExpertLayers;
use whisper_clsr_train::optim::Param;
use whisper_clsr_train::student::{forward, logits_chunk, EncoderInput, Trainable};

/// Largest |a − b| relative to the largest |b|.
fn relative_max_diff(a: &[f32], b: &[f32]) -> f64 {
    assert_eq!(a.len(), b.len());
    let scale = b.iter().fold(0.0f64, |m, &x| m.max(x.abs() as f64));
    let diff = a
        .iter()
        .zip(b)
        .fold(0.0f64, |m, (&x, &y)| m.max((x as f64 - y as f64).abs()));
    diff / scale
}

struct Setup {
    gpu: Gpu,
    config: WhisperConfig,
    file: WeightFile,
    model: WhisperNetwork,
    mel: Vec<f32>,
    tokens: Vec<u32>,
}

fn setup() -> Setup {
    let dir = kit::model_dir("whisper-tiny.en");
    let read_file = |name: &str| {
        std::fs::read(dir.join(name)).unwrap_or_else(|e| {
            panic!(
                "{}: {e} (run scripts/fetch-models.sh)",
                dir.join(name).display()
            )
        })
    };
    let config = WhisperConfig::from_json(&read_file("config.json")).unwrap();
    let file = WeightFile::new(read_file("model.safetensors"), "whisper-tiny.en").unwrap();
    let gpu = gpu();
    let mut model = WhisperNetwork::load(&gpu, config.clone(), &file).unwrap();
    // The trainer keeps cross-attention keys and values in f32: so does the runtime here, so
    // that both compute the same function (in halves, the runtime's default for f16
    // weights, tests/parity.rs holds it to the f64 decoder instead).
    model.decoder.cross_kv_f16 = false;
    let (wav, _) = kit::fixtures::jfk();
    let mel = log_mel_spectrogram(&load_audio_file(&wav).unwrap(), config.num_mel_bins).unwrap();
    let tokenizer = WhisperTokenizer::from_bytes(&read_file("tokenizer.json")).unwrap();
    let mut tokens = tokenizer.prompt(None, Task::Transcribe).unwrap();
    tokens.extend(
        tokenizer
            .encode(" And so my fellow Americans, ask not what your country can do for you")
            .unwrap(),
    );
    Setup {
        gpu,
        config,
        file,
        model,
        mel,
        tokens,
    }
}

/// The runtime's encoder output, and its decoder's final hidden states and logits for
/// every position, fed as the prompt in one step and then one token per step (the KV
/// cache path a transcription takes).
fn runtime(s: &Setup, route: Option<Route>) -> Outputs {
    let (gpu, model) = (&s.gpu, &s.model);
    let mel = gpu.upload(&s.mel, &[s.config.num_mel_bins, 3000]).unwrap();
    let encoded = model.encoder.forward(gpu, &mel, route).unwrap();
    let mut state = model.decoder.start(gpu, &encoded, route);
    let (mut hidden, mut logits) = (Vec::new(), Vec::new());
    let prompt = 2;
    let mut feed = |tokens: &[u32]| {
        let (x, _) = model
            .decoder
            .step_keeping_cross_attention(gpu, &mut state, tokens, &[])
            .unwrap();
        let rows = read(gpu, &x);
        hidden.extend_from_slice(&rows);
        for row in 0..tokens.len() {
            logits.extend(read(gpu, &model.decoder.logits_of_row(gpu, &x, row)));
        }
    };
    feed(&s.tokens[..prompt]);
    for t in prompt..s.tokens.len() {
        feed(&s.tokens[t..t + 1]);
    }
    (read(gpu, &encoded), hidden, logits)
}

/// The trainer's forward on the same input: encoder output, hidden states, logits.
fn trainer(s: &Setup, experts: Option<(&[Expert<Param>], &[TrainMode])>) -> Outputs {
    let (gpu, model) = (&s.gpu, &s.model);
    let mel = gpu.upload(&s.mel, &[s.config.num_mel_bins, 3000]).unwrap();
    let input = model.encoder.stem(gpu, &mel).unwrap();
    let experts = experts.map(|(experts, modes)| Trainable {
        experts,
        modes,
        layers: ExpertLayers::All,
    });
    let f = forward(gpu, model, EncoderInput::Stem(&input), &s.tokens, experts).unwrap();
    // Logits [S, vocab], assembled from the token table's chunks.
    let (rows, vocab) = (s.tokens.len(), s.config.vocab_size);
    let mut logits = vec![0.0; rows * vocab];
    let table = &model.decoder.tokens;
    for (start, chunk) in &table.chunks {
        let n = chunk.shape()[0];
        let part = read(gpu, &logits_chunk(gpu, &f.hidden, table, *start, n));
        for row in 0..rows {
            logits[row * vocab + start..][..n].copy_from_slice(&part[row * n..][..n]);
        }
    }
    (read(gpu, &f.enc_out), read(gpu, &f.hidden), logits)
}

/// Encoder output, decoder hidden states, logits.
type Outputs = (Vec<f32>, Vec<f32>, Vec<f32>);

fn assert_agree(what: &str, runtime: Outputs, trainer: &Outputs) {
    for (part, r, t) in [
        ("encoder output", &runtime.0, &trainer.0),
        ("decoder hidden states", &runtime.1, &trainer.1),
        ("logits", &runtime.2, &trainer.2),
    ] {
        let diff = relative_max_diff(t, r);
        println!("{what}: {part}: max |trainer − runtime| / max |runtime| = {diff:.2e}");
        assert!(
            diff <= 1e-4,
            "{what}: {part} differ by {diff:.2e} (relative)"
        );
    }
}

#[test]
fn trainer_forward_equals_runtime_forward_on_real_weights() {
    let s = setup();
    let frozen = trainer(&s, None);
    assert_agree("frozen model", runtime(&s, None), &frozen);

    // Experts: a perturbed copy of each frozen FFN (so the expert path differs from the
    // shared one) behind a gate saturated open: W_in = 0, b_in = 1, w_out = 64, so
    // G = 64·Σ ReLU(1) = 4096 and σ(G) rounds to exactly 1 in f32.
    let mut pack = ExpertPack::init_from_base(&s.config, &s.file, "en").unwrap();
    let mut r = rng(7);
    for layer in &mut pack.layers {
        let e = &mut layer.expert;
        let noise = random(&mut r, e.fc2_bias.len());
        for (w, n) in e.fc2_bias.iter_mut().zip(noise) {
            *w = through_f16(&[*w + 0.5 * n])[0]; // exact in f16 and f32 storage alike
        }
        e.gate_in.fill(0.0);
        e.gate_in_bias.fill(1.0);
        e.gate_out.fill(64.0);
    }
    let gpu = &s.gpu;
    let experts = LanguageExperts::upload(gpu, &s.model, &pack).unwrap();
    let counts = GateCounts::new(gpu, pack.layers.len()).unwrap();
    let route = Route {
        experts: &experts,
        counts: &counts,
    };
    let params: Vec<_> = pack
        .layers
        .iter()
        .map(|l| trainable(gpu, &l.expert).unwrap())
        .collect();
    let modes: Vec<TrainMode> = (0..pack.layers.len() as u32)
        .map(TrainMode::evaluation)
        .collect();
    let with_experts = trainer(&s, Some((&params, &modes)));
    for (part, with, without) in [
        ("encoder output", &with_experts.0, &frozen.0),
        ("logits", &with_experts.2, &frozen.2),
    ] {
        assert!(
            relative_max_diff(with, without) > 1e-3,
            "the experts must change the {part}, or the comparison proves nothing"
        );
    }
    assert_agree("saturated experts", runtime(&s, Some(route)), &with_experts);
    let seen = pollster::block_on(counts.read(gpu)).unwrap();
    assert!(
        seen.iter().all(|c| c.tokens > 0 && c.expert == c.tokens),
        "every routed token took the expert: {seen:?}"
    );
}
