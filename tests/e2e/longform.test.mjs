// Long-form transcription through the JS API with whisper-tiny.en: a 62 s clip (jfk.wav,
// 20 s of silence, jfk.wav again, 20 s of silence) with word timestamps, segments streamed as
// they finish, progress, SRT/VTT from the worker. (Aborting is tested with tiny random models
// in reliability.test.mjs.)

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { checkPrerequisites, serve, launchBrowser, newPage, words, FIXTURES } from "./harness.mjs";

const MINUTES = 60_000;
let server, browser, page;

before(async () => {
  checkPrerequisites(["whisper-tiny.en"]);
  server = await serve();
  browser = await launchBrowser();
  page = await newPage(browser);
  await page.route(`${server.url}__e2e/plain.html`, (route) =>
    route.fulfill({ contentType: "text/html", body: "<!doctype html><title>plain</title><p>plain page</p>" }),
  );
  await page.route(`${server.url}__e2e/jfk.wav`, (route) =>
    route.fulfill({ contentType: "audio/wav", body: readFileSync(path.join(FIXTURES, "jfk.wav")) }),
  );
  await page.goto(`${server.url}__e2e/plain.html`);
});
after(async () => {
  await browser?.close();
  server?.close();
});

test("JS API: a 62 s clip with word timestamps, streamed segments and subtitles", { timeout: 40 * MINUTES }, async () => {
  const out = await page.evaluate(async () => {
    const { Whisper, toSamples16k } = await import("/whisper-clsr.js");
    const asr = await Whisper.load({ model: "/models/whisper-tiny.en/" });
    const jfk = await toSamples16k(await (await fetch("/__e2e/jfk.wav")).blob());
    const gap = new Float32Array(20 * 16000);
    const clip = new Float32Array(2 * (jfk.length + gap.length));
    clip.set(jfk, 0);
    clip.set(jfk, jfk.length + gap.length);
    const streamed = [];
    const progress = [];
    const r = await asr.transcribe(clip, {
      timestamps: "word",
      onSegment: (s) => streamed.push(s),
      onProgress: (p) => progress.push(p),
    });
    return {
      r,
      streamed,
      progress,
      seconds: clip.length / 16000,
      alignmentHeads: asr.info.alignmentHeads,
      srt: await asr.subtitles(r, "srt"),
      vtt: await asr.subtitles(r, "vtt"),
    };
  });
  const { r } = out;
  console.log(`${r.segments.length} segments in ${(r.timings.encoderMs / 1000).toFixed(0)} s encoder + ${(r.timings.decoderMs / 1000).toFixed(0)} s decoder`);
  for (const s of r.segments) console.log(`  ${s.start.toFixed(2)} ${s.end.toFixed(2)} ${s.text}`);
  assert.ok(out.seconds >= 60);
  assert.equal(r.duration, out.seconds);
  assert.equal(out.alignmentHeads, true, "the converted tiny.en carries generation_config.json");
  const expected = words(readFileSync(path.join(FIXTURES, "jfk.txt"), "utf8"));
  assert.deepEqual(words(r.text), [...expected, ...expected], "jfk twice, nothing in the silences");
  assert.deepEqual(out.streamed, r.segments, "each segment streamed once, in order");
  assert.ok(out.progress.length >= 2);
  assert.equal(out.progress.at(-1).done, out.progress.at(-1).total);
  let previous = null;
  for (const s of r.segments) {
    assert.ok(s.start < s.end && s.end <= r.duration + 1e-6, JSON.stringify(s));
    if (previous) assert.ok(s.start >= previous.end - 1e-6, "segments in order");
    assert.ok(s.words?.length > 0, `segment ${s.id} has words`);
    assert.deepEqual(words(s.words.map((w) => w.word).join("")), words(s.text));
    for (const w of s.words) assert.ok(w.start <= w.end && w.probability >= 0 && w.probability <= 1, JSON.stringify(w));
    previous = s;
  }
  // The second jfk starts at 31 s: its first word is timed there, not in the silence.
  const second = r.segments.flatMap((s) => s.words).filter((w) => w.start > 15);
  assert.ok(second.length > 0 && Math.abs(second[0].start - 31.0) < 1.5, `second clip's first word at ${second[0]?.start}`);
  assert.equal(out.srt.trim().split(/\n\n/).length, r.segments.length);
  assert.ok(out.vtt.startsWith("WEBVTT\n\n"));
});
