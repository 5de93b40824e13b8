//! A whole tiny Whisper ready to transcribe: random weights (see [`crate::random_model`])
//! and a small byte-level BPE tokenizer with Whisper's special tokens, for tests that run
//! the full pipeline many times (long-running use, device loss) without real weights.

use std::path::Path;

use crate::random_model::{byte_level_bpe_json, write_random_model, TinyConfig};
use whisper_clsr::gpu::Gpu;
use whisper_clsr::{Result, Whisper};

/// Tokens of [`tokenizer_json`]: 26 letters, "Ġ", four merges, six special tokens (ids 31
/// to 36); the model's vocabulary must be at least this large.
pub const TOKENIZER_TOKENS: usize = 37;

/// A small byte-level BPE tokenizer.json with Whisper's special tokens (English-only layout).
pub fn tokenizer_json() -> Vec<u8> {
    let letters = "abcdefghijklmnopqrstuvwxyzĠ";
    let mut vocab = serde_json::Map::new();
    for (i, c) in letters.chars().enumerate() {
        vocab.insert(c.to_string(), i.into());
    }
    let merges = ["Ġ t", "t h", "Ġt h", "h e"];
    for (i, m) in merges.iter().enumerate() {
        vocab.insert(m.replace(' ', ""), (letters.chars().count() + i).into());
    }
    let base = vocab.len();
    let special = [
        "<|endoftext|>",
        "<|startoftranscript|>",
        "<|en|>",
        "<|transcribe|>",
        "<|translate|>",
        "<|notimestamps|>",
    ]
    .map(String::from);
    serde_json::to_vec(&byte_level_bpe_json(vocab, &merges, special, base, true)).unwrap()
}

/// The tiny model: d_model 32, one head, one layer per stack, vocabulary 40 (the
/// tokenizer's tokens, then timestamps), 32 decoder positions.
pub fn config() -> TinyConfig {
    TinyConfig {
        d_model: 32,
        heads: 1,
        encoder_layers: 1,
        decoder_layers: 1,
        vocab: 40,
        n_mels: 80,
        target_positions: 32,
    }
}

/// Writes the tiny model's three files into `dir` (f32 weights of `seed`).
pub fn write(dir: &Path, seed: u64) {
    write_random_model(
        dir,
        &config(),
        safetensors::Dtype::F32,
        &mut crate::rng(seed),
    );
    std::fs::write(dir.join("tokenizer.json"), tokenizer_json()).unwrap();
}

/// Loads the tiny model written by [`write`](fn@write) onto `gpu`.
pub fn load(gpu: Gpu, dir: &Path) -> Result<Whisper> {
    Whisper::load_dir(gpu, dir)
}

/// Whisper's multilingual vocabulary: every language token exists.
pub const MULTILINGUAL_VOCAB: usize = 51_865;

/// The tiny model with [`MULTILINGUAL_VOCAB`] tokens and a multilingual tokenizer (f32
/// weights of `seed`), loaded on the test GPU, and its weight file (what
/// `ExpertPack::init_from_base` copies): for tests of language detection and expert routing.
pub fn multilingual(seed: u64) -> (Whisper, whisper_clsr::model::WeightFile) {
    let dir = std::env::temp_dir().join(format!(
        "whisper-clsr-multilingual-{seed}-{}",
        std::process::id()
    ));
    let config = TinyConfig {
        vocab: MULTILINGUAL_VOCAB,
        ..config()
    };
    write_random_model(
        &dir,
        &config,
        safetensors::Dtype::F32,
        &mut crate::rng(seed),
    );
    let tokenizer = crate::random_model::multilingual_tokenizer_json(MULTILINGUAL_VOCAB).unwrap();
    std::fs::write(dir.join("tokenizer.json"), tokenizer).unwrap();
    let whisper = Whisper::load_dir(crate::gpu(), &dir).unwrap();
    let bytes = std::fs::read(dir.join("model.safetensors")).unwrap();
    std::fs::remove_dir_all(&dir).ok();
    let file = whisper_clsr::model::WeightFile::new(bytes, "random").unwrap();
    (whisper, file)
}
