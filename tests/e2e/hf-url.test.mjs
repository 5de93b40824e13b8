// Loading a model from a Hugging Face `…/resolve/main/` URL with the JS API. No internet here:
// hf-mirror.mjs serves a model the way huggingface.co does, from other origins than the page
// (CORS, a 302 from the hub to a CDN origin for the large file, Content-Length). The model is
// a tiny random-weight Whisper (tiny-model.mjs): the subject is the download, and the model so
// loaded must transcribe exactly as the same files served from the page's own origin do.
// Checks download progress in bytes against the files' sizes, that transcription, and readable
// rejections for a repository and a file that do not exist.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, realpathSync, statSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { checkPrerequisites, serve, launchBrowser, newPage, WWW } from "./harness.mjs";
import { serveHfMirror } from "./hf-mirror.mjs";
import { routeTinyModel, tinyModelFiles, writeTinyModel } from "./tiny-model.mjs";
import { jfkPhrase } from "./wav-edit.mjs";

const MINUTES = 60_000;
const FILES = ["config.json", "model.safetensors", "tokenizer.json"];
const SEED = 44;
let server, mirror, browser, page, tinyDir, removeModel;

before(async () => {
  checkPrerequisites(["whisper-tiny.en"]);
  tinyDir = mkdtempSync(path.join(tmpdir(), "hf-tiny-"));
  removeModel = writeTinyModel(tinyDir, SEED);
  // A repository that lacks tokenizer.json, with whisper-tiny.en's 75 MB of weights (never
  // transcribed): too large for their download to end before the failed load stops it.
  const partial = mkdtempSync(path.join(tmpdir(), "hf-partial-"));
  const tinyEn = realpathSync(path.join(WWW, "models/whisper-tiny.en"));
  for (const f of ["config.json", "model.safetensors"]) symlinkSync(path.join(tinyEn, f), path.join(partial, f));
  mirror = await serveHfMirror({ "someone/whisper-tiny-random": tinyDir, "someone/whisper-no-tokenizer": partial });
  server = await serve();
  browser = await launchBrowser();
  page = await newPage(browser);
  // The same model from the page's own origin, to compare the mirror's download with.
  await routeTinyModel(page, "local-tiny", tinyModelFiles(SEED));
  await page.route(`${server.url}__e2e/plain.html`, (route) =>
    route.fulfill({ contentType: "text/html", body: "<!doctype html><title>plain</title><p>plain page</p>" }),
  );
  await page.route(`${server.url}__e2e/jfk.wav`, (route) =>
    route.fulfill({ contentType: "audio/wav", body: jfkPhrase().wav }),
  );
  await page.goto(`${server.url}__e2e/plain.html`);
  assert.notEqual(new URL(server.url).origin, mirror.hubUrl, "the hub must be another origin than the page");
});
after(async () => {
  await browser?.close();
  server?.close();
  mirror?.close();
  removeModel?.();
});

const loadError = (model) =>
  page.evaluate(async (model) => {
    const { Whisper } = await import("/whisper-clsr.js");
    return Whisper.load({ model, cache: false }).then(
      (asr) => (asr.dispose(), "loaded?!"),
      (e) => e.message,
    );
  }, model);

test("a Hugging Face repository that does not exist: readable rejection naming the URL", { timeout: 2 * MINUTES }, async () => {
  const base = `${mirror.hubUrl}/openai/whisper-no-such-model/resolve/main/`;
  const message = await loadError(base);
  console.log(`wrong repository: ${message}`);
  assert.ok(message.includes(base), message);
  assert.match(message, /HTTP 401/);
  assert.match(message, /Repository not found/);
  assert.match(message, /does not exist|private|gated/);
});

test("a Hugging Face repository without tokenizer.json: HTTP 404 naming the file's URL", { timeout: 2 * MINUTES }, async () => {
  const base = `${mirror.hubUrl}/someone/whisper-no-tokenizer/resolve/main/`;
  const seen = mirror.requests.length;
  const message = await loadError(base);
  console.log(`missing file: ${message}`);
  assert.ok(message.includes(`${base}tokenizer.json`), message);
  assert.match(message, /HTTP 404/);
  assert.match(message, /Entry not found/);
  // The failed load stopped the model's download (its worker is gone): no transfer of its
  // bytes ran to the end, even given time to (it would, were the worker left running).
  await new Promise((r) => setTimeout(r, 3000));
  const transfers = mirror.requests.slice(seen).filter((q) => q.server === "cdn");
  console.log(`model transfers after the 404: ${JSON.stringify(transfers.map((q) => q.complete))}`);
  assert.ok(transfers.every((q) => q.complete === false), JSON.stringify(transfers));
});

