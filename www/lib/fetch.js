// Bytes for the worker: from URLs (with download progress and the Cache Storage API, so a
// second visit loads without the network), Files/Blobs, or ArrayBuffers.
//
// Files that belong together (a model's config.json, model.safetensors and tokenizer.json; an
// expert pack) are one *set*, cached under one manifest that records which version of each
// file it holds. A cached set is used only when the server confirms every file is unchanged
// (the Hub's X-Repo-Commit, else each file's ETag or Last-Modified), or when the server cannot
// be reached at all; otherwise the whole set downloads again, past the browser's HTTP cache.
// Nothing is written to the cache until the caller has parsed the set (`commit()`), and a set
// that fails to parse is evicted (`evict()`). See docs/web.md, "Model cache".

import { readBody } from "./read-body.js";

export const CACHE_NAME = "whisper-clsr-v2";
/** Caches of earlier versions of this module: their entries were not validated as a set. */
const OLD_CACHES = ["whisper-clsr-v1"];

/** Opens our cache, or null where Cache Storage is unavailable (insecure origin, opt-out). */
async function openCache(enabled) {
  if (!enabled || typeof caches === "undefined") return null;
  try {
    await Promise.all(OLD_CACHES.map((name) => caches.delete(name)));
    return await caches.open(CACHE_NAME);
  } catch {
    return null; // e.g. storage disabled by the browser
  }
}

/**
 * The cache key of a set's manifest: a URL of its own, never requested from the server (a
 * query, not a fragment: Cache Storage ignores fragments).
 */
const manifestKey = (urls) => `${urls[0]}${urls[0].includes("?") ? "&" : "?"}whisper-clsr-manifest`;

/**
 * What identifies one version of a remote file: the Hub's commit, else a validator the server
 * gives. Content-Length is not one (a same-size change would go unnoticed); a server that
 * gives none cannot confirm anything, so its files download every time.
 */
function versionOf(headers) {
  const commit = headers.get("x-repo-commit");
  const tag = headers.get("etag") || headers.get("last-modified");
  return { commit: commit || null, tag: tag || null };
}

/** Whether `now` (from a HEAD) shows the same file version as `stored` (from the download). */
function sameVersion(stored, now) {
  if (stored.commit && now.commit) return stored.commit === now.commit;
  return Boolean(stored.tag && now.tag && stored.tag === now.tag);
}

