// Edits an expert pack (docs/pack-format.md: safetensors + `whisper_clsr` JSON metadata) from
// the outside, as a third-party tool would: sets gate weights so chosen layers route all,
// none or some of their tokens to the expert, and drops layers. Used to give the demo's gate
// heatmap known values per layer.

import { readFileSync } from "node:fs";

/** {header, data}: the safetensors JSON header and the bytes after it. */
export function readSafetensors(file) {
  const bytes = readFileSync(file);
  const len = Number(bytes.readBigUInt64LE(0));
  const header = JSON.parse(bytes.subarray(8, 8 + len).toString("utf8"));
  return { header, data: bytes.subarray(8 + len) };
}

/** Writes tensors {name: {dtype, shape, bytes}} and metadata back into safetensors bytes. */
function writeSafetensors(tensors, metadata) {
  const header = { __metadata__: metadata };
  let offset = 0;
  for (const [name, t] of Object.entries(tensors)) {
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + t.bytes.length] };
    offset += t.bytes.length;
  }
  let json = Buffer.from(JSON.stringify(header), "utf8");
  json = Buffer.concat([json, Buffer.alloc((8 - (json.length % 8)) % 8, 0x20)]); // pad with spaces
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  return Buffer.concat([len, json, ...Object.values(tensors).map((t) => t.bytes)]);
}

const F16 = { 1: 0x3c00, [-1]: 0xbc00, 0: 0x0000 };

/** A gate output row [1, h] of +1/-1/0 values, in the tensor's dtype. */
function gateOut(dtype, values) {
  const out = Buffer.alloc(values.length * (dtype === "F16" ? 2 : 4));
  values.forEach((v, i) => (dtype === "F16" ? out.writeUInt16LE(F16[v], i * 2) : out.writeFloatLE(v, i * 4)));
  return out;
}

/**
 * A copy of the pack at `file` where each layer gets a gate: "open" (w_out = 0, so G = 0 and
 * every token takes the expert), "closed" (w_out = -1: G = -Σ ReLU(·) < 0, no token does),
 * "mixed" (w_out = +1 on half the hidden units, -1 on the other: some tokens do) or "drop"
 * (layer removed from the pack). `plan` = {encoder: [...], decoder: [...]}, one entry per layer.
 */
export function packWithGates(file, plan) {
  const { header, data } = readSafetensors(file);
  const meta = JSON.parse(header.__metadata__.whisper_clsr);
  const tensors = {};
  for (const [name, info] of Object.entries(header)) {
    if (name === "__metadata__") continue;
    const [, part, layer] = name.match(/^(encoder|decoder)\.layers\.(\d+)\./) ?? [];
    const how = plan[part]?.[Number(layer)];
    if (how === undefined) throw new Error(`pack-edit: no plan for ${name}`);
    if (how === "drop") continue;
    let bytes = Buffer.from(data.subarray(...info.data_offsets));
    if (name.endsWith(".gate.out.weight")) {
      const h = info.shape[1];
      const values = Array.from({ length: h }, (_, i) => ({ open: 0, closed: -1, mixed: i < h / 2 ? 1 : -1 })[how]);
      bytes = gateOut(info.dtype, values);
    }
    tensors[name] = { dtype: info.dtype, shape: info.shape, bytes };
  }
  const keep = (part) => meta[`${part}_layers`].filter((i) => plan[part][i] !== "drop");
  const newMeta = { ...meta, encoder_layers: keep("encoder"), decoder_layers: keep("decoder"), training: { note: "e2e test: gates set by tests/e2e/pack-edit.mjs" } };
  return writeSafetensors(tensors, { ...header.__metadata__, whisper_clsr: JSON.stringify(newMeta) });
}
