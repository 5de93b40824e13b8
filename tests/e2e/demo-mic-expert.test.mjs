// The demo's microphone and expert-pack paths, like a visitor would use them, with
// whisper-tiny.en (one transcription: each costs minutes on SwiftShader):
// - an expert pack goes in through the page's pack file control; its gates were set per layer
//   (tests/e2e/pack-edit.mjs) to route all, none or some tokens to the expert, and one layer
//   was dropped, so the heatmap must show those values and the dropped layer as uncovered;
// - Chromium's fake microphone plays jfk.wav's last phrase (wav-edit.mjs: the words are what
//   is checked, and a shorter clip is fewer decoder steps); the visitor clicks Record, then Stop, and the
//   recording (MediaRecorder, WebM/Opus) is decoded, resampled and transcribed with word
//   timestamps; the segment list seeks the player and the SRT download parses back.
// Leaves a screenshot in test-output/.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { checkPrerequisites, serve, launchBrowser, newPage, words, OUTPUT, WWW } from "./harness.mjs";
import { packWithGates } from "./pack-edit.mjs";
import { jfkPhrase, withSilence } from "./wav-edit.mjs";

const MINUTES = 60_000;
const PACK = "whisper-tiny.en-en-init.safetensors";
const PHRASE = jfkPhrase();
// tiny.en has 4 encoder and 4 decoder layers.
const PLAN = {
  encoder: ["open", "closed", "mixed", "open"],
  decoder: ["closed", "open", "mixed", "drop"],
};
let server, browser;

before(async () => {
  checkPrerequisites(["whisper-tiny.en"], [PACK]);
  server = await serve();
  // The fake capture device plays the file once (%noloop); Chromium converts the WAV (16 kHz
  // mono s16 here) to the capture format itself. At the end of the file it keeps repeating its
  // last few milliseconds (a buzz), so the clip gets 3 s of silence and the recording stops
  // before that runs out.
  const wav = path.join(mkdtempSync(path.join(tmpdir(), "fake-mic-")), "phrase-then-silence.wav");
  writeFileSync(wav, withSilence(PHRASE.wav, 3));
  browser = await launchBrowser({
    extraArgs: ["--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream", `--use-file-for-fake-audio-capture=${wav}%noloop`],
  });
});
after(async () => {
  await browser?.close();
  server?.close();
});

