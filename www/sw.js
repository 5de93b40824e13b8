// The demo site's service worker: keeps the site's own files (page, scripts, styles, the
// wasm) in Cache Storage so that after one visit the demo opens and transcribes with the
// network off. The model files are not handled here: the JS API already keeps them in its own
// cache ("whisper-clsr-v2", see lib/fetch.js) and reads them from there when offline.
//
// Strategy for the site's files: network first (so a new build shows on the next reload),
// the cached copy when the network fails. Everything else (models, packs, other origins)
// passes through untouched.

const SITE_CACHE = "whisper-clsr-site-v1";

// Relative to this file, i.e. the site's root.
const SITE_FILES = [
  "./",
  "index.html",
  "demo/app.js",
  "demo/heatmap.js",
  "demo/live.js",
  "demo/recorder.js",
  "demo/segments.js",
  "demo/style.css",
  "whisper-clsr.js",
  "worker.js",
  "lib/audio.js",
  "lib/capture-worklet.js",
  "lib/live-capture.js",
  "lib/live-state.js",
  "lib/fetch.js",
  "lib/read-body.js",
  "lib/model-url.js",
  "pkg/whisper_clsr.js",
  "pkg/whisper_clsr_bg.wasm",
].map((f) => new URL(f, self.location.href).href);

self.addEventListener("install", (event) => {
  // cache: "reload" skips the HTTP cache, so the stored copies are what the server has now.
  event.waitUntil(
    caches
      .open(SITE_CACHE)
      .then((cache) => cache.addAll(SITE_FILES.map((url) => new Request(url, { cache: "reload" }))))
      .then(() => self.skipWaiting()),
  );
});

self.addEventListener("activate", (event) => {
  // Older versions of the site cache go; the model cache is not ours to touch.
  event.waitUntil(
    caches
      .keys()
      .then((keys) => Promise.all(keys.filter((k) => k.startsWith("whisper-clsr-site-") && k !== SITE_CACHE).map((k) => caches.delete(k))))
      .then(() => self.clients.claim()),
  );
});

/** The cache key of a request for one of the site's files, or null for anything else. */
function siteKey(request) {
  if (request.method !== "GET") return null;
  const url = new URL(request.url);
  url.search = ""; // index.html?model=… is the same page
  url.hash = "";
  return SITE_FILES.includes(url.href) ? url.href : null;
}

async function networkFirst(request, key) {
  const cache = await caches.open(SITE_CACHE);
  try {
    const response = await fetch(request);
    if (response.ok) await cache.put(key, response.clone());
    return response;
  } catch (offline) {
    const cached = await cache.match(key);
    if (cached) return cached;
    throw offline;
  }
}

self.addEventListener("fetch", (event) => {
  const key = siteKey(event.request);
  if (key) event.respondWith(networkFirst(event.request, key));
});
