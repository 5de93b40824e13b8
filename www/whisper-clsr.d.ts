// Types for whisper-clsr.js: Whisper speech recognition on WebGPU (Rust + WGSL, in a Web Worker).

/** Download/initialisation progress of Whisper.load. */
export type LoadProgress =
  | {
      stage: "download";
      /** The file this update is about: config.json, model.safetensors or tokenizer.json. */
      file: string;
      /** Bytes read so far, over all model files. */
      loaded: number;
      /** Total bytes of all model files; null until every file's size is known. */
      total: number | null;
      /** The file comes from Cache Storage rather than the network. */
      fromCache: boolean;
    }
  | { stage: "init" };

/** A Trusted Types `TrustedScriptURL` (TypeScript's DOM types do not have it yet). */
export interface TrustedScriptURLLike {
  toJSON(): string;
}

export interface LoadOptions {
  /**
   * URL prefix of a Hugging Face layout directory (config.json, model.safetensors,
   * tokenizer.json), same-origin or e.g. "https://huggingface.co/openai/whisper-base/resolve/main/"
   * (a Hub repository page URL, e.g. "https://huggingface.co/openai/whisper-base", is turned into
   * that); or those three files as File objects.
   */
  model: string | URL | File[] | FileList;
  onProgress?: (progress: LoadProgress) => void;
  /** Keep downloaded files in Cache Storage for the next visit (default true). */
  cache?: boolean;
  /** Location of worker.js (default: next to whisper-clsr.js); a TrustedScriptURL under Trusted Types. */
  workerUrl?: string | URL | TrustedScriptURLLike;
  /** Refuse a model.safetensors larger than this many bytes (default 4 GiB, what wasm32 memory holds). */
  maxModelBytes?: number;
  /** Idle GPU buffers kept for the next call's activations, in bytes (default 1 GiB; 0 keeps none). */
  poolLimitBytes?: number;
}

export interface ModelInfo {
  /** Adapter name, backend and device type. */
  device: string;
  /** The adapter is software on the CPU (e.g. SwiftShader): it works, but far slower than a GPU. */
  cpuDevice: boolean;
  multilingual: boolean;
  /** The model named its alignment heads (generation_config.json); word timestamps are less precise without. */
  alignmentHeads: boolean;
  /** Languages this model can transcribe, in token order (English-only models: just "en"). */
  languages: { code: string; name: string }[];
  encoderLayers: number;
  decoderLayers: number;
  dModel: number;
  vocabSize: number;
  /** Base-model fingerprint that expert packs must carry. */
  fingerprint: string;
  /** Milliseconds to open the GPU and upload the weights (download not included). */
  loadMs: number;
}

export interface PackMeta {
  formatVersion: number;
  language: string;
  baseFingerprint: string;
  dModel: number;
  ffnDim: number;
  gateDim: number;
  encoderLayers: number[];
  decoderLayers: number[];
  training: Record<string, unknown>;
}

export interface TranscribeOptions {
  /** Language code such as "en"; omitted, "" or "auto" detects it on the first 30 s (multilingual models). */
  language?: string;
  /** Segment times (default "segment"), also per-word times ("word"), or none (false: one segment per 30 s window). */
  timestamps?: false | "segment" | "word";
  /** Each generated token as soon as it is decoded, with the text it adds (may be ""); a retry at a higher temperature starts the window over. */
  onToken?: (token: { id: number; text: string }) => void;
  /** Each segment once it is final, in order. */
  onSegment?: (segment: Segment) => void;
  /** Seconds of audio done, after each 30 s window. */
  onProgress?: (progress: { done: number; total: number }) => void;
  /** First decoding temperature (default 0: greedy). */
  temperature?: number;
  /** Fallback temperature step up to 1.0 when a window fails the checks (default 0.2; 0: no fallback). */
  temperatureIncrement?: number;
  /** Candidates sampled per window above temperature 0 (default 5). */
  bestOf?: number;
  /** Length penalty α ((5 + length) / 6)^α of the ranking of candidates and beams (default: divide by length). */
  lengthPenalty?: number;
  /** Beam search with this many hypotheses at temperature 0, decoded as one batch per step (default 1: greedy). */
  beamSize?: number;
  /** Beam search waits for round(beamSize × patience) finished sequences (default 1). */
  patience?: number;
  /** Sampling seed: the same seed gives the same transcript (default 0). */
  seed?: number;
  /** Text as if said before the audio (names, spelling, style). */
  initialPrompt?: string;
  /** Feed the previous window's text as a prompt (default true). */
  conditionOnPreviousText?: boolean;
  /** Retry a window when its text compresses better than this (default 2.4). */
  compressionRatioThreshold?: number;
  /** Retry a window when its average token log-probability is below this (default -1). */
  logprobThreshold?: number;
  /** Skip a window as silence above this no-speech probability (default 0.6). */
  noSpeechThreshold?: number;
  /** Most tokens per 30 s window (default 224). */
  maxTokens?: number;
  /** Translate to English instead of transcribing (multilingual models). */
  translate?: boolean;
  /**
   * Benchmark option, not for transcription (tests/e2e/bench.mjs): decode exactly this many
   * tokens per window, end-of-text suppressed, greedily, without timestamps, temperature
   * fallback or the silence checks; the result gets `benchmark`. Fails where the decoder has
   * no room for them.
   */
  benchmarkTokens?: number;
  /** Aborting rejects with an AbortError within one decoder step; the instance stays usable. */
  signal?: AbortSignal;
}

