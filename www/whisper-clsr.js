// whisper-clsr in the browser: Whisper speech recognition on WebGPU through hand-written WGSL
// kernels, compiled from Rust to WebAssembly. All model work runs in a dedicated Web Worker
// (worker.js); this module is the page-side API. Types: whisper-clsr.d.ts.
//
//   import { Whisper } from "./whisper-clsr.js";
//   const asr = await Whisper.load({ model: "models/whisper-base/", onProgress: (p) => … });
//   const r = await asr.transcribe(fileOrSamples, { language: "en", onSegment: (s) => … });
//   r.text; r.segments; r.language; r.timings; r.gateStats;
//   const srt = await asr.subtitles(r, "srt");
//   const live = await asr.stream({ onPartial: (s) => …, onCommit: (s) => … }); … await live.stop();
//   asr.dispose();

import { STREAM_THRESHOLD_BYTES, streamableFormat, toSamples16k } from "./lib/audio.js";
import { modelUrlPrefix } from "./lib/model-url.js";
import { startCapture } from "./lib/live-capture.js";
import { LiveState } from "./lib/live-state.js";

export { toSamples16k } from "./lib/audio.js";

/** Whether this browser exposes WebGPU at all (an adapter may still be refused later). */
export function hasWebGPU() {
  return typeof navigator !== "undefined" && "gpu" in navigator;
}

/** wasm32 memory ends at 4 GiB: larger weights could not be loaded anyway. */
const DEFAULT_MAX_MODEL_BYTES = 2 ** 32;
const DEFAULT_MAX_PACK_BYTES = 2 ** 31;

/** Where stream() looks for the voice activity detector's weights by default (page-relative). */
const DEFAULT_VAD_URL = "models/silero-vad/silero_vad.onnx";

const NO_WEBGPU =
  "this browser has no WebGPU (navigator.gpu is missing); use a recent Chrome or Edge, or enable WebGPU in your browser's settings";

/** A model file source as the worker wants it: a directory URL ending in "/", or Files. */
function modelSource(model) {
  if (typeof model === "string" || model instanceof URL) {
    return modelUrlPrefix(new URL(String(model), document.baseURI).href);
  }
  const files = model instanceof FileList ? [...model] : Array.isArray(model) ? model : null;
  if (!files || !files.every((f) => f instanceof File)) {
    throw new TypeError("`model` must be a URL prefix (e.g. 'models/whisper-base/') or File objects (config.json, model.safetensors, tokenizer.json)");
  }
  return files;
}

/**
 * Starts the model's worker. The default is written as one literal
 * `new Worker(new URL("./worker.js", import.meta.url), ...)` expression on purpose: bundlers
 * (Vite, webpack 5) recognise exactly this form and bundle worker.js (and the wasm it loads)
 * on their own, and unbundled it resolves next to this module. `workerUrl` may be a string, a
 * URL or a TrustedScriptURL (pages whose CSP requires Trusted Types pass one of those).
 */
function startWorker(workerUrl) {
  try {
    if (workerUrl != null) {
      const trusted = typeof TrustedScriptURL !== "undefined" && workerUrl instanceof TrustedScriptURL;
      return new Worker(trusted ? workerUrl : String(workerUrl), { type: "module" });
    }
    return new Worker(new URL("./worker.js", import.meta.url), { type: "module" });
  } catch (e) {
    if (!/TrustedScriptURL/.test(e.message)) throw e;
    throw new TypeError(
      `${e.message} — this page requires Trusted Types: pass workerUrl as a TrustedScriptURL from your policy (see docs/web.md, "Content-Security-Policy")`,
    );
  }
}

/** Calls a page callback; what it throws is reported, never raised in a message handler. */
function callSafely(callback, value) {
  try {
    callback?.(value);
  } catch (e) {
    // A throwing progress callback must not kill the API's message handling.
    console.error("whisper-clsr: a progress callback threw", e);
  }
}

/**
 * Talks to one worker: numbered requests, each with its own promise and event callback.
 * Once the worker dies (a Rust panic or out-of-memory trap inside wasm, a script that did not
 * load) it is terminated at once: the pending calls and every later one reject, and its GPU
 * device goes with it.
 */
class WorkerClient {
  constructor(worker) {
    this.worker = worker;
    this.pending = new Map();
    this.nextId = 1;
    /** Why this client cannot take calls any more (disposed or crashed), or null. */
    this.closed = null;
    this.worker.onmessage = ({ data }) => this.receive(data);
    this.worker.onerror = (e) => {
      e.preventDefault?.();
      const why =
        e.message ||
        "the worker script failed to load (with Vite's dev server, exclude whisper-clsr from optimizeDeps; in this repository, was scripts/build-web.sh run, so that pkg/ exists?)";
      this.close(new Error(`whisper-clsr worker stopped: ${why}; load the model again`));
    };
    this.worker.onmessageerror = () => this.failAll(new Error("whisper-clsr worker: a message could not be read"));
  }

