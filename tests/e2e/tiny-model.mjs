// A whole tiny Whisper with random weights, as files to serve to the page: the JavaScript twin
// of the Rust test kit's `tiny_whisper` (test-kit/src/tiny_whisper.rs and random_model.rs: the
// same tensor names, shapes, value ranges, config and tokenizer; only the random stream differs,
// so the weights are not byte-identical). d_model 32, one layer per stack, vocabulary 40,
// 32 decoder positions: a transcription takes a fraction of a second even on SwiftShader, so the
// long-running browser tests can run many. The e2e tests cannot build the Rust kit natively in
// CI's time budget (it would need a second, native build of wgpu), hence this port.

import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";

/** Seeded uniform [0, 1) numbers (mulberry32). */
function random(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const TINY_CONFIG = { dModel: 32, heads: 1, encoderLayers: 1, decoderLayers: 1, vocab: 40, nMels: 80, targetPositions: 32 };

/** The kit's tokenizer: 26 letters, "Ġ", four merges, six special tokens (ids 31 to 36). */
export function tokenizerJson() {
  const letters = [..."abcdefghijklmnopqrstuvwxyzĠ"];
  const vocab = {};
  letters.forEach((c, i) => (vocab[c] = i));
  const merges = ["Ġ t", "t h", "Ġt h", "h e"];
  merges.forEach((m, i) => (vocab[m.replace(" ", "")] = letters.length + i));
  const base = Object.keys(vocab).length;
  const special = ["<|endoftext|>", "<|startoftranscript|>", "<|en|>", "<|transcribe|>", "<|translate|>", "<|notimestamps|>"];
  const byteLevel = { type: "ByteLevel", add_prefix_space: false, trim_offsets: true, use_regex: true };
  return JSON.stringify({
    version: "1.0",
    truncation: null,
    padding: null,
    added_tokens: special.map((content, i) => ({ id: base + i, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true })),
    normalizer: null,
    pre_tokenizer: byteLevel,
    post_processor: null,
    decoder: { ...byteLevel, add_prefix_space: true },
    model: { type: "BPE", dropout: null, unk_token: null, continuing_subword_prefix: "", end_of_word_suffix: "", fuse_unk: false, byte_fallback: false, vocab, merges },
  });
}

/** {"config.json", "model.safetensors", "tokenizer.json"} → Buffer, f32 weights of `seed`. */
export function tinyModelFiles(seed, c = TINY_CONFIG) {
  const next = random(seed);
  const d = c.dModel;
  const ffn = 4 * d;
  const tensors = [];
  const rand = (name, shape, center, scale) => {
    const n = shape.reduce((a, b) => a * b, 1);
    const values = new Float32Array(n);
    for (let i = 0; i < n; i++) values[i] = center + (2 * next() - 1) * scale;
    tensors.push({ name, shape, values });
  };
  const w = 0.15;
  const e = "model.encoder";
  rand(`${e}.conv1.weight`, [d, c.nMels, 3], 0, w);
  rand(`${e}.conv1.bias`, [d], 0, w);
  rand(`${e}.conv2.weight`, [d, d, 3], 0, w);
  rand(`${e}.conv2.bias`, [d], 0, w);
  const block = (p, attentions) => {
    for (const a of attentions) {
      for (const proj of ["q_proj", "k_proj", "v_proj", "out_proj"]) {
        rand(`${p}.${a}.${proj}.weight`, [d, d], 0, w);
        if (proj !== "k_proj") rand(`${p}.${a}.${proj}.bias`, [d], 0, w);
      }
      rand(`${p}.${a}_layer_norm.weight`, [d], 1, 0.2);
      rand(`${p}.${a}_layer_norm.bias`, [d], 0, 0.2);
    }
    rand(`${p}.fc1.weight`, [ffn, d], 0, w);
    rand(`${p}.fc1.bias`, [ffn], 0, w);
    rand(`${p}.fc2.weight`, [d, ffn], 0, w / 2);
    rand(`${p}.fc2.bias`, [d], 0, w);
    rand(`${p}.final_layer_norm.weight`, [d], 1, 0.2);
    rand(`${p}.final_layer_norm.bias`, [d], 0, 0.2);
  };
  for (let i = 0; i < c.encoderLayers; i++) block(`${e}.layers.${i}`, ["self_attn"]);
  rand(`${e}.layer_norm.weight`, [d], 1, 0.2);
  rand(`${e}.layer_norm.bias`, [d], 0, 0.2);
  const dd = "model.decoder";
  rand(`${dd}.embed_tokens.weight`, [c.vocab, d], 0, 0.5);
  rand(`${dd}.embed_positions.weight`, [c.targetPositions, d], 0, 0.5);
  for (let i = 0; i < c.decoderLayers; i++) block(`${dd}.layers.${i}`, ["self_attn", "encoder_attn"]);
  rand(`${dd}.layer_norm.weight`, [d], 1, 0.2);
  rand(`${dd}.layer_norm.bias`, [d], 0, 0.2);
  // Whisper's fixed sinusoids for the encoder positions.
  const half = d / 2;
  const increment = Math.log(10000) / (half - 1);
  const sinusoids = new Float32Array(1500 * d);
  for (let i = 0; i < sinusoids.length; i++) {
    const t = Math.floor(i / d);
    const ch = i % d;
    const angle = t * Math.exp(-(ch % half) * increment);
    sinusoids[i] = ch < half ? Math.sin(angle) : Math.cos(angle);
  }
  tensors.push({ name: `${e}.embed_positions.weight`, shape: [1500, d], values: sinusoids });
  return {
    "config.json": Buffer.from(
      JSON.stringify({
        d_model: d,
        encoder_layers: c.encoderLayers,
        decoder_layers: c.decoderLayers,
        encoder_attention_heads: c.heads,
        decoder_attention_heads: c.heads,
        encoder_ffn_dim: ffn,
        decoder_ffn_dim: ffn,
        num_mel_bins: c.nMels,
        vocab_size: c.vocab,
        max_source_positions: 1500,
        max_target_positions: c.targetPositions,
      }),
    ),
    "model.safetensors": safetensors(tensors),
    "tokenizer.json": Buffer.from(tokenizerJson()),
  };
}

/** The safetensors format: u64 header length, JSON header, little-endian f32 data. */
function safetensors(tensors) {
  const header = {};
  let offset = 0;
  for (const { name, shape, values } of tensors) {
    header[name] = { dtype: "F32", shape, data_offsets: [offset, offset + values.byteLength] };
    offset += values.byteLength;
  }
  let json = JSON.stringify(header);
  json += " ".repeat((8 - (json.length % 8)) % 8); // data stays 8-byte aligned
  const size = Buffer.alloc(8);
  size.writeBigUInt64LE(BigInt(json.length));
  return Buffer.concat([size, Buffer.from(json), ...tensors.map(({ values }) => Buffer.from(values.buffer))]);
}

/** Serves `files` at `**\/<name>/<file>` in a Playwright context or page. */
export async function routeTinyModel(target, name, files) {
  await target.route(`**/${name}/*`, (route) => {
    const file = new URL(route.request().url()).pathname.split("/").at(-1);
    if (!(file in files)) return route.fulfill({ status: 404, body: "not found" });
    return route.fulfill({ contentType: file.endsWith(".json") ? "application/json" : "application/octet-stream", body: files[file] });
  });
}

/**
 * Writes the tiny model of `seed` to `dir` (for tests where the model must come from a real
 * server: a service worker, a bundled app, a mirror); returns a function that removes it.
 */
export function writeTinyModel(dir, seed) {
  mkdirSync(dir, { recursive: true });
  for (const [name, bytes] of Object.entries(tinyModelFiles(seed))) writeFileSync(path.join(dir, name), bytes);
  return () => rmSync(dir, { recursive: true, force: true });
}
