// The Web Worker that owns the model: all downloads, GPU work and decoding happen here so the
// page never freezes. Requests are {id, op, ...} messages, handled one at a time in arrival
// order; each gets {id, result} or {id, error}, and may first send {id, event} messages
// (download progress, streamed tokens). whisper-clsr.js is the other side.

import init, { LiveSession, WhisperModel, languages, subtitles } from "./pkg/whisper_clsr.js";
import { fetchSet, readLocal } from "./lib/fetch.js";
import { readBody } from "./lib/read-body.js";

const MODEL_FILES = ["config.json", "model.safetensors", "tokenizer.json"];
/** Size caps per file; the weights' and packs' come from the page (maxModelBytes, maxBytes). */
const JSON_MAX_BYTES = 4 * 2 ** 20;
const TOKENIZER_MAX_BYTES = 64 * 2 ** 20;
const fileLimits = (maxModelBytes) => [JSON_MAX_BYTES, maxModelBytes, TOKENIZER_MAX_BYTES];

let model = null;
/** The open live transcription (one at a time), or null. */
let live = null;
/** silero_vad.onnx is about 2.3 MB. */
const VAD_MAX_BYTES = 16 * 2 ** 20;
let crashed = null; // after a panic the wasm instance cannot be trusted any more
// Ids of requests the page cancelled; a running transcription checks at every decoder step.
const cancelled = new Set();

/** Rejects with a readable message if the worker cannot run the model. */
function assertUsable() {
  if (crashed) throw new Error(`the model crashed earlier (${crashed}); load it again`);
}

/** Progress over all three model files, as {stage: "download", ...} events. */
function downloadProgress(progress) {
  const sizes = new Map();
  return (file) => (loaded, total, fromCache) => {
    sizes.set(file, { loaded, total });
    const all = [...sizes.values()];
    const known = all.length === MODEL_FILES.length && all.every((s) => s.total != null);
    progress({
      stage: "download",
      file,
      fromCache,
      loaded: all.reduce((n, s) => n + s.loaded, 0),
      total: known ? all.reduce((n, s) => n + s.total, 0) : null,
    });
  };
}

/**
 * The three model files' bytes, from a URL prefix (see lib/fetch.js: cached as one set) or
 * from File objects. Resolves to {bytes, commit(), evict()}.
 */
async function modelFiles(source, useCache, maxModelBytes, progress) {
  const report = downloadProgress(progress);
  const limits = fileLimits(maxModelBytes);
  const specs = MODEL_FILES.map((f, i) => ({ what: f, maxBytes: limits[i], onBytes: report(f) }));
  if (typeof source === "string") {
    // A directory prefix ending in "/" (see lib/model-url.js)
    const urls = MODEL_FILES.map((f) => new URL(f, source).href);
    return fetchSet(urls, specs, { cache: useCache });
  }
  const byName = new Map(source.map((f) => [f.name, f]));
  const missing = MODEL_FILES.filter((f) => !byName.has(f));
  if (missing.length) {
    throw new Error(`model files: missing ${missing.join(", ")} (a Whisper model is config.json, model.safetensors and tokenizer.json in Hugging Face layout)`);
  }
  const bytes = await Promise.all(MODEL_FILES.map((f, i) => readLocal(byName.get(f), specs[i])));
  return { bytes, commit: async () => {}, evict: async () => {} };
}

/** The optional generation_config.json beside the model files (alignment heads), or null. */
async function generationConfig(source) {
  if (typeof source !== "string") {
    const file = source.find((f) => f.name === "generation_config.json");
    return file ? readLocal(file, { what: "generation_config.json", maxBytes: JSON_MAX_BYTES }) : null;
  }
  const url = new URL("generation_config.json", source).href;
  try {
    const response = await fetch(url, { cache: "no-cache" });
    if (!response.ok || /^text\/html\b/i.test(response.headers.get("content-type") || "")) return null;
    return await readBody(response, { what: "generation_config.json", url, maxBytes: JSON_MAX_BYTES });
  } catch {
    return null;
  }
}

