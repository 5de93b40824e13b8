//! The wasm-bindgen class `WhisperModel`: build a model from the bytes of a Hugging Face
//! Whisper directory, add expert packs, transcribe 16 kHz samples with a token callback.
//! Results are plain JS objects with camelCase keys (see [`super::camel`]); failures are JS
//! `Error`s carrying the runtime's message.

use std::rc::Rc;

use serde::Serialize;
use wasm_bindgen::prelude::*;
use web_time::Instant;

use super::camel::camel_case_keys;
use super::stream::TextStream;
use crate::decode::languages::language_name;
use crate::decode::{DecodeOptions, Task};
use crate::gpu::{Gpu, GpuOptions};
use crate::{Event, TranscribeOptions, Whisper};

#[wasm_bindgen(start)]
fn start() {
    // Panics show their message in the console instead of a bare "unreachable".
    console_error_panic_hook::set_once();
}

/// A JS object with camelCase keys for any serializable runtime value.
pub(super) fn to_js<T: Serialize>(value: &T) -> Result<JsValue, JsError> {
    let json = serde_json::to_value(value).map_err(|e| JsError::new(&e.to_string()))?;
    camel_case_keys(json)
        .serialize(&serde_wasm_bindgen::Serializer::json_compatible())
        .map_err(|e| JsError::new(&e.to_string()))
}

pub(super) fn js_error(e: crate::Error) -> JsError {
    JsError::new(&e.to_string())
}

/// The message of a thrown JS value.
fn js_message(e: &JsValue) -> String {
    e.as_string()
        .or_else(|| e.dyn_ref::<js_sys::Error>().map(|e| e.message().into()))
        .unwrap_or_else(|| format!("{e:?}"))
}

/// Transcription options as the JS API passes them (camelCase; every field optional).
#[derive(Default, serde::Deserialize)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
struct WebOptions {
    language: Option<String>,
    translate: bool,
    /// Segment timestamps; default on.
    timestamps: Option<bool>,
    word_timestamps: bool,
    temperature: Option<f32>,
    /// Fallback step up to 1.0; 0 turns fallback off.
    temperature_increment: Option<f32>,
    best_of: Option<usize>,
    beam_size: Option<usize>,
    patience: Option<f32>,
    length_penalty: Option<f32>,
    seed: Option<u64>,
    initial_prompt: Option<String>,
    condition_on_previous_text: Option<bool>,
    compression_ratio_threshold: Option<f32>,
    logprob_threshold: Option<f32>,
    no_speech_threshold: Option<f32>,
    max_tokens: Option<usize>,
    /// Benchmark option (tests/e2e/bench.mjs), not for transcription: decode exactly this many
    /// tokens per window, end-of-text suppressed ([`DecodeOptions::suppress_eot`]), without
    /// timestamps, temperature fallback or the silence checks; the result gets a `benchmark`
    /// object ([`BenchProbe`]).
    benchmark_tokens: Option<usize>,
}

fn web_options(value: JsValue) -> Result<TranscribeOptions, JsError> {
    let o: WebOptions = if value.is_undefined() || value.is_null() {
        WebOptions::default()
    } else {
        serde_wasm_bindgen::from_value(value)
            .map_err(|e| JsError::new(&format!("transcribe options: {e}")))?
    };
    let defaults = DecodeOptions::default();
    if let Some(n) = o.benchmark_tokens {
        if n == 0 {
            return Err(JsError::new("benchmarkTokens must be at least 1"));
        }
        if o.timestamps == Some(true) || o.word_timestamps {
            return Err(JsError::new(
                "benchmarkTokens decodes without timestamps: pass timestamps: false",
            ));
        }
        if o.max_tokens.is_some() {
            return Err(JsError::new(
                "benchmarkTokens sets the number of tokens: leave maxTokens out",
            ));
        }
        if o.beam_size.is_some_and(|b| b > 1) {
            return Err(JsError::new(
                "benchmarkTokens decodes greedily: leave beamSize out",
            ));
        }
    }
    let benchmark = o.benchmark_tokens.is_some();
    let start = o.temperature.unwrap_or(0.0);
    let step = if benchmark {
        0.0
    } else {
        o.temperature_increment.unwrap_or(0.2)
    };
    let temperatures = if step > 0.0 {
        (0..)
            .map(|i| start + step * i as f32)
            .take_while(|t| *t <= 1.0 + 1e-6)
            .collect::<Vec<_>>()
    } else {
        vec![start]
    };
    let thresholds = |given: Option<f32>, default: Option<f32>| {
        if benchmark {
            None
        } else {
            given.or(default)
        }
    };
    Ok(TranscribeOptions {
        language: o.language.filter(|l| !l.is_empty() && l != "auto"),
        task: if o.translate {
            Task::Translate
        } else {
            Task::Transcribe
        },
        decode: DecodeOptions {
            max_new_tokens: o
                .benchmark_tokens
                .or(o.max_tokens)
                .unwrap_or(defaults.max_new_tokens),
            timestamps: !benchmark && o.timestamps.unwrap_or(defaults.timestamps),
            word_timestamps: o.word_timestamps,
            temperatures: if temperatures.is_empty() {
                vec![start]
            } else {
                temperatures
            },
            best_of: o.best_of.unwrap_or(defaults.best_of),
            beam_size: o.beam_size.unwrap_or(defaults.beam_size),
            patience: o.patience.unwrap_or(defaults.patience),
            length_penalty: o.length_penalty,
            seed: o.seed.unwrap_or(defaults.seed),
            initial_prompt: o.initial_prompt,
            condition_on_previous_text: !benchmark
                && o.condition_on_previous_text
                    .unwrap_or(defaults.condition_on_previous_text),
            compression_ratio_threshold: thresholds(
                o.compression_ratio_threshold,
                defaults.compression_ratio_threshold,
            ),
            logprob_threshold: thresholds(o.logprob_threshold, defaults.logprob_threshold),
            no_speech_threshold: thresholds(o.no_speech_threshold, defaults.no_speech_threshold),
            suppress_eot: benchmark,
            ..defaults
        },
    })
}

