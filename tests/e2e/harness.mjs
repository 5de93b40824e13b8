// Shared setup for the browser tests and the benchmark: serves www/ on localhost with
// Python's static file server (as scripts/demo.sh does) and starts Debian's headless Chromium
// through playwright-core, with WebGPU on SwiftShader when there is no GPU.

import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import path from "node:path";
import { chromium } from "playwright-core";

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
export const WWW = path.join(REPO, "www");
export const FIXTURES = process.env.WHISPER_CLSR_FIXTURES ?? path.resolve(REPO, "../shared/fixtures");
export const OUTPUT = path.join(REPO, "test-output");

/** Fails early, naming the command that makes what is missing. */
export function checkPrerequisites(models = ["whisper-base", "whisper-tiny.en"], packs = []) {
  const need = [
    [path.join(WWW, "pkg/whisper_clsr_bg.wasm"), "run scripts/build-web.sh"],
    [path.join(FIXTURES, "jfk.wav"), "set WHISPER_CLSR_FIXTURES to the folder with jfk.wav"],
    ...models.map((m) => [path.join(WWW, "models", m, "model.safetensors"), "run scripts/test-web.sh (it links models/ into www/models/)"]),
    ...packs.map((p) => [path.join(WWW, "packs", p), "run scripts/test-web.sh (it makes the test packs in www/packs/)"]),
  ];
  for (const [file, fix] of need) {
    if (!existsSync(file)) throw new Error(`${file} is missing: ${fix}`);
  }
}

/** Serves www/ on 127.0.0.1 at a free port; resolves to {url, close()}. */
export function serve(root = WWW) {
  return new Promise((resolve, reject) => {
    const server = spawn("python3", ["-u", "-m", "http.server", "0", "--bind", "127.0.0.1", "--directory", root], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    server.stdout.on("data", (chunk) => {
      out += chunk;
      const m = out.match(/port (\d+)/);
      if (m) resolve({ url: `http://127.0.0.1:${m[1]}/`, close: () => server.kill() });
    });
    server.stderr.resume(); // request log
    server.on("error", reject);
    server.on("exit", (code) => reject(new Error(`python3 -m http.server exited (${code}): ${out}`)));
  });
}

/**
 * Where WebGPU runs without a GPU: lavapipe when WHISPER_CLSR_LAVAPIPE names the folder
 * scripts/lavapipe-browser.sh made (scripts/test-web.sh sets it), else SwiftShader (also with
 * another Chromium named by CHROMIUM). {executablePath, env}.
 */
function softwareWebGpu() {
  const dir = process.env.WHISPER_CLSR_LAVAPIPE;
  if (!dir || process.env.WHISPER_CLSR_REAL_GPU || process.env.CHROMIUM) {
    return { executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium", env: process.env };
  }
  const env = {
    ...process.env,
    VK_ICD_FILENAMES: path.join(dir, "lvp_icd.json"),
    VK_LAYER_PATH: path.join(dir, "layer"),
    VK_INSTANCE_LAYERS: "VK_LAYER_WHISPER_CLSR_gpu_id",
    LD_LIBRARY_PATH: [path.join(dir, "mesa/usr/lib/x86_64-linux-gnu"), process.env.LD_LIBRARY_PATH].filter(Boolean).join(":"),
  };
  return { executablePath: path.join(dir, "chromium/chromium"), env };
}

/** Headless Chromium with WebGPU enabled (lavapipe or SwiftShader without a GPU); `extraArgs` are added. */
export async function launchBrowser({ extraArgs = [] } = {}) {
  const { executablePath, env } = softwareWebGpu();
  if (!existsSync(executablePath)) {
    throw new Error(`${executablePath} not found: apt-get install chromium (or set CHROMIUM)`);
  }
  const args = [
    "--no-sandbox",
    "--enable-unsafe-webgpu",
    "--enable-features=Vulkan",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
  ];
  if (!process.env.WHISPER_CLSR_REAL_GPU) {
    args.push("--use-webgpu-adapter=swiftshader", "--enable-unsafe-swiftshader");
  }
  return chromium.launch({ executablePath, env, headless: true, args: [...args, ...extraArgs] });
}

/** A new page that forwards the page's console errors and worker errors to the test log. */
export async function newPage(browser) {
  const page = await browser.newPage();
  page.on("console", (msg) => {
    if (msg.type() === "error" || process.env.E2E_VERBOSE) console.log(`[page ${msg.type()}] ${msg.text()}`);
  });
  page.on("pageerror", (e) => console.log(`[page error] ${e.message}`));
  return page;
}

/** Lowercase words without punctuation, for comparing transcripts. */
export function words(text) {
  return text
    .toLowerCase()
    .replace(/[^\p{L}\p{N}' ]+/gu, " ")
    .split(/\s+/)
    .filter(Boolean);
}
