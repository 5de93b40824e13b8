// The JS API when things go wrong, without a real model where the behaviour does not need one:
// - a wasm trap (Rust panic, out of memory) inside async Rust fires in a microtask and leaves
//   the call's promise unsettled (that is how wasm-bindgen-futures runs Rust futures); a stand-in
//   for pkg/whisper_clsr.js does exactly that, and the API must reject at once and stay failed;
// - dispose() during a transcription that keeps the worker busy terminates it at once;
// - a throwing onProgress callback does not escape as an uncaught error;
// - the worker does not resolve prototype names ("constructor") as operations;
// - the page's Content-Security-Policy from docs/web.md with Trusted Types, workerUrl as a
//   TrustedScriptURL, and the real wasm (an unparsable model: it fails fast, after the worker,
//   the wasm and the GPU device have started);
// - expert pack metadata: the language comes back as the normalised code routing uses, and a
//   "__proto__" key in it pollutes nothing (whisper-tiny.en, an empty pack made here).

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { checkPrerequisites, serve, launchBrowser, newPage, WWW } from "./harness.mjs";

const MINUTES = 60_000;
let server, browser;

before(async () => {
  checkPrerequisites(["whisper-tiny.en"]);
  server = await serve();
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
  server?.close();
});

/**
 * A stand-in for the wasm-bindgen glue. `trap` says where a Rust panic happens: "load" or
 * "transcribe" (thrown in a microtask, the promise never settles) or "busy" (transcribe keeps
 * the worker's thread busy, as a long transcription does).
 */
const stubGlue = (trap) => `
const panic = () => queueMicrotask(() => { throw new WebAssembly.RuntimeError("unreachable"); });
export default async function init() {}
export function languages() { return [{ code: "en", name: "english" }]; }
export function subtitles() { return ""; }
export class LiveSession {}
export class WhisperModel {
  static load() {
    if (${JSON.stringify(trap)} === "load") { panic(); return new Promise(() => {}); }
    return Promise.resolve(new WhisperModel());
  }
  info() { return { multilingual: true, languages: [{ code: "en", name: "english" }] }; }
  setGenerationConfig() { return false; }
  transcribe() {
    if (${JSON.stringify(trap)} === "busy") for (;;);
    panic();
    return new Promise(() => {});
  }
  free() {}
}`;

/** A page in a new context whose worker gets the stand-in glue and three tiny model files. */
async function stubbedPage(trap) {
  const context = await browser.newContext();
  await context.route("**/pkg/whisper_clsr.js", (route) => route.fulfill({ contentType: "text/javascript", body: stubGlue(trap) }));
  await context.route("**/stub-model/*", (route) => route.fulfill({ contentType: "application/octet-stream", body: "{}" }));
  await context.route(`${server.url}__e2e/plain.html`, (route) => route.fulfill({ contentType: "text/html", body: "<!doctype html><title>plain</title>" }));
  const page = await newPage(await context);
  const uncaught = [];
  page.on("pageerror", (e) => uncaught.push(e.message));
  await page.goto(`${server.url}__e2e/plain.html`);
  return { page, context, uncaught };
}

test("a panic inside load rejects at once, and the instance stays failed", { timeout: 2 * MINUTES }, async () => {
  const { page, context } = await stubbedPage("load");
  const out = await page.evaluate(async () => {
    const { Whisper } = await import("/whisper-clsr.js");
    const started = performance.now();
    const message = await Promise.race([
      Whisper.load({ model: "/stub-model/", cache: false }).then(() => "loaded?!", (e) => e.message),
      new Promise((r) => setTimeout(() => r("still pending after 20 s"), 20_000)),
    ]);
    return { message, ms: performance.now() - started };
  });
  console.log(`panic in load: ${out.message} (${out.ms.toFixed(0)} ms)`);
  assert.match(out.message, /worker stopped: RuntimeError: unreachable; load the model again/);
  await context.close();
});

