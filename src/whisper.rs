//! The whole pipeline behind one type: load a model directory (or its bytes) and its expert
//! packs; `transcribe.rs` turns 16 kHz samples into text with it. Used by the CLI and the
//! browser API.

use serde::Serialize;
use web_time::Instant;

use crate::decode::longform::Segment;
use crate::decode::{DecodeOptions, SuppressMasks, Task, WhisperTokenizer};
use crate::gpu::{DType, Gpu, Tensor};
use crate::model::{LanguageExperts, Route, WeightFile, WhisperConfig, WhisperNetwork};
use crate::ops::clsr::GateCounts;
use crate::pack::{base_fingerprint, ExpertPack, PackMeta};
use crate::{Error, Result};

/// A loaded model with its tokenizer and language experts, ready to transcribe.
pub struct Whisper {
    pub gpu: Gpu,
    pub model: WhisperNetwork,
    pub tokenizer: WhisperTokenizer,
    pub(crate) masks: SuppressMasks,
    /// Identifies the base weights; packs must carry the same.
    fingerprint: String,
    /// Loaded packs, one per language.
    experts: Vec<(PackMeta, LanguageExperts)>,
    /// Decoder (layer, head) pairs whose cross-attention follows the audio: from the model's
    /// `generation_config.json`, else every head of the decoder's second half.
    pub(crate) alignment_heads: Vec<(usize, usize)>,
    alignment_heads_given: bool,
}

/// What to transcribe and how.
#[derive(Clone, Debug, Default)]
pub struct TranscribeOptions {
    /// Language code (`en`, `ca`, …); `None` detects it from the audio.
    pub language: Option<String>,
    pub task: Task,
    pub decode: DecodeOptions,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct Timings {
    pub load_ms: f64,
    pub mel_ms: f64,
    pub encoder_ms: f64,
    pub decoder_ms: f64,
    pub tokens_per_s: f64,
    /// Processing time over audio duration (lower is faster; < 1 is faster than real time).
    pub rtf: f64,
}

#[derive(Clone, Debug, Serialize)]
pub struct Transcript {
    pub text: String,
    pub language: String,
    /// True when the language was detected from the audio rather than given (never for
    /// English-only models, which need no detection).
    pub language_detected: bool,
    /// Text tokens of all segments (no timestamps, prompt or EOT).
    pub tokens: Vec<u32>,
    /// Timestamped stretches of speech, in order.
    pub segments: Vec<Segment>,
    /// Seconds of audio transcribed.
    pub duration: f64,
    /// Language of the expert pack the audio ran through; `None` for the plain base model.
    pub expert: Option<String>,
    /// Per layer, the fraction of tokens the expert pack's gates routed to the expert;
    /// `None` without a pack.
    pub gate_stats: Option<GateStats>,
    pub timings: Timings,
    pub device: String,
}

/// Fraction of tokens routed to the language expert, per layer; `None` (JSON `null`) for
/// layers the pack does not cover. Decoder fractions count every token fed, prompt included.
#[derive(Clone, Debug, Serialize)]
pub struct GateStats {
    pub encoder: Vec<Option<f64>>,
    pub decoder: Vec<Option<f64>>,
}

pub(crate) fn ms(since: Instant) -> f64 {
    since.elapsed().as_secs_f64() * 1e3
}

impl Whisper {
    /// Builds a model from the three files of a Hugging Face Whisper directory.
    pub fn from_bytes(
        gpu: Gpu,
        config_json: &[u8],
        safetensors: Vec<u8>,
        tokenizer_json: &[u8],
    ) -> Result<Whisper> {
        let config = WhisperConfig::from_json(config_json)?;
        let tokenizer =
            WhisperTokenizer::from_bytes(tokenizer_json)?.for_vocab_size(config.vocab_size);
        if tokenizer.eot as usize >= config.vocab_size {
            return Err(Error::Model(format!(
                "tokenizer.json does not belong to this model: its end-of-text id {} is outside \
                 the model's vocabulary of {}",
                tokenizer.eot, config.vocab_size
            )));
        }
        let file = WeightFile::new(safetensors, "model.safetensors")?;
        let model = WhisperNetwork::load(&gpu, config, &file)?;
        let fingerprint = base_fingerprint(&model.config, &file)?;
        let masks = SuppressMasks::new(&gpu, &model.config, &tokenizer)?;
        gpu.flush();
        let layers = model.decoder.blocks.len();
        let heads = model.config.decoder_attention_heads;
        Ok(Whisper {
            gpu,
            model,
            tokenizer,
            masks,
            fingerprint,
            experts: Vec::new(),
            alignment_heads: (layers / 2..layers)
                .flat_map(|l| (0..heads).map(move |h| (l, h)))
                .collect(),
            alignment_heads_given: false,
        })
    }

