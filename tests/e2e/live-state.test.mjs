// The page's live state (www/lib/live-state.js), in Node: commits append, a partial replaces
// the tentative text, a commit without a partial after it leaves nothing tentative.

import { test } from "node:test";
import assert from "node:assert/strict";
import { LiveState } from "../../www/lib/live-state.js";

const word = (w, start, end) => ({ word: w, start, end });
const commit = (words) => ({ type: "commit", text: words.map((w) => w.word).join("").trim(), start: words[0].start, end: words.at(-1).end, emittedAt: 0, words });
const partial = (text) => ({ type: "partial", text, start: 0, end: 0, emittedAt: 0, words: [] });

test("committed text grows, tentative text is replaced, latency is measured", () => {
  const s = new LiveState();
  assert.deepEqual(s.apply([partial("And so")], 1.1), []);
  assert.deepEqual([s.committed, s.tentative, s.latency], ["", "And so", null]);
  const c = commit([word(" And", 0.3, 0.7)]);
  assert.deepEqual(s.apply([c, partial("so my fellow")], 2.1), [c]);
  assert.equal(s.committed, "And");
  assert.equal(s.tentative, "so my fellow");
  assert.ok(Math.abs(s.latency - 1.4) < 1e-9);
  s.apply([commit([word(" so", 0.7, 0.9), word(" my,", 0.9, 1.2)])], 3.0);
  assert.deepEqual([s.committed, s.tentative], ["And so my,", ""]);
  assert.equal(s.snapshot().segments.length, 2);
  // Nothing new: the tentative text stays.
  s.apply([partial("fellow")], 3.5);
  s.apply([], 3.6);
  assert.equal(s.tentative, "fellow");
});

test("a snapshot is a copy", () => {
  const s = new LiveState();
  s.apply([commit([word(" Ask", 0, 0.4)])], 1);
  const snap = s.snapshot();
  snap.segments[0].words[0].word = " changed";
  assert.equal(s.committed, "Ask");
});

test("the latest decoding's language and expert are kept, and each commit's own", () => {
  const s = new LiveState();
  assert.deepEqual([s.snapshot().language, s.snapshot().expert], [null, null]);
  s.apply([{ ...commit([word(" Bon", 0, 0.4)]), language: "ca", expert: "ca" }], 1);
  s.apply([{ ...partial("dia"), language: "es", expert: null }], 1.5);
  const snap = s.snapshot();
  assert.deepEqual([snap.language, snap.expert], ["es", null]);
  assert.deepEqual([snap.segments[0].language, snap.segments[0].expert], ["ca", "ca"]);
  // Events without the fields leave them as they were.
  s.apply([partial("dia bo")], 2);
  assert.equal(s.snapshot().language, "es");
});
