// After one visit the demo opens and transcribes with the network off: the first visit installs
// the site's service worker (sw.js), fills the caches and transcribes the last phrase of
// jfk.wav (wav-edit.mjs) through the upload control; then the server is shut down and the
// browser is set offline, and a reload still shows the demo, loads the model from Cache Storage
// and gives the same transcript. The subject is the caching, not the words: the model is a tiny
// random-weight one (tiny-model.mjs) written into www/models/ for the run, so the test costs
// seconds instead of two whisper-tiny.en transcriptions on SwiftShader.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { checkPrerequisites, serve, launchBrowser, newPage, WWW } from "./harness.mjs";
import { writeTinyModel } from "./tiny-model.mjs";
import { jfkPhrase } from "./wav-edit.mjs";

const MINUTES = 60_000;
const MODEL = "e2e-offline-tiny";
let server, browser, removeModel;

before(async () => {
  checkPrerequisites([]);
  removeModel = writeTinyModel(path.join(WWW, "models", MODEL), 43);
  server = await serve();
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
  server?.close();
  removeModel?.();
});

const settled = (page, states) =>
  page.waitForFunction((s) => s.includes(document.body.dataset.state), states, { timeout: 10 * MINUTES });

/** Loads the model the address names, transcribes the phrase through the upload control. */
async function transcribeUpload(page) {
  await settled(page, ["ready", "error"]);
  assert.equal(await page.locator("#error").isHidden(), true, await page.locator("#error").textContent());
  await page.selectOption("#language", "en");
  await page.setInputFiles("#audio-file", { name: "jfk-phrase.wav", mimeType: "audio/wav", buffer: jfkPhrase().wav });
  await settled(page, ["done", "error"]);
  assert.equal(await page.locator("#error").isHidden(), true, await page.locator("#error").textContent());
  return page.locator("#transcript").textContent();
}

test("the demo loads and transcribes offline after one visit", { timeout: 20 * MINUTES }, async () => {
  const page = await newPage(browser);
  const address = `${server.url}?model=models/${MODEL}/`;
  await page.goto(address);
  const online = await transcribeUpload(page);
  console.log(`online: "${online}"`);
  assert.ok(online.trim().length > 0, "the tiny model transcribes something");
  // The service worker has stored the site's files once it is active and controls the page.
  await page
    .waitForFunction(() => navigator.serviceWorker?.controller?.state === "activated", null, { timeout: 2 * MINUTES })
    .catch(() => assert.fail("no active service worker controls the demo page"));
  assert.equal(await page.evaluate(async () => (await navigator.serviceWorker.ready).scope), server.url);

  // The network goes away: the server stops and the browser is offline.
  server.close();
  await new Promise((resolve) => setTimeout(resolve, 500));
  await assert.rejects(fetch(server.url), "the server is really gone");
  await page.context().setOffline(true);

  const started = Date.now();
  await page.reload();
  assert.equal(await page.locator("#model-url").inputValue(), `models/${MODEL}/`);
  const offline = await transcribeUpload(page);
  assert.equal(await page.evaluate(() => navigator.serviceWorker.controller !== null), true, "the page is served by the service worker");
  console.log(`offline: loaded and transcribed in ${((Date.now() - started) / 1000).toFixed(1)} s: "${offline}"`);
  assert.equal(offline, online, "the cached model gives the transcript the downloaded one gave");
});
