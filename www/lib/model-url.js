// Where a model's files are, from the URL a person gives: a directory prefix ending in "/".
// People paste a Hugging Face repository's page (https://huggingface.co/openai/whisper-base,
// or a …/tree/main/ or …/blob/main/config.json link), but the files download from under
// …/resolve/<revision>/; such page URLs are turned into that download prefix. A link to one
// of the model's files means the directory holding it.

const HUB_HOSTS = new Set(["huggingface.co", "www.huggingface.co", "hf.co"]);
const MODEL_FILES = new Set(["config.json", "model.safetensors", "tokenizer.json"]);

/** The model directory prefix for `href` (an absolute URL), always ending in "/". */
export function modelUrlPrefix(href) {
  const url = new URL(href);
  url.search = "";
  url.hash = "";
  const parts = url.pathname.split("/").filter(Boolean);
  if (MODEL_FILES.has(parts.at(-1))) parts.pop();
  // owner/name[/(tree|blob|resolve)/revision[/subfolder...]] on the Hub
  const [owner, name, kind, revision = "main", ...rest] = parts;
  const hubRepo =
    HUB_HOSTS.has(url.hostname) &&
    parts.length >= 2 &&
    !["datasets", "spaces", "api"].includes(owner) &&
    [undefined, "tree", "blob", "resolve"].includes(kind);
  const dir = hubRepo ? [owner, name, "resolve", revision, ...rest] : parts;
  url.pathname = dir.length ? `/${dir.join("/")}/` : "/";
  return url.href;
}
