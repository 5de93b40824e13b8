// A second visit loads the model without the network: the first load keeps the files in
// Cache Storage; with every model request then failing, loading again still works.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { checkPrerequisites, serve, launchBrowser, WWW } from "./harness.mjs";

let server, browser;

before(async () => {
  checkPrerequisites(["whisper-tiny.en"]);
  server = await serve(WWW);
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
  server?.close();
});

const load = (page) =>
  page.evaluate(async () => {
    const { Whisper } = await import("/whisper-clsr.js");
    const progress = [];
    const asr = await Whisper.load({ model: "/models/whisper-tiny.en/", onProgress: (p) => progress.push(p) });
    const info = asr.info;
    asr.dispose();
    return { info, downloads: progress.filter((p) => p.stage === "download") };
  });

test("model files come from Cache Storage when the network fails", { timeout: 5 * 60_000 }, async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.route(`${server.url}__e2e/plain.html`, (route) =>
    route.fulfill({ contentType: "text/html", body: "<!doctype html><title>plain</title>" }),
  );
  await page.goto(`${server.url}__e2e/plain.html`);

  const first = await load(page);
  assert.ok(first.downloads.some((p) => !p.fromCache), "the first load downloads");

  let blocked = 0;
  await context.route("**/models/whisper-tiny.en/**", (route) => {
    blocked++;
    return route.abort("internetdisconnected");
  });
  const second = await load(page);
  assert.ok(second.downloads.length > 0 && second.downloads.every((p) => p.fromCache), JSON.stringify(second.downloads.slice(-3)));
  assert.equal(second.info.fingerprint, first.info.fingerprint);
  console.log(`second load from cache; ${blocked} network requests were refused`);
  assert.ok(blocked > 0, "the worker's requests went through the blocked route");
  await context.close();
});
