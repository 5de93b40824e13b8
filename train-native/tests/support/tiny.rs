//! A tiny random Whisper (the runtime tests' generator) and synthetic utterances.

#[path = "../../../tests/support/random_model.rs"]
pub mod random_model;

use rand::Rng;
use random_model::{write_random_model, TinyConfig};
use whisper_clsr::model::{WeightFile, WhisperConfig};
use whisper_clsr_train::loss::vocab::IGNORE;
use whisper_clsr_train::trainer::{Audio, Prepared};

use super::{random, rng};

/// Writes a tiny model (d_model 64, one head, 2 + 2 layers, the multilingual vocabulary,
/// f16 weights) into `dir` and reads it back.
pub fn tiny_model(dir: &std::path::Path, seed: u64) -> (WhisperConfig, WeightFile) {
    let cfg = TinyConfig {
        d_model: 64,
        heads: 1,
        encoder_layers: 2,
        decoder_layers: 2,
        vocab: 51865,
        n_mels: 80,
        target_positions: 16,
    };
    write_random_model(dir, &cfg, safetensors::Dtype::F16, &mut rng(seed));
    let c = WhisperConfig::from_json(&std::fs::read(dir.join("config.json")).unwrap()).unwrap();
    let file = WeightFile::new(
        std::fs::read(dir.join("model.safetensors")).unwrap(),
        "tiny",
    )
    .unwrap();
    (c, file)
}

/// `count` utterances: random encoder inputs [frames, d], an English prompt, five random
/// text tokens and EOT.
pub fn synthetic(rg: &mut impl Rng, count: usize, frames: usize, d: usize) -> Vec<Prepared> {
    (0..count)
        .map(|_| {
            let text: Vec<u32> = (0..5).map(|_| rg.random_range(200..20000)).collect();
            let mut tokens = vec![50258, 50259, 50359, 50363];
            tokens.extend(&text);
            let mut targets = vec![IGNORE; 3];
            targets.extend(&text);
            targets.push(50257);
            Prepared {
                student: Audio::Encoded(random(rg, frames * d)),
                teacher: None,
                tokens,
                targets,
            }
        })
        .collect()
}
