// The npm package in a real app, as a web developer would use it: a minimal Vite app in a temp
// folder installs the packed tarball (dist/whisper-clsr-VERSION.tgz from scripts/build-npm.sh)
// with npm, type-checks its TypeScript against the package's .d.ts with tsc, builds with
// `vite build` and no bundler configuration, and the built site transcribes the last phrase of
// jfk.wav in Chromium exactly as the site in www/ does with the same model (a tiny random-weight
// Whisper, tiny-model.mjs: the subject is the packaging, and a real model would cost minutes on
// SwiftShader). Vite's dev server, with the one setting docs/web.md gives, starts the worker and
// the wasm too. Vite and TypeScript are the versions package-lock.json pins.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { checkPrerequisites, serve, launchBrowser, newPage, words, REPO } from "./harness.mjs";
import { routeTinyModel, tinyModelFiles, writeTinyModel } from "./tiny-model.mjs";
import { jfkPhrase } from "./wav-edit.mjs";

const run = promisify(execFile);
const MINUTES = 60_000;
const E2E = path.join(REPO, "tests/e2e");
const VITE = path.join(E2E, "node_modules/vite/bin/vite.js");
const TSC = path.join(E2E, "node_modules/typescript/bin/tsc");

const SEED = 45;
const OPTIONS = { temperatureIncrement: 0 };
let app, server, wwwServer, browser;

/** The tarball scripts/build-npm.sh made for the version in dist/npm/package.json. */
function tarball() {
  const manifest = path.join(REPO, "dist/npm/package.json");
  if (!existsSync(manifest)) throw new Error(`${manifest} is missing: run scripts/build-npm.sh`);
  const { version } = JSON.parse(readFileSync(manifest, "utf8"));
  const file = path.join(REPO, `dist/whisper-clsr-${version}.tgz`);
  if (!existsSync(file)) throw new Error(`${file} is missing: run scripts/build-npm.sh`);
  return { file, version };
}

// The app: one TypeScript entry that uses the typed API and exposes a test hook.
const MAIN_TS = `
import { Whisper, hasWebGPU, type LoadProgress, type Transcript, type TranscribeOptions } from "whisper-clsr";

export interface Outcome {
  transcript: Transcript;
  streamed: string;
  downloads: number;
  multilingual: boolean;
}

async function transcribeUrl(model: string, audioUrl: string, options: TranscribeOptions = {}): Promise<Outcome> {
  if (!hasWebGPU()) throw new Error("no WebGPU");
  let downloads = 0;
  const asr = await Whisper.load({
    model,
    onProgress: (p: LoadProgress) => {
      if (p.stage === "download") downloads++;
    },
  });
  const audio: Blob = await (await fetch(audioUrl)).blob();
  let streamed = "";
  const transcript = await asr.transcribe(audio, { ...options, language: "en", onToken: ({ text }) => (streamed += text) });
  const multilingual = asr.info.multilingual;
  asr.dispose();
  return { transcript, streamed, downloads, multilingual };
}

declare global {
  interface Window {
    transcribeUrl: typeof transcribeUrl;
  }
}
window.transcribeUrl = transcribeUrl;
document.body.dataset.ready = "1";
`;

// A misuse the types must catch: a misspelt option and a wrong result field.
const BAD_TS = `
import { Whisper } from "whisper-clsr";
const asr = await Whisper.load({ modle: "models/whisper-base/" });
const r = await asr.transcribe(new Float32Array(16000));
const n: number = r.text;
export { n };
`;

const TSCONFIG = (file) => ({
  compilerOptions: {
    target: "ES2022",
    module: "ESNext",
    moduleResolution: "bundler",
    lib: ["ES2022", "DOM"],
    strict: true,
    noEmit: true,
    types: [],
  },
  files: [file],
});

