// A large audio file through the JS API with whisper-tiny.en: an MP3 of 17 MB (jfk.wav's last
// phrase, then 7 minutes of digital silence; 44.1 kHz stereo at 320 kbit/s, made here with sox
// and lame). From 16 MB on, the page hands a WAV/FLAC/MP3/OGG file to the worker as it is, and
// the worker decodes it piece by piece (Blob slices read with FileReaderSync, symphonia, the
// streaming resampler and spectrogram: docs/web.md, "Long audio"), so neither the file nor its
// PCM is ever whole in memory. Checked: the page never calls decodeAudioData, the transcript is
// the phrase's words, the duration is the file's, and a large file that is not audio is
// refused with its name.

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
  const wav = path.join(dir, "long.wav");
  run("sox", [phrase, "-r", "44100", "-c", "2", wav, "pad", "0", String(SILENCE_SECONDS)]);
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

test("a 17 MB MP3 is decoded in the worker, streaming, and transcribed", { timeout: 20 * MINUTES }, async () => {
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
    const started = performance.now();
    const r = await asr.transcribe(file, { language: "en", onProgress: (p) => progress.push(p) });
    const ms = performance.now() - started;
    // Not audio: an ID3 tag, then 16 MiB of zeros.
    const id3 = new Uint8Array([0x49, 0x44, 0x33, 3, 0, 0, 0, 0, 0, 0]);
    const junk = new File([id3, new Uint8Array(16 << 20)], "junk.mp3");
    const refused = await asr.transcribe(junk).then(() => "transcribed?!", (e) => e.message);
    asr.dispose();
    return { r, ms, progress, pageDecodes, bytes: file.size, refused };
  });
  console.log(`${out.bytes} bytes in ${(out.ms / 1000).toFixed(1)} s: "${out.r.text}" duration ${out.r.duration} s, ${JSON.stringify(out.r.timings)}`);
  console.log(`progress: ${JSON.stringify(out.progress.slice(0, 3))} … ${out.progress.length} reports; not audio: ${out.refused}`);
  assert.equal(out.pageDecodes, 0, "the page decoded the large file itself");
  assert.deepEqual(words(out.r.text), jfkPhrase().words);
  const seconds = jfkPhrase().seconds + SILENCE_SECONDS;
  // An MP3 adds its encoder delay and padding (a few frames of 26 ms) to the audio.
  assert.ok(Math.abs(out.r.duration - seconds) < 0.2, `duration ${out.r.duration} s, the file holds ${seconds} s`);
  assert.equal(out.progress.at(-1).done, out.progress.at(-1).total, "progress reaches the end");
  assert.match(out.refused, /junk\.mp3/, "the error names the file");
});