/** One word of a segment (with timestamps: "word"). */
export interface Word {
  word: string;
  /** Seconds from the start of the audio. */
  start: number;
  end: number;
  /** Mean probability of the word's tokens. */
  probability: number;
}

/** A timestamped stretch of speech. */
export interface Segment {
  id: number;
  /** Mel frame (10 ms) where its 30 s window started. */
  seek: number;
  /** Seconds from the start of the audio. */
  start: number;
  end: number;
  text: string;
  /** Token ids, timestamp tokens included. */
  tokens: number[];
  /** Temperature of the decoding it came from (above 0 after a fallback). */
  temperature: number;
  avgLogprob: number;
  compressionRatio: number;
  noSpeechProb: number;
  words?: Word[];
}

export interface Timings {
  /** Opening the GPU and uploading the weights, at load time. */
  loadMs: number;
  melMs: number;
  encoderMs: number;
  decoderMs: number;
  tokensPerS: number;
  /** Processing time over audio duration; below 1 is faster than real time. */
  rtf: number;
}

/** Fraction of tokens the expert's gates routed to the expert, per layer (null: layer not covered). */
export interface GateStats {
  encoder: (number | null)[];
  decoder: (number | null)[];
}

/** The CLI's JSON fields, in camelCase. */
export interface Transcript {
  text: string;
  language: string;
  languageDetected: boolean;
  /** Text token ids of all segments (no timestamps, prompt or end-of-text). */
  tokens: number[];
  /** Timestamped segments, in order. */
  segments: Segment[];
  /** Seconds of audio transcribed. */
  duration: number;
  /** Language of the expert pack used, or null for the base model. */
  expert: string | null;
  gateStats: GateStats | null;
  timings: Timings;
  device: string;
  /** Only with the option benchmarkTokens. */
  benchmark?: BenchmarkFigures;
}

/**
 * What the option benchmarkTokens measures: the tokens decoded, and per token from the first
 * token to the last (each a single-token decoder step and its pick; null below two tokens)
 * the time, kernel dispatches, command submissions and bind groups created (the rest are
 * reused; 0 once warm).
 */
export interface BenchmarkFigures {
  tokens: number;
  tokenMs: number | null;
  dispatchesPerToken: number | null;
  submitsPerToken: number | null;
  bindGroupsPerToken: number | null;
}

export type AudioInput = Float32Array | AudioBuffer | Blob | File;

/** One committed stretch of live text (one commit). Times in seconds from the stream's start. */
export interface LiveSegment {
  text: string;
  start: number;
  end: number;
  words: { word: string; start: number; end: number }[];
  /** Language of the decoding that committed it (given, or detected on every update). */
  language: string | null;
  /** Language of the expert pack that decoding was routed through; null for the base model. */
  expert: string | null;
}

/** What a live transcription shows: committed text (final; only ever grows) and tentative text apart. */
export interface LiveSnapshot {
  committed: string;
  /** The rest of the latest hypothesis; replaced by the next one. */
  tentative: string;
  segments: LiveSegment[];
  /** Seconds from the end of the last committed word's audio to its commit; null before the first. */
  latency: number | null;
  /** Language of the latest decoding; null before the first. */
  language: string | null;
  /** Expert pack the latest decoding was routed through; null for the base model or before the first. */
  expert: string | null;
}