/** A language code as routing uses it ("en" for " en\n", "English" or "EN"), or null. */
function languageCode(text) {
  const wanted = String(text).trim().toLowerCase();
  const match = languages().find(({ code, name }) => code === wanted || name === wanted);
  return match ? match.code : null;
}

/** A readable name for the adapter WebGPU offers (wgpu reports none on the web). */
async function adapterName() {
  const adapter = await navigator.gpu.requestAdapter({ powerPreference: "high-performance" });
  if (!adapter) {
    throw new Error("WebGPU is available but offers no GPU adapter (GPU blocklisted or hardware acceleration disabled?)");
  }
  const info = adapter.info ?? {};
  return info.description || [info.vendor, info.architecture].filter(Boolean).join(" ") || undefined;
}

/** Runs one transcription, `run(onToken, onSegment, onProgress, shouldStop)`, reporting through `progress`. */
async function transcription(progress, id, run) {
  if (!model) throw new Error("no model is loaded");
  const onToken = (token, text) => progress({ stage: "token", id: token, text });
  const onSegment = (segment) => progress({ stage: "segment", segment });
  const onProgress = (done, total) => progress({ stage: "progress", done, total });
  const shouldStop = () => cancelled.has(id);
  try {
    return await run(onToken, onSegment, onProgress, shouldStop);
  } finally {
    cancelled.delete(id);
  }
}

const ops = {
  async load({ model: source, cache, maxModelBytes, poolLimitBytes }, progress) {
    if (!("gpu" in navigator)) {
      throw new Error("this browser has no WebGPU (navigator.gpu is missing in workers); use a recent Chrome, Edge or another browser with WebGPU enabled");
    }
    const adapter = await adapterName();
    // The wasm's URL in the form bundlers rewrite, `new URL("…", import.meta.url)`, spelled
    // out here rather than left to the wasm-bindgen glue's default, so it is ours to keep right.
    await init({ module_or_path: new URL("./pkg/whisper_clsr_bg.wasm", import.meta.url) });
    const files = await modelFiles(source, cache, maxModelBytes, progress);
    const [config, weights, tokenizer] = files.bytes;
    progress({ stage: "init" });
    live?.free();
    live = null;
    model?.free();
    model = null;
    try {
      model = await WhisperModel.load(config, weights, tokenizer, adapter);
    } catch (e) {
      // What does not parse is never kept: the next load downloads it again.
      if (!(e instanceof WebAssembly.RuntimeError)) await files.evict();
      throw e;
    }
    await files.commit();
    if (poolLimitBytes != null) model.setPoolLimit(poolLimitBytes);
    const generation = await generationConfig(source);
    const info = model.info();
    // Word timestamps use the model's alignment heads when generation_config.json has them.
    info.alignmentHeads = generation ? model.setGenerationConfig(generation) : false;
    // English-only models (*.en) have no language tokens; English is what they transcribe.
    if (!info.multilingual && info.languages.length === 0) info.languages = [{ code: "en", name: "english" }];
    return info;
  },

  async loadExpert({ source, name, cache, maxBytes }) {
    if (!model) throw new Error("load a model before its expert packs");
    const spec = { what: `expert pack ${name}`, maxBytes };
    const pack = typeof source === "string" ? await fetchSet([source], [spec], { cache }) : { bytes: [await readLocal(source, spec)] };
    let meta;
    try {
      meta = model.addExpertPack(pack.bytes[0], name);
    } catch (e) {
      if (!(e instanceof WebAssembly.RuntimeError)) await pack.evict?.();
      throw e;
    }
    await pack.commit?.();
    // meta.language is the normalised code that routes (" en\n" and "English" come back as "en").
    return meta;
  },

  async removeExpert({ language }) {
    if (!model) throw new Error("no model is loaded");
    const code = languageCode(language) ?? String(language);
    return { removed: model.removeExpert(code), language: code };
  },

  async transcribe({ samples, options }, progress, id) {
    return transcription(progress, id, (...callbacks) => model.transcribe(samples, options, ...callbacks));
  },

  /**
   * Opens a live session: the voice activity detector's weights (silero_vad.onnx, from a URL,
   * cached like the model, or bytes) and {language, updateInterval}.
   */
  async liveStart({ vad, cache, options }) {
    if (!model) throw new Error("no model is loaded");
    if (live) throw new Error("a live transcription is already running: stop it first");
    const spec = { what: "silero_vad.onnx (voice activity detector)", maxBytes: VAD_MAX_BYTES };
    const weights = typeof vad === "string" ? await fetchSet([vad], [spec], { cache }) : { bytes: [new Uint8Array(vad)] };
    try {
      live = new LiveSession(model, weights.bytes[0], options);
    } catch (e) {
      if (!(e instanceof WebAssembly.RuntimeError)) await weights.evict?.();
      throw e;
    }
    await weights.commit?.();
    return true;
  },

  /** The next 16 kHz block: resolves to the events it caused. */
  async livePush({ samples }) {
    if (!live) throw new Error("no live transcription is running");
    return live.push(samples);
  },

  /** Ends the live session: decodes what is left of the utterance and commits it. */
  async liveFinish() {
    if (!live) throw new Error("no live transcription is running");
    try {
      return await live.finish();
    } finally {
      live.free();
      live = null;
    }
  },

  /** Drops the live session without decoding what is left. */
  async liveCancel() {
    live?.free();
    live = null;
    return true;
  },

  /** A large encoded file, decoded and turned into a spectrogram here, streaming (docs/web.md, "Long audio"). */
  async transcribeBlob({ blob, name, options }, progress, id) {
    return transcription(progress, id, (...callbacks) => model.transcribeBlob(blob, name, options, ...callbacks));
  },

  async subtitles({ segments, format }) {
    return subtitles(segments, format);
  },

  /** Memory figures (docs/web.md, "Memory and test hooks"); `release` frees the pooled GPU buffers first. */
  async stats({ release }) {
    if (!model) throw new Error("no model is loaded");
    if (release) model.releasePooled();
    return model.stats();
  },
};

