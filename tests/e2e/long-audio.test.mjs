// A long recording through the JS API with whisper-tiny.en: an MP3 of 17 MB (jfk.wav's last
// phrase, 7 minutes of digital silence, the phrase again; 44.1 kHz stereo at 320 kbit/s, made
// here with sox and lame), transcribed long-form with word timestamps.
// - Decoding: from 16 MB on, the page hands a WAV/FLAC/MP3/OGG file to the worker as it is,
//   and the worker decodes it piece by piece (Blob slices read with FileReaderSync, symphonia,
//   the streaming resampler and spectrogram: docs/web.md, "Long audio"), so neither the file
//   nor its PCM is ever whole in memory. The page never calls decodeAudioData; the duration is
//   the file's; a large file that is not audio is refused with its name.
// - Long-form: the silent windows between the phrases are skipped without the encoder, and the
//   second phrase's words are timed at 423 s, not in the silence; segments stream as they
//   finish, progress reaches the end, SRT and VTT come from the worker.
// Long-form accuracy on a 47 s clip of four speakers is compared with faster-whisper
// natively (tests/longform.rs); aborting is tested with tiny random models in
// reliability.test.mjs.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { checkPrerequisites, serve, launchBrowser, newPage, words } from "./harness.mjs";
import { jfkPhrase } from "./wav-edit.mjs";

const MINUTES = 60_000;
const SILENCE_SECONDS = 420;
let server, browser, mp3;

/** Runs a command-line tool, naming the package to install when it is missing. */
function run(tool, args) {
  try {
    execFileSync(tool, args, { stdio: ["ignore", "ignore", "pipe"] });
  } catch (e) {
    if (e.code === "ENOENT") throw new Error(`${tool} is missing: apt-get install sox lame (scripts/setup.sh test installs both)`);
    throw new Error(`${tool} ${args.join(" ")} failed: ${e.stderr}`);
  }
}

before(async () => {
  checkPrerequisites(["whisper-tiny.en"]);
  const dir = mkdtempSync(path.join(tmpdir(), "long-audio-"));
  const phrase = path.join(dir, "phrase.wav");
  writeFileSync(phrase, jfkPhrase().wav);
  const first = path.join(dir, "first.wav");
  const second = path.join(dir, "second.wav");
  const wav = path.join(dir, "long.wav");
  run("sox", [phrase, "-r", "44100", "-c", "2", first, "pad", "0", String(SILENCE_SECONDS)]);
  run("sox", [phrase, "-r", "44100", "-c", "2", second]);
  run("sox", [first, second, wav]);
  mp3 = path.join(dir, "long.mp3");
  run("lame", ["--quiet", "-b", "320", wav, mp3]);
  assert.ok(statSync(mp3).size >= 16 << 20, `the MP3 must reach the streaming threshold: ${statSync(mp3).size} bytes`);
  server = await serve();
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
  server?.close();
});