/// Subtitles of a transcript's segments (`[{start, end, text}]`): `format` is "srt", "vtt"
/// or "tsv".
#[wasm_bindgen]
pub fn subtitles(segments: JsValue, format: String) -> Result<String, JsError> {
    #[derive(serde::Deserialize)]
    struct Cue {
        start: f64,
        end: f64,
        text: String,
    }
    let cues: Vec<Cue> = serde_wasm_bindgen::from_value(segments).map_err(|e| {
        JsError::new(&format!(
            "subtitles: segments must be {{start, end, text}}: {e}"
        ))
    })?;
    let segments: Vec<crate::Segment> = cues
        .into_iter()
        .enumerate()
        .map(|(id, c)| crate::Segment {
            id,
            seek: 0,
            start: c.start,
            end: c.end,
            text: c.text,
            tokens: Vec::new(),
            temperature: 0.0,
            avg_logprob: 0.0,
            compression_ratio: 0.0,
            no_speech_prob: 0.0,
            words: None,
        })
        .collect();
    match format.as_str() {
        "srt" => Ok(crate::subtitles::srt(&segments)),
        "vtt" => Ok(crate::subtitles::vtt(&segments)),
        "tsv" => Ok(crate::subtitles::tsv(&segments)),
        other => Err(JsError::new(&format!(
            "subtitles: unknown format '{other}' (use \"srt\", \"vtt\" or \"tsv\")"
        ))),
    }
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
    /// Shared with the open live sessions (`super::live`), which decode with it.
    pub(super) inner: Rc<Whisper>,
    load_ms: f64,
}

impl WasmWhisper {
    /// The model, for a live session.
    pub(super) fn shared(&self) -> Rc<Whisper> {
        Rc::clone(&self.inner)
    }