  receive({ id, event, result, error, crash }) {
    if (crash !== undefined) {
      this.close(new Error(`whisper-clsr worker stopped: ${crash}; load the model again`));
      return;
    }
    const call = this.pending.get(id);
    if (!call) return;
    if (event !== undefined) {
      callSafely(call.onEvent, event);
      return;
    }
    this.pending.delete(id);
    if (error !== undefined) call.reject(new Error(error));
    else call.resolve(result);
  }

  /** Sends a request; the returned promise carries its `id` (for cancel). */
  call(op, args = {}, { transfer = [], onEvent } = {}) {
    if (this.closed) return Promise.reject(this.closed);
    const id = this.nextId++;
    const promise = new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject, onEvent });
      this.worker.postMessage({ id, op, args }, transfer);
    });
    promise.id = id;
    return promise;
  }

  /** Asks the worker to stop request `id` (it rejects within one decoder step). */
  cancel(id) {
    this.worker?.postMessage({ id: 0, op: "cancel", args: { target: id } });
  }

  failAll(error) {
    const calls = [...this.pending.values()];
    this.pending.clear();
    for (const call of calls) call.reject(error);
  }

  /** Stops the worker now (whatever it is doing) and rejects pending and later calls. */
  close(error) {
    this.worker?.terminate();
    this.worker = null;
    this.closed ??= error;
    this.failAll(this.closed);
  }

  terminate() {
    this.close(new Error("this Whisper instance was disposed"));
  }
}

export class Whisper {
  #client;

  /** Use Whisper.load(). */
  constructor(client, info) {
    this.#client = client;
    /** The loaded model: device, multilingual, languages, layer counts, loadMs, ... */
    this.info = info;
    /** Metadata of the expert packs loaded so far, by language. */
    this.experts = new Map();
  }

  /**
   * Downloads (or reads) a Whisper model in Hugging Face layout and builds it on the GPU.
   * @param {object} options
   * @param {string|URL|File[]|FileList} options.model URL prefix of a directory with
   *   config.json, model.safetensors and tokenizer.json (same-origin, or a Hugging Face
   *   `.../resolve/main/` URL; a repository page URL such as
   *   `https://huggingface.co/openai/whisper-base` is turned into that), or those three
   *   files as File objects.
   * @param {(p: object) => void} [options.onProgress] {stage: "download", file, loaded, total,
   *   fromCache} while downloading (bytes over all files; total null until known), then
   *   {stage: "init"} while the weights go to the GPU.
   * @param {boolean} [options.cache=true] keep downloaded files in Cache Storage.
   * @param {string|URL|TrustedScriptURL} [options.workerUrl] where worker.js is (default: next
   *   to this module).
   * @param {number} [options.maxModelBytes=4 GiB] refuse model.safetensors above this size
   *   (config.json and tokenizer.json have fixed caps of 4 and 64 MiB).
   * @param {number} [options.poolLimitBytes=1 GiB] idle GPU buffers kept for the next
   *   call's activations (0 frees them after every use: less memory, more allocations).
   */
  static async load({ model, onProgress, cache = true, workerUrl, maxModelBytes = DEFAULT_MAX_MODEL_BYTES, poolLimitBytes } = {}) {
    if (!hasWebGPU()) throw new Error(NO_WEBGPU);
    if (model == null) throw new TypeError("Whisper.load: `model` is required");
    if (poolLimitBytes != null && !(Number.isSafeInteger(poolLimitBytes) && poolLimitBytes >= 0)) {
      throw new RangeError(`Whisper.load: poolLimitBytes ${poolLimitBytes}: use a whole number of bytes, 0 or more`);
    }
    const source = modelSource(model);
    const client = new WorkerClient(startWorker(workerUrl));
    try {
      const info = await client.call("load", { model: source, cache, maxModelBytes, poolLimitBytes }, { onEvent: onProgress });
      return new Whisper(client, info);
    } catch (e) {
      client.terminate();
      throw e;
    }
  }

