// The demo shows a readable error for a file that is not audio.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import path from "node:path";
import { checkPrerequisites, serve, launchBrowser, newPage, OUTPUT } from "./harness.mjs";

let server, browser;

before(async () => {
  checkPrerequisites([]);
  server = await serve();
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
  server?.close();
});

test("demo shows an error for an unreadable audio file", { timeout: 5 * 60_000 }, async () => {
  const page = await newPage(browser);
  await page.goto(server.url);
  await page.setInputFiles("#audio-file", {
    name: "notes.wav",
    mimeType: "audio/wav",
    buffer: Buffer.from("these are not the samples you are looking for\n".repeat(50)),
  });
  const error = page.locator("#error");
  await error.waitFor({ state: "visible", timeout: 60_000 });
  const message = await error.textContent();
  console.log(`error shown: ${message}`);
  assert.match(message, /could not decode 'notes\.wav'/);
  mkdirSync(OUTPUT, { recursive: true });
  await page.screenshot({ path: path.join(OUTPUT, "demo-unreadable-file.png"), fullPage: true });
});
