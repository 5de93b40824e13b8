// Browser benchmark: in headless Chromium (WebGPU; SwiftShader without a GPU), loads a model
// through the JS API, transcribes jfk.wav and reports encoder ms, decoder tokens/s and the
// real-time factor, plus the wasm package size raw and gzipped.
// Usage: node bench.mjs [MODEL] [RUNS]   (default whisper-base, 1 run)
// Writes test-output/bench-web-MODEL.json too.

import { mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { gzipSync } from "node:zlib";
import path from "node:path";
import { checkPrerequisites, serve, launchBrowser, newPage, FIXTURES, OUTPUT, WWW } from "./harness.mjs";

const model = process.argv[2] ?? "whisper-base";
const runs = Number(process.argv[3] ?? 1);

function packageSize() {
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

checkPrerequisites([model]);
const server = await serve();
const browser = await launchBrowser();
try {
  const page = await newPage(browser);
  page.setDefaultTimeout(0);
  await page.route(`${server.url}__bench/plain.html`, (route) =>
    route.fulfill({ contentType: "text/html", body: "<!doctype html><title>bench</title>" }),
  );
  await page.route(`${server.url}__bench/jfk.wav`, (route) =>
    route.fulfill({ contentType: "audio/wav", body: readFileSync(path.join(FIXTURES, "jfk.wav")) }),
  );
  await page.goto(`${server.url}__bench/plain.html`);
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

  const kb = (n) => `${(n / 1024).toFixed(0)} KiB`;
  console.log(`model         ${model} on ${report.device} (Chromium ${report.chromium})`);
  console.log(`load          ${(report.loadWallMs / 1000).toFixed(1)} s (download from localhost + GPU upload)`);
  for (const [i, r] of report.results.entries()) {
    console.log(
      `run ${i + 1}         encoder ${r.encoderMs.toFixed(0)} ms, decoder ${r.decoderMs.toFixed(0)} ms ` +
        `(${r.tokens} tokens, ${r.tokensPerS.toFixed(2)} tokens/s), mel ${r.melMs.toFixed(0)} ms, ` +
        `RTF ${r.rtf.toFixed(2)} on ${report.audioSeconds.toFixed(1)} s of audio`,
    );
  }
  const p = report.package;
  console.log(`wasm          ${kb(p.wasmBytes)} raw, ${kb(p.wasmGzipBytes)} gzip`);
  console.log(`pkg (wasm+js) ${kb(p.pkgBytes)} raw, ${kb(p.pkgGzipBytes)} gzip`);
} finally {
  await browser.close();
  server.close();
}
