//! A tiny Whisper with random weights, written in Hugging Face layout, for tests that need a
//! whole model but not a trained one.

use rand::Rng;
use safetensors::{serialize_to_file, Dtype, View};
use std::borrow::Cow;
use std::path::Path;
use whisper_clsr::gpu::Gpu;
use whisper_clsr::model::{WeightFile, WhisperConfig, WhisperNetwork};

pub struct TinyConfig {
    pub d_model: usize,
    pub heads: usize,
    pub encoder_layers: usize,
    pub decoder_layers: usize,
    pub vocab: usize,
    pub n_mels: usize,
    pub target_positions: usize,
}

impl Default for TinyConfig {
    fn default() -> Self {
        TinyConfig {
            d_model: 64,
            heads: 2,
            encoder_layers: 2,
            decoder_layers: 2,
            vocab: 300,
            n_mels: 80,
            target_positions: 64,
        }
    }
}

struct Entry {
    dtype: Dtype,
    shape: Vec<usize>,
    bytes: Vec<u8>,
}

impl View for &Entry {
    fn dtype(&self) -> Dtype {
        self.dtype
    }
    fn shape(&self) -> &[usize] {
        &self.shape
    }
    fn data(&self) -> Cow<'_, [u8]> {
        Cow::Borrowed(&self.bytes)
    }
    fn data_len(&self) -> usize {
        self.bytes.len()
    }
}