  /**
   * Adds a language expert pack (URL, File/Blob or ArrayBuffer). Packs for another base model
   * are refused. Resolves to the pack's metadata ({language, encoderLayers, ...}); `language`
   * is the normalised code routing uses ("en" for a pack that says " en" or "English").
   * `maxBytes` (default 2 GiB) refuses larger packs.
   */
  async loadExpert(source, { cache = true, maxBytes = DEFAULT_MAX_PACK_BYTES } = {}) {
    let src = source;
    let name = source?.name ?? "pack";
    if (typeof source === "string" || source instanceof URL) {
      src = new URL(String(source), document.baseURI).href;
      name = src;
    }
    const meta = await this.#client.call("loadExpert", { source: src, name, cache, maxBytes });
    this.experts.set(meta.language, meta);
    return meta;
  }

  /** Unloads the expert pack for `language` (a code such as "ca", or a name such as "Catalan"). */
  async removeExpert(language) {
    const { removed, language: code } = await this.#client.call("removeExpert", { language });
    this.experts.delete(code);
    return removed;
  }

  /**
   * Transcribes `audio` of any length: a Float32Array of 16 kHz mono samples, or an
   * AudioBuffer, Blob or File (decoded and resampled in the page; a WAV, FLAC, MP3 or Ogg
   * Vorbis file of 16 MB or more is decoded in the worker instead, streaming).
   * @param {object} [options]
   * @param {string} [options.language] code such as "en"; omitted, "" or "auto" detects it
   *   (on the first 30 s).
   * @param {false|"segment"|"word"} [options.timestamps="segment"] segment times (false: one
   *   segment per 30 s window), or also per-word times in each segment's `words`.
   * @param {(t: {id: number, text: string}) => void} [options.onToken] each generated token
   *   as it is decoded, with the text it adds (a retry at a higher temperature starts over).
   * @param {(s: object) => void} [options.onSegment] each segment once it is final.
   * @param {(p: {done: number, total: number}) => void} [options.onProgress] seconds of audio
   *   done after each 30 s window.
   * @param {number} [options.temperature=0] first decoding temperature (0: greedy).
   * @param {number} [options.temperatureIncrement=0.2] fallback step up to 1.0 (0: none).
   * @param {number} [options.bestOf=5] candidates sampled per window above temperature 0.
   * @param {number} [options.beamSize=1] beam search with this many hypotheses at
   *   temperature 0 (1: greedy).
   * @param {number} [options.patience=1] beam search waits for round(beamSize × patience)
   *   finished sequences.
   * @param {string} [options.initialPrompt] text as if said before the audio.
   * @param {boolean} [options.conditionOnPreviousText=true] previous text as prompt.
   * @param {number} [options.seed=0] sampling seed (same seed, same transcript).
   * @param {boolean} [options.translate=false] translate to English.
   * @param {number} [options.benchmarkTokens] benchmark option, not for transcription
   *   (tests/e2e/bench.mjs): exactly this many tokens per window, end-of-text suppressed,
   *   greedy, without timestamps, fallback or silence checks; adds `benchmark` to the result.
   * @param {AbortSignal} [options.signal] aborting rejects within one decoder step with an
   *   AbortError; the instance stays usable.
   * Resolves to {text, language, languageDetected, tokens, duration, segments: [{id, seek,
   * start, end, text, tokens, temperature, avgLogprob, compressionRatio, noSpeechProb,
   * words?: [{word, start, end, probability}]}], expert, gateStats, timings: {loadMs, melMs,
   * encoderMs, decoderMs, tokensPerS, rtf}, device}; with benchmarkTokens also benchmark:
   * {tokens, tokenMs, dispatchesPerToken, submitsPerToken, bindGroupsPerToken}.
   */
  async transcribe(audio, options = {}) {
    const { language, timestamps: timestampsOption, onToken, onSegment, onProgress, signal, ...rest } = options;
    // Default "segment"; the benchmark option decodes without timestamps.
    const timestamps = timestampsOption !== undefined ? timestampsOption : rest.benchmarkTokens != null ? false : "segment";
    if (rest.beamSize != null && !(Number.isInteger(rest.beamSize) && rest.beamSize >= 1)) {
      throw new RangeError(`beamSize ${rest.beamSize}: use a whole number ≥ 1 (1 decodes greedily)`);
    }
    if (rest.benchmarkTokens != null && !(Number.isInteger(rest.benchmarkTokens) && rest.benchmarkTokens >= 1)) {
      throw new RangeError(`benchmarkTokens ${rest.benchmarkTokens}: use a whole number ≥ 1`);
    }
    if (![false, "segment", "word", true].includes(timestamps)) {
      throw new TypeError('timestamps must be false, "segment" or "word"');
    }
    const known = ["temperature", "temperatureIncrement", "bestOf", "beamSize", "patience", "lengthPenalty", "seed", "initialPrompt", "conditionOnPreviousText", "compressionRatioThreshold", "logprobThreshold", "noSpeechThreshold", "maxTokens", "translate", "benchmarkTokens"];
    const unknown = Object.keys(rest).filter((k) => !known.includes(k));
    if (unknown.length) throw new TypeError(`transcribe: unknown option(s) ${unknown.join(", ")}`);
    const aborted = () => signal?.reason ?? new DOMException("the transcription was aborted", "AbortError");
    if (signal?.aborted) throw aborted();
    // A large WAV/FLAC/MP3/OGG file goes to the worker as it is and is decoded there piece by
    // piece (docs/web.md, "Long audio"); anything else is decoded here.
    const format = audio instanceof Blob && audio.size >= STREAM_THRESHOLD_BYTES ? await streamableFormat(audio) : null;
    const samples = format ? null : await toSamples16k(audio);
    if (signal?.aborted) throw aborted();
    const lang = language && language !== "auto" ? language : undefined;
    let callbackError = null;
    const guard = (f, value) => {
      if (!f || callbackError) return;
      try {
        f(value);
      } catch (err) {
        callbackError = err;
      }
    };
    const onEvent = (e) => {
      if (e.stage === "token") guard(onToken, { id: e.id, text: e.text });
      else if (e.stage === "segment") guard(onSegment, e.segment);
      else if (e.stage === "progress") guard(onProgress, { done: e.done, total: e.total });
    };
    const workerOptions = { ...rest, language: lang, timestamps: timestamps !== false, wordTimestamps: timestamps === "word" };
    const call = format
      ? this.#client.call("transcribeBlob", { blob: audio, name: audio.name || `audio.${format}`, options: workerOptions }, { onEvent })
      : this.#client.call("transcribe", { samples, options: workerOptions }, { transfer: [samples.buffer], onEvent });
    const onAbort = () => this.#client.cancel(call.id);
    signal?.addEventListener("abort", onAbort, { once: true });
    try {
      const result = await call;
      if (callbackError) throw callbackError;
      return result;
    } catch (e) {
      if (signal?.aborted) throw aborted();
      throw e;
    } finally {
      signal?.removeEventListener("abort", onAbort);
    }
  }

