// The demo page: wires the controls in index.html to the whisper-clsr JS API.

import { Whisper, hasWebGPU, toSamples16k } from "../whisper-clsr.js";
import { STREAM_THRESHOLD_BYTES, streamableFormat } from "../lib/audio.js";
import { Recorder } from "./recorder.js";
import { LiveMode } from "./live.js";
import { renderHeatmap } from "./heatmap.js";
import { clock, download, followPlayer, renderSegments } from "./segments.js";

const $ = (id) => document.getElementById(id);
const ui = {
  modelChoice: $("model-choice"),
  modelUrl: $("model-url"),
  modelFiles: $("model-files"),
  loadModel: $("load-model"),
  progress: $("load-progress"),
  status: $("status"),
  language: $("language"),
  expertFiles: $("expert-files"),
  expertUrl: $("expert-url"),
  expertAdd: $("expert-add"),
  expertList: $("expert-list"),
  dropZone: $("drop-zone"),
  audioFile: $("audio-file"),
  record: $("record"),
  recordStatus: $("record-status"),
  clip: $("clip"),
  error: $("error"),
  live: $("live"),
  transcript: $("transcript"),
  timings: $("timings"),
  heatmap: $("heatmap"),
  segmentsPanel: $("segments-panel"),
  segments: $("segments"),
  downloadSrt: $("download-srt"),
  downloadVtt: $("download-vtt"),
};

/** The model being loaded or loaded: a promise, so audio chosen early waits for it. */
let whisper = null;

/** body[data-state]: confirm | loading | ready | transcribing | live | done | error (tests wait on it). */
function setState(state) {
  document.body.dataset.state = state;
}

function showError(e) {
  ui.error.textContent = e instanceof Error ? e.message : String(e);
  ui.error.hidden = false;
  setState("error");
}

function clearError() {
  ui.error.hidden = true;
  ui.error.textContent = "";
}

const mb = (bytes) => `${(bytes / 1e6).toFixed(1)} MB`;

function onProgress(p) {
  if (p.stage === "download") {
    const of = p.total ? ` / ${mb(p.total)}` : "";
    ui.status.textContent = `${p.fromCache ? "Reading cached" : "Downloading"} model… ${mb(p.loaded)}${of}`;
    if (p.total) ui.progress.value = p.loaded / p.total;
  } else if (p.stage === "init") {
    ui.status.textContent = "Uploading weights to the GPU…";
    ui.progress.removeAttribute("value"); // indeterminate
  }
}

function modelSource() {
  const choice = ui.modelChoice.value;
  if (choice === "url") {
    if (!ui.modelUrl.value) throw new Error("enter the URL of a model directory first");
    return ui.modelUrl.value;
  }
  if (choice === "files") {
    if (ui.modelFiles.files.length === 0) throw new Error("choose config.json, model.safetensors and tokenizer.json first");
    return ui.modelFiles.files;
  }
  return choice;
}

function fillLanguages(info) {
  const keep = ui.language.value;
  ui.language.replaceChildren();
  if (info.multilingual) ui.language.append(new Option("auto-detect", "auto"));
  for (const { code, name } of info.languages) {
    ui.language.append(new Option(`${name[0].toUpperCase()}${name.slice(1)} (${code})`, code));
  }
  if ([...ui.language.options].some((o) => o.value === keep)) ui.language.value = keep;
}

async function loadModel() {
  clearError();
  setState("loading");
  const previous = whisper;
  whisper = null;
  (await previous?.catch(() => null))?.dispose();
  ui.expertList.replaceChildren();
  ui.progress.value = 0;
  const started = performance.now();
  whisper = (async () => Whisper.load({ model: modelSource(), onProgress }))();
  try {
    const asr = await whisper;
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    ui.progress.value = 1;
    ui.status.textContent = `Ready in ${seconds} s on ${asr.info.device}`;
    $("cpu-device").hidden = !asr.info.cpuDevice;
    fillLanguages(asr.info);
    setState("ready");
  } catch (e) {
    ui.status.textContent = "No model loaded";
    ui.progress.value = 0;
    showError(e);
  }
}