    /// The model for a change (expert packs, alignment heads): refused while a live session
    /// holds it, since the session's decodings must not see the model change under them.
    fn exclusive(&mut self) -> Result<&mut Whisper, JsError> {
        Rc::get_mut(&mut self.inner).ok_or_else(|| {
            JsError::new(
                "the model is in use by a live session: stop it before adding or removing expert packs",
            )
        })
    }
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
            inner: Rc::new(inner),
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
            .exclusive()?
            .add_expert_pack(&bytes, &origin)
            .map_err(js_error)?;
        to_js(&meta)
    }

    /// Takes the alignment heads for word timestamps from `generation_config.json` bytes;
    /// returns whether it named any.
    #[wasm_bindgen(js_name = setGenerationConfig)]
    pub fn set_generation_config(&mut self, bytes: Vec<u8>) -> Result<bool, JsError> {
        self.exclusive()?
            .set_generation_config(&bytes)
            .map_err(js_error)
    }

    /// Unloads the pack for `language`; returns whether one was loaded.
    #[wasm_bindgen(js_name = removeExpert)]
    pub fn remove_expert(&mut self, language: String) -> Result<bool, JsError> {
        Ok(self.exclusive()?.remove_expert(&language))
    }

    /// Transcribes 16 kHz mono samples of any length. `options` is a plain object (see
    /// [`WebOptions`]; missing fields take the CLI's defaults). Callbacks, each optional:
    /// `on_token(id, text)` per generated token, `on_segment(segment)` per finished segment,
    /// `on_progress(doneSeconds, totalSeconds)` after each 30 s window, and
    /// `should_stop()` — checked at every decoder step; returning true rejects with
    /// "cancelled". Resolves to the transcript (the CLI's JSON fields in camelCase).
    #[allow(clippy::too_many_arguments)]
    pub async fn transcribe(
        &self,
        samples: Vec<f32>,
        options: JsValue,
        on_token: Option<js_sys::Function>,
        on_segment: Option<js_sys::Function>,
        on_progress: Option<js_sys::Function>,
        should_stop: Option<js_sys::Function>,
    ) -> Result<JsValue, JsError> {
        let options = web_options(options)?;
        let callbacks = Callbacks {
            on_token,
            on_segment,
            on_progress,
            should_stop,
        };
        let mut events = EventSink::new(&self.inner, callbacks, &options);
        let mut on_event = |event: Event<'_>| events.handle(&self.inner, event);
        let transcript = self
            .inner
            .transcribe(&samples, &options, &mut on_event)
            .await
            .map_err(js_error)?;
        self.finish(transcript, events.probe)
    }

    /// Transcribes an encoded audio file (`Blob`/`File`: WAV, FLAC, MP3, OGG Vorbis) of any
    /// length, streamed through the audio front-end piece by piece (docs/web.md, "Long
    /// audio"): the worker holds the spectrogram, never the file or its PCM. `name` names the
    /// file in errors and hints its format by its extension. Options, callbacks and result as
    /// in [`Self::transcribe`]. Only in a worker (it reads with `FileReaderSync`).
    #[wasm_bindgen(js_name = transcribeBlob)]
    #[allow(clippy::too_many_arguments)]
    pub async fn transcribe_blob(
        &self,
        blob: web_sys::Blob,
        name: String,
        options: JsValue,
        on_token: Option<js_sys::Function>,
        on_segment: Option<js_sys::Function>,
        on_progress: Option<js_sys::Function>,
        should_stop: Option<js_sys::Function>,
    ) -> Result<JsValue, JsError> {
        let options = web_options(options)?;
        let started = Instant::now();
        let reader = super::blob_reader::BlobReader::new(blob).map_err(|e| JsError::new(&e))?;
        let len = reader.len();
        let extension = name.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase());
        let streamed = crate::audio::long_mel_from_reader(
            reader,
            len,
            extension.as_deref(),
            self.inner.config().num_mel_bins,
        )
        .map_err(|e| match e {
            crate::Error::Audio(msg) => JsError::new(&format!("audio: {name}: {msg}")),
            other => js_error(other),
        })?;
        let mel_ms = started.elapsed().as_secs_f64() * 1e3;
        let callbacks = Callbacks {
            on_token,
            on_segment,
            on_progress,
            should_stop,
        };
        let mut events = EventSink::new(&self.inner, callbacks, &options);
        let mut on_event = |event: Event<'_>| events.handle(&self.inner, event);
        let transcript = self
            .inner
            .transcribe_mel(&streamed.mel, mel_ms, &options, &mut on_event)
            .await
            .map_err(js_error)?;
        self.finish(transcript, events.probe)
    }

    /// The transcript as JS, with the `benchmark` figures where the option asked for them.
    fn finish(
        &self,
        mut transcript: crate::Transcript,
        probe: Option<BenchProbe>,
    ) -> Result<JsValue, JsError> {
        transcript.timings.load_ms = self.load_ms;
        let value = to_js(&transcript)?;
        if let Some(probe) = probe {
            js_sys::Reflect::set(&value, &"benchmark".into(), &to_js(&probe.figures())?)
                .map_err(|e| JsError::new(&js_message(&e)))?;
        }
        Ok(value)
    }
}

/// What the benchmark option (`benchmarkTokens`) measures beyond the transcript's timings:
/// the tokens decoded, and from the first token's pick to the last one's the time, kernel
/// dispatches and command submissions per token. Each of those tokens is one single-token
/// decoder step and its pick, read back; the prompt, the first pick and the encoder are not
/// counted (they are in `timings`). With overlapped steps (`Decoder::overlapped_steps`) the
/// step after a token is recorded before the token is seen, so between the first token and
/// the last one a step fewer is recorded than tokens are read: dispatches and submissions
/// are counted per step recorded there.
struct BenchProbe {
    overlapped: bool,
    tokens: usize,
    /// (time, dispatches, submissions, bind groups created) at the first token and at the
    /// latest one.
    first: Option<(Instant, u64, u64, u64)>,
    last: Option<(Instant, u64, u64, u64)>,
}