test("load a model from a resolve/main/ URL and transcribe", { timeout: 10 * MINUTES }, async () => {
  const model = `${mirror.hubUrl}/someone/whisper-tiny-random/resolve/main/`;
  const seen = mirror.requests.length;
  const out = await page.evaluate(async (model) => {
    const { Whisper } = await import("/whisper-clsr.js");
    const progress = [];
    const asr = await Whisper.load({ model, onProgress: (p) => progress.push(p) });
    const blob = await (await fetch("/__e2e/jfk.wav")).blob();
    const r = await asr.transcribe(blob, { language: "en" });
    const info = asr.info;
    asr.dispose();
    const local = await Whisper.load({ model: "/local-tiny/", cache: false });
    const same = await local.transcribe(blob, { language: "en" });
    local.dispose();
    return { progress, r, info, same };
  }, model);
  const requests = mirror.requests.slice(seen);
  console.log(`mirror requests: ${JSON.stringify(requests.map((q) => `${q.server} ${q.method} ${q.url.split("?")[0]} ${q.status}`))}`);
  console.log(`from the mirror: "${out.r.text}"; from the page's origin: "${out.same.text}"`);

  // Every file came from the hub, the large one through the redirect to the CDN.
  for (const f of FILES) {
    assert.ok(requests.some((q) => q.server === "hub" && q.method === "GET" && q.url.endsWith(`/resolve/main/${f}`)), `hub GET ${f}`);
  }
  assert.ok(requests.some((q) => q.server === "hub" && q.url.endsWith("/model.safetensors") && q.status === 302), "the model's bytes were redirected");
  assert.ok(requests.some((q) => q.server === "cdn" && q.method === "GET" && q.status === 200), "the CDN served the model's bytes");

  // Progress: bytes over all three files, up to their sizes on disk.
  const downloads = out.progress.filter((p) => p.stage === "download");
  const total = FILES.reduce((n, f) => n + statSync(path.join(tinyDir, f)).size, 0);
  const last = downloads.at(-1);
  assert.equal(last.total, total, JSON.stringify(last));
  assert.equal(last.loaded, total, JSON.stringify(last));
  assert.ok(downloads.every((p) => !p.fromCache), "first load comes from the network");
  const loaded = downloads.map((p) => p.loaded);
  assert.ok(loaded.every((n, i) => i === 0 || n >= loaded[i - 1]), "loaded never goes back");
  assert.ok(downloads.filter((p) => p.total === total && p.loaded < total).length > 0, "the total was known while bytes still came in");
  assert.ok(out.progress.some((p) => p.stage === "init"));

  assert.ok(out.r.tokens.length > 0, "the tiny model transcribes something");
  assert.deepEqual(out.r.tokens, out.same.tokens, "the mirrored model transcribes as the same files served locally");
  assert.equal(out.r.language, "en");
  assert.equal(out.info.multilingual, false);
  assert.deepEqual(out.info.languages, [{ code: "en", name: "english" }]);
});

test("the demo starts with the model its address names (?model=…/resolve/main/)", { timeout: 10 * MINUTES }, async () => {
  const model = `${mirror.hubUrl}/someone/whisper-tiny-random/resolve/main/`;
  const demo = await newPage(browser);
  await demo.goto(`${server.url}?model=${encodeURIComponent(model)}`);
  assert.equal(await demo.locator("#model-choice").inputValue(), "url");
  assert.equal(await demo.locator("#model-url").inputValue(), model);
  assert.equal(await demo.locator("#model-url").isVisible(), true);
  // The mirror is another origin: the demo asks before downloading from it.
  await demo.waitForFunction(() => document.body.dataset.state === "confirm");
  await demo.click("#load-model");
  await demo.waitForFunction(() => ["ready", "error"].includes(document.body.dataset.state), null, { timeout: 8 * MINUTES });
  assert.equal(await demo.locator("#error").isHidden(), true, await demo.locator("#error").textContent());
  const status = await demo.locator("#status").textContent();
  console.log(`demo: ${status}`);
  assert.match(status, /^Ready in [\d.]+ s on /);
  assert.deepEqual(await demo.$$eval("#language option", (os) => os.map((o) => o.value)), ["en"]);
  await demo.close();
});
