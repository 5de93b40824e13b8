// Page-side audio: turns a Blob/File/AudioBuffer into 16 kHz mono Float32Array samples with the
// browser's own decoders and resampler (Web Audio is not available inside workers).

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

/** 16 kHz mono samples from a Float32Array (taken as 16 kHz mono), AudioBuffer, Blob or File. */
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
