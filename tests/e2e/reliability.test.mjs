// Long-running use and failures in one page, with tiny random-weight models served to it
// (tiny-model.mjs: a transcription takes seconds on SwiftShader, mostly the encoder's 1500
// positions, against minutes for whisper-tiny.en):
// - 8 transcriptions: the same tokens every time; the worker's wasm memory and pooled GPU
//   bytes stay flat after the first runs; `stats({release: true})` frees the pool;
// - 10 load/dispose cycles: no worker left behind, the page's JS heap does not grow;
// - aborting a transcription stops it within a decoder step, the instance stays usable;
// - concurrent calls run in the order they were made;
// - two models in one page, used in turns, give what each gives alone;
// - device loss (the worker's GPUDevice destroyed through its test-only hook) rejects the
//   running call and later ones with a clear error, and the next Whisper.load works;
// - poolLimitBytes bounds the idle GPU buffers (0 keeps none); bad values are refused;
// - beam search runs (its kernels compile in Chromium): width 1 is greedy, width 3 repeatable.
// See docs/testing.md and docs/web.md, "Memory and test hooks".

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { serve, launchBrowser, newPage, checkPrerequisites } from "./harness.mjs";
import { routeTinyModel, tinyModelFiles } from "./tiny-model.mjs";

const MINUTES = 60_000;
let server, browser;
const MODEL_A = tinyModelFiles(41);
const MODEL_B = tinyModelFiles(42);

before(async () => {
  checkPrerequisites([]);
  server = await serve();
  // gc() and unquantised performance.memory for the heap measurement.
  browser = await launchBrowser({ extraArgs: ["--js-flags=--expose-gc", "--enable-precise-memory-info"] });
});
after(async () => {
  await browser?.close();
  server?.close();
});

/** A page in its own context with both tiny models, and every Worker it starts in window.workers. */
async function tinyPage() {
  const context = await browser.newContext();
  await routeTinyModel(context, "tiny-a", MODEL_A);
  await routeTinyModel(context, "tiny-b", MODEL_B);
  await context.route(`${server.url}__e2e/plain.html`, (route) => route.fulfill({ contentType: "text/html", body: "<!doctype html><title>plain</title>" }));
  // The device-loss test reaches the worker through this (the API keeps it private).
  await context.addInitScript(() => {
    const NativeWorker = window.Worker;
    window.workers = [];
    window.Worker = class extends NativeWorker {
      constructor(...args) {
        super(...args);
        window.workers.push(this);
      }
    };
  });
  const page = await newPage(context);
  await page.goto(`${server.url}__e2e/plain.html`);
  await page.evaluate(async () => {
    window.api = await import("/whisper-clsr.js");
    // 1.5 s of two tones (as tests/long_running.rs uses); `f` varies the audio.
    window.tones = (f = 1) => Float32Array.from({ length: 24_000 }, (_, i) => 0.3 * Math.sin(i * 0.05 * f) + 0.1 * Math.cos(i * 0.23 * f));
    window.OPTIONS = { language: "en", timestamps: false, temperatureIncrement: 0 };
    window.run = async (asr, f = 1, extra = {}) => (await asr.transcribe(window.tones(f), { ...window.OPTIONS, ...extra })).tokens;
  });
  return { page, context };
}

/** Live workers of the page, once terminated ones are gone (that can take a moment). */
async function workerCount(page, expected) {
  for (let i = 0; i < 50 && page.workers().length !== expected; i++) await new Promise((r) => setTimeout(r, 100));
  return page.workers().length;
}

