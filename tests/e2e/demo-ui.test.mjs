// The demo site transcribes jfk.wav's last phrase (wav-edit.mjs) with whisper-base through its
// UI, like a visitor would:
// the page loads the default model, a file goes into the upload control, the transcript and
// timings appear. Leaves a screenshot in test-output/.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import path from "node:path";
import { checkPrerequisites, serve, launchBrowser, newPage, words, OUTPUT } from "./harness.mjs";
import { jfkPhrase } from "./wav-edit.mjs";

const MINUTES = 60_000;
let server, browser;

before(async () => {
  checkPrerequisites(["whisper-base"]);
  server = await serve();
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
  server?.close();
});

test("demo UI transcribes the last phrase of jfk.wav with whisper-base", { timeout: 40 * MINUTES }, async () => {
  const page = await newPage(browser);
  const started = Date.now();
  await page.goto(server.url);
  assert.equal(await page.locator("#model-choice").inputValue(), "models/whisper-base/");
  await page.waitForFunction(() => ["ready", "error"].includes(document.body.dataset.state), null, { timeout: 10 * MINUTES });
  assert.equal(await page.locator("#error").isHidden(), true, await page.locator("#error").textContent());
  const loaded = Date.now();
  console.log(`model loaded in ${((loaded - started) / 1000).toFixed(1)} s: ${await page.locator("#status").textContent()}`);

  await page.selectOption("#language", "en");
  await page.setInputFiles("#audio-file", { name: "jfk-phrase.wav", mimeType: "audio/wav", buffer: jfkPhrase().wav });
  await page.waitForFunction(() => ["done", "error"].includes(document.body.dataset.state), null, { timeout: 30 * MINUTES });
  const error = await page.locator("#error").textContent();
  assert.equal(await page.locator("#error").isHidden(), true, `the page shows an error: ${error}`);
  console.log(`transcribed in ${((Date.now() - loaded) / 1000).toFixed(1)} s`);

  const transcript = await page.locator("#transcript").textContent();
  assert.deepEqual(words(transcript), jfkPhrase().words);
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
