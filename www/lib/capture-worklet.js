// The AudioWorklet of live transcription (whisper-clsr.js `stream()`): takes the microphone's
// audio at the AudioContext's rate, mixes it to mono, resamples it to 16 kHz and posts blocks
// of BLOCK samples (0.1 s) to the page, which hands them to the model's worker.
//
// StreamResampler is exported for the unit test (tests/e2e/resample.test.mjs); in the worklet
// only the registered processor is used.

/** Output rate: what Whisper and the voice activity detector take. */
export const TARGET_RATE = 16_000;
/** Samples per posted block (0.1 s at 16 kHz). */
export const BLOCK = 1600;
/** Zero crossings of the windowed sinc on each side: 16 gives over 60 dB of stop band. */
const HALF_TAPS = 16;

/**
 * Band-limited resampling of a stream that arrives in pieces of any size: each output sample
 * is the input convolved with a Blackman-windowed sinc whose cutoff is the lower Nyquist
 * frequency (a little below it, so the transition band ends there), evaluated at the output
 * sample's exact time. Keeps the input it still needs between calls.
 */
export class StreamResampler {
  constructor(inputRate, outputRate = TARGET_RATE) {
    if (!(inputRate > 0 && outputRate > 0)) throw new RangeError(`sample rates must be positive, got ${inputRate} → ${outputRate}`);
    this.step = inputRate / outputRate; // input samples per output sample
    // Cutoff in cycles per input sample (0.5 = the input's Nyquist frequency).
    this.cutoff = 0.5 * Math.min(1, 1 / this.step) * 0.94;
    this.half = Math.ceil(HALF_TAPS / (2 * this.cutoff)); // taps on each side, in input samples
    // Input samples from stream index `base` on; the stream is preceded by silence.
    this.base = -this.half;
    this.history = new Float32Array(this.half);
    this.next = 0; // time of the next output sample, in input samples from the stream's start
  }

  #kernel(t) {
    if (t === 0) return 2 * this.cutoff;
    const x = Math.abs(t) / (this.half + 1);
    if (x >= 1) return 0;
    const window = 0.42 + 0.5 * Math.cos(Math.PI * x) + 0.08 * Math.cos(2 * Math.PI * x);
    return (Math.sin(2 * Math.PI * this.cutoff * t) / (Math.PI * t)) * window;
  }

  /** Takes input samples; returns the output samples they complete. */
  push(input) {
    const all = new Float32Array(this.history.length + input.length);
    all.set(this.history);
    all.set(input, this.history.length);
    const end = this.base + all.length; // one past the last input sample held
    const out = [];
    // An output sample at time t needs input up to floor(t) + half.
    while (Math.floor(this.next) + this.half < end) {
      const t = this.next;
      const first = Math.floor(t) - this.half + 1;
      let sum = 0;
      for (let k = first; k <= Math.floor(t) + this.half; k++) sum += all[k - this.base] * this.#kernel(t - k);
      out.push(sum);
      this.next += this.step;
    }
    // Keep what the next output sample still needs.
    const keepFrom = Math.max(this.base, Math.floor(this.next) - this.half + 1);
    this.history = all.slice(keepFrom - this.base);
    this.base = keepFrom;
    return Float32Array.from(out);
  }
}

const Processor = globalThis.AudioWorkletProcessor ?? class {};

class CaptureProcessor extends Processor {
  constructor() {
    super();
    // `sampleRate` is the AudioWorkletGlobalScope's rate of this context.
    this.resampler = new StreamResampler(globalThis.sampleRate);
    this.block = new Float32Array(BLOCK);
    this.filled = 0;
    this.running = true;
    this.port.onmessage = ({ data }) => {
      if (data === "stop") this.running = false;
    };
  }

  process(inputs) {
    if (!this.running) return false;
    const channels = inputs[0];
    if (!channels?.length) return true;
    // Mono: the mean of the channels.
    const mono = new Float32Array(channels[0].length);
    for (const channel of channels) for (let i = 0; i < mono.length; i++) mono[i] += channel[i] / channels.length;
    for (const sample of this.resampler.push(mono)) {
      this.block[this.filled++] = sample;
      if (this.filled === BLOCK) {
        this.port.postMessage(this.block, [this.block.buffer]);
        this.block = new Float32Array(BLOCK);
        this.filled = 0;
      }
    }
    return true;
  }
}

if (typeof globalThis.registerProcessor === "function") globalThis.registerProcessor("whisper-clsr-capture", CaptureProcessor);