    /// Takes the alignment heads for word timestamps from a `generation_config.json`
    /// (`"alignment_heads": [[layer, head], ...]`). Returns whether it named any; without,
    /// every head of the decoder's second half is used (less precise).
    pub fn set_generation_config(&mut self, json: &[u8]) -> Result<bool> {
        #[derive(serde::Deserialize)]
        struct GenerationConfig {
            #[serde(default)]
            alignment_heads: Vec<(usize, usize)>,
        }
        let config: GenerationConfig = serde_json::from_slice(json)
            .map_err(|e| Error::Model(format!("generation_config.json could not be read: {e}")))?;
        if config.alignment_heads.is_empty() {
            return Ok(false);
        }
        let layers = self.model.decoder.blocks.len();
        let heads = self.model.config.decoder_attention_heads;
        if let Some(&(l, h)) = config
            .alignment_heads
            .iter()
            .find(|&&(l, h)| l >= layers || h >= heads)
        {
            return Err(Error::Model(format!(
                "generation_config.json names alignment head ({l}, {h}), but the decoder has \
                 {layers} layers of {heads} heads: it belongs to another model"
            )));
        }
        self.alignment_heads = config.alignment_heads;
        self.alignment_heads_given = true;
        Ok(true)
    }

    /// Whether the alignment heads came with the model (else: the second-half fallback).
    pub fn has_alignment_heads(&self) -> bool {
        self.alignment_heads_given
    }

    /// The base-model fingerprint expert packs must match ([`base_fingerprint`]).
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// Loads an expert pack from its bytes (`origin` names it in errors) after checking it
    /// was made for this base model. A pack for a language already loaded replaces it.
    /// Returns the pack's metadata, its `language` normalised to the code that routes
    /// (`" English\n"` in a pack's metadata comes back as `"en"`).
    pub fn add_expert_pack(&mut self, bytes: &[u8], origin: &str) -> Result<PackMeta> {
        let pack = ExpertPack::from_bytes(bytes, origin)?;
        self.add_expert(&pack).map_err(|e| match e {
            Error::Model(message) => Error::Model(format!("{origin}: {message}")),
            other => other,
        })
    }

    /// Uploads a pack already in memory (see [`Whisper::add_expert_pack`]); returns its
    /// metadata with the language normalised.
    pub fn add_expert(&mut self, pack: &ExpertPack) -> Result<PackMeta> {
        pack.check_base(&self.fingerprint, &self.model.config)?;
        let language = crate::decode::languages::normalize_language(&pack.meta.language)
            .ok_or_else(|| {
                Error::Model(format!(
                    "expert pack: unknown language '{}' in its metadata",
                    pack.meta.language
                ))
            })?;
        let mut experts = LanguageExperts::upload(&self.gpu, &self.model, pack)?;
        experts.language = language.to_string();
        self.gpu.flush();
        self.experts.retain(|(_, e)| e.language != language);
        let meta = PackMeta {
            language: language.to_string(),
            ..pack.meta.clone()
        };
        self.experts.push((meta.clone(), experts));
        Ok(meta)
    }

    /// Unloads the pack for `language` (a code or an English name); returns whether one
    /// was loaded.
    pub fn remove_expert(&mut self, language: &str) -> bool {
        let Some(language) = crate::decode::languages::normalize_language(language) else {
            return false;
        };
        let before = self.experts.len();
        self.experts.retain(|(_, e)| e.language != language);
        self.experts.len() != before
    }

