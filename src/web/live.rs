//! The wasm-bindgen class `LiveSession`: live transcription of pushed 16 kHz audio with the
//! same policy as `whisper-clsr stream` ([`LiveTranscriber`]: Silero VAD utterances,
//! re-decoding every `updateInterval` seconds, LocalAgreement-2 commits). Decoding awaits the
//! GPU, so `push` and `finish` return promises; events are plain JS objects
//! `{type: "partial"|"commit", text, start, end, emittedAt, words: [{word, start, end}],
//! language, expert}` (the decoding's language, and its expert pack or null).

use std::rc::Rc;
use std::sync::Arc;

use wasm_bindgen::prelude::*;

use super::bindings::{js_error, to_js, WasmWhisper};
use crate::stream::{LiveOptions, LiveTranscriber, WhisperRecognizer};
use crate::vad::{SileroWeights, VadOptions, VoiceActivity, SAMPLE_RATE};
use crate::Whisper;

/// Live options as the JS API passes them (camelCase; every field optional).
#[derive(Default, serde::Deserialize)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
struct WebLiveOptions {
    /// Language code; omitted, "" or "auto" detects it on every update.
    language: Option<String>,
    /// Seconds of new audio between two decodings of the buffer (default 1).
    update_interval: Option<f64>,
}

/// One live transcription over a loaded model. While it exists the model cannot be changed
/// (expert packs are added or removed before starting, or after `free()`).
#[wasm_bindgen]
pub struct LiveSession {
    live: LiveTranscriber<VoiceActivity, WhisperRecognizer<Rc<Whisper>>>,
}

#[wasm_bindgen]
impl LiveSession {
    /// Starts a session on `model` with the bytes of `silero_vad.onnx` and `options`
    /// (`{language?, updateInterval?}`).
    #[wasm_bindgen(constructor)]
    pub fn new(
        model: &WasmWhisper,
        vad_onnx: &[u8],
        options: JsValue,
    ) -> Result<LiveSession, JsError> {
        let o: WebLiveOptions = if options.is_undefined() || options.is_null() {
            WebLiveOptions::default()
        } else {
            serde_wasm_bindgen::from_value(options)
                .map_err(|e| JsError::new(&format!("live options: {e}")))?
        };
        let live_options = LiveOptions {
            update_interval: o.update_interval.unwrap_or(1.0),
            ..LiveOptions::default()
        };
        let weights = SileroWeights::from_onnx_bytes(vad_onnx).map_err(|e| {
            JsError::new(&format!(
                "{e} (the voice activity detector needs silero_vad.onnx: see docs/web.md, \"Live transcription\")"
            ))
        })?;
        let detector = VoiceActivity::new(Arc::new(weights), SAMPLE_RATE, VadOptions::default())
            .map_err(js_error)?;
        let language = o.language.filter(|l| !l.is_empty() && l != "auto");
        let recognizer = WhisperRecognizer::new(model.shared(), language);
        let live = LiveTranscriber::new(detector, recognizer, live_options).map_err(js_error)?;
        Ok(LiveSession { live })
    }

    /// Feeds the next block of 16 kHz mono samples; resolves to the events it caused.
    pub async fn push(&mut self, samples: Vec<f32>) -> Result<JsValue, JsError> {
        let events = self.live.push(&samples).await.map_err(js_error)?;
        to_js(&events)
    }

    /// Ends the stream: the open utterance is decoded a last time and committed.
    pub async fn finish(&mut self) -> Result<JsValue, JsError> {
        let events = self.live.finish().await.map_err(js_error)?;
        to_js(&events)
    }

    /// Every committed word so far as text.
    pub fn text(&self) -> String {
        self.live.text()
    }

    /// Seconds of audio pushed so far.
    pub fn position(&self) -> f64 {
        self.live.position()
    }

    /// `[decodings, seconds of audio decoded]`.
    pub fn decodes(&self) -> Vec<f64> {
        let (n, seconds) = self.live.decodes();
        vec![n as f64, seconds]
    }
}
