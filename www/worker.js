// The Web Worker that owns the model: all downloads, GPU work and decoding happen here so the
// page never freezes. Requests are {id, op, ...} messages, handled one at a time in arrival
// order; each gets {id, result} or {id, error}, and may first send {id, event} messages
// (download progress, streamed tokens). whisper-clsr.js is the other side.

import init, { WhisperModel, subtitles } from "./pkg/whisper_clsr.js";
import { readSource } from "./lib/fetch.js";

const MODEL_FILES = ["config.json", "model.safetensors", "tokenizer.json"];

let model = null;
let crashed = null; // after a panic the wasm instance cannot be trusted any more
// Ids of requests the page cancelled; a running transcription checks at every decoder step.
const cancelled = new Set();

/** Rejects with a readable message if the worker cannot run the model. */
function assertUsable() {
  if (crashed) throw new Error(`the model crashed earlier (${crashed}); load it again`);
}

/** The three model files' bytes, from a URL prefix or from File objects. */
async function modelBytes(source, useCache, progress) {
  const sizes = new Map();
  const report = (file, loaded, total, fromCache) => {
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
  let sources;
  if (typeof source === "string") {
    // A directory prefix ending in "/" (see lib/model-url.js)
    sources = MODEL_FILES.map((f) => new URL(f, source).href);
  } else {
    const byName = new Map(source.map((f) => [f.name, f]));
    const missing = MODEL_FILES.filter((f) => !byName.has(f));
    if (missing.length) {
      throw new Error(`model files: missing ${missing.join(", ")} (a Whisper model is config.json, model.safetensors and tokenizer.json in Hugging Face layout)`);
    }
    sources = MODEL_FILES.map((f) => byName.get(f));
  }
  return Promise.all(
    sources.map((src, i) =>
      readSource(src, {
        what: MODEL_FILES[i],
        cache: useCache,
        onBytes: (loaded, total, fromCache) => report(MODEL_FILES[i], loaded, total, fromCache),
      }),
    ),
  );
}

/** The optional generation_config.json beside the model files (alignment heads), or null. */
async function generationConfig(source) {
  if (typeof source !== "string") {
    const file = source.find((f) => f.name === "generation_config.json");
    return file ? new Uint8Array(await file.arrayBuffer()) : null;
  }
  try {
    const response = await fetch(new URL("generation_config.json", source).href);
    return response.ok ? new Uint8Array(await response.arrayBuffer()) : null;
  } catch {
    return null;
  }
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

const ops = {
  async load({ model: source, cache }, progress) {
    if (!("gpu" in navigator)) {
      throw new Error("this browser has no WebGPU (navigator.gpu is missing in workers); use a recent Chrome, Edge or another browser with WebGPU enabled");
    }
    const adapter = await adapterName();
    // The wasm's URL in the form bundlers rewrite, `new URL("…", import.meta.url)`, spelled
    // out here rather than left to the wasm-bindgen glue's default, so it is ours to keep right.
    await init({ module_or_path: new URL("./pkg/whisper_clsr_bg.wasm", import.meta.url) });
    const [config, weights, tokenizer] = await modelBytes(source, cache, progress);
    progress({ stage: "init" });
    model?.free();
    model = null;
    model = await WhisperModel.load(config, weights, tokenizer, adapter);
    const generation = await generationConfig(source);
    const info = model.info();
    // Word timestamps use the model's alignment heads when generation_config.json has them.
    info.alignmentHeads = generation ? model.setGenerationConfig(generation) : false;
    // English-only models (*.en) have no language tokens; English is what they transcribe.
    if (!info.multilingual && info.languages.length === 0) info.languages = [{ code: "en", name: "english" }];
    return info;
  },

  async loadExpert({ source, name, cache }) {
    if (!model) throw new Error("load a model before its expert packs");
    const bytes = await readSource(source, { what: `expert pack ${name}`, cache });
    return model.addExpertPack(bytes, name);
  },

  async removeExpert({ language }) {
    if (!model) throw new Error("no model is loaded");
    return model.removeExpert(language);
  },

  async transcribe({ samples, options }, progress, id) {
    if (!model) throw new Error("no model is loaded");
    const onToken = (token, text) => progress({ stage: "token", id: token, text });
    const onSegment = (segment) => progress({ stage: "segment", segment });
    const onProgress = (done, total) => progress({ stage: "progress", done, total });
    const shouldStop = () => cancelled.has(id);
    try {
      return await model.transcribe(samples, options, onToken, onSegment, onProgress, shouldStop);
    } finally {
      cancelled.delete(id);
    }
  },

  async subtitles({ segments, format }) {
    return subtitles(segments, format);
  },

  async dispose() {
    model?.free();
    model = null;
    return null;
  },
};

let queue = Promise.resolve();

self.onmessage = ({ data }) => {
  const { id, op, args } = data;
  // Cancelling must not wait in the queue behind the work it cancels.
  if (op === "cancel") {
    cancelled.add(args.target);
    return;
  }
  const send = (event) => self.postMessage({ id, event });
  queue = queue.then(async () => {
    try {
      assertUsable();
      if (!Object.hasOwn(ops, op)) throw new Error(`unknown operation '${op}'`);
      if (cancelled.delete(id)) throw new Error("cancelled");
      self.postMessage({ id, result: await ops[op](args, send, id) });
    } catch (e) {
      // A wasm trap (panic, out of memory) leaves the instance unusable.
      if (e instanceof WebAssembly.RuntimeError) {
        crashed = e.message;
        model = null;
      }
      self.postMessage({ id, error: e instanceof Error ? e.message : String(e) });
    }
  });
};
