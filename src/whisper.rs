//! The whole pipeline behind one type: load a model directory (or its bytes), then turn
//! 16 kHz samples into text. Shared by the CLI, the browser API and the trainer.

use serde::Serialize;
use web_time::Instant;

use crate::audio;
use crate::decode::{
    detect_language, greedy_decode, DecodeOptions, SuppressMasks, Task, WhisperTokenizer,
};
use crate::gpu::{Gpu, Tensor};
use crate::model::{LanguageExperts, Route, WeightFile, WhisperConfig, WhisperModel};
use crate::ops::clsr::GateCounts;
use crate::pack::{base_fingerprint, ExpertPack, PackMeta};
use crate::{Error, Result};

/// A loaded model with its tokenizer and language experts, ready to transcribe.
pub struct Whisper {
    pub gpu: Gpu,
    pub model: WhisperModel,
    pub tokenizer: WhisperTokenizer,
    masks: SuppressMasks,
    /// Identifies the base weights; packs must carry the same.
    fingerprint: String,
    /// Loaded packs, one per language.
    experts: Vec<(PackMeta, LanguageExperts)>,
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
    /// Generated text tokens, without the prompt and without EOT.
    pub tokens: Vec<u32>,
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

fn ms(since: Instant) -> f64 {
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
        let model = WhisperModel::load(&gpu, config, &file)?;
        let fingerprint = base_fingerprint(&model.config, &file)?;
        let masks = SuppressMasks::new(&gpu, &model.config, &tokenizer)?;
        gpu.flush();
        Ok(Whisper {
            gpu,
            model,
            tokenizer,
            masks,
            fingerprint,
            experts: Vec::new(),
        })
    }

    /// The base-model fingerprint expert packs must match ([`base_fingerprint`]).
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// Loads an expert pack from its bytes (`origin` names it in errors) after checking it
    /// was made for this base model. A pack for a language already loaded replaces it.
    /// Returns the pack's metadata.
    pub fn add_expert_pack(&mut self, bytes: &[u8], origin: &str) -> Result<PackMeta> {
        let pack = ExpertPack::from_bytes(bytes, origin)?;
        self.add_expert(&pack).map_err(|e| match e {
            Error::Model(message) => Error::Model(format!("{origin}: {message}")),
            other => other,
        })?;
        Ok(pack.meta)
    }

    /// Uploads a pack already in memory (see [`Whisper::add_expert_pack`]).
    pub fn add_expert(&mut self, pack: &ExpertPack) -> Result<()> {
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
        self.experts.push((pack.meta.clone(), experts));
        Ok(())
    }

    /// Unloads the pack for `language`; returns whether one was loaded.
    pub fn remove_expert(&mut self, language: &str) -> bool {
        let before = self.experts.len();
        self.experts.retain(|(_, e)| e.language != language);
        self.experts.len() != before
    }

    /// Metadata of the loaded packs.
    pub fn expert_packs(&self) -> impl Iterator<Item = &PackMeta> {
        self.experts.iter().map(|(meta, _)| meta)
    }

    fn experts_for(&self, language: &str) -> Option<&LanguageExperts> {
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
        Whisper::from_bytes(
            gpu,
            &read("config.json")?,
            read("model.safetensors")?,
            &read("tokenizer.json")?,
        )
    }

    /// Token ids greedy decoding never picks, and those it does not pick first.
    pub fn suppressed_tokens(&self) -> (&[u32], &[u32]) {
        (&self.masks.always_ids, &self.masks.first_ids)
    }

    pub fn config(&self) -> &WhisperConfig {
        &self.model.config
    }

    /// Uploads a log-mel spectrogram [n_mels, 3000] and runs the encoder (plain base model).
    pub fn encode(&self, mel: &[f32]) -> Result<Tensor> {
        self.encode_routed(mel, None)
    }