async function addExperts(sources) {
  clearError();
  try {
    const asr = await loadedModel();
    for (const source of sources) {
      const meta = await asr.loadExpert(source);
      // A pack for a language already loaded replaces it.
      ui.expertList.querySelector(`li[data-language="${CSS.escape(meta.language)}"]`)?.remove();
      const item = document.createElement("li");
      item.dataset.language = meta.language;
      const from = typeof source === "string" ? source.split("/").at(-1) : source.name;
      item.textContent = `${meta.language}: ${meta.encoderLayers.length} encoder + ${meta.decoderLayers.length} decoder layers (${from})`;
      ui.expertList.append(item);
      if ([...ui.language.options].some((o) => o.value === meta.language)) ui.language.value = meta.language;
    }
  } catch (e) {
    showError(e);
  }
}

function showTimings(r) {
  const t = r.timings;
  const name = [...ui.language.options].find((o) => o.value === r.language)?.text ?? r.language;
  const expert = r.expert ? ` · through the ${r.expert} expert pack` : " · base model (no expert pack)";
  $("t-language").textContent = `${name}${r.languageDetected ? ", detected" : ""}${expert}`;
  $("t-encoder").textContent = `${t.encoderMs.toFixed(0)} ms`;
  $("t-decoder").textContent = `${t.decoderMs.toFixed(0)} ms, ${r.tokens.length} tokens, ${t.tokensPerS.toFixed(1)} tokens/s`;
  $("t-rtf").textContent = `${t.rtf.toFixed(2)}${t.rtf < 1 ? " (faster than real time)" : ""}`;
  $("t-device").textContent = r.device;
  ui.timings.hidden = false;
}

/** The loaded model, or an error saying why there is none (the load's own error included). */
async function loadedModel() {
  if (!whisper) throw new Error("load a model first");
  try {
    return await whisper;
  } catch (e) {
    throw new Error(`no model is loaded (${e.message}); choose a model and load it again`);
  }
}

/** Lets the visitor play back what is being transcribed (a recording, a dropped file). */
function showClip(audio) {
  if (ui.clip.src) URL.revokeObjectURL(ui.clip.src);
  ui.clip.src = URL.createObjectURL(audio);
  ui.clip.hidden = false;
}

/** The last finished transcript, for the subtitle downloads. */
let lastTranscript = null;

followPlayer(ui.segments, ui.clip);
for (const [button, format, type] of [
  [ui.downloadSrt, "srt", "application/x-subrip"],
  [ui.downloadVtt, "vtt", "text/vtt"],
]) {
  button.addEventListener("click", async () => {
    if (!lastTranscript) return;
    try {
      const asr = await loadedModel();
      download(await asr.subtitles(lastTranscript, format), `transcript.${format}`, type);
    } catch (e) {
      showError(e);
    }
  });
}

async function transcribe(audio) {
  clearError();
  let asr = null;
  ui.live.textContent = "";
  ui.transcript.textContent = "";
  ui.timings.hidden = true;
  ui.heatmap.hidden = true;
  ui.segmentsPanel.hidden = true;
  ui.segments.replaceChildren();
  lastTranscript = null;
  try {
    // Decoding first reports a bad file at once, even while the model still loads; a large
    // WAV/FLAC/MP3/OGG file goes to the worker whole and is decoded there, streaming.
    const streamed = audio instanceof Blob && audio.size >= STREAM_THRESHOLD_BYTES && (await streamableFormat(audio));
    const samples = streamed ? audio : await toSamples16k(audio);
    if (audio instanceof Blob) showClip(audio);
    asr = await loadedModel();
    setState("transcribing");
    ui.status.textContent = "Transcribing…";
    const shown = [];
    const r = await asr.transcribe(samples, {
      language: ui.language.value,
      timestamps: "word",
      onToken: ({ text }) => {
        ui.live.textContent += text;
      },
      onSegment: (segment) => {
        shown.push(segment);
        ui.live.textContent = "";
        renderSegments(ui.segments, shown, ui.clip);
        ui.segmentsPanel.hidden = false;
      },
      onProgress: ({ done, total }) => {
        ui.status.textContent = `Transcribing… ${clock(done)} of ${clock(total)}`;
      },
    });
    ui.live.textContent = "";
    ui.transcript.textContent = r.text || "(no speech found)";
    lastTranscript = r;
    renderSegments(ui.segments, r.segments, ui.clip);
    ui.segmentsPanel.hidden = r.segments.length === 0;
    showTimings(r);
    if (r.gateStats) {
      $("heatmap-lang").textContent = r.expert;
      renderHeatmap($("heatmap-rows"), r.gateStats);
      ui.heatmap.hidden = false;
    }
    ui.status.textContent = `Done on ${asr.info.device}`;
    setState("done");
  } catch (e) {
    // The model is still there after a failed transcription; otherwise the status keeps
    // saying how its load is going or why it failed.
    if (asr) ui.status.textContent = `Ready on ${asr.info.device}`;
    showError(e);
  }
}