export interface StreamOptions {
  /** Code such as "en"; omitted or "auto" detects it on every update. */
  language?: string;
  onPartial?: (state: LiveSnapshot) => void;
  /** `event`: the commit ({text, start, end, words}). */
  onCommit?: (state: LiveSnapshot & { event: LiveSegment & { type: "commit"; emittedAt: number } }) => void;
  /** Aborting stops at once, dropping what is not committed; `done` rejects with an AbortError. */
  signal?: AbortSignal;
  /** Audio to transcribe instead of the microphone (left running when the session stops). */
  mediaStream?: MediaStream;
  /** silero_vad.onnx: URL (default "models/silero-vad/silero_vad.onnx", page-relative; cached) or bytes. */
  vad?: string | URL | ArrayBuffer | Uint8Array;
  /** Keep the downloaded VAD weights in Cache Storage (default true). */
  cache?: boolean;
  /** Seconds of audio between two decodings of the buffer (default 1; 0.1 to 30). */
  updateInterval?: number;
  /**
   * true (default): audio that arrived during a decoding is fed at once (real time on a slow
   * device). false: every 0.1 s block is fed on its own, as if decodings took no time.
   */
  catchUp?: boolean;
}

export interface LiveSession {
  /** Ends the capture, decodes what is left and resolves to the final state (tentative ""). */
  stop(): Promise<LiveSnapshot>;
  /** Settles when the session ends: stop(), an abort or an error. */
  readonly done: Promise<LiveSnapshot>;
  /** The current state and the seconds of audio captured so far. */
  snapshot(): LiveSnapshot & { position: number };
}

export declare class Whisper {
  private constructor();
  /** Downloads (or reads) the model and builds it on the GPU in a dedicated worker. */
  static load(options: LoadOptions): Promise<Whisper>;
  readonly info: ModelInfo;
  /** Loaded expert packs by language code. */
  readonly experts: Map<string, PackMeta>;
  /**
   * Adds a language expert pack; refused (rejects) if made for another base model. Resolves to
   * the pack's metadata; `language` is the normalised code routing uses. `maxBytes`: 2 GiB by default.
   */
  loadExpert(source: string | URL | File | Blob | ArrayBuffer, options?: { cache?: boolean; maxBytes?: number }): Promise<PackMeta>;
  removeExpert(language: string): Promise<boolean>;
  /** Transcribes audio of any length. Float32Array input is taken as 16 kHz mono. Calls are queued. */
  transcribe(audio: AudioInput, options?: TranscribeOptions): Promise<Transcript>;
  /**
   * Live transcription of the microphone or a MediaStream (AudioWorklet → 16 kHz → the
   * worker's live policy: Silero VAD, re-decoding every updateInterval s, LocalAgreement-2).
   * Resolves once capturing. While it runs, expert packs cannot be added or removed.
   */
  stream(options?: StreamOptions): Promise<LiveSession>;
  /** SubRip, WebVTT or tab-separated text of a transcript's segments. */
  subtitles(
    transcript: Transcript | Pick<Segment, "start" | "end" | "text">[],
    format?: "srt" | "vtt" | "tsv",
  ): Promise<string>;
  /** The worker's memory figures (see docs/web.md, "Memory and test hooks"); `release` frees pooled GPU buffers first. */
  stats(options?: { release?: boolean }): Promise<WorkerStats>;
  /** Stops the worker at once (even mid-transcription), freeing its memory and GPU device; pending and later calls reject. */
  dispose(): void;
}

/** Memory of one model's worker, in bytes. */
export interface WorkerStats {
  /** The worker's wasm memory (it only grows). */
  wasmBytes: number;
  /** Idle GPU buffers kept for reuse; at most poolLimitBytes. */
  pooledGpuBytes: number;
  /** GPU activation buffers alive (in use or pooled); weights not included. */
  activationGpuBytes: number;
  /** The most activationGpuBytes has been since the model was loaded. */
  peakActivationGpuBytes: number;
  /** Weight buffers on the model's GPU device: its weights, plus expert packs added. */
  weightGpuBytes: number;
  poolLimitBytes: number;
}

/** Whether navigator.gpu exists (an adapter may still be unavailable). */
export declare function hasWebGPU(): boolean;

/** Decodes and resamples audio to 16 kHz mono in the page (what transcribe does first). */
export declare function toSamples16k(input: AudioInput): Promise<Float32Array>;
