// WAV helpers for the fake-microphone tests.

import assert from "node:assert/strict";

/** A PCM WAV file's bytes with `seconds` of digital silence appended to its data chunk. */
export function withSilence(wav, seconds) {
  assert.equal(wav.toString("ascii", 0, 4), "RIFF");
  let at = 12;
  let blockAlign, rate;
  while (at + 8 <= wav.length) {
    const id = wav.toString("ascii", at, at + 4);
    const size = wav.readUInt32LE(at + 4);
    if (id === "fmt ") {
      rate = wav.readUInt32LE(at + 12);
      blockAlign = wav.readUInt16LE(at + 20);
    }
    if (id === "data") {
      const silence = Buffer.alloc(Math.round(seconds * rate) * blockAlign);
      const out = Buffer.concat([wav.subarray(0, at + 8 + size), silence]);
      out.writeUInt32LE(size + silence.length, at + 4);
      out.writeUInt32LE(out.length - 8, 4);
      return out;
    }
    at += 8 + size + (size % 2);
  }
  throw new Error("no data chunk in the WAV file");
}