test("a panic inside transcribe rejects it and every later call at once", { timeout: 2 * MINUTES }, async () => {
  const { page, context } = await stubbedPage("transcribe");
  const out = await page.evaluate(async () => {
    const { Whisper } = await import("/whisper-clsr.js");
    const asr = await Whisper.load({ model: "/stub-model/", cache: false });
    const settle = (p) =>
      Promise.race([p.then(() => "resolved?!", (e) => e.message), new Promise((r) => setTimeout(() => r("still pending"), 20_000))]);
    const first = asr.transcribe(new Float32Array(16000));
    const queued = asr.transcribe(new Float32Array(16000)); // waits behind the first in the worker
    const [a, b] = await Promise.all([settle(first), settle(queued)]);
    const started = performance.now();
    const later = await settle(asr.subtitles([]));
    return { a, b, later, laterMs: performance.now() - started };
  });
  console.log(`panic in transcribe: ${out.a}; queued: ${out.b}; later: ${out.later}`);
  for (const m of [out.a, out.b, out.later]) assert.match(m, /worker stopped: RuntimeError: unreachable/);
  assert.ok(out.laterMs < 1000, `a later call took ${out.laterMs} ms`);
  await context.close();
});

test("dispose() stops a busy worker at once and rejects pending calls", { timeout: 2 * MINUTES }, async () => {
  const { page, context } = await stubbedPage("busy");
  const out = await page.evaluate(async () => {
    const { Whisper } = await import("/whisper-clsr.js");
    const asr = await Whisper.load({ model: "/stub-model/", cache: false });
    const running = asr.transcribe(new Float32Array(16000)).then(() => "resolved?!", (e) => e.message);
    const queued = asr.transcribe(new Float32Array(16000)).then(() => "resolved?!", (e) => e.message);
    await new Promise((r) => setTimeout(r, 500)); // the worker is now in its endless loop
    const started = performance.now();
    asr.dispose();
    const [a, b] = await Promise.all([running, queued]);
    const ms = performance.now() - started;
    const later = await asr.transcribe(new Float32Array(10)).then(() => "resolved?!", (e) => e.message);
    return { a, b, later, ms };
  });
  console.log(`dispose while busy: rejected in ${out.ms.toFixed(0)} ms`);
  for (const m of [out.a, out.b, out.later]) assert.match(m, /disposed/);
  assert.ok(out.ms < 1000, `pending calls took ${out.ms} ms to reject`);
  await context.close();
});

test("a throwing onProgress does not escape; prototype names are not operations", { timeout: 2 * MINUTES }, async () => {
  const { page, context, uncaught } = await stubbedPage("none");
  const out = await page.evaluate(async () => {
    const { Whisper } = await import("/whisper-clsr.js");
    const asr = await Whisper.load({
      model: "/stub-model/",
      cache: false,
      onProgress: () => {
        throw new Error("progress callback bug");
      },
    });
    asr.dispose();
    // The worker itself, asked for inherited names.
    const worker = new Worker("/worker.js", { type: "module" });
    const ask = (id, op) =>
      new Promise((resolve) => {
        worker.addEventListener("message", ({ data }) => data.id === id && resolve(data.error ?? "answered?!"));
        worker.postMessage({ id, op, args: {} });
      });
    const answers = [await ask(1, "constructor"), await ask(2, "__proto__"), await ask(3, "toString"), await ask(4, "hasOwnProperty")];
    worker.terminate();
    return { loaded: true, answers };
  });
  await new Promise((r) => setTimeout(r, 200));
  assert.deepEqual(uncaught, [], "no uncaught errors");
  assert.deepEqual(out.answers, ["unknown operation 'constructor'", "unknown operation '__proto__'", "unknown operation 'toString'", "unknown operation 'hasOwnProperty'"]);
  await context.close();
});