test("8 transcriptions in one page: same tokens, wasm memory and pooled GPU bytes flat, dispose frees all", { timeout: 10 * MINUTES }, async () => {
  const { page, context } = await tinyPage();
  const out = await page.evaluate(async () => {
    const asr = await api.Whisper.load({ model: "/tiny-a/", cache: false });
    const started = performance.now();
    const runs = [];
    for (let i = 0; i < 8; i++) {
      const tokens = await run(asr, 1, { maxTokens: 8 });
      runs.push({ tokens: tokens.join(","), ...(await asr.stats()) });
    }
    const ms = performance.now() - started;
    const released = await asr.stats({ release: true });
    const again = await run(asr, 1, { maxTokens: 8 });
    window.asr = asr;
    return { runs, ms, released, again: again.join(",") };
  });
  const first = out.runs[0];
  console.log(
    `8 transcriptions: ${(out.ms / 1000).toFixed(1)} s; wasm ${out.runs.map((r) => r.wasmBytes / 2 ** 20).join("/")} MiB; ` +
      `pooled GPU ${out.runs.map((r) => r.pooledGpuBytes).join("/")} B; after release ${JSON.stringify(out.released)}`,
  );
  assert.ok(first.tokens.split(",").length >= 4, `the tiny model decodes something: ${first.tokens}`);
  for (const [i, r] of out.runs.entries()) {
    assert.equal(r.tokens, first.tokens, `run ${i}: same audio, same tokens`);
    assert.ok(r.pooledGpuBytes > 0 && r.pooledGpuBytes <= r.poolLimitBytes, `run ${i}: pooled ${r.pooledGpuBytes} B within the bound`);
    // Flat after the first: every later run reuses the buffers the first one pooled.
    assert.equal(r.pooledGpuBytes, first.pooledGpuBytes, `run ${i}: pooled GPU bytes`);
    assert.equal(r.activationGpuBytes, first.activationGpuBytes, `run ${i}: activation GPU bytes`);
    // The wasm memory may grow while the first runs size their buffers, then not a page more.
    if (i >= 2) assert.equal(r.wasmBytes, out.runs[2].wasmBytes, `run ${i}: wasm memory grew`);
  }
  assert.equal(out.released.pooledGpuBytes, 0, "release frees every pooled buffer");
  assert.equal(out.again, first.tokens, "after the release the model still transcribes the same");
  assert.equal(await workerCount(page, 1), 1);
  await page.evaluate(() => asr.dispose());
  assert.equal(await workerCount(page, 0), 0, "dispose ends the worker (its wasm memory and GPU device go with it)");
  await context.close();
});

test("loading and disposing a model 10 times leaks nothing measurable", { timeout: 10 * MINUTES }, async () => {
  const { page, context } = await tinyPage();
  const heaps = [];
  for (let i = 0; i < 10; i++) {
    const info = await page.evaluate(async () => {
      const asr = await api.Whisper.load({ model: "/tiny-a/", cache: false });
      asr.dispose();
      return asr.info;
    });
    assert.equal(info.dModel, 32);
    assert.equal(await workerCount(page, 0), 0, `cycle ${i}: the disposed worker is gone`);
    heaps.push(
      await page.evaluate(async () => {
        for (let j = 0; j < 3; j++) {
          gc();
          await new Promise((r) => setTimeout(r, 50));
        }
        return performance.memory.usedJSHeapSize;
      }),
    );
  }
  console.log(`page JS heap after each load/dispose cycle (KiB): ${heaps.map((h) => (h / 1024).toFixed(0)).join(" ")}`);
  // Kept model state would be weights (≈ 0.5 MiB here) or a worker per cycle; 256 KiB over 7
  // cycles is well under one cycle's worth.
  const growth = heaps[9] - heaps[2];
  assert.ok(growth < 256 * 1024, `the page's heap grew ${growth} B over cycles 3 to 10`);
  await context.close();
});