let queue = Promise.resolve();

/**
 * A wasm trap (Rust panic, out of memory) inside async Rust code surfaces here, not in the
 * request's promise, which then never settles: the page is told, and it terminates this worker.
 */
function reportCrash(error) {
  crashed = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  model = null;
  live = null;
  self.postMessage({ crash: crashed });
}
self.addEventListener("error", (e) => reportCrash(e.error ?? e.message));
self.addEventListener("unhandledrejection", (e) => reportCrash(e.reason));

self.onmessage = ({ data }) => {
  const { id, op, args } = data;
  // Cancelling must not wait in the queue behind the work it cancels.
  if (op === "cancel") {
    cancelled.add(args.target);
    return;
  }
  // TEST ONLY (tests/e2e/reliability.test.mjs): loses this worker's GPU device at once, even
  // mid-transcription, as a driver reset would. The public API never sends it.
  if (op === "debugDestroyDevice") {
    model?.debugDestroyDevice();
    return;
  }
  const send = (event) => self.postMessage({ id, event });
  queue = queue.then(async () => {
    try {
      assertUsable();
      // Own properties only: "constructor" or "__proto__" are not operations.
      if (typeof op !== "string" || !Object.hasOwn(ops, op)) throw new Error(`unknown operation '${op}'`);
      if (cancelled.delete(id)) throw new Error("cancelled");
      self.postMessage({ id, result: await ops[op](args, send, id) });
    } catch (e) {
      // A wasm trap (panic, out of memory) leaves the instance unusable.
      if (e instanceof WebAssembly.RuntimeError) {
        reportCrash(e);
        return;
      }
      self.postMessage({ id, error: e instanceof Error ? e.message : String(e) });
    }
  });
};
