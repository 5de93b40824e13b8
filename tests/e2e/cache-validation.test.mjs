// The model cache (www/lib/fetch.js) against servers that misbehave on purpose: a cached set is
// used only when the server confirms it, downloads go past the browser's HTTP cache, the files
// of a model are one set under one manifest, nothing is stored before it parses, what fails to
// parse is evicted, fallback HTML pages, error and opaque answers are never stored, and every
// file has a size cap whose error names it. No model: fetchSet is driven from a page directly,
// and one Whisper.load with the real wasm checks that unparsable weights are evicted.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { checkPrerequisites, serve, launchBrowser, newPage, WWW } from "./harness.mjs";
import { misbehavingServer } from "./misbehaving-server.mjs";

let site, remote, browser, page;

before(async () => {
  checkPrerequisites(["whisper-tiny.en"]);
  site = await serve();
  remote = await misbehavingServer();
  // The page fetches from another loopback port itself (the API does it from its worker):
  // Chromium's Local Network Access prompt would refuse that in a headless browser.
  browser = await launchBrowser({ extraArgs: ["--disable-features=LocalNetworkAccessChecks"] });
  page = await newPage(browser);
  await page.route(`${site.url}__e2e/plain.html`, (route) =>
    route.fulfill({ contentType: "text/html", body: "<!doctype html><title>plain</title>" }),
  );
  await page.goto(`${site.url}__e2e/plain.html`);
});
after(async () => {
  await browser?.close();
  site?.close();
  remote?.close();
});

/**
 * Reads `paths` of the remote server as one set in the page; `then` is "commit", "evict" or
 * "nothing". Resolves to {texts, fromCache} or {error}.
 */
const readSet = (paths, { then = "commit", maxBytes } = {}) =>
  page.evaluate(
    async ({ urls, then, maxBytes }) => {
      const { fetchSet } = await import("/lib/fetch.js");
      try {
        const set = await fetchSet(
          urls,
          urls.map((u) => ({ what: u.split("/").at(-1), maxBytes: maxBytes ?? Infinity })),
        );
        if (then === "commit") await set.commit();
        if (then === "evict") await set.evict();
        return { texts: set.bytes.map((b) => new TextDecoder().decode(b.subarray(0, 64))), fromCache: set.fromCache };
      } catch (e) {
        return { error: e.message };
      }
    },
    { urls: paths.map((p) => remote.url + p), then, maxBytes },
  );

/** The URLs stored in the model cache. */
const cachedUrls = () =>
  page.evaluate(async () => {
    const { CACHE_NAME } = await import("/lib/fetch.js");
    const cache = await caches.open(CACHE_NAME);
    return (await cache.keys()).map((r) => r.url);
  });

const requests = (method, path) => remote.log.filter((l) => l === `${method} ${path}`).length;

test("a server without validators is asked every time; a same-size change is seen", async () => {
  remote.files.set("/nv/a.bin", { body: "version-1" });
  assert.deepEqual((await readSet(["/nv/a.bin"])).texts, ["version-1"]);
  remote.files.set("/nv/a.bin", { body: "version-2" }); // same size, no ETag, no Last-Modified
  const second = await readSet(["/nv/a.bin"]);
  assert.deepEqual(second.texts, ["version-2"]);
  assert.equal(second.fromCache, false);
});

test("the browser's HTTP cache does not answer the download", async () => {
  // max-age would let a plain fetch() take the HTTP cache's copy without asking.
  const headers = { "cache-control": "max-age=3600" };
  remote.files.set("/hc/a.bin", { body: "fresh-1", headers });
  await readSet(["/hc/a.bin"]);
  remote.files.set("/hc/a.bin", { body: "fresh-2", headers });
  const before = requests("GET", "/hc/a.bin");
  assert.deepEqual((await readSet(["/hc/a.bin"])).texts, ["fresh-2"]);
  assert.equal(requests("GET", "/hc/a.bin"), before + 1, "the download reached the server");
});