/// Writes config.json and model.safetensors with weights ~ U(−scale, scale) (layer norms
/// near 1 and 0), stored as `dtype` (F32 or F16).
pub fn write_random_model(dir: &Path, c: &TinyConfig, dtype: Dtype, rng: &mut impl Rng) {
    std::fs::create_dir_all(dir).unwrap();
    let d = c.d_model;
    let ffn = 4 * d;
    let mut tensors: Vec<(String, Vec<usize>, Vec<f32>)> = Vec::new();
    let mut rand_t = |name: String, shape: Vec<usize>, center: f32, scale: f32| {
        let n: usize = shape.iter().product();
        let v = (0..n)
            .map(|_| center + rng.random_range(-scale..scale))
            .collect();
        tensors.push((name, shape, v));
    };
    let w = 0.15;
    let e = "model.encoder";
    rand_t(format!("{e}.conv1.weight"), vec![d, c.n_mels, 3], 0.0, w);
    rand_t(format!("{e}.conv1.bias"), vec![d], 0.0, w);
    rand_t(format!("{e}.conv2.weight"), vec![d, d, 3], 0.0, w);
    rand_t(format!("{e}.conv2.bias"), vec![d], 0.0, w);
    let block = |p: String, attn: &[&str], rand_t: &mut dyn FnMut(String, Vec<usize>, f32, f32)| {
        for a in attn {
            for proj in ["q_proj", "k_proj", "v_proj", "out_proj"] {
                rand_t(format!("{p}.{a}.{proj}.weight"), vec![d, d], 0.0, w);
                if proj != "k_proj" {
                    rand_t(format!("{p}.{a}.{proj}.bias"), vec![d], 0.0, w);
                }
            }
            rand_t(format!("{p}.{a}_layer_norm.weight"), vec![d], 1.0, 0.2);
            rand_t(format!("{p}.{a}_layer_norm.bias"), vec![d], 0.0, 0.2);
        }
        rand_t(format!("{p}.fc1.weight"), vec![ffn, d], 0.0, w);
        rand_t(format!("{p}.fc1.bias"), vec![ffn], 0.0, w);
        rand_t(format!("{p}.fc2.weight"), vec![d, ffn], 0.0, w / 2.0);
        rand_t(format!("{p}.fc2.bias"), vec![d], 0.0, w);
        rand_t(format!("{p}.final_layer_norm.weight"), vec![d], 1.0, 0.2);
        rand_t(format!("{p}.final_layer_norm.bias"), vec![d], 0.0, 0.2);
    };
    for i in 0..c.encoder_layers {
        block(format!("{e}.layers.{i}"), &["self_attn"], &mut rand_t);
    }
    rand_t(format!("{e}.layer_norm.weight"), vec![d], 1.0, 0.2);
    rand_t(format!("{e}.layer_norm.bias"), vec![d], 0.0, 0.2);
    let dd = "model.decoder";
    rand_t(
        format!("{dd}.embed_tokens.weight"),
        vec![c.vocab, d],
        0.0,
        0.5,
    );
    rand_t(
        format!("{dd}.embed_positions.weight"),
        vec![c.target_positions, d],
        0.0,
        0.5,
    );
    for i in 0..c.decoder_layers {
        block(
            format!("{dd}.layers.{i}"),
            &["self_attn", "encoder_attn"],
            &mut rand_t,
        );
    }
    rand_t(format!("{dd}.layer_norm.weight"), vec![d], 1.0, 0.2);
    rand_t(format!("{dd}.layer_norm.bias"), vec![d], 0.0, 0.2);

    // Whisper's fixed sinusoids (candle computes them instead of loading them).
    let half = d / 2;
    let increment = 10000f32.ln() / (half - 1) as f32;
    let sinusoids = (0..1500 * d)
        .map(|i| {
            let (t, c) = ((i / d) as f32, i % d);
            let angle = t * (-((c % half) as f32) * increment).exp();
            if c < half {
                angle.sin()
            } else {
                angle.cos()
            }
        })
        .collect();
    tensors.push((
        format!("{e}.embed_positions.weight"),
        vec![1500, d],
        sinusoids,
    ));

    let entries: Vec<(String, Entry)> = tensors
        .into_iter()
        .map(|(name, shape, v)| {
            let bytes = match dtype {
                Dtype::F32 => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
                Dtype::F16 => v
                    .iter()
                    .flat_map(|x| half::f16::from_f32(*x).to_le_bytes())
                    .collect(),
                other => panic!("unsupported test dtype {other:?}"),
            };
            (
                name,
                Entry {
                    dtype,
                    shape,
                    bytes,
                },
            )
        })
        .collect();
    serialize_to_file(
        entries.iter().map(|(n, e)| (n.as_str(), e)),
        None,
        &dir.join("model.safetensors"),
    )
    .unwrap();
    let config = serde_json::json!({
        "d_model": d,
        "encoder_layers": c.encoder_layers,
        "decoder_layers": c.decoder_layers,
        "encoder_attention_heads": c.heads,
        "decoder_attention_heads": c.heads,
        "encoder_ffn_dim": ffn,
        "decoder_ffn_dim": ffn,
        "num_mel_bins": c.n_mels,
        "vocab_size": c.vocab,
        "max_source_positions": 1500,
        "max_target_positions": c.target_positions,
    });
    std::fs::write(dir.join("config.json"), config.to_string()).unwrap();
}

/// The network a model directory holds (config.json and model.safetensors, as
/// [`write_random_model`] writes them), loaded straight onto `gpu`: for tests that drive the
/// encoder and decoder themselves rather than `Whisper::transcribe`.
pub fn load_network(gpu: &Gpu, dir: &Path) -> WhisperNetwork {
    let config =
        WhisperConfig::from_json(&std::fs::read(dir.join("config.json")).unwrap()).unwrap();
    let weights = std::fs::read(dir.join("model.safetensors")).unwrap();
    let file = WeightFile::new(weights, dir.display().to_string()).unwrap();
    WhisperNetwork::load(gpu, config, &file).unwrap()
}

/// Text tokens before `<|endoftext|>` in OpenAI's multilingual vocabulary.
const MULTILINGUAL_TEXT_TOKENS: usize = 50257;
/// Tokens of a multilingual vocabulary besides its text and language tokens: EOT,
/// `<|startoftranscript|>`, six task and prompt tokens, 1501 timestamps.
const MULTILINGUAL_OTHER_TOKENS: usize = 2 + 6 + 1501;

