// Page-side audio: turns a Blob/File/AudioBuffer into 16 kHz mono Float32Array samples with the
// browser's own decoders and resampler (Web Audio is not available inside workers), and tells
// which large files the worker decodes itself instead, streaming (see docs/web.md, "Long
// audio").

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

/** Blobs from this size on go to the worker's streaming decoder when their format allows it. */
export const STREAM_THRESHOLD_BYTES = 16 << 20;

/**
 * The container of an encoded file the worker's streaming decoder reads ("wav", "flac", "mp3",
 * "ogg" for Ogg Vorbis), from its first bytes; null for anything else (WebM, MP4/M4A, Ogg
 * Opus, ...), which the browser's own decoder handles.
 */
export async function streamableFormat(blob) {
  const b = new Uint8Array(await blob.slice(0, 64).arrayBuffer());
  const tag = (i, s) => b.length >= i + s.length && [...s].every((c, k) => b[i + k] === c.charCodeAt(0));
  if (tag(0, "RIFF") && tag(8, "WAVE")) return "wav";
  if (tag(0, "fLaC")) return "flac";
  // An Ogg stream's first packet follows the page header (27 bytes) and its segment table.
  if (tag(0, "OggS")) return b.length > 26 && tag(27 + b[26] + 1, "vorbis") ? "ogg" : null;
  // An ID3v2 tag, or an MPEG audio frame header of layer III.
  if (tag(0, "ID3") || (b[0] === 0xff && (b[1] & 0xe0) === 0xe0 && ((b[1] >> 1) & 3) === 1)) return "mp3";
  return null;
}

/**
 * 16 kHz mono samples from a Float32Array (taken as 16 kHz mono), AudioBuffer, Blob or File,
 * with the browser's decoders and resampler.
 */
export async function toSamples16k(input) {
  let samples;
  if (input instanceof Float32Array) {
    samples = input.slice(); // a copy: the original stays with the caller
  } else if (typeof AudioBuffer !== "undefined" && input instanceof AudioBuffer) {
    samples = downmix(await resample(input));
  } else if (input instanceof Blob) {
    samples = downmix(await decodeBlob(input));
  } else {
    throw new Error(`audio: expected a Float32Array (16 kHz mono), AudioBuffer, Blob or File, got ${Object.prototype.toString.call(input)}`);
  }
  if (samples.length === 0) throw new Error("audio: the audio is empty");
  return samples;
}
