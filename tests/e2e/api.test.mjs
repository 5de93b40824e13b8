// The JS API from a plain page (no demo code): load, expert packs (one that routes, two that
// are refused), transcribe a File with a token callback, and a readable rejection for a missing
// model. Uses whisper-tiny.en and jfk.wav's last phrase (wav-edit.mjs: few decoder steps, each
// costs seconds on SwiftShader) to keep CI time down; the packs come from `whisper-clsr pack
// init` (scripts/test-web.sh makes them).

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { checkPrerequisites, serve, launchBrowser, newPage, words } from "./harness.mjs";
import { jfkPhrase } from "./wav-edit.mjs";

const MINUTES = 60_000;
let server, browser, page;

before(async () => {
  checkPrerequisites(["whisper-tiny.en"], ["whisper-tiny.en-en-init.safetensors", "whisper-base-en-init.safetensors"]);
  server = await serve();
  browser = await launchBrowser();
  page = await newPage(browser);
  // A plain page of the site's origin that only imports the module, and the fixture clip.
  await page.route(`${server.url}__e2e/plain.html`, (route) =>
    route.fulfill({ contentType: "text/html", body: "<!doctype html><title>plain</title><p>plain page</p>" }),
  );
  await page.route(`${server.url}__e2e/jfk.wav`, (route) =>
    route.fulfill({ contentType: "audio/wav", body: jfkPhrase().wav }),
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

test("JS API: load, expert packs, transcribe a File with streamed tokens", { timeout: 30 * MINUTES }, async () => {
  const out = await page.evaluate(async () => {
    const { Whisper, toSamples16k } = await import("/whisper-clsr.js");
    const rejection = (promise) => promise.then(() => "resolved?!", (e) => e.message);
    const progress = [];
    const asr = await Whisper.load({ model: "/models/whisper-tiny.en/", onProgress: (p) => progress.push(p) });
    const blob = await (await fetch("/__e2e/jfk.wav")).blob();
    const file = new File([blob], "jfk.wav", { type: "audio/wav" });
    const samples = await toSamples16k(file);
    const notAPack = await rejection(asr.loadExpert(new File([new Uint8Array(64)], "bad.safetensors")));
    const otherBase = await rejection(asr.loadExpert("/packs/whisper-base-en-init.safetensors"));
    // A freshly initialised pack (expert = copy of the FFN): routed, same text.
    const pack = await asr.loadExpert("/packs/whisper-tiny.en-en-init.safetensors");
    const streamed = [];
    // One transcription only: on SwiftShader each costs minutes.
    const r = await asr.transcribe(file, { language: "en", onToken: (t) => streamed.push(t) });
    const info = asr.info;
    asr.dispose();
    const afterDispose = await rejection(asr.transcribe(samples));
    return { progress, r, streamed, notAPack, otherBase, pack, info, afterDispose, samples: samples.length };
  });
  const phrase = jfkPhrase();
  const r = out.r;
  console.log(`tiny.en: ${JSON.stringify(r.timings)} on ${r.device}`);
  console.log(`gate stats: ${JSON.stringify(r.gateStats)}`);
  assert.deepEqual(words(r.text), phrase.words);
  assert.equal(r.language, "en");
  for (const key of ["loadMs", "melMs", "encoderMs", "decoderMs", "tokensPerS", "rtf"]) {
    assert.equal(typeof r.timings[key], "number", key);
    assert.ok(Number.isFinite(r.timings[key]) && r.timings[key] >= 0, `${key} = ${r.timings[key]}`);
  }
  assert.ok(r.tokens.length >= phrase.words.length && r.tokens.every(Number.isInteger));
  assert.match(r.device, /\(BrowserWebGpu, /);
  // The stream saw every token and, joined, reads as the final text. Timestamp tokens (ids
  // above tiny.en's end-of-text, 50256) stream too, with empty text; r.tokens are text only.
  assert.deepEqual(out.streamed.map((t) => t.id).filter((id) => id < 50256), r.tokens);
  assert.ok(out.streamed.filter((t) => t.id > 50256).every((t) => t.text === ""));
  assert.equal(out.streamed.map((t) => t.text).join("").trim(), r.text);
  // The phrase's 16 kHz mono samples from the 16 kHz WAV.
  assert.ok(Math.abs(out.samples - phrase.seconds * 16000) < 160, `${out.samples} samples`);
  // Download progress counted up to the model's size.
  const last = out.progress.filter((p) => p.stage === "download").at(-1);
  assert.ok(last.total > 70e6 && last.loaded === last.total, JSON.stringify(last));
  assert.ok(out.progress.some((p) => p.stage === "init"));
  assert.equal(out.info.multilingual, false);
  // SwiftShader is software on the CPU; a real GPU (WHISPER_CLSR_REAL_GPU=1) is not.
  assert.equal(out.info.cpuDevice, !process.env.WHISPER_CLSR_REAL_GPU, `cpuDevice on ${out.info.device}`);
  // Packs: the loaded one routed the audio; broken and foreign ones were refused readably.
  assert.equal(out.pack.language, "en");
  assert.equal(r.expert, "en");
  assert.equal(r.gateStats.encoder.length, out.info.encoderLayers);
  assert.equal(r.gateStats.decoder.length, out.info.decoderLayers);
  for (const v of [...r.gateStats.encoder, ...r.gateStats.decoder]) assert.ok(v >= 0 && v <= 1, String(v));
  console.log(`not a pack: ${out.notAPack}`);
  console.log(`pack for another base: ${out.otherBase}`);
  assert.match(out.notAPack, /bad\.safetensors/);
  assert.match(out.otherBase, /base|fingerprint|model/i);
  assert.notEqual(out.otherBase, "resolved?!");
  assert.match(out.afterDispose, /disposed/);
});