/// [`BenchProbe`]'s figures; the per-token ones are `null` below two tokens.
#[derive(Serialize)]
struct BenchFigures {
    tokens: usize,
    token_ms: Option<f64>,
    dispatches_per_token: Option<f64>,
    submits_per_token: Option<f64>,
    bind_groups_per_token: Option<f64>,
}

impl BenchProbe {
    fn new(whisper: &Whisper) -> BenchProbe {
        BenchProbe {
            overlapped: whisper.model.decoder.overlapped_steps,
            tokens: 0,
            first: None,
            last: None,
        }
    }

    /// Counts a token event (other events pass).
    fn observe(probe: &mut Option<BenchProbe>, gpu: &Gpu, event: &Event<'_>) {
        let (Some(probe), Event::Token(_)) = (probe, event) else {
            return;
        };
        let now = (
            Instant::now(),
            gpu.dispatch_count(),
            gpu.submit_count(),
            gpu.bind_groups_created(),
        );
        probe.tokens += 1;
        if probe.first.is_none() {
            probe.first = Some(now);
        } else {
            probe.last = Some(now);
        }
    }

    fn figures(&self) -> BenchFigures {
        let intervals = self.tokens.saturating_sub(1);
        let recorded = intervals.saturating_sub(usize::from(self.overlapped));
        let span = self.first.zip(self.last);
        let per_step = span.filter(|_| recorded > 0).map(|(first, last)| {
            let steps = recorded as f64;
            (
                (last.1 - first.1) as f64 / steps,
                (last.2 - first.2) as f64 / steps,
                (last.3 - first.3) as f64 / steps,
            )
        });
        BenchFigures {
            tokens: self.tokens,
            token_ms: span.map(|(first, last)| {
                last.0.duration_since(first.0).as_secs_f64() * 1e3 / intervals as f64
            }),
            dispatches_per_token: per_step.map(|p| p.0),
            submits_per_token: per_step.map(|p| p.1),
            bind_groups_per_token: per_step.map(|p| p.2),
        }
    }
}

/// Where one transcription's events go: the page's callbacks (with the text streamed so far)
/// and, with the benchmark option, the [`BenchProbe`].
struct EventSink {
    callbacks: Callbacks,
    stream: TextStream,
    probe: Option<BenchProbe>,
}

impl EventSink {
    fn new(whisper: &Whisper, callbacks: Callbacks, options: &TranscribeOptions) -> EventSink {
        EventSink {
            callbacks,
            stream: TextStream::default(),
            probe: options
                .decode
                .suppress_eot
                .then(|| BenchProbe::new(whisper)),
        }
    }

    fn handle(&mut self, whisper: &Whisper, event: Event<'_>) -> crate::Result<()> {
        BenchProbe::observe(&mut self.probe, &whisper.gpu, &event);
        self.callbacks.dispatch(whisper, &mut self.stream, event)
    }
}

/// The page's callbacks of one transcription (each optional; see `WasmWhisper::transcribe`).
struct Callbacks {
    on_token: Option<js_sys::Function>,
    on_segment: Option<js_sys::Function>,
    on_progress: Option<js_sys::Function>,
    should_stop: Option<js_sys::Function>,
}

impl Callbacks {
    /// Hands one transcription event to its callback; a true `should_stop()` cancels.
    fn dispatch(
        &self,
        whisper: &Whisper,
        stream: &mut TextStream,
        event: Event<'_>,
    ) -> crate::Result<()> {
        if let Some(stop) = &self.should_stop {
            if stop.call0(&JsValue::NULL).is_ok_and(|v| v.is_truthy()) {
                return Err(crate::Error::Cancelled);
            }
        }
        let call = |f: &Option<js_sys::Function>, args: &[JsValue]| -> crate::Result<()> {
            let Some(f) = f else { return Ok(()) };
            let list = args.iter().collect::<js_sys::Array>();
            f.apply(&JsValue::NULL, &list).map(|_| ()).map_err(|e| {
                crate::Error::InvalidInput(format!("a callback threw: {}", js_message(&e)))
            })
        };
        match event {
            Event::Token(id) => {
                let text = stream.push(&whisper.tokenizer, id);
                call(&self.on_token, &[JsValue::from(id), JsValue::from(text)])
            }
            Event::Retry { .. } => {
                *stream = TextStream::default();
                Ok(())
            }
            Event::Segment(segment) => {
                let value = to_js(segment)
                    .map_err(|_| crate::Error::InvalidInput("segment to JS".into()))?;
                call(&self.on_segment, &[value])
            }
            Event::Progress { done, total } => call(
                &self.on_progress,
                &[JsValue::from(done), JsValue::from(total)],
            ),
        }
    }
}