/// A tokenizer.json for a random model of a released multilingual size (`vocab_size` 51865,
/// or 51866 for large-v3, whose 100th language is Cantonese): every special token at the id
/// OpenAI's vocabulary gives it (`<|endoftext|>` 50257, `<|startoftranscript|>` 50258, the
/// languages, `<|translate|>`, `<|transcribe|>`, `<|startoflm|>`, `<|startofprev|>`,
/// `<|nospeech|>`, `<|notimestamps|>`; timestamps after it), so prompts, suppression and the
/// token pick see the real layout. The 50257 text tokens are synthetic words ("a", "Ġa", "b",
/// … in the byte-level alphabet, no merges): random weights decode to junk text anyway.
pub fn multilingual_tokenizer_json(vocab_size: usize) -> Result<Vec<u8>, String> {
    let languages = whisper_clsr::decode::languages::LANGUAGES;
    let n_languages = vocab_size
        .checked_sub(MULTILINGUAL_TEXT_TOKENS + MULTILINGUAL_OTHER_TOKENS)
        .filter(|n| (1..=languages.len()).contains(n))
        .ok_or_else(|| {
            format!(
                "a multilingual Whisper vocabulary has {} to {} tokens, not {vocab_size}",
                MULTILINGUAL_TEXT_TOKENS + MULTILINGUAL_OTHER_TOKENS + 1,
                MULTILINGUAL_TEXT_TOKENS + MULTILINGUAL_OTHER_TOKENS + languages.len()
            )
        })?;
    let synthetic_word = |i: usize| {
        // Bijective base 26 of i / 2, with "Ġ" (a leading space) on odd ids.
        let mut n = i / 2 + 1;
        let mut letters = Vec::new();
        while n > 0 {
            n -= 1;
            letters.push(char::from(b'a' + (n % 26) as u8));
            n /= 26;
        }
        let word: String = letters.iter().rev().collect();
        if i % 2 == 1 {
            format!("Ġ{word}")
        } else {
            word
        }
    };
    let vocab: serde_json::Map<String, serde_json::Value> = (0..MULTILINGUAL_TEXT_TOKENS)
        .map(|i| (synthetic_word(i), i.into()))
        .collect();
    let special = ["<|endoftext|>", "<|startoftranscript|>"]
        .into_iter()
        .map(String::from)
        .chain(
            languages[..n_languages]
                .iter()
                .map(|(code, _)| format!("<|{code}|>")),
        )
        .chain(
            [
                "<|translate|>",
                "<|transcribe|>",
                "<|startoflm|>",
                "<|startofprev|>",
                "<|nospeech|>",
                "<|notimestamps|>",
            ]
            .map(String::from),
        );
    let json = byte_level_bpe_json(vocab, &[], special, MULTILINGUAL_TEXT_TOKENS, false);
    serde_json::to_vec(&json).map_err(|e| e.to_string())
}

/// A byte-level BPE tokenizer.json: `vocab` and `merges`, then the `special` tokens as added
/// tokens from id `first_special` on. `decoder_prefix_space`: the decoder adds a leading space.
pub(crate) fn byte_level_bpe_json(
    vocab: serde_json::Map<String, serde_json::Value>,
    merges: &[&str],
    special: impl IntoIterator<Item = String>,
    first_special: usize,
    decoder_prefix_space: bool,
) -> serde_json::Value {
    let added: Vec<serde_json::Value> = special
        .into_iter()
        .enumerate()
        .map(|(i, content)| {
            serde_json::json!({"id": first_special + i, "content": content,
                "single_word": false, "lstrip": false, "rstrip": false, "normalized": false,
                "special": true})
        })
        .collect();
    let byte_level = |prefix_space: bool| {
        serde_json::json!({"type": "ByteLevel", "add_prefix_space": prefix_space,
            "trim_offsets": true, "use_regex": true})
    };
    serde_json::json!({
        "version": "1.0",
        "truncation": null,
        "padding": null,
        "added_tokens": added,
        "normalizer": null,
        "pre_tokenizer": byte_level(false),
        "post_processor": null,
        "decoder": byte_level(decoder_prefix_space),
        "model": {"type": "BPE", "dropout": null, "unk_token": null,
            "continuing_subword_prefix": "", "end_of_word_suffix": "", "fuse_unk": false,
            "byte_fallback": false, "vocab": vocab, "merges": merges}
    })
}
