// The demo page when visitors (or links) do odd things, without a model (model requests are
// refused, so nothing heavy loads): a double click on Record opens one microphone stream and
// Stop releases it; a MediaRecorder that throws releases the stream and says why; a cross-origin
// ?model= waits for the Load button; a file name with markup reaches the page as text.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { checkPrerequisites, serve, launchBrowser, newPage } from "./harness.mjs";

let server, browser;

before(async () => {
  checkPrerequisites([]);
  server = await serve();
  // Chromium's fake microphone (a beep), granted without a prompt.
  browser = await launchBrowser({ extraArgs: ["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"] });
});
after(async () => {
  await browser?.close();
  server?.close();
});

/** The demo with every getUserMedia stream it opens kept in window.streams; no model loads. */
async function demoPage(initScript = () => {}) {
  const page = await newPage(browser);
  await page.route("**/models/**", (route) => route.abort("blockedbyclient"));
  await page.addInitScript(() => {
    window.streams = [];
    const open = navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices);
    navigator.mediaDevices.getUserMedia = async (constraints) => {
      await new Promise((r) => setTimeout(r, 300)); // a slow permission prompt
      const stream = await open(constraints);
      window.streams.push(stream);
      return stream;
    };
  });
  await page.addInitScript(initScript);
  await page.goto(server.url);
  await page.waitForFunction(() => ["error", "ready"].includes(document.body.dataset.state));
  return page;
}

const liveTracks = (page) => page.evaluate(() => window.streams.flatMap((s) => s.getTracks()).filter((t) => t.readyState === "live").length);

test("a double click on Record opens one microphone stream; Stop releases it", { timeout: 2 * 60_000 }, async () => {
  const page = await demoPage();
  await page.dblclick("#record");
  await page.waitForFunction(() => document.querySelector("#record").textContent.includes("Stop"));
  await page.waitForTimeout(700);
  assert.equal(await page.evaluate(() => window.streams.length), 1, "streams opened");
  assert.equal(await liveTracks(page), 1);
  await page.click("#record");
  await page.waitForFunction(() => document.querySelector("#record").textContent.includes("Record"));
  assert.equal(await liveTracks(page), 0, "a microphone track is still live after Stop");
  await page.close();
});

test("a MediaRecorder that throws releases the microphone and shows why", { timeout: 2 * 60_000 }, async () => {
  const page = await demoPage(() => {
    window.MediaRecorder = class {
      constructor() {
        throw new DOMException("no encoder for this stream", "NotSupportedError");
      }
    };
  });
  await page.click("#record");
  await page.waitForFunction(() => /cannot record/.test(document.querySelector("#error").textContent));
  assert.match(await page.locator("#error").textContent(), /cannot record: no encoder for this stream/);
  assert.equal(await page.evaluate(() => window.streams.length), 1);
  assert.equal(await liveTracks(page), 0, "the stream leaked");
  await page.close();
});

test("a cross-origin ?model= is not downloaded until the visitor presses Load", { timeout: 2 * 60_000 }, async () => {
  const page = await newPage(browser);
  const elsewhere = "http://127.0.0.2:9/models/some-model/";
  const asked = [];
  await page.context().route("http://127.0.0.2:9/**", (route) => {
    asked.push(route.request().url());
    return route.fulfill({ status: 404, body: "" });
  });
  await page.goto(`${server.url}?model=${encodeURIComponent(elsewhere)}`);
  await page.waitForFunction(() => document.body.dataset.state === "confirm");
  assert.match(await page.locator("#status").textContent(), /download a model from http:\/\/127\.0\.0\.2:9\. Check the address/);
  assert.equal(await page.locator("#model-url").inputValue(), elsewhere);
  await page.waitForTimeout(500);
  assert.deepEqual(asked, [], "requests before the visitor agreed");
  await page.click("#load-model");
  await page.waitForFunction(() => document.body.dataset.state === "error");
  assert.ok(asked.length > 0, "Load did not download");
  await page.close();
});

test("a file name with markup is shown as text", { timeout: 2 * 60_000 }, async () => {
  const page = await demoPage();
  const name = `<img src=x onerror="window.pwned=1">.wav`;
  await page.setInputFiles("#audio-file", { name, mimeType: "audio/wav", buffer: Buffer.from("not audio at all\n".repeat(40)) });
  await page.waitForFunction(() => /could not decode/.test(document.querySelector("#error").textContent));
  assert.ok((await page.locator("#error").textContent()).includes(name));
  assert.equal(await page.locator("#error img").count(), 0);
  assert.equal(await page.evaluate(() => window.pwned), undefined);
  await page.close();
});