new LiveMode(
  { button: $("live-button"), status: $("live-status"), committed: $("live-committed"), tentative: $("live-tentative"), latency: $("live-latency") },
  {
    model: loadedModel,
    language: () => ui.language.value,
    onStart: () => {
      clearError();
      ui.transcript.textContent = "";
      ui.live.textContent = "";
      setState("live");
    },
    onDone: () => setState("done"),
    onError: showError,
  },
);

const recorder = new Recorder({
  onTick: (s) => (ui.recordStatus.textContent = `recording… ${s.toFixed(1)} s (click to stop)`),
  onDone: (blob) => {
    ui.record.textContent = "● Record";
    ui.recordStatus.textContent = "";
    transcribe(blob);
  },
  onError: showError,
});

/**
 * `index.html?model=URL` starts with that model: one of the listed ones, or any URL prefix
 * (e.g. https://huggingface.co/openai/whisper-tiny.en/resolve/main/), so a link can name it.
 * A model on another origin is not downloaded until the visitor presses Load: a link must not
 * make this page fetch (and keep in its cache) gigabytes from wherever it points.
 * Returns whether the model may load at once.
 */
function chooseModelFromAddress() {
  const wanted = new URLSearchParams(location.search).get("model");
  if (!wanted) return true;
  if ([...ui.modelChoice.options].some((o) => o.value === wanted && !["url", "files"].includes(wanted))) {
    ui.modelChoice.value = wanted;
    return true;
  }
  ui.modelChoice.value = "url";
  ui.modelUrl.value = wanted;
  ui.modelUrl.hidden = false;
  let origin;
  try {
    origin = new URL(wanted, document.baseURI).origin;
  } catch {
    return true; // not a URL: loading says so
  }
  if (origin === location.origin) return true;
  ui.status.textContent = `This link asks to download a model from ${origin}. Check the address above, then press “Load model”.`;
  setState("confirm");
  return false;
}

function wire() {
  ui.modelChoice.addEventListener("change", () => {
    ui.modelUrl.hidden = ui.modelChoice.value !== "url";
    ui.modelFiles.hidden = ui.modelChoice.value !== "files";
    if (!["url", "files"].includes(ui.modelChoice.value)) loadModel();
  });
  ui.loadModel.addEventListener("click", loadModel);
  ui.modelFiles.addEventListener("change", loadModel);
  ui.expertFiles.addEventListener("change", () => addExperts([...ui.expertFiles.files]));
  ui.expertAdd.addEventListener("click", () => ui.expertUrl.value && addExperts([ui.expertUrl.value]));
  ui.audioFile.addEventListener("change", () => {
    const file = ui.audioFile.files[0];
    ui.audioFile.value = ""; // choosing the same file again fires change again
    if (file) transcribe(file);
  });
  for (const type of ["dragenter", "dragover"]) {
    ui.dropZone.addEventListener(type, (e) => {
      e.preventDefault();
      ui.dropZone.classList.add("over");
    });
  }
  ui.dropZone.addEventListener("dragleave", () => ui.dropZone.classList.remove("over"));
  ui.dropZone.addEventListener("drop", (e) => {
    e.preventDefault();
    ui.dropZone.classList.remove("over");
    const file = e.dataTransfer.files[0];
    if (file) transcribe(file);
  });
  ui.record.addEventListener("click", async () => {
    if (recorder.recording) return recorder.stop();
    try {
      await recorder.start();
      ui.record.textContent = "■ Stop";
    } catch (e) {
      showError(e);
    }
  });
}

if (!hasWebGPU()) {
  $("no-webgpu").hidden = false;
  for (const el of document.querySelectorAll("main button, main input, main select")) el.disabled = true;
  ui.status.textContent = "WebGPU unavailable";
  showError(new Error("this browser has no WebGPU, so the model cannot run here"));
} else {
  wire();
  if (chooseModelFromAddress()) loadModel();
}

// After one visit the site opens and transcribes offline: sw.js keeps the site's own files
// (the API keeps the model files in Cache Storage itself). Service workers need a secure
// origin (https or localhost); elsewhere the demo just works online.
if ("serviceWorker" in navigator) {
  navigator.serviceWorker
    .register(new URL("../sw.js", import.meta.url))
    .catch((e) => console.warn(`whisper-clsr demo: no offline mode (${e.message})`));
}
