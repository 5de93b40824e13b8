// Browser benchmark: in headless Chromium (WebGPU; lavapipe or SwiftShader without a GPU, the
// machine's GPU with WHISPER_CLSR_REAL_GPU=1), loads a model through the JS API and reports its
// speed, plus the wasm package size raw and gzipped. Two modes:
//
//   node bench.mjs [MODEL] [RUNS]
//       a converted model at www/models/MODEL/ (default whisper-base, 1 run) transcribes
//       jfk.wav: encoder ms, decoder tokens/s, real-time factor.
//   node bench.mjs --random-weights NAME [--tokens N] [--runs R]
//       random weights at www/models/NAME/ (scripts/bench-web.sh --random-weights SIZE writes
//       them with examples/bench_random.rs and links them there): after a warm-up, R timed
//       transcriptions (default 1) of 10 s of seeded noise, each decoding exactly N tokens
//       (default 64) through the transcription option `benchmarkTokens` (end-of-text
//       suppressed; docs/web.md). Reports encoder ms, decoder ms/token and tokens/s, per-token
//       time, dispatches and submits of the single-token steps, the weights' and peak GPU
//       memory, and the adapter it ran on. Needs no fixture. The text is junk.
//
// Writes test-output/bench-web-MODEL.json (bench-web-random-NAME.json) too.
// tests/e2e/bench-random.test.mjs runs the random-weight path on a tiny model.

import { mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { gzipSync } from "node:zlib";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { checkPrerequisites, serve, launchBrowser, newPage, FIXTURES, OUTPUT, WWW } from "./harness.mjs";

/** Most forced tokens: 448 decoder positions less the longest prompt, as bench_random. */
export const MAX_BENCH_TOKENS = 440;

export function packageSize() {
  const dir = path.join(WWW, "pkg");
  const files = readdirSync(dir).filter((f) => /\.(wasm|js)$/.test(f));
  const wasm = readFileSync(path.join(dir, "whisper_clsr_bg.wasm"));
  return {
    wasmBytes: wasm.length,
    wasmGzipBytes: gzipSync(wasm, { level: 9 }).length,
    pkgBytes: files.reduce((n, f) => n + statSync(path.join(dir, f)).size, 0),
    pkgGzipBytes: files.reduce((n, f) => n + gzipSync(readFileSync(path.join(dir, f)), { level: 9 }).length, 0),
  };
}

/** An empty page on the server's origin, so the page can import the API from it. */
async function openPlainPage(page, server) {
  await page.route(`${server.url}__bench/plain.html`, (route) =>
    route.fulfill({ contentType: "text/html", body: "<!doctype html><title>bench</title>" }),
  );
  await page.goto(`${server.url}__bench/plain.html`);
}

const median = (values) => {
  const v = values.filter((x) => x != null).sort((a, b) => a - b);
  return v.length ? v[Math.floor(v.length / 2)] : null;
};

/**
 * The random-weight benchmark in `page` (on the server's origin): loads the model at
 * `modelUrl` (a directory URL ending in "/"), runs a warm-up and `runs` timed transcriptions
 * of 10 s of seeded noise, each forced to `tokens` tokens, and returns
 * {device, adapter, model, loadWallMs, runs: [...], median, memory}. Rejects with the API's
 * error (e.g. more tokens than the decoder has room for).
 */
export async function measureRandomWeights(page, { modelUrl, tokens, runs = 1 }) {
  const raw = await page.evaluate(
    async ({ modelUrl, tokens, runs }) => {
      const { Whisper } = await import("/whisper-clsr.js");
      const adapter = await navigator.gpu?.requestAdapter({ powerPreference: "high-performance" });
      const { vendor, architecture, device, description } = adapter?.info ?? {};
      const t0 = performance.now();
      const asr = await Whisper.load({ model: modelUrl, cache: false });
      const loadWallMs = performance.now() - t0;
      try {
        // Seeded noise, not digital silence (transcription skips silent windows unseen).
        const samples = new Float32Array(10 * 16000);
        let state = 1;
        for (let i = 0; i < samples.length; i++) {
          state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
          samples[i] = (state / 2 ** 32 - 0.5) * 0.2;
        }
        const results = [];
        for (let i = 0; i <= runs; i++) {
          let streamed = 0;
          const t = performance.now();
          // The samples' buffer moves to the worker: a copy each time.
          const r = await asr.transcribe(new Float32Array(samples), { language: "en", benchmarkTokens: tokens, onToken: () => streamed++ });
          results.push({ warmUp: i === 0, wallMs: performance.now() - t, streamedTokens: streamed, ...r.timings, ...r.benchmark, text: r.text });
        }
        const stats = await asr.stats();
        const info = asr.info;
        return {
          device: info.device,
          adapter: { vendor, architecture, device, description },
          model: { dModel: info.dModel, encoderLayers: info.encoderLayers, decoderLayers: info.decoderLayers, vocabSize: info.vocabSize },
          loadWallMs,
          stats,
          results,
        };
      } finally {
        asr.dispose();
      }
    },
    { modelUrl, tokens, runs },
  );
  const timed = raw.results.filter((r) => !r.warmUp);
  const pick = (key) => median(timed.map((r) => r[key]));
  return {
    device: raw.device,
    adapter: raw.adapter,
    model: raw.model,
    loadWallMs: raw.loadWallMs,
    tokens,
    runs: raw.results,
    median: {
      encoderMs: pick("encoderMs"),
      decoderMs: pick("decoderMs"),
      // The whole decoder time (prompt and every pick) over the tokens, as tokensPerS counts.
      decoderMsPerToken: median(timed.map((r) => r.decoderMs / r.tokens)),
      tokensPerS: pick("tokensPerS"),
      tokenMs: pick("tokenMs"),
      dispatchesPerToken: pick("dispatchesPerToken"),
      submitsPerToken: pick("submitsPerToken"),
      bindGroupsPerToken: pick("bindGroupsPerToken"),
    },
    memory: {
      weightGpuBytes: raw.stats.weightGpuBytes,
      peakActivationGpuBytes: raw.stats.peakActivationGpuBytes,
      peakGpuBytes: raw.stats.weightGpuBytes + raw.stats.peakActivationGpuBytes,
      wasmBytes: raw.stats.wasmBytes,
    },
  };
}

const kib = (n) => `${(n / 1024).toFixed(0)} KiB`;
const mib = (n) => `${(n / 2 ** 20).toFixed(0)} MiB`;
const fixed = (x, digits) => (x == null ? "-" : x.toFixed(digits));

function printPackage(p) {
  console.log(`wasm          ${kib(p.wasmBytes)} raw, ${kib(p.wasmGzipBytes)} gzip`);
  console.log(`pkg (wasm+js) ${kib(p.pkgBytes)} raw, ${kib(p.pkgGzipBytes)} gzip`);
}

async function benchModel(model, runs) {
  checkPrerequisites([model]);
  const server = await serve();
  const browser = await launchBrowser();
  try {
    const page = await newPage(browser);
    page.setDefaultTimeout(0);
    await page.route(`${server.url}__bench/jfk.wav`, (route) =>
      route.fulfill({ contentType: "audio/wav", body: readFileSync(path.join(FIXTURES, "jfk.wav")) }),
    );
    await openPlainPage(page, server);
    const result = await page.evaluate(
      async ({ model, runs }) => {
        const { Whisper, toSamples16k } = await import("/whisper-clsr.js");
        const t0 = performance.now();
        const asr = await Whisper.load({ model: `/models/${model}/`, cache: false });
        const loadWallMs = performance.now() - t0;
        const samples = await toSamples16k(await (await fetch("/__bench/jfk.wav")).blob());
        const results = [];
        for (let i = 0; i < runs; i++) {
          const t = performance.now();
          const r = await asr.transcribe(samples, { language: "en" });
          results.push({ ...r.timings, wallMs: performance.now() - t, tokens: r.tokens.length, text: r.text });
        }
        const info = asr.info;
        asr.dispose();
        return { device: info.device, loadWallMs, audioSeconds: samples.length / 16000, results };
      },
      { model, runs },
    );
    const report = { model, chromium: browser.version(), ...result, package: packageSize() };
    mkdirSync(OUTPUT, { recursive: true });
    writeFileSync(path.join(OUTPUT, `bench-web-${model}.json`), JSON.stringify(report, null, 2));

    console.log(`model         ${model} on ${report.device} (Chromium ${report.chromium})`);
    console.log(`load          ${(report.loadWallMs / 1000).toFixed(1)} s (download from localhost + GPU upload)`);
    for (const [i, r] of report.results.entries()) {
      console.log(
        `run ${i + 1}         encoder ${r.encoderMs.toFixed(0)} ms, decoder ${r.decoderMs.toFixed(0)} ms ` +
          `(${r.tokens} tokens, ${r.tokensPerS.toFixed(2)} tokens/s), mel ${r.melMs.toFixed(0)} ms, ` +
          `RTF ${r.rtf.toFixed(2)} on ${report.audioSeconds.toFixed(1)} s of audio`,
      );
    }
    printPackage(report.package);
  } finally {
    await browser.close();
    server.close();
  }
}

async function benchRandom(name, tokens, runs) {
  const dir = path.join(WWW, "models", name);
  for (const file of ["config.json", "model.safetensors", "tokenizer.json"]) {
    if (!statSync(path.join(dir, file), { throwIfNoEntry: false })) {
      throw new Error(`${path.join(dir, file)} is missing: run scripts/bench-web.sh --random-weights SIZE`);
    }
  }
  if (!statSync(path.join(WWW, "pkg/whisper_clsr_bg.wasm"), { throwIfNoEntry: false })) {
    throw new Error("www/pkg/whisper_clsr_bg.wasm is missing: run scripts/build-web.sh");
  }
  const server = await serve();
  const browser = await launchBrowser();
  try {
    const page = await newPage(browser);
    page.setDefaultTimeout(0);
    await openPlainPage(page, server);
    const result = await measureRandomWeights(page, { modelUrl: `/models/${name}/`, tokens, runs });
    const report = { model: name, randomWeights: true, chromium: browser.version(), ...result, package: packageSize() };
    mkdirSync(OUTPUT, { recursive: true });
    const out = path.join(OUTPUT, `bench-web-random-${name}.json`);
    writeFileSync(out, JSON.stringify(report, null, 2));

    const m = report.model;
    const a = report.adapter;
    console.log(`model         ${name}: random weights, d_model ${m.dModel}, ${m.encoderLayers}+${m.decoderLayers} layers, vocabulary ${m.vocabSize}`);
    console.log(`device        ${report.device} (Chromium ${report.chromium})`);
    console.log(`adapter       vendor ${a.vendor || "-"}, architecture ${a.architecture || "-"}, device ${a.device || "-"}, description ${a.description || "-"}`);
    console.log(`load          ${(report.loadWallMs / 1000).toFixed(1)} s (download from localhost + GPU upload)`);
    console.log(`decode        ${tokens} forced tokens per run (end-of-text suppressed), 10 s of noise; a warm-up, then ${runs} timed run(s)`);
    for (const [i, r] of report.runs.entries()) {
      console.log(
        `${(r.warmUp ? "warm-up" : `run ${i}`).padEnd(14)}encoder ${r.encoderMs.toFixed(0)} ms, decoder ${r.decoderMs.toFixed(0)} ms ` +
          `(${r.tokens} tokens, ${(r.decoderMs / r.tokens).toFixed(1)} ms/token, ${r.tokensPerS.toFixed(2)} tokens/s); ` +
          `steps ${fixed(r.tokenMs, 1)} ms/token, ${fixed(r.dispatchesPerToken, 1)} dispatches/token, ${fixed(r.submitsPerToken, 2)} submits/token, ` +
            `${fixed(r.bindGroupsPerToken, 1)} bind groups created/token`,
      );
    }
    const md = report.median;
    console.log(
      `median        encoder ${md.encoderMs.toFixed(0)} ms; decoder ${md.decoderMsPerToken.toFixed(1)} ms/token, ${md.tokensPerS.toFixed(2)} tokens/s; ` +
        `steps ${fixed(md.tokenMs, 1)} ms/token, ${fixed(md.dispatchesPerToken, 1)} dispatches/token, ${fixed(md.submitsPerToken, 2)} submits/token, ` +
          `${fixed(md.bindGroupsPerToken, 1)} bind groups created/token`,
    );
    const mem = report.memory;
    console.log(`GPU memory    weights ${mib(mem.weightGpuBytes)}, peak activations ${mib(mem.peakActivationGpuBytes)}, peak ${mib(mem.peakGpuBytes)}; wasm memory ${mib(mem.wasmBytes)}`);
    printPackage(report.package);
    console.log(`report        ${path.relative(process.cwd(), out)}`);
  } finally {
    await browser.close();
    server.close();
  }
}

/** The command line: {mode: "model", model, runs} or {mode: "random", name, tokens, runs}. */
export function parseArgs(argv) {
  const whole = (value, what, min, max) => {
    const n = Number(value);
    if (value == null || !/^\d+$/.test(value) || n < min || n > max) {
      throw new Error(`${what} needs a whole number from ${min} to ${max}, not ${value ?? "nothing"}`);
    }
    return n;
  };
  if (argv[0] !== "--random-weights") {
    if (argv.length > 2 || argv.some((a) => a.startsWith("--"))) {
      throw new Error("usage: node bench.mjs [MODEL] [RUNS] | --random-weights NAME [--tokens N] [--runs R]");
    }
    return { mode: "model", model: argv[0] ?? "whisper-base", runs: whole(argv[1] ?? "1", "RUNS", 1, 1000) };
  }
  const name = argv[1];
  if (!name || name.startsWith("--")) throw new Error("--random-weights needs the model's name under www/models/");
  const args = { mode: "random", name, tokens: 64, runs: 1 };
  for (let i = 2; i < argv.length; i += 2) {
    if (argv[i] === "--tokens") args.tokens = whole(argv[i + 1], "--tokens", 1, MAX_BENCH_TOKENS);
    else if (argv[i] === "--runs") args.runs = whole(argv[i + 1], "--runs", 1, 1000);
    else throw new Error(`unknown argument ${argv[i]}: --tokens N or --runs R`);
  }
  return args;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  let args;
  try {
    args = parseArgs(process.argv.slice(2));
  } catch (e) {
    console.error(`bench: error: ${e.message}`);
    process.exit(2);
  }
  if (args.mode === "model") await benchModel(args.model, args.runs);
  else await benchRandom(args.name, args.tokens, args.runs);
}
