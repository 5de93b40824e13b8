// The model URL a person gives → the directory prefix the worker downloads from. Plain Node:
// the function has no browser dependencies.
import { test } from "node:test";
import assert from "node:assert/strict";
import { modelUrlPrefix } from "../../www/lib/model-url.js";

const cases = [
  // Hugging Face repository pages and file links → …/resolve/<revision>/
  ["https://huggingface.co/openai/whisper-base", "https://huggingface.co/openai/whisper-base/resolve/main/"],
  ["https://huggingface.co/openai/whisper-base/", "https://huggingface.co/openai/whisper-base/resolve/main/"],
  ["https://huggingface.co/openai/whisper-base/tree/main", "https://huggingface.co/openai/whisper-base/resolve/main/"],
  ["https://huggingface.co/openai/whisper-base/tree/refs%2Fpr%2F3/", "https://huggingface.co/openai/whisper-base/resolve/refs%2Fpr%2F3/"],
  ["https://huggingface.co/openai/whisper-base/blob/main/config.json", "https://huggingface.co/openai/whisper-base/resolve/main/"],
  ["https://huggingface.co/me/models/tree/v2/whisper-small-ca", "https://huggingface.co/me/models/resolve/v2/whisper-small-ca/"],
  ["https://hf.co/openai/whisper-tiny.en?library=transformers#files", "https://hf.co/openai/whisper-tiny.en/resolve/main/"],
  // Already download URLs: kept, with the trailing slash they need
  ["https://huggingface.co/openai/whisper-base/resolve/main/", "https://huggingface.co/openai/whisper-base/resolve/main/"],
  ["https://huggingface.co/openai/whisper-base/resolve/main", "https://huggingface.co/openai/whisper-base/resolve/main/"],
  ["https://huggingface.co/openai/whisper-base/resolve/main/model.safetensors", "https://huggingface.co/openai/whisper-base/resolve/main/"],
  // Not model repositories on the Hub, and other servers: only the trailing slash
  ["https://huggingface.co/datasets/me/audio", "https://huggingface.co/datasets/me/audio/"],
  ["http://localhost:8080/models/whisper-base", "http://localhost:8080/models/whisper-base/"],
  ["http://localhost:8080/models/whisper-base/", "http://localhost:8080/models/whisper-base/"],
  ["http://localhost:8080/models/whisper-base/tokenizer.json", "http://localhost:8080/models/whisper-base/"],
  ["http://127.0.0.1:9000/openai/whisper-base/tree/main/", "http://127.0.0.1:9000/openai/whisper-base/tree/main/"],
];

for (const [given, expected] of cases) {
  test(`model URL ${given}`, () => assert.equal(modelUrlPrefix(given), expected));
}
