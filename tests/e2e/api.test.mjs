// The JS API from a plain page (no demo code): load, transcribe a File and raw 16 kHz samples
// with a token callback, and readable rejections for a missing model and a wrong pack.
// Uses whisper-tiny.en (the UI test covers whisper-base) to keep CI time down.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { checkPrerequisites, serve, launchBrowser, newPage, words, FIXTURES } from "./harness.mjs";

const MINUTES = 60_000;
let server, browser, page;

before(async () => {
  checkPrerequisites(["whisper-tiny.en"]);
  server = await serve();
  browser = await launchBrowser();
  page = await newPage(browser);
  // A plain page of the site's origin that only imports the module, and the fixture clip.
  await page.route(`${server.url}__e2e/plain.html`, (route) =>
    route.fulfill({ contentType: "text/html", body: "<!doctype html><title>plain</title><p>plain page</p>" }),
  );
  await page.route(`${server.url}__e2e/jfk.wav`, (route) =>
    route.fulfill({ contentType: "audio/wav", body: readFileSync(path.join(FIXTURES, "jfk.wav")) }),
  );
  await page.goto(`${server.url}__e2e/plain.html`);
});
after(async () => {
  await browser?.close();
  server?.close();
});

test("Whisper.load rejects a model URL that does not exist", { timeout: 2 * MINUTES }, async () => {
  const message = await page.evaluate(async () => {
    const { Whisper } = await import("/whisper-clsr.js");
    return Whisper.load({ model: "/models/no-such-model/" }).then(
      () => "loaded?!",
      (e) => e.message,
    );
  });
  assert.match(message, /HTTP 404/);
  assert.match(message, /no-such-model\/(config\.json|model\.safetensors|tokenizer\.json)/);
});

test("JS API: load, transcribe a File and samples, refuse a wrong pack", { timeout: 30 * MINUTES }, async () => {
  const out = await page.evaluate(async () => {
    const { Whisper, toSamples16k } = await import("/whisper-clsr.js");
    const progress = [];
    const asr = await Whisper.load({ model: "/models/whisper-tiny.en/", onProgress: (p) => progress.push(p) });
    const blob = await (await fetch("/__e2e/jfk.wav")).blob();
    const file = new File([blob], "jfk.wav", { type: "audio/wav" });
    const streamed = [];
    const fromFile = await asr.transcribe(file, { language: "en", onToken: (t) => streamed.push(t) });
    // Raw samples; language omitted (an English-only model answers "en").
    const samples = await toSamples16k(file);
    const fromSamples = await asr.transcribe(samples);
    const badPack = await asr.loadExpert(new File([new Uint8Array(64)], "bad.safetensors")).then(
      () => "loaded?!",
      (e) => e.message,
    );
    const info = asr.info;
    asr.dispose();
    const afterDispose = await asr.transcribe(samples).then(
      () => "transcribed?!",
      (e) => e.message,
    );
    return { progress, fromFile, fromSamples, streamed, badPack, info, afterDispose, samples: samples.length };
  });
  const expected = readFileSync(path.join(FIXTURES, "jfk.txt"), "utf8");
  const r = out.fromFile;
  console.log(`tiny.en: ${JSON.stringify(r.timings)} on ${r.device}`);
  assert.deepEqual(words(r.text), words(expected));
  assert.equal(r.language, "en");
  for (const key of ["loadMs", "melMs", "encoderMs", "decoderMs", "tokensPerS", "rtf"]) {
    assert.equal(typeof r.timings[key], "number", key);
    assert.ok(Number.isFinite(r.timings[key]) && r.timings[key] >= 0, `${key} = ${r.timings[key]}`);
  }
  assert.ok(r.tokens.length > 10 && r.tokens.every(Number.isInteger));
  assert.equal(r.gateStats, null);
  assert.equal(r.expert, null);
  assert.equal(typeof r.device, "string");
  // The stream saw every token and, joined, reads as the final text.
  assert.deepEqual(out.streamed.map((t) => t.id), r.tokens);
  assert.equal(out.streamed.map((t) => t.text).join("").trim(), r.text);
  // 11 s of 16 kHz audio; samples give the same tokens as the file.
  assert.ok(Math.abs(out.samples - 176000) < 1600, `${out.samples} samples`);
  assert.deepEqual(out.fromSamples.tokens, r.tokens);
  assert.equal(out.fromSamples.language, "en");
  // Download progress counted up to the model's size.
  const last = out.progress.filter((p) => p.stage === "download").at(-1);
  assert.ok(last.total > 70e6 && last.loaded === last.total, JSON.stringify(last));
  assert.ok(out.progress.some((p) => p.stage === "init"));
  assert.equal(out.info.multilingual, false);
  assert.match(out.badPack, /pack|safetensors/i);
  assert.match(out.afterDispose, /disposed/);
  console.log(`wrong pack: ${out.badPack}`);
});