before(async () => {
  checkPrerequisites([]);
  for (const tool of [VITE, TSC]) {
    if (!existsSync(tool)) throw new Error(`${tool} is missing: run scripts/test-web.sh (it installs tests/e2e's packages)`);
  }
  app = mkdtempSync(path.join(tmpdir(), "whisper-clsr-vite-app-"));
  writeFileSync(path.join(app, "package.json"), JSON.stringify({ name: "vite-app", private: true, type: "module" }, null, 2));
  writeFileSync(
    path.join(app, "index.html"),
    `<!doctype html>\n<html><head><meta charset="utf-8"><link rel="icon" href="data:,"><title>app</title></head>\n<body><script type="module" src="/main.ts"></script></body></html>\n`,
  );
  writeFileSync(path.join(app, "main.ts"), MAIN_TS);
  writeFileSync(path.join(app, "bad.ts"), BAD_TS);
  writeFileSync(path.join(app, "tsconfig.json"), JSON.stringify(TSCONFIG("main.ts"), null, 2));
  writeFileSync(path.join(app, "tsconfig.bad.json"), JSON.stringify(TSCONFIG("bad.ts"), null, 2));
});
after(async () => {
  await browser?.close();
  server?.close();
  wwwServer?.close();
  if (app && !process.env.E2E_KEEP) rmSync(app, { recursive: true, force: true });
});

test("npm installs the packed tarball", { timeout: 2 * MINUTES }, async () => {
  const { file, version } = tarball();
  // The package has no dependencies, so this needs no registry.
  await run("npm", ["install", "--offline", "--no-audit", "--no-fund", "--loglevel=error", file], { cwd: app });
  const installed = path.join(app, "node_modules/whisper-clsr");
  const manifest = JSON.parse(readFileSync(path.join(installed, "package.json"), "utf8"));
  assert.equal(manifest.version, version);
  assert.equal(manifest.sideEffects, false);
  const files = readdirSync(installed, { recursive: true }).map(String).sort();
  console.log(`installed whisper-clsr ${version}: ${files.join(" ")}`);
  for (const f of ["whisper-clsr.js", "whisper-clsr.d.ts", "worker.js", "lib/fetch.js", "pkg/whisper_clsr.js", "pkg/whisper_clsr_bg.wasm"]) {
    assert.ok(files.includes(f), `the package has ${f}`);
  }
});

test("TypeScript: tsc --noEmit accepts the app and rejects misuse", { timeout: 2 * MINUTES }, async () => {
  await run(process.execPath, [TSC, "--noEmit", "-p", "tsconfig.json"], { cwd: app });
  const bad = await run(process.execPath, [TSC, "--noEmit", "-p", "tsconfig.bad.json"], { cwd: app }).then(
    () => null,
    (e) => e.stdout,
  );
  assert.ok(bad !== null, "tsc accepted bad.ts");
  assert.match(bad, /bad\.ts.*'modle'/, bad);
  assert.match(bad, /bad\.ts.*Type 'string' is not assignable to type 'number'/, bad);
});

test("vite build bundles the worker and the wasm without configuration", { timeout: 3 * MINUTES }, async () => {
  const { stdout } = await run(process.execPath, [VITE, "build", "--logLevel", "warn"], { cwd: app });
  if (stdout.trim()) console.log(stdout.trim());
  const assets = readdirSync(path.join(app, "dist/assets"));
  console.log(`dist/assets: ${assets.join(" ")}`);
  assert.ok(assets.some((f) => /^whisper_clsr_bg-.*\.wasm$/.test(f)), "the wasm is an emitted asset");
  assert.ok(assets.some((f) => /^worker-.*\.js$/.test(f)), "the worker is bundled as its own chunk");
  // Nothing may still point into node_modules: the built site is all there is.
  for (const f of assets.filter((a) => a.endsWith(".js"))) {
    assert.doesNotMatch(readFileSync(path.join(app, "dist/assets", f), "utf8"), /node_modules/, f);
  }
});

