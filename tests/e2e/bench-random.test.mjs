// The browser benchmark's random-weight path (bench.mjs --random-weights, which
// scripts/bench-web.sh --random-weights SIZE and scripts/gpu-bench.sh run) on a tiny
// random-weight Whisper (tiny-model.mjs: d_model 32, one layer per stack, 32 decoder
// positions): a warm-up and one timed run, each decoding exactly the forced number of tokens
// through the transcription option benchmarkTokens, with every figure the benchmark reports
// present and positive. Also: a forced length beyond the decoder's room, and bad arguments to
// the scripts, are refused with readable errors. A few seconds on lavapipe.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import path from "node:path";
import { serve, launchBrowser, newPage, REPO, WWW } from "./harness.mjs";
import { measureRandomWeights, packageSize } from "./bench.mjs";
import { routeTinyModel, tinyModelFiles, TINY_CONFIG } from "./tiny-model.mjs";

const TOKENS = 5;
let server, browser, page;

before(async () => {
  const wasm = path.join(WWW, "pkg/whisper_clsr_bg.wasm");
  if (!existsSync(wasm)) throw new Error(`${wasm} is missing: run scripts/build-web.sh`);
  server = await serve();
  browser = await launchBrowser();
  page = await newPage(browser);
  await routeTinyModel(page, "bench-tiny-random", tinyModelFiles(71));
  await page.route(`${server.url}__e2e/plain.html`, (route) =>
    route.fulfill({ contentType: "text/html", body: "<!doctype html><title>plain</title>" }),
  );
  await page.goto(`${server.url}__e2e/plain.html`);
});
after(async () => {
  await browser?.close();
  server?.close();
});

test("the random-weight benchmark decodes exactly the forced number of tokens and reports every figure", async () => {
  const report = await measureRandomWeights(page, { modelUrl: "/bench-tiny-random/", tokens: TOKENS, runs: 1 });
  assert.equal(report.runs.length, 2, "a warm-up and one timed run");
  assert.deepEqual(
    report.runs.map((r) => r.warmUp),
    [true, false],
  );
  for (const r of report.runs) {
    assert.equal(r.streamedTokens, TOKENS, "tokens streamed to onToken");
    assert.equal(r.tokens, TOKENS, "tokens the benchmark figures count");
    for (const key of ["encoderMs", "decoderMs", "tokensPerS", "tokenMs", "dispatchesPerToken", "submitsPerToken"]) {
      assert.ok(Number.isFinite(r[key]) && r[key] > 0, `${key} = ${r[key]}`);
    }
    // tokensPerS counts the same tokens over the decoder time.
    assert.ok(Math.abs(r.tokensPerS - (TOKENS * 1000) / r.decoderMs) < 1e-6 * r.tokensPerS, `${r.tokensPerS} tokens/s`);
    // A single-token step is the same kernels every time.
    assert.equal(r.dispatchesPerToken, Math.round(r.dispatchesPerToken), `${r.dispatchesPerToken} dispatches/token`);
    // ... with the same buffers, so once warm every step finds its bind groups kept.
    if (!r.warmUp) assert.equal(r.bindGroupsPerToken, 0, "bind groups created per token once warm");
  }
  for (const [key, value] of Object.entries(report.median)) {
    if (key === "bindGroupsPerToken") continue;
    assert.ok(Number.isFinite(value) && value > 0, `median ${key} = ${value}`);
  }
  assert.equal(report.model.dModel, TINY_CONFIG.dModel);
  assert.ok(report.memory.weightGpuBytes > 0 && report.memory.peakActivationGpuBytes > 0, JSON.stringify(report.memory));
  assert.equal(report.memory.peakGpuBytes, report.memory.weightGpuBytes + report.memory.peakActivationGpuBytes);
  assert.ok(report.device.length > 0, "the device is named");
  assert.ok(packageSize().wasmBytes > 0);
});

test("a forced length beyond the decoder's room, or not a whole number, is refused", async () => {
  // 32 positions less the prompt <|startoftranscript|> <|notimestamps|> leave 30.
  await assert.rejects(
    measureRandomWeights(page, { modelUrl: "/bench-tiny-random/", tokens: TINY_CONFIG.targetPositions - 1, runs: 1 }),
    /31 forced decoder tokens do not fit: .*leaves room for 30/,
  );
  for (const bad of [0, 2.5]) {
    await assert.rejects(
      measureRandomWeights(page, { modelUrl: "/bench-tiny-random/", tokens: bad, runs: 1 }),
      new RegExp(`benchmarkTokens ${bad}: use a whole number`),
    );
  }
});

test("the benchmark scripts refuse bad arguments before doing any work", () => {
  const run = (command, args, cwd = REPO) => spawnSync(command, args, { cwd, encoding: "utf8", timeout: 30_000 });
  for (const [args, message] of [
    [["--random-weights", "huge"], /unknown size huge: tiny, base, small, medium or large-v3/],
    [["--random-weights"], /--random-weights needs a size/],
    [["--random-weights", "tiny", "--tokens", "0"], /--tokens needs a whole number from 1 to 440/],
    [["--random-weights", "tiny", "--tokens", "441"], /--tokens needs a whole number from 1 to 440/],
    [["--random-weights", "tiny", "--runs", "x"], /--runs needs a whole number/],
    [["--random-weights", "tiny", "--bogus"], /unknown argument --bogus/],
  ]) {
    const r = run("scripts/bench-web.sh", args);
    assert.equal(r.status, 2, `bench-web.sh ${args.join(" ")}: ${r.stderr}`);
    assert.match(r.stderr, message);
  }
  const r = run("node", ["bench.mjs", "--random-weights", "random-tiny", "--tokens", "441"], path.join(REPO, "tests/e2e"));
  assert.equal(r.status, 2, r.stderr);
  assert.match(r.stderr, /--tokens needs a whole number from 1 to 440, not 441/);
});