test("a 17 MB MP3 is decoded in the worker, streaming, and transcribed long-form with word timestamps", { timeout: 30 * MINUTES }, async () => {
  const page = await newPage(browser);
  await page.route(`${server.url}__e2e/plain.html`, (route) => route.fulfill({ contentType: "text/html", body: "<!doctype html><title>plain</title>" }));
  await page.route(`${server.url}__e2e/long.mp3`, (route) => route.fulfill({ contentType: "audio/mpeg", path: mp3 }));
  await page.goto(`${server.url}__e2e/plain.html`);
  const out = await page.evaluate(async () => {
    // Counts the page's own decodes: the large files must not go through them.
    let pageDecodes = 0;
    const decode = OfflineAudioContext.prototype.decodeAudioData;
    OfflineAudioContext.prototype.decodeAudioData = function (...args) {
      pageDecodes++;
      return decode.apply(this, args);
    };
    const { Whisper } = await import("/whisper-clsr.js");
    const asr = await Whisper.load({ model: "/models/whisper-tiny.en/" });
    const blob = await (await fetch("/__e2e/long.mp3")).blob();
    const file = new File([blob], "long.mp3", { type: "audio/mpeg" });
    const progress = [];
    const streamed = [];
    const started = performance.now();
    const r = await asr.transcribe(file, {
      language: "en",
      timestamps: "word",
      onSegment: (s) => streamed.push(s),
      onProgress: (p) => progress.push(p),
    });
    const ms = performance.now() - started;
    const srt = await asr.subtitles(r, "srt");
    const vtt = await asr.subtitles(r, "vtt");
    // Not audio: an ID3 tag, then 16 MiB of zeros.
    const id3 = new Uint8Array([0x49, 0x44, 0x33, 3, 0, 0, 0, 0, 0, 0]);
    const junk = new File([id3, new Uint8Array(16 << 20)], "junk.mp3");
    const refused = await asr.transcribe(junk).then(() => "transcribed?!", (e) => e.message);
    const alignmentHeads = asr.info.alignmentHeads;
    asr.dispose();
    return { r, ms, progress, streamed, srt, vtt, pageDecodes, bytes: file.size, refused, alignmentHeads };
  });
  const { r } = out;
  console.log(`${out.bytes} bytes in ${(out.ms / 1000).toFixed(1)} s: "${r.text}" duration ${r.duration} s, ${JSON.stringify(r.timings)}`);
  for (const s of r.segments) console.log(`  ${s.start.toFixed(2)} ${s.end.toFixed(2)} ${s.text}`);
  console.log(`progress: ${JSON.stringify(out.progress.slice(0, 3))} … ${out.progress.length} reports; not audio: ${out.refused}`);

  // Decoding.
  assert.equal(out.pageDecodes, 0, "the page decoded the large file itself");
  const phrase = jfkPhrase();
  const seconds = 2 * phrase.seconds + SILENCE_SECONDS;
  // An MP3 adds its encoder delay and padding (a few frames of 26 ms) to the audio.
  assert.ok(Math.abs(r.duration - seconds) < 0.2, `duration ${r.duration} s, the file holds ${seconds} s`);
  assert.match(out.refused, /junk\.mp3/, "the error names the file");

  // Long-form.
  assert.deepEqual(words(r.text), [...phrase.words, ...phrase.words], "the phrase twice, nothing in the silence");
  assert.equal(out.alignmentHeads, true, "the converted tiny.en carries generation_config.json");
  assert.deepEqual(out.streamed, r.segments, "each segment streamed once, in order");
  assert.ok(out.progress.length >= 2);
  assert.equal(out.progress.at(-1).done, out.progress.at(-1).total, "progress reaches the end");
  let previous = null;
  for (const s of r.segments) {
    assert.ok(s.start < s.end && s.end <= r.duration + 1e-6, JSON.stringify(s));
    if (previous) assert.ok(s.start >= previous.end - 1e-6, "segments in order");
    assert.ok(s.words?.length > 0, `segment ${s.id} has words`);
    assert.deepEqual(words(s.words.map((w) => w.word).join("")), words(s.text));
    for (const w of s.words) assert.ok(w.start <= w.end && w.probability >= 0 && w.probability <= 1, JSON.stringify(w));
    previous = s;
  }
  // The second phrase starts after the silence: its first word is timed there.
  const secondStart = phrase.seconds + SILENCE_SECONDS;
  const second = r.segments.flatMap((s) => s.words).filter((w) => w.start > SILENCE_SECONDS / 2);
  assert.ok(second.length > 0 && Math.abs(second[0].start - secondStart) < 1.5, `second phrase's first word at ${second[0]?.start}, it starts at ${secondStart} s`);
  assert.equal(out.srt.trim().split(/\n\n/).length, r.segments.length);
  assert.ok(out.vtt.startsWith("WEBVTT\n\n"));
});
