// After one visit the demo opens and transcribes with the network off: the first visit with
// whisper-tiny.en installs the site's service worker (sw.js) and fills the caches; then the
// server is shut down and the browser is set offline, and a reload still shows the demo, loads
// the model from Cache Storage and transcribes the last phrase of jfk.wav (wav-edit.mjs).

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { checkPrerequisites, serve, launchBrowser, newPage, words } from "./harness.mjs";
import { jfkPhrase } from "./wav-edit.mjs";

const MINUTES = 60_000;
let server, browser;

before(async () => {
  checkPrerequisites(["whisper-tiny.en"]);
  server = await serve();
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
  server?.close();
});

const settled = (page, states) =>
  page.waitForFunction((s) => s.includes(document.body.dataset.state), states, { timeout: 30 * MINUTES });

test("the demo loads and transcribes offline after one visit", { timeout: 40 * MINUTES }, async () => {
  const page = await newPage(browser);
  const address = `${server.url}?model=models/whisper-tiny.en/`;
  await page.goto(address);
  await settled(page, ["ready", "error"]);
  assert.equal(await page.locator("#error").isHidden(), true, await page.locator("#error").textContent());
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
  assert.equal(await page.locator("#model-choice").inputValue(), "models/whisper-tiny.en/");
  await settled(page, ["ready", "error"]);
  assert.equal(await page.locator("#error").isHidden(), true, await page.locator("#error").textContent());
  assert.equal(await page.evaluate(() => navigator.serviceWorker.controller !== null), true, "the page is served by the service worker");
  console.log(`offline: model loaded in ${((Date.now() - started) / 1000).toFixed(1)} s`);

  await page.selectOption("#language", "en");
  await page.setInputFiles("#audio-file", { name: "jfk-phrase.wav", mimeType: "audio/wav", buffer: jfkPhrase().wav });
  await settled(page, ["done", "error"]);
  assert.equal(await page.locator("#error").isHidden(), true, await page.locator("#error").textContent());
  const transcript = await page.locator("#transcript").textContent();
  console.log(`offline: transcribed in ${((Date.now() - started) / 1000).toFixed(1)} s: ${transcript}`);
  assert.deepEqual(words(transcript), jfkPhrase().words);
});