test("an unchanged ETag serves the cache; a changed one or a refused HEAD downloads again", async () => {
  remote.files.set("/et/a.bin", { body: "etag-one", headers: { etag: '"1"' } });
  await readSet(["/et/a.bin"]);
  const gets = requests("GET", "/et/a.bin");
  const hit = await readSet(["/et/a.bin"]);
  assert.deepEqual(hit, { texts: ["etag-one"], fromCache: true });
  assert.equal(requests("GET", "/et/a.bin"), gets, "no download for a confirmed copy");

  remote.files.set("/et/a.bin", { body: "etag-two", headers: { etag: '"2"' } });
  assert.deepEqual(await readSet(["/et/a.bin"]), { texts: ["etag-two"], fromCache: false });

  // HEAD refused (405): nothing is confirmed, so the stored copy is not trusted.
  remote.files.set("/et/a.bin", { body: "etag-3!!", headers: { etag: '"3"' }, headStatus: 405 });
  assert.deepEqual(await readSet(["/et/a.bin"]), { texts: ["etag-3!!"], fromCache: false });
  remote.files.set("/et/a.bin", { body: "etag-4!!", headers: { etag: '"3"' }, headStatus: 401 });
  assert.deepEqual((await readSet(["/et/a.bin"])).texts, ["etag-4!!"]);
});

test("a set is validated as one: one changed file downloads all of them; the Hub's commit settles it with one HEAD", async () => {
  const set = ["/hub/config.json", "/hub/model.safetensors", "/hub/tokenizer.json"];
  const put = (commit, weights) => {
    remote.files.set(set[0], { body: `config@${commit}`, headers: { "x-repo-commit": commit, etag: `"c-${commit}"` } });
    remote.files.set(set[1], { body: weights, headers: { etag: `"${weights}"` } }); // a CDN: no commit header
    remote.files.set(set[2], { body: `tok@${commit}`, headers: { "x-repo-commit": commit, etag: `"t-${commit}"` } });
  };
  put("aaa", "weights-a");
  await readSet(set);
  const heads = remote.log.filter((l) => l.startsWith("HEAD /hub/")).length;
  assert.deepEqual(await readSet(set), { texts: ["config@aaa", "weights-a", "tok@aaa"], fromCache: true });
  assert.equal(remote.log.filter((l) => l.startsWith("HEAD /hub/")).length, heads + 1, "one HEAD for the whole set");

  put("bbb", "weights-b");
  assert.deepEqual(await readSet(set), { texts: ["config@bbb", "weights-b", "tok@bbb"], fromCache: false });

  // Without a commit header, each file's validator counts: a change in the last one alone
  // downloads the set again.
  const plain = ["/set/config.json", "/set/model.safetensors", "/set/tokenizer.json"];
  for (const p of plain) remote.files.set(p, { body: `${p}@1`, headers: { etag: '"1"' } });
  await readSet(plain);
  remote.files.set(plain[2], { body: `${plain[2]}@2`, headers: { etag: '"2"' } });
  const gets = remote.log.filter((l) => l.startsWith("GET /set/")).length;
  const again = await readSet(plain);
  assert.equal(again.fromCache, false);
  assert.equal(again.texts[2], `${plain[2]}@2`);
  assert.equal(remote.log.filter((l) => l.startsWith("GET /set/")).length, gets + 3, "the whole set downloaded");
});

test("nothing is stored before commit; evict drops the set; offline, a committed set is used", async () => {
  remote.files.set("/cm/a.bin", { body: "parse-me", headers: { etag: '"x"' } });
  await readSet(["/cm/a.bin"], { then: "nothing" });
  assert.ok(!(await cachedUrls()).some((u) => u.includes("/cm/")), "stored before it parsed");
  await readSet(["/cm/a.bin"], { then: "commit" });
  assert.ok((await cachedUrls()).includes(`${remote.url}/cm/a.bin`));
  await readSet(["/cm/a.bin"], { then: "evict" });
  assert.ok(!(await cachedUrls()).some((u) => u.includes("/cm/")), "evicted set still stored");

  await readSet(["/cm/a.bin"], { then: "commit" });
  await page.context().setOffline(true);
  try {
    assert.deepEqual(await readSet(["/cm/a.bin"]), { texts: ["parse-me"], fromCache: true });
  } finally {
    await page.context().setOffline(false);
  }
});

