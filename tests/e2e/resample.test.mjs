// The live capture's resampler (www/lib/capture-worklet.js) against analytic references, in
// Node (no browser): a tone below 8 kHz comes out as the same tone at 16 kHz, a tone above it
// is removed, and feeding the input in odd-sized pieces gives the same output as all at once.

import { test } from "node:test";
import assert from "node:assert/strict";
import { StreamResampler, TARGET_RATE } from "../../www/lib/capture-worklet.js";

const tone = (hz, rate, seconds) => Float32Array.from({ length: Math.round(rate * seconds) }, (_, i) => Math.sin((2 * Math.PI * hz * i) / rate));

function resample(input, rate, pieces = [input.length]) {
  const r = new StreamResampler(rate);
  const parts = [];
  let at = 0;
  for (let i = 0; at < input.length; i++) {
    const n = pieces[i % pieces.length];
    parts.push(r.push(input.subarray(at, at + n)));
    at += n;
  }
  return Float32Array.from(parts.flatMap((p) => [...p]));
}

const rms = (x) => Math.sqrt(x.reduce((s, v) => s + v * v, 0) / x.length);

for (const rate of [48_000, 44_100, 22_050]) {
  test(`${rate} Hz → 16 kHz: passband tones keep their shape, stop-band tones go`, () => {
    for (const hz of [440, 1000, 3000, 6000]) {
      const out = resample(tone(hz, rate, 1), rate);
      // Output sample n is the input at time n / 16000 s (the filter has no delay).
      assert.ok(Math.abs(out.length - TARGET_RATE) <= 40, `length ${out.length}`);
      // Away from the start (zero history) and the end (not yet complete).
      const inner = out.subarray(400, out.length - 400);
      const expected = Float32Array.from(inner, (_, i) => Math.sin((2 * Math.PI * hz * (i + 400)) / TARGET_RATE));
      const err = rms(inner.map((v, i) => v - expected[i]));
      assert.ok(err < 0.01, `${hz} Hz: rms error ${err}`);
    }
    if (rate > TARGET_RATE) {
      // 9.5 kHz and above cannot be represented at 16 kHz: they must not alias into the band.
      for (const hz of [9500, 10_000].filter((f) => f < rate / 2)) {
        const out = resample(tone(hz, rate, 1), rate).subarray(400, -400);
        assert.ok(rms(out) < 0.01, `${hz} Hz leaks through: rms ${rms(out)}`);
      }
    }
  });
}

test("pieces of any size give the same samples as one piece", () => {
  const input = tone(700, 48_000, 0.5).map((v, i) => v + 0.3 * Math.sin(i * 0.37));
  const whole = resample(input, 48_000);
  const pieced = resample(input, 48_000, [128, 1, 333, 7, 4096]);
  assert.equal(pieced.length, whole.length);
  for (let i = 0; i < whole.length; i++) assert.ok(Math.abs(pieced[i] - whole[i]) < 1e-6, `sample ${i}`);
});

test("bad rates are refused with a clear error", () => {
  assert.throws(() => new StreamResampler(0), /sample rates must be positive/);
  assert.throws(() => new StreamResampler(Number.NaN), /sample rates must be positive/);
});