/** The stored set for `urls`, if the server confirms it is current or cannot be reached. */
async function cachedSet(cache, urls) {
  const manifestResponse = await cache.match(manifestKey(urls));
  if (!manifestResponse) return null;
  let manifest;
  try {
    manifest = await manifestResponse.json();
  } catch {
    return null;
  }
  if (!Array.isArray(manifest.files) || manifest.files.length !== urls.length) return null;
  const hits = await Promise.all(urls.map((url) => cache.match(url)));
  if (hits.some((hit) => !hit)) return null;
  // One HEAD per file; with the Hub's commit header, the first answer settles the whole set.
  for (const [i, url] of urls.entries()) {
    let head;
    try {
      head = await fetch(url, { method: "HEAD", cache: "no-store" });
    } catch {
      return hits; // offline: the stored set is all there is
    }
    // A refused HEAD (405, 401, ...) confirms nothing: download again.
    if (!head.ok) return null;
    const now = versionOf(head.headers);
    if (!sameVersion(manifest.files[i], now)) return null;
    if (now.commit && now.commit === manifest.files[i].commit) return hits;
  }
  return hits;
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

/** Downloads one file of a set, past the HTTP cache; refuses error, opaque and HTML answers. */
async function download(url, { what, maxBytes, onBytes, signal }) {
  let response;
  try {
    // "no-cache": the browser's HTTP cache may only answer after the server confirms its copy.
    response = await fetch(url, { cache: "no-cache", signal });
  } catch (e) {
    if (signal?.aborted) throw signal.reason;
    throw new Error(`could not download ${what} from ${url}: ${e.message} (offline, or the server does not allow cross-origin requests?)`);
  }
  if (!response.ok) throw new Error(httpError(what, url, response));
  // A single-page-app server answers any path with its index page, status 200.
  const type = response.headers.get("content-type") || "";
  if (/^text\/html\b/i.test(type)) {
    throw new Error(`could not download ${what}: ${url} answered an HTML page, not the file (a missing file behind a fallback page? check the URL)`);
  }
  const bytes = await readBody(response, { what, url, maxBytes, onBytes: (l, t) => onBytes(l, t, false) });
  return { bytes, version: versionOf(response.headers), type };
}

/**
 * Reads a set of files from `urls`: from the cache when it is current, else from the network.
 * `files[i]` = {what, maxBytes, onBytes(loaded, total, fromCache)}.
 * Resolves to {bytes: Uint8Array[], fromCache, commit(), evict()}: call commit() once the
 * bytes parsed (it stores a downloaded set), evict() when they did not (it drops a cached one).
 */
export async function fetchSet(urls, files, { cache: useCache = true } = {}) {
  const cache = await openCache(useCache);
  const evict = async () => {
    if (!cache) return;
    await Promise.all([manifestKey(urls), ...urls].map((key) => cache.delete(key))).catch(() => {});
  };
  const hits = cache && (await cachedSet(cache, urls));
  if (hits) {
    const bytes = await Promise.all(
      hits.map((hit, i) => readBody(hit, { ...files[i], url: urls[i], onBytes: (l, t) => files[i].onBytes?.(l, t, true) })),
    );
    return { bytes, fromCache: true, commit: async () => {}, evict };
  }
  // When one file fails, the other downloads stop.
  const stop = new AbortController();
  const downloads = await Promise.all(
    urls.map((url, i) =>
      download(url, { ...files[i], onBytes: files[i].onBytes ?? (() => {}), signal: stop.signal }).catch((e) => {
        stop.abort(e);
        throw e;
      }),
    ),
  );
  const commit = async () => {
    if (!cache) return;
    // Caching is an optimisation: a full disk must not fail the load.
    try {
      await evict();
      for (const [i, { bytes, type }] of downloads.entries()) {
        const headers = { "content-type": type || "application/octet-stream", "content-length": String(bytes.byteLength) };
        await cache.put(urls[i], new Response(bytes, { headers }));
      }
      // The manifest last: without it the files above are never used.
      const manifest = { files: downloads.map(({ version }) => version) };
      await cache.put(manifestKey(urls), new Response(JSON.stringify(manifest), { headers: { "content-type": "application/json" } }));
    } catch {
      await evict();
    }
  };
  return { bytes: downloads.map((d) => d.bytes), fromCache: false, commit, evict };
}

/** Bytes of a Blob/File, ArrayBuffer or typed array (no cache: they are already local). */
export async function readLocal(source, { what, maxBytes = Infinity, onBytes } = {}) {
  let bytes;
  if (source instanceof Blob) {
    if (source.size > maxBytes) throw new Error(`${what} is ${source.size} bytes, over the limit of ${maxBytes}`);
    bytes = new Uint8Array(await source.arrayBuffer());
  } else if (source instanceof ArrayBuffer) {
    bytes = new Uint8Array(source);
  } else if (ArrayBuffer.isView(source)) {
    bytes = new Uint8Array(source.buffer, source.byteOffset, source.byteLength);
  } else {
    throw new Error(`${what}: expected a URL, File, Blob or ArrayBuffer, got ${Object.prototype.toString.call(source)}`);
  }
  if (bytes.byteLength > maxBytes) throw new Error(`${what} is ${bytes.byteLength} bytes, over the limit of ${maxBytes}`);
  onBytes?.(bytes.byteLength, bytes.byteLength, false);
  return bytes;
}