test("fallback HTML pages, error answers and opaque answers are refused and never stored", async () => {
  remote.files.set("/spa/model.safetensors", { body: "<!doctype html><p>app</p>", headers: { "content-type": "text/html; charset=utf-8" } });
  const html = await readSet(["/spa/model.safetensors"]);
  assert.match(html.error, /model\.safetensors: .* answered an HTML page/);
  const missing = await readSet(["/none/model.safetensors"]);
  assert.match(missing.error, /model\.safetensors: .*none\/model\.safetensors answered HTTP 404/);
  remote.files.set("/nocors/a.bin", { body: "secret", cors: false });
  const opaque = await readSet(["/nocors/a.bin"]);
  assert.match(opaque.error, /could not download a\.bin/);
  const stored = await cachedUrls();
  for (const p of ["/spa/", "/none/", "/nocors/"]) assert.ok(!stored.some((u) => u.includes(p)), `${p} stored`);
});

test("size caps and short bodies: errors name the file", async () => {
  remote.files.set("/cap/model.safetensors", { body: Buffer.alloc(4096) });
  const announced = await readSet(["/cap/model.safetensors"], { maxBytes: 1000 });
  assert.match(announced.error, /model\.safetensors from .* is larger than its limit of 1000 bytes/);
  remote.files.set("/cap/endless.bin", { endless: true });
  const endless = await readSet(["/cap/endless.bin"], { maxBytes: 1 << 20 });
  assert.match(endless.error, /endless\.bin from .* is larger than its limit of 1048576 bytes/);
  remote.files.set("/cap/short.json", { body: '{"a": 1}', lie: 5000 });
  const short = await readSet(["/cap/short.json"]);
  assert.match(short.error, /could not download short\.json from .*short\.json: the transfer broke off after \d+ of 5008 bytes/);
});

test("Whisper.load evicts a cached set whose weights do not parse, and names the file", { timeout: 5 * 60_000 }, async () => {
  // A fallback page the HTML check cannot see (served as octet-stream): only parsing finds it.
  const html = "<!doctype html><html><body>Welcome to our app</body></html>";
  const tiny = (f) => readFileSync(path.join(WWW, "models/whisper-tiny.en", f));
  remote.files.set("/bad/config.json", { body: tiny("config.json"), headers: { etag: '"c"' } });
  remote.files.set("/bad/model.safetensors", { body: html, headers: { etag: '"m"' } });
  remote.files.set("/bad/tokenizer.json", { body: tiny("tokenizer.json"), headers: { etag: '"t"' } });
  // Stored as a set beforehand, as a version of this module without the parse check would have.
  await readSet(["/bad/config.json", "/bad/model.safetensors", "/bad/tokenizer.json"]);
  assert.ok((await cachedUrls()).includes(`${remote.url}/bad/model.safetensors`));
  const message = await page.evaluate(async (model) => {
    const { Whisper } = await import("/whisper-clsr.js");
    return Whisper.load({ model }).then(
      (asr) => (asr.dispose(), "loaded?!"),
      (e) => e.message,
    );
  }, `${remote.url}/bad/`);
  console.log(`unparsable model: ${message}`);
  assert.match(message, /safetensors/i);
  assert.ok(!(await cachedUrls()).some((u) => u.includes("/bad/")), "an unparsable set was kept");
});

test("safetensors whose offsets point past the file are refused readably, not read", { timeout: 5 * 60_000 }, async () => {
  const tiny = (f) => readFileSync(path.join(WWW, "models/whisper-tiny.en", f));
  const header = Buffer.from(JSON.stringify({ "model.encoder.conv1.weight": { dtype: "F32", shape: [1000000], data_offsets: [0, 4000000] } }));
  const size = Buffer.alloc(8);
  size.writeBigUInt64LE(BigInt(header.length));
  remote.files.set("/offsets/config.json", { body: tiny("config.json") });
  remote.files.set("/offsets/model.safetensors", { body: Buffer.concat([size, header, Buffer.alloc(8)]) });
  remote.files.set("/offsets/tokenizer.json", { body: tiny("tokenizer.json") });
  const message = await page.evaluate(async (model) => {
    const { Whisper } = await import("/whisper-clsr.js");
    return Whisper.load({ model }).then((asr) => (asr.dispose(), "loaded?!"), (e) => e.message);
  }, `${remote.url}/offsets/`);
  console.log(`offsets past the end: ${message}`);
  assert.match(message, /model\.safetensors is not a readable safetensors file/);
  assert.ok(!(await cachedUrls()).some((u) => u.includes("/offsets/")));
});