test("docs/web.md's Content-Security-Policy with Trusted Types: workerUrl as a TrustedScriptURL, real wasm", { timeout: 5 * MINUTES }, async () => {
  const docs = readFileSync(path.join(WWW, "../docs/web.md"), "utf8");
  const csp = docs.match(/^Content-Security-Policy: (.+)$/m)?.[1];
  assert.ok(csp, "docs/web.md states the policy on a `Content-Security-Policy: …` line");
  const policy = `${csp}; require-trusted-types-for 'script'; trusted-types whisper-clsr`;
  const context = await browser.newContext();
  const withCsp = async (route) => {
    const response = await route.fetch();
    await route.fulfill({ response, headers: { ...response.headers(), "content-security-policy": policy } });
  };
  await context.route(`${server.url}__e2e/csp.html`, (route) =>
    route.fulfill({ contentType: "text/html", headers: { "content-security-policy": policy }, body: "<!doctype html><title>csp</title>" }),
  );
  await context.route(`${server.url}worker.js`, withCsp); // the worker runs under the policy too
  // Weights that do not parse: the load fails fast, after the wasm and the device have started.
  await context.route("**/csp-model/model.safetensors", (route) => route.fulfill({ contentType: "application/octet-stream", body: "not safetensors" }));
  await context.route("**/csp-model/*.json", (route) =>
    route.fulfill({ contentType: "application/json", body: readFileSync(path.join(WWW, "models/whisper-tiny.en", new URL(route.request().url()).pathname.split("/").at(-1))) }),
  );
  const page = await newPage(context);
  const violations = [];
  page.on("console", (m) => /Content Security Policy|Trusted Type/i.test(m.text()) && violations.push(m.text()));
  await page.goto(`${server.url}__e2e/csp.html`);
  const out = await page.evaluate(async () => {
    const { Whisper } = await import("/whisper-clsr.js");
    const untrusted = await Whisper.load({ model: "/csp-model/", cache: false }).then(() => "loaded?!", (e) => e.message);
    const policy = trustedTypes.createPolicy("whisper-clsr", { createScriptURL: (u) => (new URL(u, location.href).origin === location.origin ? u : "") });
    const workerUrl = policy.createScriptURL("/worker.js");
    const trusted = await Whisper.load({ model: "/csp-model/", cache: false, workerUrl }).then(() => "loaded?!", (e) => e.message);
    return { untrusted, trusted, isTrusted: workerUrl instanceof TrustedScriptURL };
  });
  console.log(`CSP, plain URL: ${out.untrusted}\nCSP, TrustedScriptURL: ${out.trusted}`);
  assert.ok(out.isTrusted);
  assert.match(out.untrusted, /pass workerUrl as a TrustedScriptURL/);
  // The worker, the wasm and the device started; only the weights were refused.
  assert.match(out.trusted, /model\.safetensors is not a readable safetensors file/);
  assert.ok(!violations.some((v) => /wasm|connect-src|worker-src/.test(v)), violations.join("\n"));
  await context.close();
});

/** An expert pack with no layers: just the safetensors header with its metadata. */
function emptyPack(meta) {
  const header = Buffer.from(JSON.stringify({ __metadata__: { whisper_clsr: JSON.stringify(meta) } }));
  const size = Buffer.alloc(8);
  size.writeBigUInt64LE(BigInt(header.length));
  return Buffer.concat([size, header]);
}

test("pack metadata: the normalised language comes back, and __proto__ pollutes nothing", { timeout: 10 * MINUTES }, async () => {
  const page = await newPage(browser);
  await page.route(`${server.url}__e2e/plain.html`, (route) => route.fulfill({ contentType: "text/html", body: "<!doctype html><title>plain</title>" }));
  await page.goto(`${server.url}__e2e/plain.html`);
  const fingerprint = await page.evaluate(async () => {
    const { Whisper } = await import("/whisper-clsr.js");
    window.asr = await Whisper.load({ model: "/models/whisper-tiny.en/" });
    return window.asr.info.fingerprint;
  });
  const meta = (language) => ({
    format_version: 1,
    language,
    base_fingerprint: fingerprint,
    d_model: 384,
    ffn_dim: 1536,
    gate_dim: 64,
    encoder_layers: [],
    decoder_layers: [],
    training: JSON.parse('{"__proto__": {"polluted": "yes"}, "note": "<img src=x onerror=alert(1)>"}'),
  });
  const packs = [" en\n", "English"].map((l) => [...emptyPack(meta(l))]);
  const out = await page.evaluate(async (packs) => {
    const results = [];
    for (const bytes of packs) {
      const m = await window.asr.loadExpert(new Uint8Array(bytes).buffer);
      results.push({ language: m.language, keys: [...window.asr.experts.keys()], polluted: {}.polluted, own: Object.keys(m.training) });
    }
    const removed = await window.asr.removeExpert("English");
    const left = [...window.asr.experts.keys()];
    window.asr.dispose();
    return { results, removed, left, polluted: {}.polluted };
  }, packs);
  for (const r of out.results) {
    assert.equal(r.language, "en");
    assert.deepEqual(r.keys, ["en"]);
    assert.equal(r.polluted, undefined);
  }
  assert.equal(out.removed, true);
  assert.deepEqual(out.left, []);
  assert.equal(out.polluted, undefined);
  await page.close();
});
