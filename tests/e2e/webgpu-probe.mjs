// Exits 0 when headless Chromium, launched as the browser tests launch it (harness.mjs), gets a
// WebGPU adapter; prints what the adapter reports. scripts/test-web.sh runs it with
// WHISPER_CLSR_LAVAPIPE set before using lavapipe, and falls back to SwiftShader when it fails
// (say a newer Chromium no longer loads lavapipe where it loads SwiftShader).

import { serve, launchBrowser } from "./harness.mjs";

const server = await serve();
let browser;
try {
  browser = await launchBrowser();
  const page = await browser.newPage();
  await page.route(`${server.url}__probe`, (route) => route.fulfill({ contentType: "text/html", body: "<!doctype html><title>probe</title>" }));
  await page.goto(`${server.url}__probe`);
  const adapter = await page.evaluate(async () => {
    const a = await navigator.gpu?.requestAdapter();
    if (!a) return null;
    const device = await a.requestDevice();
    device.destroy();
    return { ...Object.fromEntries(["vendor", "architecture", "description"].map((k) => [k, a.info?.[k]])), maxComputeInvocationsPerWorkgroup: a.limits.maxComputeInvocationsPerWorkgroup };
  });
  if (!adapter) throw new Error("no WebGPU adapter");
  console.log(JSON.stringify(adapter));
} catch (e) {
  console.error(`webgpu-probe: ${e.message}`);
  process.exitCode = 1;
} finally {
  await browser?.close();
  server.close();
}