    /// Metadata of the loaded packs.
    pub fn expert_packs(&self) -> impl Iterator<Item = &PackMeta> {
        self.experts.iter().map(|(meta, _)| meta)
    }

    /// The experts loaded for `language` (a code such as `ca`), as they sit on the GPU.
    pub fn experts_for(&self, language: &str) -> Option<&LanguageExperts> {
        self.experts
            .iter()
            .map(|(_, e)| e)
            .find(|e| e.language == language)
    }

    /// Loads `config.json`, `model.safetensors` and `tokenizer.json` from a directory.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn load_dir(gpu: Gpu, dir: &std::path::Path) -> Result<Whisper> {
        let read = |name: &str| {
            let path = dir.join(name);
            std::fs::read(&path).map_err(|e| {
                if e.kind() == std::io::ErrorKind::NotFound {
                    Error::Model(format!(
                        "{} not found: a model directory holds config.json, model.safetensors \
                         and tokenizer.json (Hugging Face layout)",
                        path.display()
                    ))
                } else {
                    Error::io(path, e)
                }
            })
        };
        let mut whisper = Whisper::from_bytes(
            gpu,
            &read("config.json")?,
            read("model.safetensors")?,
            &read("tokenizer.json")?,
        )?;
        let generation = dir.join("generation_config.json");
        if generation.is_file() {
            let bytes = std::fs::read(&generation).map_err(|e| Error::io(&generation, e))?;
            whisper.set_generation_config(&bytes)?;
        }
        Ok(whisper)
    }

    /// Creates the kernel variants transcription dispatches with this model on this device
    /// ([`Gpu::prepare_pipelines`], [`crate::ops::model_kernels`]), so that the first
    /// transcription does not compile shaders; `progress(done, total)`. Returns how many
    /// were created now.
    pub fn prepare_kernels(&self, progress: &mut dyn FnMut(usize, usize)) -> usize {
        let f16 = self.model.decoder.blocks[0].ffn.fc1.weight.dtype() == DType::F16;
        let kernels = crate::ops::model_kernels(&self.gpu, f16);
        self.gpu.prepare_pipelines(&kernels, progress)
    }

    /// Token ids decoding without timestamps never picks, and those it does not pick first.
    pub fn suppressed_tokens(&self) -> (&[u32], &[u32]) {
        (&self.masks.always_ids, &self.masks.first_ids)
    }

    /// The suppression masks decoding applies (GPU tensors), for driving the window
    /// decoders directly.
    pub fn masks(&self) -> &SuppressMasks {
        &self.masks
    }

    pub fn config(&self) -> &WhisperConfig {
        &self.model.config
    }

    /// Uploads a log-mel spectrogram [n_mels, 3000] and runs the encoder (plain base model).
    pub fn encode(&self, mel: &[f32]) -> Result<Tensor> {
        self.encode_routed(mel, None)
    }

    pub(crate) fn encode_routed(&self, mel: &[f32], route: Option<Route>) -> Result<Tensor> {
        let n_mels = self.config().num_mel_bins;
        let mel = self.gpu.upload(mel, &[n_mels, mel.len() / n_mels.max(1)])?;
        self.model.encoder.forward(&self.gpu, &mel, route)
    }

    /// Reads the gate counters of one transcription (one readback).
    pub(crate) async fn gate_stats(
        &self,
        experts: &LanguageExperts,
        counts: &GateCounts,
    ) -> Result<GateStats> {
        let all = counts.read(&self.gpu).await?;
        let (enc, dec) = all.split_at(experts.encoder.len());
        let fractions = |layers: &[Option<_>], seen: &[crate::ops::clsr::GateCount]| {
            layers
                .iter()
                .zip(seen)
                .map(|(e, c)| e.as_ref().and(c.fraction()))
                .collect()
        };
        Ok(GateStats {
            encoder: fractions(&experts.encoder, enc),
            decoder: fractions(&experts.decoder, dec),
        })
    }
}
