// Page-side audio: turns a Blob/File/AudioBuffer into 16 kHz mono Float32Array samples with the
// browser's own decoders and resampler (Web Audio is not available inside workers).
//
// A large WAV is decoded in pieces (see docs/web.md, "Long audio"): its PCM is read slice by
// slice, each slice (with some context either side) goes through decodeAudioData and only the
// 16 kHz mono result is kept, so neither the whole file nor its full-rate PCM is ever in memory.
// Other large files still go through one decodeAudioData.

export const SAMPLE_RATE = 16000;

/** Averages the channels of an AudioBuffer into one. */
function downmix(buffer) {
  if (buffer.numberOfChannels === 1) return buffer.getChannelData(0).slice();
  const out = new Float32Array(buffer.length);
  for (let c = 0; c < buffer.numberOfChannels; c++) {
    const data = buffer.getChannelData(c);
    for (let i = 0; i < data.length; i++) out[i] += data[i];
  }
  const scale = 1 / buffer.numberOfChannels;
  for (let i = 0; i < out.length; i++) out[i] *= scale;
  return out;
}

/** Resamples an AudioBuffer to 16 kHz by rendering it through an OfflineAudioContext. */
async function resample(buffer) {
  if (buffer.sampleRate === SAMPLE_RATE) return buffer;
  const length = Math.max(1, Math.ceil((buffer.length * SAMPLE_RATE) / buffer.sampleRate));
  const ctx = new OfflineAudioContext(buffer.numberOfChannels, length, SAMPLE_RATE);
  const node = ctx.createBufferSource();
  node.buffer = buffer;
  node.connect(ctx.destination);
  node.start();
  return ctx.startRendering();
}

/** Decodes an encoded file (WAV, MP3, OGG, FLAC, WebM/Opus, ... whatever the browser reads). */
async function decodeBlob(blob) {
  const name = blob.name ? `'${blob.name}'` : "the audio";
  const bytes = await blob.arrayBuffer();
  if (bytes.byteLength === 0) throw new Error(`audio: ${name} is empty`);
  // decodeAudioData resamples to the context's rate; the length argument is irrelevant here.
  const ctx = new OfflineAudioContext(1, 1, SAMPLE_RATE);
  try {
    return await ctx.decodeAudioData(bytes);
  } catch (e) {
    throw new Error(`audio: could not decode ${name}: the browser cannot read it as audio (${e.message || e.name})`);
  }
}

/** Blobs from this size on are decoded in pieces when their format allows it. */
export const PIECE_THRESHOLD_BYTES = 16 << 20;
/** Seconds of audio per piece. */
const PIECE_SECONDS = 30;
/** Seconds of context decoded on each side of a piece and dropped: covers the resampler's filter. */
const CONTEXT_SECONDS = 0.5;

/** Reads `length` bytes of `blob` from `offset` (fewer at its end). */
async function readBytes(blob, offset, length) {
  return new Uint8Array(await blob.slice(offset, offset + length).arrayBuffer());
}

/**
 * Where a WAV's sample data lies: { fmt (the fmt chunk's bytes), channels, rate, blockAlign,
 * dataOffset, frames }, or null when the blob is not a WAV this path handles.
 */
async function wavLayout(blob) {
  const head = await readBytes(blob, 0, 12);
  const tag = (b, i) => String.fromCharCode(b[i], b[i + 1], b[i + 2], b[i + 3]);
  if (head.length < 12 || tag(head, 0) !== "RIFF" || tag(head, 8) !== "WAVE") return null;
  let fmt = null;
  for (let pos = 12; pos + 8 <= blob.size; ) {
    const h = await readBytes(blob, pos, 8);
    const size = new DataView(h.buffer).getUint32(4, true);
    if (tag(h, 0) === "fmt " && size >= 16 && size <= 64) {
      fmt = await readBytes(blob, pos + 8, size);
    } else if (tag(h, 0) === "data" && fmt) {
      const v = new DataView(fmt.buffer);
      const channels = v.getUint16(2, true);
      const rate = v.getUint32(4, true);
      const blockAlign = v.getUint16(12, true);
      if (channels === 0 || rate === 0 || blockAlign === 0) return null;
      // A streamed WAV may declare 0 or 0xFFFFFFFF bytes of data: it runs to the end.
      const available = blob.size - (pos + 8);
      const bytes = size === 0 || size > available ? available : size;
      return { fmt, channels, rate, blockAlign, dataOffset: pos + 8, frames: Math.floor(bytes / blockAlign) };
    }
    pos += 8 + size + (size & 1);
  }
  return null;
}