  /**
   * Live transcription of the microphone (or `mediaStream`): an AudioWorklet resamples it to
   * 16 kHz and the worker runs the live policy of `whisper-clsr stream` (docs/streaming.md):
   * Silero VAD utterances, the uncommitted buffer decoded again every `updateInterval` s,
   * words committed once two decodings agree, the rest tentative; at the end of an utterance
   * everything is committed. Expert packs and language detection work as in transcribe().
   * @param {object} [options]
   * @param {string} [options.language] code such as "en"; omitted or "auto" detects it on
   *   every update.
   * @param {(s: LiveSnapshot) => void} [options.onPartial] the tentative text changed.
   * @param {(s: LiveSnapshot & {event: object}) => void} [options.onCommit] words were
   *   committed (`event`: {text, start, end, words, language, expert}).
   * @param {AbortSignal} [options.signal] aborting stops at once, dropping what was not
   *   committed; `done` rejects with an AbortError.
   * @param {MediaStream} [options.mediaStream] audio to transcribe instead of the microphone
   *   (left running when the session stops).
   * @param {string|URL|ArrayBuffer|Uint8Array} [options.vad] silero_vad.onnx: a URL (default
   *   "models/silero-vad/silero_vad.onnx" next to the page; cached like the model) or its bytes.
   * @param {number} [options.updateInterval=1] seconds of audio between two decodings.
   * @param {boolean} [options.catchUp=true] audio that arrived while a decoding ran is fed
   *   at once, so the next decoding sees the newest audio (real time on a slow device).
   *   false feeds every 0.1 s block on its own, as if decodings took no time: the same
   *   decodings whatever the device's speed (tests), at the cost of a growing delay.
   * Resolves, once capturing, to {stop(), done, snapshot()}: stop() ends the capture, decodes
   * what is left and resolves `done` to the final {committed, tentative: "", segments,
   * latency, language, expert}. LiveSnapshot is {committed, tentative, segments, latency,
   * language, expert}: committed text (only grows), tentative text, one segment per commit,
   * the seconds from the end of the last committed word's audio to its commit, and the
   * latest decoding's language and expert pack (null for the base model).
   */
  async stream(options = {}) {
    const { language, onPartial, onCommit, signal, mediaStream, vad = DEFAULT_VAD_URL, updateInterval, catchUp = true, cache = true, ...rest } = options;
    const unknown = Object.keys(rest);
    if (unknown.length) throw new TypeError(`stream: unknown option(s) ${unknown.join(", ")}`);
    if (updateInterval != null && !(Number.isFinite(updateInterval) && updateInterval >= 0.1 && updateInterval <= 30)) {
      throw new RangeError(`updateInterval ${updateInterval}: use seconds between 0.1 and 30`);
    }
    let vadSource;
    if (typeof vad === "string" || vad instanceof URL) vadSource = new URL(String(vad), document.baseURI).href;
    else if (vad instanceof ArrayBuffer || ArrayBuffer.isView(vad)) vadSource = new Uint8Array(vad.buffer ?? vad, vad.byteOffset ?? 0, vad.byteLength).slice();
    else throw new TypeError("`vad` must be the URL of silero_vad.onnx or its bytes");
    const aborted = () => signal?.reason ?? new DOMException("the live transcription was aborted", "AbortError");
    if (signal?.aborted) throw aborted();
    const lang = language && language !== "auto" ? language : undefined;
    await this.#client.call("liveStart", { vad: vadSource, cache, options: { language: lang, updateInterval } });

    const client = this.#client;
    const state = new LiveState();
    const pending = [];
    let captured = 0; // samples
    let stopping = false;
    let failure = null;
    let wake = null;
    const notify = () => {
      wake?.();
      wake = null;
    };
    const deliver = (events) => {
      const hadTentative = state.tentative;
      const commits = state.apply(events, captured / 16000);
      try {
        for (const event of commits) onCommit?.({ ...state.snapshot(), event });
        if (state.tentative !== hadTentative || (commits.length && !onCommit)) onPartial?.(state.snapshot());
      } catch (e) {
        failure ??= e;
      }
    };
    let capture;
    try {
      capture = await startCapture({
        mediaStream,
        onBlock: (block) => {
          if (stopping) return;
          captured += block.length;
          pending.push(block);
          notify();
        },
      });
    } catch (e) {
      await client.call("liveCancel").catch(() => {});
      throw e;
    }
    const onAbort = () => {
      failure ??= aborted();
      notify();
    };
    signal?.addEventListener("abort", onAbort, { once: true });

    const run = async () => {
      try {
        for (;;) {
          if (failure) throw failure;
          if (pending.length) {
            const blocks = catchUp ? pending.splice(0) : [pending.shift()];
            const samples = new Float32Array(blocks.reduce((n, b) => n + b.length, 0));
            blocks.reduce((at, b) => (samples.set(b, at), at + b.length), 0);
            deliver(await client.call("livePush", { samples }, { transfer: [samples.buffer] }));
            continue;
          }
          if (stopping) break;
          await new Promise((resolve) => (wake = resolve));
        }
        deliver(await client.call("liveFinish"));
        if (failure) throw failure;
        return state.snapshot();
      } catch (e) {
        await client.call("liveCancel").catch(() => {});
        throw e;
      } finally {
        capture.stop();
        signal?.removeEventListener("abort", onAbort);
      }
    };
    const done = run();
    done.catch(() => {}); // reported through `done` and stop(); never unhandled
    return {
      done,
      snapshot: () => ({ ...state.snapshot(), position: captured / 16000 }),
      stop() {
        if (!stopping) {
          stopping = true;
          capture.stop();
          notify();
        }
        return done;
      },
    };
  }

  /**
   * Subtitles of a transcript (or its segments): "srt", "vtt" or "tsv" text.
   * @param {{segments: object[]}|object[]} transcript
   * @param {"srt"|"vtt"|"tsv"} [format="srt"]
   */
  async subtitles(transcript, format = "srt") {
    const segments = (Array.isArray(transcript) ? transcript : transcript.segments).map(({ start, end, text }) => ({ start, end, text }));
    return this.#client.call("subtitles", { segments, format });
  }

  /**
   * Memory figures of the worker: {wasmBytes (its wasm memory, which only grows),
   * pooledGpuBytes (idle GPU buffers kept for reuse, at most poolLimitBytes),
   * activationGpuBytes (GPU buffers for activations in use or pooled),
   * peakActivationGpuBytes (the most activationGpuBytes has been since the load),
   * weightGpuBytes (weight buffers: the model's, plus expert packs), poolLimitBytes}.
   * `release: true` frees the pooled GPU buffers first.
   */
  async stats({ release = false } = {}) {
    return this.#client.call("stats", { release });
  }

  /**
   * Stops the worker at once, even mid-transcription: its wasm memory and GPU device go with
   * it, and pending and later calls reject.
   */
  dispose() {
    this.#client.terminate();
  }
}
