//! The wasm-bindgen class `WhisperModel`: build a model from the bytes of a Hugging Face
//! Whisper directory, add expert packs, transcribe 16 kHz samples with a token callback.
//! Results are plain JS objects with camelCase keys (see [`super::camel`]); failures are JS
//! `Error`s carrying the runtime's message.

use serde::Serialize;
use wasm_bindgen::prelude::*;
use web_time::Instant;

use super::camel::camel_case_keys;
use super::stream::TextStream;
use crate::decode::languages::language_name;
use crate::gpu::{Gpu, GpuOptions};
use crate::{TranscribeOptions, Whisper};

#[wasm_bindgen(start)]
fn start() {
    // Panics show their message in the console instead of a bare "unreachable".
    console_error_panic_hook::set_once();
}

/// A JS object with camelCase keys for any serializable runtime value.
fn to_js<T: Serialize>(value: &T) -> Result<JsValue, JsError> {
    let json = serde_json::to_value(value).map_err(|e| JsError::new(&e.to_string()))?;
    camel_case_keys(json)
        .serialize(&serde_wasm_bindgen::Serializer::json_compatible())
        .map_err(|e| JsError::new(&e.to_string()))
}

fn js_error(e: crate::Error) -> JsError {
    JsError::new(&e.to_string())
}

/// Every language Whisper knows, as `[{code, name}]` in token order.
#[wasm_bindgen]
pub fn languages() -> Result<JsValue, JsError> {
    let list: Vec<_> = crate::decode::languages::LANGUAGES
        .iter()
        .map(|(code, name)| LanguageInfo { code, name })
        .collect();
    to_js(&list)
}

#[derive(Serialize)]
struct LanguageInfo {
    code: &'static str,
    name: &'static str,
}

/// What the page needs to know about a loaded model.
#[derive(Serialize)]
struct ModelInfo {
    device: String,
    /// A software adapter on the CPU (e.g. SwiftShader): works, but slowly.
    cpu_device: bool,
    multilingual: bool,
    languages: Vec<LanguageInfo>,
    encoder_layers: usize,
    decoder_layers: usize,
    d_model: usize,
    vocab_size: usize,
    fingerprint: String,
    load_ms: f64,
}

/// A loaded Whisper model on the browser's WebGPU device.
#[wasm_bindgen(js_name = WhisperModel)]
pub struct WasmWhisper {
    inner: Whisper,
    load_ms: f64,
}

#[wasm_bindgen(js_class = WhisperModel)]
impl WasmWhisper {
    /// Opens the WebGPU device and builds the model from `config.json`, `model.safetensors`
    /// and `tokenizer.json`. `adapter_name` (from the JS `GPUAdapter.info`) names the device
    /// where wgpu's WebGPU backend reports no name.
    pub async fn load(
        config_json: Vec<u8>,
        safetensors: Vec<u8>,
        tokenizer_json: Vec<u8>,
        adapter_name: Option<String>,
    ) -> Result<WasmWhisper, JsError> {
        let started = Instant::now();
        let mut gpu = Gpu::new(GpuOptions::default()).await.map_err(js_error)?;
        if gpu.info.name.is_empty() {
            gpu.info.name = adapter_name.unwrap_or_default();
        }
        let inner = Whisper::from_bytes(gpu, &config_json, safetensors, &tokenizer_json)
            .map_err(js_error)?;
        Ok(WasmWhisper {
            inner,
            load_ms: started.elapsed().as_secs_f64() * 1e3,
        })
    }

    /// `{device, cpuDevice, multilingual, languages, encoderLayers, decoderLayers, dModel,
    /// vocabSize, fingerprint, loadMs}`.
    pub fn info(&self) -> Result<JsValue, JsError> {
        let config = self.inner.config();
        let tokenizer = &self.inner.tokenizer;
        to_js(&ModelInfo {
            device: self.inner.gpu.describe(),
            cpu_device: self.inner.gpu.is_cpu(),
            multilingual: !tokenizer.is_english_only(),
            languages: tokenizer
                .languages
                .iter()
                .map(|(code, _)| LanguageInfo {
                    code,
                    name: language_name(code).unwrap_or(code),
                })
                .collect(),
            encoder_layers: config.encoder_layers,
            decoder_layers: config.decoder_layers,
            d_model: config.d_model,
            vocab_size: config.vocab_size,
            fingerprint: self.inner.fingerprint().to_string(),
            load_ms: self.load_ms,
        })
    }

    /// Adds an expert pack (safetensors bytes; `origin` names it in errors) and returns its
    /// metadata. A pack for a language already loaded replaces it.
    #[wasm_bindgen(js_name = addExpertPack)]
    pub fn add_expert_pack(&mut self, bytes: Vec<u8>, origin: String) -> Result<JsValue, JsError> {
        let meta = self
            .inner
            .add_expert_pack(&bytes, &origin)
            .map_err(js_error)?;
        to_js(&meta)
    }

    /// Unloads the pack for `language`; returns whether one was loaded.
    #[wasm_bindgen(js_name = removeExpert)]
    pub fn remove_expert(&mut self, language: String) -> bool {
        self.inner.remove_expert(&language)
    }

    /// Transcribes 16 kHz mono samples (the first 30 s). `language` `undefined` detects it.
    /// `on_token(id, text)` is called for each generated token with the text it adds.
    /// Resolves to the transcript (the CLI's JSON fields in camelCase).
    pub async fn transcribe(
        &self,
        samples: Vec<f32>,
        language: Option<String>,
        on_token: Option<js_sys::Function>,
    ) -> Result<JsValue, JsError> {
        let options = TranscribeOptions {
            language,
            ..Default::default()
        };
        let tokenizer = &self.inner.tokenizer;
        let mut stream = TextStream::default();
        let mut callback_error: Option<JsValue> = None;
        let mut on_token_id = |id: u32| {
            let text = stream.push(tokenizer, id);
            if let (Some(f), None) = (&on_token, &callback_error) {
                if let Err(e) = f.call2(&JsValue::NULL, &JsValue::from(id), &JsValue::from(text)) {
                    callback_error = Some(e);
                }
            }
        };
        let mut transcript = self
            .inner
            .transcribe(&samples, &options, &mut on_token_id)
            .await
            .map_err(js_error)?;
        if let Some(e) = callback_error {
            return Err(JsError::new(&format!(
                "the onToken callback threw: {}",
                e.as_string()
                    .or_else(|| e.dyn_ref::<js_sys::Error>().map(|e| e.message().into()))
                    .unwrap_or_else(|| format!("{e:?}"))
            )));
        }
        transcript.timings.load_ms = self.load_ms;
        to_js(&transcript)
    }
}