/** A WAV file of `fmt` (the original fmt chunk) around raw sample bytes. */
function wavFile(fmt, data) {
  const out = new Uint8Array(20 + fmt.length + 8 + data.length);
  const v = new DataView(out.buffer);
  const put = (i, s) => [...s].forEach((c, k) => (out[i + k] = c.charCodeAt(0)));
  put(0, "RIFF");
  v.setUint32(4, out.length - 8, true);
  put(8, "WAVEfmt ");
  v.setUint32(16, fmt.length, true);
  out.set(fmt, 20);
  put(20 + fmt.length, "data");
  v.setUint32(24 + fmt.length, data.length, true);
  out.set(data, 28 + fmt.length);
  return out;
}

function gcd(a, b) {
  return b === 0 ? a : gcd(b, a % b);
}

/**
 * A large WAV in pieces: each piece's PCM plus CONTEXT_SECONDS either side through
 * decodeAudioData (the same decoder and resampler as the whole file), the context dropped.
 * Piece and context lengths are whole multiples of the rates' common period, so every piece
 * starts on the 16 kHz sample grid of the whole file.
 */
async function decodeWavInPieces(blob, layout, name) {
  const { fmt, rate, blockAlign, dataOffset, frames } = layout;
  const period = rate / gcd(rate, SAMPLE_RATE); // input frames per whole number of output samples
  const outPerPeriod = (period * SAMPLE_RATE) / rate;
  const piece = Math.max(1, Math.round((PIECE_SECONDS * rate) / period)) * period;
  const context = Math.max(1, Math.ceil((CONTEXT_SECONDS * rate) / period)) * period;
  const parts = [];
  let length = 0;
  for (let start = 0; start < frames; start += piece) {
    const end = Math.min(frames, start + piece);
    const from = Math.max(0, start - context);
    const to = Math.min(frames, end + context);
    const data = await readBytes(blob, dataOffset + from * blockAlign, (to - from) * blockAlign);
    let buffer;
    try {
      buffer = await new OfflineAudioContext(1, 1, SAMPLE_RATE).decodeAudioData(wavFile(fmt, data).buffer);
    } catch (e) {
      throw new Error(`audio: could not decode ${name}: the browser cannot read its WAV data (${e.message || e.name})`);
    }
    const mono = downmix(buffer);
    const skip = ((start - from) / period) * outPerPeriod;
    const keep = end === frames ? mono.length - skip : ((end - start) / period) * outPerPeriod;
    const part = mono.subarray(skip, skip + keep);
    parts.push(part);
    length += part.length;
  }
  const out = new Float32Array(length);
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

/** 16 kHz mono from a Blob: in pieces when it is large and a WAV, else one decodeAudioData. */
async function blobToSamples(blob, pieceThreshold) {
  if (blob.size >= pieceThreshold) {
    const layout = await wavLayout(blob);
    if (layout) {
      const name = blob.name ? `'${blob.name}'` : "the audio";
      return decodeWavInPieces(blob, layout, name);
    }
  }
  return downmix(await decodeBlob(blob));
}

/**
 * 16 kHz mono samples from a Float32Array (taken as 16 kHz mono), AudioBuffer, Blob or File.
 * `pieceThresholdBytes`: Blobs from this size on are decoded in pieces where possible.
 */
export async function toSamples16k(input, { pieceThresholdBytes = PIECE_THRESHOLD_BYTES } = {}) {
  let samples;
  if (input instanceof Float32Array) {
    samples = input.slice(); // a copy: the original stays with the caller
  } else if (typeof AudioBuffer !== "undefined" && input instanceof AudioBuffer) {
    samples = downmix(await resample(input));
  } else if (input instanceof Blob) {
    samples = await blobToSamples(input, pieceThresholdBytes);
  } else {
    throw new Error(`audio: expected a Float32Array (16 kHz mono), AudioBuffer, Blob or File, got ${Object.prototype.toString.call(input)}`);
  }
  if (samples.length === 0) throw new Error("audio: the audio is empty");
  return samples;
}