test("abort stops a transcription within a decoder step and the instance stays usable", { timeout: 10 * MINUTES }, async () => {
  const { page, context } = await tinyPage();
  const out = await page.evaluate(async () => {
    const asr = await api.Whisper.load({ model: "/tiny-a/", cache: false });
    const full = await run(asr);
    const controller = new AbortController();
    let seen = 0;
    let afterAbort = 0;
    const error = await asr
      .transcribe(tones(), {
        ...OPTIONS,
        signal: controller.signal,
        onToken: () => {
          seen++;
          if (controller.signal.aborted) afterAbort++;
          if (seen === 2) controller.abort();
        },
      })
      .then(() => null, (e) => ({ name: e.name, message: e.message }));
    // A queued call aborted before it starts never runs; the one ahead of it is not disturbed.
    const queuedController = new AbortController();
    const ahead = run(asr);
    const queued = asr.transcribe(tones(), { ...OPTIONS, signal: queuedController.signal }).then(() => "resolved?!", (e) => e.name);
    queuedController.abort();
    const [aheadTokens, queuedName] = await Promise.all([ahead, queued]);
    // A signal aborted before the call rejects at once, without work.
    const early = await asr.transcribe(tones(), { ...OPTIONS, signal: AbortSignal.abort() }).then(() => "resolved?!", (e) => e.name);
    const after = await run(asr);
    asr.dispose();
    return { full, seen, afterAbort, error, aheadTokens, queuedName, early, after };
  });
  console.log(`abort: full run ${out.full.length} tokens; aborted at token 2, ${out.afterAbort} more arrived; ${JSON.stringify(out.error)}`);
  assert.ok(out.full.length >= 6, `a run long enough to abort in: ${out.full.length} tokens`);
  assert.equal(out.error?.name, "AbortError");
  // A token already posted when the abort was sent, plus the one step the worker may finish.
  assert.ok(out.afterAbort <= 2, `${out.afterAbort} tokens after the abort`);
  assert.deepEqual(out.aheadTokens, out.full);
  assert.equal(out.queuedName, "AbortError");
  assert.equal(out.early, "AbortError");
  assert.deepEqual(out.after, out.full, "usable after an abort, same transcript");
  await context.close();
});

test("concurrent calls run in order; two models in one page work side by side", { timeout: 10 * MINUTES }, async () => {
  const { page, context } = await tinyPage();
  const out = await page.evaluate(async () => {
    const a = await api.Whisper.load({ model: "/tiny-a/", cache: false });
    // Three calls told apart by their length (the tiny model may repeat one token).
    const lengths = [7, 3, 5];
    const run = (asr, f, maxTokens = 8) => window.run(asr, f, { maxTokens });
    const alone = [await run(a, 1, 7), await run(a, 1.7, 3), await run(a, 0.6, 5)].map(String);
    const finished = [];
    const together = await Promise.all([1, 1.7, 0.6].map((f, i) => run(a, f, lengths[i]).then((t) => (finished.push(i), String(t)))));
    const b = await api.Whisper.load({ model: "/tiny-b/", cache: false });
    const bAlone = String(await run(b, 1));
    const side = await Promise.all([run(a, 1, 7), run(b, 1), run(a, 1.7, 3), run(b, 1)].map((p) => p.then(String)));
    const devices = [a.info.fingerprint, b.info.fingerprint];
    a.dispose();
    const bAfter = String(await run(b, 1));
    b.dispose();
    return { alone, finished, together, bAlone, side, devices, bAfter };
  });
  console.log(`two models: A ${out.alone[0]} | B ${out.bAlone}`);
  assert.deepEqual(out.finished, [0, 1, 2], "calls finish in the order they were made");
  assert.deepEqual(out.together, out.alone, "each queued call gets its own transcript");
  assert.deepEqual(out.alone.map((t) => t.split(",").length), [7, 3, 5], "the calls are told apart by their lengths");
  assert.notEqual(out.devices[0], out.devices[1], "two different models");
  assert.notEqual(out.alone[0], out.bAlone, "the two models transcribe differently (else the next check proves nothing)");
  assert.deepEqual(out.side, [out.alone[0], out.bAlone, out.alone[1], out.bAlone]);
  assert.equal(out.bAfter, out.bAlone, "disposing one model leaves the other working");
  await context.close();
});

