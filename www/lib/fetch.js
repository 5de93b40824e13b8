// Bytes for the worker: from URLs (with download progress and the Cache Storage API, so a
// second visit loads without the network), Files/Blobs, or ArrayBuffers.

const CACHE_NAME = "whisper-clsr-v1";

/** Opens our cache, or null where Cache Storage is unavailable (insecure origin, opt-out). */
async function openCache(enabled) {
  if (!enabled || typeof caches === "undefined") return null;
  try {
    return await caches.open(CACHE_NAME);
  } catch {
    return null; // e.g. storage disabled by the browser
  }
}

/** What identifies one version of a remote file, from its response headers. */
function validator(headers) {
  return headers.get("etag") || headers.get("last-modified") || headers.get("content-length") || "";
}

/**
 * A cached copy of `url` that is still current. The server is asked (HEAD) whether the file
 * changed; when it cannot be reached the cached copy is used as is.
 */
async function cachedResponse(cache, url) {
  const hit = await cache.match(url);
  if (!hit) return null;
  const stored = hit.headers.get("x-whisper-clsr-validator") || "";
  try {
    const head = await fetch(url, { method: "HEAD", cache: "no-store" });
    if (head.ok && stored && validator(head.headers) !== stored) return null;
  } catch {
    // Offline: the cached copy is all there is.
  }
  return hit;
}

/** Reads a response body, calling onBytes(loaded, total) as chunks arrive. */
async function readBody(response, onBytes) {
  const total = Number(response.headers.get("content-length")) || null;
  if (!response.body) {
    const buf = new Uint8Array(await response.arrayBuffer());
    onBytes(buf.byteLength, buf.byteLength);
    return buf;
  }
  const reader = response.body.getReader();
  const chunks = [];
  let loaded = 0;
  onBytes(0, total);
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    loaded += value.byteLength;
    onBytes(loaded, total);
  }
  if (chunks.length === 1) return chunks[0];
  const out = new Uint8Array(loaded);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}

/**
 * Why a download failed, for people: the status, the server's own reason where it gives one
 * (Hugging Face sends X-Error-Message), and what a login-only answer usually means.
 */
function httpError(what, url, response) {
  const status = `HTTP ${response.status}${response.statusText ? ` ${response.statusText}` : ""}`;
  const reason = response.headers.get("x-error-message");
  let message = `could not download ${what}: ${url} answered ${status}${reason ? ` (${reason})` : ""}`;
  if (response.status === 401 || response.status === 403) {
    message +=
      ": the repository does not exist, or it is private or gated and needs a login, which this page cannot do" +
      " (check the URL, or download the files and load them from disk)";
  }
  return message;
}

/**
 * Downloads `url` (or takes it from the cache) and returns its bytes.
 * onBytes(loaded, total, fromCache) reports progress; `what` names the file in errors.
 */
export async function fetchBytes(url, { what = url, cache: useCache = true, onBytes = () => {} } = {}) {
  const cache = await openCache(useCache);
  const hit = cache && (await cachedResponse(cache, url));
  if (hit) return readBody(hit, (l, t) => onBytes(l, t, true));

  let response;
  try {
    response = await fetch(url);
  } catch (e) {
    throw new Error(`could not download ${what} from ${url}: ${e.message} (offline, or the server does not allow cross-origin requests?)`);
  }
  if (!response.ok) throw new Error(httpError(what, url, response));
  const version = validator(response.headers);
  const bytes = await readBody(response, (l, t) => onBytes(l, t, false));
  if (cache) {
    const headers = {
      "content-type": response.headers.get("content-type") || "application/octet-stream",
      "content-length": String(bytes.byteLength),
      "x-whisper-clsr-validator": version,
    };
    // Caching is an optimisation: a full disk must not fail the load.
    await cache.put(url, new Response(bytes, { headers })).catch(() => {});
  }
  return bytes;
}

/** Bytes of a Blob/File, ArrayBuffer or typed array, or of a URL (see fetchBytes). */
export async function readSource(source, options) {
  if (typeof source === "string" || source instanceof URL) return fetchBytes(String(source), options);
  if (source instanceof Blob) {
    const bytes = new Uint8Array(await source.arrayBuffer());
    options?.onBytes?.(bytes.byteLength, bytes.byteLength, false);
    return bytes;
  }
  if (source instanceof ArrayBuffer) return new Uint8Array(source);
  if (ArrayBuffer.isView(source)) return new Uint8Array(source.buffer, source.byteOffset, source.byteLength);
  throw new Error(`expected a URL, File, Blob or ArrayBuffer, got ${Object.prototype.toString.call(source)}`);
}