    fn encode_routed(&self, mel: &[f32], route: Option<Route>) -> Result<Tensor> {
        let n_mels = self.config().num_mel_bins;
        let mel = self.gpu.upload(mel, &[n_mels, mel.len() / n_mels.max(1)])?;
        self.model.encoder.forward(&self.gpu, &mel, route)
    }

    /// Transcribes 16 kHz mono samples (up to 30 s; longer audio is cut at 30 s).
    pub async fn transcribe(
        &self,
        samples: &[f32],
        options: &TranscribeOptions,
        on_token: &mut dyn FnMut(u32),
    ) -> Result<Transcript> {
        if samples.is_empty() {
            return Err(Error::Audio("the audio is empty".into()));
        }
        let started = Instant::now();
        let mel = audio::log_mel_spectrogram(samples, self.config().num_mel_bins)?;
        let mel_ms = ms(started);

        // With a language given, its pack (if loaded) routes the encoder from the start.
        // Without, the plain model detects the language first; if a pack for it is loaded,
        // the audio is encoded again through it.
        let given = match &options.language {
            Some(code) => Some(
                crate::decode::languages::normalize_language(code)
                    .ok_or_else(|| Error::InvalidInput(format!("unknown language '{code}'")))?,
            ),
            None => None,
        };
        let slots = self.model.encoder.layers.len() + self.model.decoder.layers.len();
        let counts = GateCounts::new(&self.gpu, slots)?;
        let route_for = |language: &str| {
            self.experts_for(language).map(|experts| Route {
                experts,
                counts: &counts,
            })
        };
        let decoder = &self.model.decoder;

        let t = Instant::now();
        let mut route = given.and_then(route_for);
        let mut encoded = self.encode_routed(&mel, route)?;
        self.gpu.read_range(&encoded, 0, 1).await?; // wait for the encoder to finish
        let mut encoder_ms = ms(t);

        let t = Instant::now();
        let mut reencode_ms = 0.0;
        let mut state = decoder.start(&self.gpu, &encoded, route);
        let language = match given {
            Some(code) => code,
            None => {
                let (code, _) =
                    detect_language(&self.gpu, decoder, &mut state, &self.tokenizer).await?;
                route = route_for(code);
                if route.is_some() {
                    let t = Instant::now();
                    encoded = self.encode_routed(&mel, route)?;
                    self.gpu.read_range(&encoded, 0, 1).await?;
                    reencode_ms = ms(t);
                    encoder_ms += reencode_ms;
                }
                state = decoder.start(&self.gpu, &encoded, route);
                code
            }
        };
        let prompt = self.tokenizer.prompt(Some(language), options.task)?;
        let tokens = greedy_decode(
            &self.gpu,
            decoder,
            &mut state,
            &prompt,
            &self.masks,
            self.tokenizer.eot,
            options.decode,
            on_token,
        )
        .await?;
        let gate_stats = match route {
            Some(route) => Some(self.gate_stats(route.experts, &counts).await?),
            None => None,
        };
        let decoder_ms = ms(t) - reencode_ms;

        let seconds = samples.len().min(audio::N_SAMPLES) as f64 / audio::SAMPLE_RATE as f64;
        Ok(Transcript {
            text: self.tokenizer.decode(&tokens)?.trim().to_string(),
            language: language.to_string(),
            language_detected: given.is_none() && !self.tokenizer.is_english_only(),
            expert: route.map(|r| r.experts.language.clone()),
            gate_stats,
            timings: Timings {
                load_ms: 0.0,
                mel_ms,
                encoder_ms,
                decoder_ms,
                tokens_per_s: tokens.len() as f64 / (decoder_ms / 1e3).max(1e-9),
                rtf: (mel_ms + encoder_ms + decoder_ms) / 1e3 / seconds,
            },
            tokens,
            device: self.gpu.describe(),
        })
    }

    /// Reads the gate counters of one transcription (one readback).
    async fn gate_stats(
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