test("demo: expert pack heatmap, a microphone recording, its segments and SRT with whisper-tiny.en", { timeout: 30 * MINUTES }, async () => {
  const page = await newPage(browser);
  const started = Date.now();
  await page.goto(`${server.url}?model=models/whisper-tiny.en/`);
  assert.equal(await page.locator("#model-choice").inputValue(), "models/whisper-tiny.en/");
  await page.waitForFunction(() => ["ready", "error"].includes(document.body.dataset.state), null, { timeout: 10 * MINUTES });
  assert.equal(await page.locator("#error").isHidden(), true, await page.locator("#error").textContent());
  console.log(`model loaded in ${((Date.now() - started) / 1000).toFixed(1)} s: ${await page.locator("#status").textContent()}`);

  // The pack, through the page's control (inside the collapsed "expert packs" section).
  await page.click("#experts-panel summary");
  await page.setInputFiles("#expert-files", {
    name: "en-gates.safetensors",
    mimeType: "application/octet-stream",
    buffer: packWithGates(path.join(WWW, "packs", PACK), PLAN),
  });
  const listed = page.locator("#expert-list li");
  await listed.waitFor({ timeout: 2 * MINUTES });
  assert.equal(await page.locator("#error").isHidden(), true, await page.locator("#error").textContent());
  const listedText = await listed.textContent();
  console.log(`pack listed: ${listedText}`);
  assert.match(listedText, /^en\b.*4 encoder \+ 3 decoder layers/);
  assert.equal(await page.locator("#language").inputValue(), "en");

  // Record from the (fake) microphone for a little longer than the phrase, then stop.
  await page.click("#record");
  await page.waitForFunction(() => document.getElementById("record").textContent.includes("Stop"), null, { timeout: 30_000 });
  await page.waitForFunction(
    (seconds) => Number(document.getElementById("record-status").textContent.match(/([\d.]+) s/)?.[1]) >= seconds,
    PHRASE.seconds + 1.5,
    { timeout: 2 * MINUTES, polling: 200 },
  );
  const stopped = Date.now();
  await page.click("#record");
  await page.waitForFunction(() => ["done", "error"].includes(document.body.dataset.state), null, { timeout: 25 * MINUTES });
  const error = await page.locator("#error").textContent();
  assert.equal(await page.locator("#error").isHidden(), true, `the page shows an error: ${error}`);
  console.log(`recording transcribed in ${((Date.now() - stopped) / 1000).toFixed(1)} s`);

  const transcript = await page.locator("#transcript").textContent();
  console.log(`transcript: ${transcript}`);
  const expected = PHRASE.words.join(" ");
  assert.deepEqual(words(transcript), PHRASE.words);
  // The recording can be played back: a player with the recorded clip, readable as audio.
  assert.equal(await page.locator("#clip").isVisible(), true, "a player for the recording");
  await page.waitForFunction(() => {
    const clip = document.getElementById("clip");
    return clip.src.startsWith("blob:") && clip.readyState >= HTMLMediaElement.HAVE_METADATA;
  }, null, { timeout: 30_000 });
  const language = await page.locator("#t-language").textContent();
  console.log(`#t-language: ${language}`);
  assert.equal(language, "English (en) · through the en expert pack");

  // The heatmap: layer numbers over one row per part, one cell per layer, values as the
  // gates were set.
  assert.equal(await page.locator("#heatmap").isVisible(), true);
  assert.equal(await page.locator("#heatmap-lang").textContent(), "en");
  const numbers = await page.$$eval("#heatmap-rows .heatmap-axis .layer-number", (ns) => ns.map((n) => n.textContent));
  assert.deepEqual(numbers, ["0", "1", "2", "3"], "one layer number per column");
  const rows = await page.$$eval("#heatmap-rows .heatmap-row", (rs) =>
    rs.map((r) => ({
      label: r.querySelector(".heatmap-label").textContent,
      cells: [...r.querySelectorAll(".cell")].map((c) => ({
        text: c.textContent,
        value: c.dataset.value === undefined ? null : Number(c.dataset.value),
        none: c.classList.contains("none"),
        background: getComputedStyle(c).backgroundColor,
      })),
    })),
  );
  console.log(`heatmap: ${JSON.stringify(rows.map((r) => [r.label, r.cells.map((c) => c.text)]))}`);
  assert.deepEqual(rows.map((r) => r.label), ["encoder", "decoder"]);
  for (const [i, part] of ["encoder", "decoder"].entries()) {
    const cells = rows[i].cells;
    assert.equal(cells.length, 4, `${part}: one cell per layer`);
    PLAN[part].forEach((how, layer) => {
      const c = cells[layer];
      const where = `${part} layer ${layer} (${how}): ${JSON.stringify(c)}`;
      if (how === "drop") return assert.ok(c.none && c.value === null && c.text === "–", where);
      assert.ok(!c.none && c.value >= 0 && c.value <= 1, where);
      assert.equal(c.text, String(Math.round(c.value * 100)), where);
      if (how === "open") assert.equal(c.value, 1, where);
      if (how === "closed") assert.ok(c.value < 0.01, where);
    });
  }
  // Colour follows the value: a fully open layer is darker than a closed one.
  const lightness = (rgb) => rgb.match(/\d+/g).slice(0, 3).map(Number).reduce((a, b) => a + b);
  assert.ok(lightness(rows[0].cells[0].background) < lightness(rows[0].cells[1].background));

  // The segment list: times in order, words with their times, the words make the transcript.
  const segments = await page.$$eval("#segments li", (lis) =>
    lis.map((li) => ({
      time: li.querySelector(".time").textContent,
      words: [...li.querySelectorAll(".word")].map((w) => ({ text: w.textContent, start: Number(w.dataset.start), end: Number(w.dataset.end) })),
    })),
  );
  console.log(`segments: ${JSON.stringify(segments.map((s) => [s.time, s.words.map((w) => w.text).join("")]))}`);
  assert.ok(segments.length >= 1, "at least one segment is listed");
  assert.deepEqual(words(segments.flatMap((s) => s.words.map((w) => w.text)).join("")), words(expected));
  const allWords = segments.flatMap((s) => s.words);
  for (const [i, w] of allWords.entries()) {
    assert.ok(w.start <= w.end, `word ${i} ends before it starts: ${JSON.stringify(w)}`);
    if (i > 0) assert.ok(w.start >= allWords[i - 1].start, `words out of order at ${i}`);
  }
  // A segment's time ("m:ss.s") seeks the player there.
  const label = segments[segments.length - 1].time;
  const [mins, secs] = label.split(":").map(Number);
  await page.locator("#segments li .time").last().click();
  const at = await page.evaluate(() => {
    const clip = document.getElementById("clip");
    clip.pause();
    return clip.currentTime;
  });
  assert.ok(Math.abs(at - (mins * 60 + secs)) <= 0.3, `the player is at ${at} s after clicking ${label}`);

  // SRT download: numbered cues with valid times, the transcript's words.
  const [download] = await Promise.all([page.waitForEvent("download"), page.click("#download-srt")]);
  assert.equal(download.suggestedFilename(), "transcript.srt");
  const srt = readFileSync(await download.path(), "utf8");
  console.log(`srt:\n${srt}`);
  const cues = srt.trim().split(/\n\n/);
  assert.equal(cues.length, segments.length, "one cue per segment");
  let previousEnd = 0;
  cues.forEach((cue, i) => {
    const [number, times, ...text] = cue.split("\n");
    assert.equal(number, String(i + 1));
    const m = times.match(/^(\d\d):(\d\d):(\d\d),(\d\d\d) --> (\d\d):(\d\d):(\d\d),(\d\d\d)$/);
    assert.ok(m, `cue ${i + 1} times: ${times}`);
    const seconds = (h, mi, s, ms) => Number(h) * 3600 + Number(mi) * 60 + Number(s) + Number(ms) / 1000;
    const start = seconds(...m.slice(1, 5));
    const end = seconds(...m.slice(5, 9));
    assert.ok(start <= end && start >= previousEnd - 1e-9, `cue ${i + 1}: ${times}`);
    previousEnd = end;
    assert.ok(text.join(" ").trim().length > 0, `cue ${i + 1} has text`);
  });
  assert.deepEqual(words(cues.map((c) => c.split("\n").slice(2).join(" ")).join(" ")), words(expected));

  mkdirSync(OUTPUT, { recursive: true });
  const shot = path.join(OUTPUT, "demo-mic-expert.png");
  await page.screenshot({ path: shot, fullPage: true });
  console.log(`screenshot: ${shot}`);
});
