// The demo's Live mode with Chromium's fake microphone playing the last phrase of jfk.wav ("ask
// what you can do for your country", 3.1 s) then 2.5 s of silence, whisper-tiny.en: the visitor clicks Live, the page captures through the AudioWorklet,
// resamples to 16 kHz and the worker runs the live policy (Silero VAD, LocalAgreement-2).
// Committed text may only grow; tentative text is shown apart (greyed); once stopped, the
// committed words are the offline transcript's. The paper's initial expert pack (every gate
// open, each expert a copy of the base model's feed-forward layer: the text is the base
// model's) is loaded first through the page's pack control, so the decodings are routed
// through it, and the status line names it. `?live-catch-up=0` feeds every 0.1 s block
// on its own, so the decodings are the same however slow SwiftShader is (as the CLI's
// `--clock simulated`); the fake microphone runs in real time regardless. Each decoding encodes a
// whole 30 s window (about a minute on SwiftShader), so the clip is kept to a few decodings:
// two while the phrase plays (the second can commit what both agree on), one at its end.
// Leaves a screenshot in test-output/.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { checkPrerequisites, serve, launchBrowser, newPage, words, OUTPUT, WWW } from "./harness.mjs";
import { jfkPhrase, withSilence } from "./wav-edit.mjs";

const MINUTES = 60_000;
const PACK = "whisper-tiny.en-en-init.safetensors";
const PHRASE = jfkPhrase();
const SILENCE_SECONDS = 2.5;
let server, browser;

before(async () => {
  checkPrerequisites(["whisper-tiny.en"], [PACK]);
  const vad = path.join(WWW, "models/silero-vad/silero_vad.onnx");
  if (!existsSync(vad)) throw new Error(`${vad} is missing: run scripts/test-web.sh (it links models/silero-vad into www/models/)`);
  server = await serve();
  const wav = path.join(mkdtempSync(path.join(tmpdir(), "fake-mic-")), "phrase-then-silence.wav");
  writeFileSync(wav, withSilence(PHRASE.wav, SILENCE_SECONDS));
  browser = await launchBrowser({
    extraArgs: ["--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream", `--use-file-for-fake-audio-capture=${wav}%noloop`],
  });
});
after(async () => {
  await browser?.close();
  server?.close();
});

test("demo: Live mode on the fake microphone with whisper-tiny.en", { timeout: 20 * MINUTES }, async () => {
  const page = await newPage(browser);
  await page.goto(`${server.url}?model=models/whisper-tiny.en/&live-catch-up=0`);
  await page.waitForFunction(() => ["ready", "error"].includes(document.body.dataset.state), null, { timeout: 10 * MINUTES });
  assert.equal(await page.locator("#error").isHidden(), true, await page.locator("#error").textContent());
  await page.click("#experts-panel summary");
  await page.setInputFiles("#expert-files", { name: "en.safetensors", mimeType: "application/octet-stream", buffer: readFileSync(path.join(WWW, "packs", PACK)) });
  await page.locator("#expert-list li").waitFor({ timeout: 2 * MINUTES });
  assert.equal(await page.locator("#error").isHidden(), true, await page.locator("#error").textContent());

  // Every value the committed and tentative text take, in order.
  await page.evaluate(() => {
    window.liveHistory = [];
    const committed = document.getElementById("live-committed");
    const tentative = document.getElementById("live-tentative");
    const record = () => window.liveHistory.push({ committed: committed.textContent, tentative: tentative.textContent, at: performance.now() });
    const observer = new MutationObserver(record);
    for (const el of [committed, tentative]) observer.observe(el, { childList: true, characterData: true, subtree: true });
    // The status line while listening: seconds captured, then the language heard.
    window.liveStatuses = new Set();
    const status = document.getElementById("live-status");
    new MutationObserver(() => window.liveStatuses.add(status.textContent)).observe(status, { childList: true, characterData: true, subtree: true });
  });
  const started = Date.now();
  await page.click("#live-button");
  await page.waitForFunction(() => document.getElementById("live-button").textContent.includes("Stop"), null, { timeout: 60_000 });
  // The fake microphone plays the phrase and the silence in real time.
  await page.waitForFunction(
    (seconds) => Number(document.getElementById("live-status").textContent.match(/([\d.]+) s/)?.[1]) >= seconds,
    PHRASE.seconds + SILENCE_SECONDS - 0.3,
    { timeout: 3 * MINUTES, polling: 200 },
  );
  const stopped = Date.now();
  await page.click("#live-button");
  console.log(`at Stop: ${JSON.stringify(await page.evaluate(() => window.liveHistory.at(-1) ?? null))}`);
  try {
    await page.waitForFunction(() => ["done", "error"].includes(document.body.dataset.state), null, { timeout: 15 * MINUTES });
  } catch (e) {
    // Show how far it got: each update decodes a full 30 s window, slow on SwiftShader.
    const history = await page.evaluate(() => window.liveHistory);
    console.log(`not finished; committed so far:\n${[...new Set(history.map((h) => h.committed))].join("\n")}`);
    throw e;
  }
  assert.equal(await page.locator("#error").isHidden(), true, `the page shows an error: ${await page.locator("#error").textContent()}`);
  console.log(`captured for ${((stopped - started) / 1000).toFixed(1)} s, finished ${((Date.now() - stopped) / 1000).toFixed(1)} s after Stop`);

  const history = await page.evaluate(() => window.liveHistory);
  const committed = history.map((h) => h.committed);
  console.log(`committed text over time:\n${[...new Set(committed)].join("\n")}`);
  console.log(`tentative texts: ${JSON.stringify([...new Set(history.map((h) => h.tentative))].filter(Boolean))}`);
  for (let i = 1; i < committed.length; i++) {
    assert.ok(committed[i].startsWith(committed[i - 1]), `committed text shrank or changed:\n${committed[i - 1]}\n→ ${committed[i]}`);
  }
  const commits = [...new Set(committed.filter((c) => c.trim()))];
  assert.ok(commits.length >= 2, `words are committed while the phrase plays, not only at its end: ${JSON.stringify(commits)}`);
  assert.ok(history.some((h) => h.tentative.trim()), "tentative text is shown");

  const final = await page.locator("#live-committed").textContent();
  console.log(`final: ${final}`);
  assert.equal(await page.locator("#live-tentative").textContent(), "", "nothing is left tentative after Stop");
  // Tentative text is greyed, committed text is not.
  const colors = await page.evaluate(() => ["live-committed", "live-tentative"].map((id) => getComputedStyle(document.getElementById(id)).color));
  assert.notEqual(colors[0], colors[1]);
  assert.match(await page.locator("#live-latency").textContent(), /^latency \d+\.\d s$/);
  // The decodings' language and expert reach the page.
  const statuses = await page.evaluate(() => [...window.liveStatuses]);
  assert.ok(statuses.some((s) => /^listening… [\d.]+ s · en, expert en$/.test(s)), `the language and expert are shown: ${JSON.stringify(statuses)}`);
  mkdirSync(OUTPUT, { recursive: true });
  await page.screenshot({ path: path.join(OUTPUT, "demo-live.png"), fullPage: true });
  assert.deepEqual(words(final), PHRASE.words);
});