test("device loss rejects the running call and later ones clearly; the next Whisper.load works", { timeout: 10 * MINUTES }, async () => {
  const { page, context } = await tinyPage();
  const out = await page.evaluate(async () => {
    const asr = await api.Whisper.load({ model: "/tiny-a/", cache: false });
    const full = await run(asr);
    const worker = workers.at(-1);
    let destroyedAt = null;
    const running = await asr
      .transcribe(tones(), {
        ...OPTIONS,
        onToken: () => {
          if (destroyedAt) return;
          destroyedAt = performance.now();
          // TEST ONLY: the worker's hook destroys its GPUDevice (www/worker.js).
          worker.postMessage({ id: 0, op: "debugDestroyDevice", args: {} });
        },
      })
      .then(() => "resolved?!", (e) => e.message);
    const rejectMs = performance.now() - destroyedAt;
    const later = await run(asr).then(() => "resolved?!", (e) => e.message);
    asr.dispose();
    const fresh = await api.Whisper.load({ model: "/tiny-a/", cache: false });
    const again = await run(fresh);
    fresh.dispose();
    return { full, running, rejectMs, later, again };
  });
  console.log(`device loss: running call: ${out.running} (${out.rejectMs.toFixed(0)} ms)\nlater call: ${out.later}`);
  assert.match(out.running, /GPU device was lost .*load it again/);
  assert.match(out.later, /GPU device was lost .*load it again/);
  assert.ok(out.rejectMs < 10_000, `the running call took ${out.rejectMs} ms to reject`);
  assert.deepEqual(out.again, out.full, "a new load transcribes as before");
  await context.close();
});

test("poolLimitBytes bounds the idle GPU buffers; 0 keeps none", { timeout: 5 * MINUTES }, async () => {
  const { page, context } = await tinyPage();
  const out = await page.evaluate(async () => {
    const refused = [];
    for (const poolLimitBytes of [-1, 1.5, "1e9"]) {
      refused.push(await api.Whisper.load({ model: "/tiny-a/", cache: false, poolLimitBytes }).then(() => "loaded?!", (e) => `${e.name}: ${e.message}`));
    }
    const asr = await api.Whisper.load({ model: "/tiny-a/", cache: false, poolLimitBytes: 0 });
    const tokens = await run(asr, 1, { maxTokens: 4 });
    const stats = await asr.stats();
    asr.dispose();
    return { refused, tokens, stats };
  });
  console.log(`poolLimitBytes 0: ${JSON.stringify(out.stats)}; refused: ${out.refused.join(" | ")}`);
  for (const r of out.refused) assert.match(r, /^RangeError: Whisper.load: poolLimitBytes .*whole number of bytes/);
  assert.ok(out.tokens.length > 0);
  assert.equal(out.stats.poolLimitBytes, 0);
  assert.equal(out.stats.pooledGpuBytes, 0, "nothing idle is kept");
  await context.close();
});

test("beam search runs in the browser: beamSize 1 is greedy, beamSize 3 is repeatable", { timeout: 5 * MINUTES }, async () => {
  const { page, context } = await tinyPage();
  const out = await page.evaluate(async () => {
    const asr = await api.Whisper.load({ model: "/tiny-a/", cache: false });
    const greedy = await run(asr, 1, { maxTokens: 6 });
    const one = await run(asr, 1, { maxTokens: 6, beamSize: 1 });
    // The beam kernels (token_pick's top_k, beam_gather) compiled by Chromium's WGSL compiler.
    const three = [await run(asr, 1, { maxTokens: 6, beamSize: 3 }), await run(asr, 1, { maxTokens: 6, beamSize: 3, patience: 2 })];
    const again = await run(asr, 1, { maxTokens: 6, beamSize: 3 });
    asr.dispose();
    return { greedy: String(greedy), one: String(one), three: three.map(String), again: String(again) };
  });
  console.log(`beam search: greedy ${out.greedy} | beam 3 ${out.three[0]} | patience 2 ${out.three[1]}`);
  assert.equal(out.one, out.greedy, "beam search of width 1 is greedy decoding");
  assert.ok(out.three[0].length > 0 && out.three[1].length > 0);
  assert.equal(out.again, out.three[0], "same audio, same beams");
});
