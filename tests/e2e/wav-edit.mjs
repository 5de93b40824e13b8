// WAV helpers for the fake-microphone tests.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { FIXTURES, words } from "./harness.mjs";

/** The `fmt ` fields and the data chunk's place in a PCM WAV file. */
function layout(wav) {
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
    if (id === "data") return { rate, blockAlign, dataAt: at + 8, dataSize: size };
    at += 8 + size + (size % 2);
  }
  throw new Error("no data chunk in the WAV file");
}

/** A WAV file whose data chunk holds `data` (the header up to the chunk is kept). */
function withData(wav, dataAt, data) {
  const out = Buffer.concat([wav.subarray(0, dataAt), data]);
  out.writeUInt32LE(data.length, dataAt - 4);
  out.writeUInt32LE(out.length - 8, 4);
  return out;
}

/** A PCM WAV file's bytes with `seconds` of digital silence appended to its data chunk. */
export function withSilence(wav, seconds) {
  const { rate, blockAlign, dataAt, dataSize } = layout(wav);
  const silence = Buffer.alloc(Math.round(seconds * rate) * blockAlign);
  return withData(wav, dataAt, Buffer.concat([wav.subarray(dataAt, dataAt + dataSize), silence]));
}

/** A PCM WAV file's audio from `seconds` on. */
export function fromSecond(wav, seconds) {
  const { rate, blockAlign, dataAt, dataSize } = layout(wav);
  const skip = Math.min(dataSize, Math.round(seconds * rate) * blockAlign);
  return withData(wav, dataAt, wav.subarray(dataAt + skip, dataAt + dataSize));
}

/**
 * jfk.wav's last phrase, "ask what you can do for your country" (from 7.9 s to its end, 3.1 s),
 * as WAV bytes, with its words from the reference transcript. Tests whose subject is not
 * accuracy transcribe it instead of the whole clip: the same encoder pass, 9 decoder steps
 * instead of 24 (each ~2.6 s with tiny.en on SwiftShader). (The first phrase, cut short, is
 * one tiny.en hears as "and so am i fellow americans", as faster-whisper does too.)
 */
export function jfkPhrase() {
  const wav = fromSecond(readFileSync(path.join(FIXTURES, "jfk.wav")), PHRASE_START);
  return {
    seconds: layout(wav).dataSize / layout(wav).rate / layout(wav).blockAlign,
    wav,
    words: words(readFileSync(path.join(FIXTURES, "jfk.txt"), "utf8")).slice(-8),
  };
}
const PHRASE_START = 7.9;
