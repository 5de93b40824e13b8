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
  /** Location of worker.js (default: next to whisper-clsr.js). */
  workerUrl?: string | URL;
}

export interface ModelInfo {
  /** Adapter name, backend and device type. */
  device: string;
  /** The adapter is software on the CPU (e.g. SwiftShader): it works, but far slower than a GPU. */
  cpuDevice: boolean;
  multilingual: boolean;
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
  /** Language code such as "en"; omitted, "" or "auto" detects it (multilingual models). */
  language?: string;
  /** Each generated token as soon as it is decoded, with the text it adds (may be ""). */
  onToken?: (token: { id: number; text: string }) => void;
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
  /** Generated text token ids, without the prompt and end-of-text. */
  tokens: number[];
  /** Language of the expert pack used, or null for the base model. */
  expert: string | null;
  gateStats: GateStats | null;
  timings: Timings;
  device: string;
}

export type AudioInput = Float32Array | AudioBuffer | Blob | File;

export declare class Whisper {
  private constructor();
  /** Downloads (or reads) the model and builds it on the GPU in a dedicated worker. */
  static load(options: LoadOptions): Promise<Whisper>;
  readonly info: ModelInfo;
  /** Loaded expert packs by language code. */
  readonly experts: Map<string, PackMeta>;
  /** Adds a language expert pack; refused (rejects) if made for another base model. */
  loadExpert(source: string | URL | File | Blob | ArrayBuffer, options?: { cache?: boolean }): Promise<PackMeta>;
  removeExpert(language: string): Promise<boolean>;
  /** Transcribes the first 30 s. Float32Array input is taken as 16 kHz mono. Calls are queued. */
  transcribe(audio: AudioInput, options?: TranscribeOptions): Promise<Transcript>;
  /** Frees the GPU memory and stops the worker; pending calls reject. */
  dispose(): void;
}

/** Whether navigator.gpu exists (an adapter may still be unavailable). */
export declare function hasWebGPU(): boolean;

/** Decodes and resamples audio to 16 kHz mono in the page (what transcribe does first). */
export declare function toSamples16k(input: AudioInput): Promise<Float32Array>;
