// The demo site like a visitor uses it: the page loads its default model (whisper-base) on its
// own; a file goes into the upload control, and the transcript and timings appear. The upload
// is transcribed with a tiny random-weight model (tiny-model.mjs, written into www/models/ for
// the run): on SwiftShader a whisper-base transcription costs minutes, and the words a real
// model hears through the demo are checked in demo-mic-expert.test.mjs (recording) and
// demo-live.test.mjs (Live mode). Leaves a screenshot in test-output/.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import path from "node:path";
import { checkPrerequisites, serve, launchBrowser, newPage, OUTPUT, WWW } from "./harness.mjs";
import { writeTinyModel } from "./tiny-model.mjs";
import { jfkPhrase } from "./wav-edit.mjs";

const MINUTES = 60_000;
const MODEL = "e2e-ui-tiny";
let server, browser, removeModel;

before(async () => {
  checkPrerequisites(["whisper-base"]);
  removeModel = writeTinyModel(path.join(WWW, "models", MODEL), 46);
  server = await serve();
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
  server?.close();
  removeModel?.();
});

const settled = (page, states, minutes) =>
  page.waitForFunction((s) => s.includes(document.body.dataset.state), states, { timeout: minutes * MINUTES });

test("the demo loads its default model, whisper-base, on its own", { timeout: 10 * MINUTES }, async () => {
  const page = await newPage(browser);
  const started = Date.now();
  await page.goto(server.url);
  assert.equal(await page.locator("#model-choice").inputValue(), "models/whisper-base/");
  await settled(page, ["ready", "error"], 8);
  assert.equal(await page.locator("#error").isHidden(), true, await page.locator("#error").textContent());
  const status = await page.locator("#status").textContent();
  console.log(`whisper-base loaded in ${((Date.now() - started) / 1000).toFixed(1)} s: ${status}`);
  assert.match(status, /^Ready in [\d.]+ s on /);
  // A multilingual model: every language Whisper knows is offered.
  const languages = await page.$$eval("#language option", (os) => os.map((o) => o.value));
  assert.ok(languages.includes("en") && languages.includes("ca") && languages.length >= 99, languages.join(" "));
  await page.close();
});

test("demo UI: an uploaded file's transcript and timings appear", { timeout: 10 * MINUTES }, async () => {
  const page = await newPage(browser);
  await page.goto(`${server.url}?model=models/${MODEL}/`);
  await settled(page, ["ready", "error"], 5);
  assert.equal(await page.locator("#error").isHidden(), true, await page.locator("#error").textContent());

  await page.selectOption("#language", "en");
  await page.setInputFiles("#audio-file", { name: "jfk-phrase.wav", mimeType: "audio/wav", buffer: jfkPhrase().wav });
  await settled(page, ["done", "error"], 5);
  const error = await page.locator("#error").textContent();
  assert.equal(await page.locator("#error").isHidden(), true, `the page shows an error: ${error}`);

  const transcript = await page.locator("#transcript").textContent();
  console.log(`transcript: "${transcript}"`);
  assert.ok(transcript.trim().length > 0, "the transcript is shown");
  assert.match(await page.locator("#t-encoder").textContent(), /^\d+ ms$/);
  assert.match(await page.locator("#t-rtf").textContent(), /^\d+\.\d\d/);
  assert.notEqual(await page.locator("#t-device").textContent(), "");
  assert.equal(await page.locator("#t-language").textContent(), "English (en) · base model (no expert pack)");
  assert.equal(await page.locator("#heatmap").isHidden(), true, "no pack, no gate heatmap");
  // The page says when WebGPU runs in software (SwiftShader here), so slowness is explained.
  assert.equal(await page.locator("#cpu-device").isVisible(), !process.env.WHISPER_CLSR_REAL_GPU);
  for (const id of ["#t-language", "#t-encoder", "#t-decoder", "#t-rtf", "#t-device"]) {
    console.log(`${id}: ${await page.locator(id).textContent()}`);
  }

  mkdirSync(OUTPUT, { recursive: true });
  const shot = path.join(OUTPUT, "demo-after-transcription.png");
  await page.screenshot({ path: shot, fullPage: true });
  console.log(`screenshot: ${shot}`);
});