test("vite's dev server, with the package excluded from pre-bundling, starts the worker and the wasm", { timeout: 3 * MINUTES }, async () => {
  writeFileSync(path.join(app, "vite.config.js"), `export default { optimizeDeps: { exclude: ["whisper-clsr"] } };\n`);
  const dev = spawn(process.execPath, [VITE, "--host", "127.0.0.1", "--port", "0"], { cwd: app, stdio: ["ignore", "pipe", "inherit"] });
  try {
    const url = await new Promise((resolve, reject) => {
      let out = "";
      dev.stdout.on("data", (chunk) => {
        out += chunk;
        const m = out.replace(/\x1b\[[0-9;]*m/g, "").match(/Local:\s+(http:\S+)/);
        if (m) resolve(m[1]);
      });
      dev.on("exit", (code) => reject(new Error(`vite exited (${code}): ${out}`)));
    });
    browser = await launchBrowser();
    const page = await newPage(browser);
    const loaded = [];
    page.context().on("requestfinished", async (r) => loaded.push(`${(await r.response())?.status()} ${new URL(r.url()).pathname}`));
    await page.goto(url);
    await page.waitForFunction(() => document.body.dataset.ready === "1");
    // No model there: the load gets as far as the model's files, after the worker started
    // and instantiated the wasm.
    const message = await page.evaluate(() => window.transcribeUrl("/no-such-model/", "/none.wav").then(() => "loaded?!", (e) => e.message));
    console.log(`dev server: ${message}`);
    assert.doesNotMatch(message, /worker/);
    // The three files are fetched at once: whichever 404 answers first is the one named.
    assert.match(message, /config\.json|model\.safetensors|tokenizer\.json/);
    assert.ok(loaded.includes("200 /node_modules/whisper-clsr/pkg/whisper_clsr_bg.wasm"), loaded.join("\n"));
  } finally {
    // Closed here whether or not an assertion failed: the next test opens its own, and a
    // browser left open keeps node from exiting.
    await browser?.close();
    browser = null;
    dev.kill();
    rmSync(path.join(app, "vite.config.js"));
  }
});

test("the built app transcribes the last phrase of jfk.wav as the site in www/ does", { timeout: 10 * MINUTES }, async () => {
  const dist = path.join(app, "dist");
  // What the app's host would serve beside the build: a model and a clip.
  writeTinyModel(path.join(dist, "tiny-model"), SEED);
  writeFileSync(path.join(dist, "jfk.wav"), jfkPhrase().wav);
  server = await serve(dist);
  browser = await launchBrowser();
  const page = await newPage(browser);
  const requests = [];
  page.context().on("request", (r) => requests.push(new URL(r.url()).pathname));
  await page.goto(server.url);
  await page.waitForFunction(() => document.body.dataset.ready === "1");
  const started = Date.now();
  // One decoding pass (no temperature fallback, which random weights' repetitive output would
  // trigger), so that the streamed tokens are the transcript's.
  const out = await page.evaluate((options) => window.transcribeUrl("/tiny-model/", "/jfk.wav", options), OPTIONS);
  console.log(`transcribed in ${((Date.now() - started) / 1000).toFixed(1)} s: ${out.transcript.text}`);
  assert.ok(out.transcript.tokens.length > 0, "the tiny model transcribes something");
  assert.deepEqual(words(out.streamed), words(out.transcript.text));
  assert.equal(out.transcript.language, "en");
  assert.equal(out.multilingual, false);
  assert.ok(out.downloads > 0);
  // The worker and the wasm came from the build's assets.
  assert.ok(requests.some((p) => /^\/assets\/worker-.*\.js$/.test(p)), requests.join(" "));
  assert.ok(requests.some((p) => /^\/assets\/whisper_clsr_bg-.*\.wasm$/.test(p)), requests.join(" "));

  // The same model and clip through the site in www/.
  wwwServer = await serve();
  const site = await newPage(browser);
  await routeTinyModel(site, "tiny-model", tinyModelFiles(SEED));
  await site.route(`${wwwServer.url}__e2e/plain.html`, (route) => route.fulfill({ contentType: "text/html", body: "<!doctype html><title>plain</title>" }));
  await site.route(`${wwwServer.url}__e2e/jfk.wav`, (route) => route.fulfill({ contentType: "audio/wav", body: jfkPhrase().wav }));
  await site.goto(`${wwwServer.url}__e2e/plain.html`);
  const tokens = await site.evaluate(async (options) => {
    const { Whisper } = await import("/whisper-clsr.js");
    const asr = await Whisper.load({ model: "/tiny-model/", cache: false });
    const r = await asr.transcribe(await (await fetch("/__e2e/jfk.wav")).blob(), { ...options, language: "en" });
    asr.dispose();
    return r.tokens;
  }, OPTIONS);
  assert.deepEqual(out.transcript.tokens, tokens, "the packaged build transcribes as the site does");
});
