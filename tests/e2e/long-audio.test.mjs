// Large audio files decoded in pieces (www/lib/audio.js): WAVs made here (a 3-minute 16 kHz
// mono one and a 2-minute 44.1 kHz stereo one, jfk.wav and a tone with pauses) decoded slice by
// slice must give the same 16 kHz samples as one decodeAudioData of the whole file. No model
// runs: the spectrogram is a function of these samples.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { serve, launchBrowser, newPage, FIXTURES } from "./harness.mjs";

let server, browser, page;

before(async () => {
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

test("a large WAV decoded in pieces equals one decodeAudioData of it", { timeout: 10 * 60_000 }, async () => {
  const results = await page.evaluate(async () => {
    const { toSamples16k } = await import("/lib/audio.js");
    const jfk = await toSamples16k(await (await fetch("/__e2e/jfk.wav")).blob());
    /** `seconds` of jfk.wav, a tone and pauses, at `rate` with `channels`, as 16-bit PCM WAV. */
    function makeWav(seconds, rate, channels) {
      const frames = seconds * rate;
      const data = new Int16Array(frames * channels);
      for (let i = 0; i < frames; i++) {
        const t = i / rate;
        const cycle = t % 40; // 11 s of speech, 9 s of tone, pauses
        const speech = cycle < 11 ? jfk[Math.min(jfk.length - 1, Math.floor(cycle * 16000))] : 0;
        const tone = cycle >= 15 && cycle < 24 ? 0.2 * Math.sin(2 * Math.PI * 330 * t) : 0;
        for (let c = 0; c < channels; c++) {
          const v = (c === 0 ? speech : 0.5 * speech) + tone;
          data[i * channels + c] = Math.max(-32768, Math.min(32767, Math.round(v * 32767)));
        }
      }
      const header = new DataView(new ArrayBuffer(44));
      const put = (i, s) => [...s].forEach((ch, k) => header.setUint8(i + k, ch.charCodeAt(0)));
      put(0, "RIFF");
      header.setUint32(4, 36 + data.byteLength, true);
      put(8, "WAVEfmt ");
      header.setUint32(16, 16, true);
      header.setUint16(20, 1, true);
      header.setUint16(22, channels, true);
      header.setUint32(24, rate, true);
      header.setUint32(28, rate * channels * 2, true);
      header.setUint16(32, channels * 2, true);
      header.setUint16(34, 16, true);
      put(36, "data");
      header.setUint32(40, data.byteLength, true);
      return new File([header, data], `clip-${rate}.wav`, { type: "audio/wav" });
    }
    const out = [];
    for (const [seconds, rate, channels] of [
      [180, 16000, 1],
      [120, 44100, 2],
    ]) {
      const file = makeWav(seconds, rate, channels);
      const whole = await toSamples16k(file, { pieceThresholdBytes: Infinity });
      const pieces = await toSamples16k(file, { pieceThresholdBytes: 0 });
      let maxDiff = 0;
      let at = -1;
      for (let i = 0; i < Math.min(whole.length, pieces.length); i++) {
        const d = Math.abs(whole[i] - pieces[i]);
        if (d > maxDiff) [maxDiff, at] = [d, i];
      }
      let peak = 0;
      for (const v of whole) peak = Math.max(peak, Math.abs(v));
      out.push({ rate, channels, bytes: file.size, whole: whole.length, pieces: pieces.length, maxDiff, at, peak });
    }
    return out;
  });
  for (const r of results) {
    console.log(JSON.stringify(r));
    assert.equal(r.pieces, r.whole, `${r.rate} Hz: the pieces give ${r.pieces} samples, the whole file ${r.whole}`);
    assert.ok(r.whole >= (r.rate === 16000 ? 180 : 120) * 16000 - 1, `${r.rate} Hz: ${r.whole} samples`);
    assert.ok(r.peak > 0.1, "the clip holds audio");
    assert.ok(r.maxDiff <= 1e-4, `${r.rate} Hz: max |diff| ${r.maxDiff} at sample ${r.at}`);
  }
});
