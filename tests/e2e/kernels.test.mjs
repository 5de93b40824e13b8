// Kernels in Chromium's WebGPU (Tint compiles the WGSL there, naga natively) against an f64
// reference computed in the page, on fresh random inputs. Native tests cannot see a
// difference in how the two compilers treat the same code: the encoder's flash attention
// once gave wrong outputs in the browser only (docs/kernels.md, "Browser pitfalls").
// The WGSL is the runtime's own, printed by test-kit's `kernel-source`.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { REPO, serve, launchBrowser, newPage } from "./harness.mjs";

// Built with the workspace's dependency features (scripts/workspace-run.sh), so that after the
// Rust tests (scripts/test.sh) the binary needs no second build of the runtime's dependencies.
function kernelSource(file, ...defines) {
  return execFileSync(`${REPO}/scripts/workspace-run.sh`, ["kernel-source", file, ...defines], {
    cwd: REPO,
    encoding: "utf8",
    maxBuffer: 1 << 24,
  });
}

let server, browser, page;
before(async () => {
  server = await serve();
  browser = await launchBrowser();
  page = await newPage(browser);
  page.setDefaultTimeout(0);
  await page.route(`${server.url}__kernels.html`, (r) => r.fulfill({ contentType: "text/html", body: "<!doctype html><title>kernels</title>" }));
  await page.goto(`${server.url}__kernels.html`);
});
after(async () => {
  await browser?.close();
  server?.close();
});

// softmax(Q·Kᵀ/√HD)·V per head on the GPU with the given variant, and the largest difference
// from an f64 reference (relative to the largest output).
async function flashAttention(code, { rowsPerGroup, queries, keys, heads, seed }) {
  return page.evaluate(
    async ({ code, rowsPerGroup, queries, keys, heads, seed }) => {
      const HD = 64;
      const d = HD * heads;
      let state = seed >>> 0;
      const random = () => {
        state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
        return (state / 2 ** 32) * 2 - 1;
      };
      // Queries scaled so that the softmax is peaked (scores up to ~25), as in real encoders.
      const q = Float32Array.from({ length: queries * d }, () => 3 * random());
      const k = Float32Array.from({ length: keys * d }, random);
      const v = Float32Array.from({ length: keys * d }, random);

      const adapter = await navigator.gpu.requestAdapter();
      const device = await adapter.requestDevice();
      const buffer = (data, usage) => {
        const b = device.createBuffer({ size: data.byteLength, usage, mappedAtCreation: true });
        new Uint8Array(b.getMappedRange()).set(new Uint8Array(data.buffer));
        b.unmap();
        return b;
      };
      const params = new ArrayBuffer(16);
      new Uint32Array(params).set([queries, keys, d / 4]);
      new Float32Array(params)[3] = Math.LOG2E / Math.sqrt(HD);
      const storage = GPUBufferUsage.STORAGE;
      const out = device.createBuffer({ size: queries * d * 4, usage: storage | GPUBufferUsage.COPY_SRC });
      const read = device.createBuffer({ size: queries * d * 4, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
      device.pushErrorScope("validation");
      const module = device.createShaderModule({ code });
      const pipeline = device.createComputePipeline({ layout: "auto", compute: { module, entryPoint: "main" } });
      const bindings = [buffer(new Uint8Array(params), GPUBufferUsage.UNIFORM), buffer(q, storage), buffer(k, storage), buffer(v, storage), out];
      const group = device.createBindGroup({
        layout: pipeline.getBindGroupLayout(0),
        entries: bindings.map((b, binding) => ({ binding, resource: { buffer: b } })),
      });
      const encoder = device.createCommandEncoder();
      const pass = encoder.beginComputePass();
      pass.setPipeline(pipeline);
      pass.setBindGroup(0, group);
      pass.dispatchWorkgroups(Math.ceil(queries / rowsPerGroup), heads);
      pass.end();
      encoder.copyBufferToBuffer(out, 0, read, 0, queries * d * 4);
      device.queue.submit([encoder.finish()]);
      await read.mapAsync(GPUMapMode.READ);
      const error = await device.popErrorScope();
      const o = new Float32Array(read.getMappedRange().slice(0));
      device.destroy();

      let maxDiff = 0;
      let maxAbs = 0;
      let worst = null;
      const s = new Float64Array(keys);
      for (let h = 0; h < heads; h++) {
        for (let i = 0; i < queries; i++) {
          let m = -Infinity;
          for (let j = 0; j < keys; j++) {
            let dot = 0;
            for (let c = 0; c < HD; c++) dot += q[i * d + h * HD + c] * k[j * d + h * HD + c];
            s[j] = dot / Math.sqrt(HD);
            m = Math.max(m, s[j]);
          }
          let l = 0;
          for (let j = 0; j < keys; j++) {
            s[j] = Math.exp(s[j] - m);
            l += s[j];
          }
          for (let c = 0; c < HD; c++) {
            let acc = 0;
            for (let j = 0; j < keys; j++) acc += s[j] * v[j * d + h * HD + c];
            const want = acc / l;
            const got = o[i * d + h * HD + c];
            maxAbs = Math.max(maxAbs, Math.abs(want));
            const diff = Number.isFinite(got) ? Math.abs(got - want) : Infinity;
            if (diff > maxDiff) [maxDiff, worst] = [diff, { head: h, row: i, column: c, want, got }];
          }
        }
      }
      return { error: error?.message ?? null, maxDiff, maxAbs, worst };
    },
    { code, rowsPerGroup, queries, keys, heads, seed },
  );
}

// Every rows-per-invocation variant of the tiled form (64 invocations of R rows per workgroup)
// and the CPU drivers' WALK form (16 invocations of 8 rows; dispatched natively only, checked
// here so that the WGSL stays valid and exact under Tint too), at the encoder's length (heads of
// 64 over 1500 frames; two heads rather than tiny's six, each head being the same work at
// another offset) and at lengths that leave partial query and key tiles.
const cases = [
  { define: "ROWS_2", form: "2 rows per invocation", rowsPerGroup: 128, queries: 1500, keys: 1500, heads: 2 },
  { define: null, form: "1 row per invocation", rowsPerGroup: 64, queries: 200, keys: 77, heads: 2 },
  { define: "ROWS_4", form: "4 rows per invocation", rowsPerGroup: 256, queries: 333, keys: 190, heads: 1 },
  { define: "WALK", form: "WALK", rowsPerGroup: 128, queries: 300, keys: 77, heads: 2 },
];
for (const [n, c] of cases.entries()) {
  test(`flash attention (${c.form}, ${c.queries}×${c.keys}, ${c.heads} heads) matches f64`, async () => {
    const defines = ["HEAD_DIM_64", ...(c.define ? [c.define] : [])];
    const code = kernelSource("runtime/flash_attention.wgsl", ...defines);
    const r = await flashAttention(code, { ...c, seed: 1000 + n });
    assert.equal(r.error, null);
    assert.ok(r.maxDiff <= 1e-4 * Math.max(1, r.maxAbs), `max |diff| ${r.maxDiff} (largest output ${r.maxAbs}); worst ${JSON.stringify(r.worst)}`);
  });
}

// C = A·Bᵀ on the GPU with a variant of the matmul's wide form (f16 weights B [n, k]), and the
// largest difference from an f64 reference (relative to the largest output). B's halves are
// drawn as bit patterns, so the reference reads exactly the values the GPU does.
async function wideMatmul(code, { m, n, k, block, f16Tile, seed }) {
  return page.evaluate(
    async ({ code, m, n, k, block, f16Tile, seed }) => {
      let state = seed >>> 0;
      const random = () => {
        state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
        return state / 2 ** 32;
      };
      const a = Float32Array.from({ length: m * k }, () => 2 * random() - 1);
      // Halves of magnitude 2^-5 .. 2^2 with random mantissas and signs.
      const halfBits = Uint16Array.from({ length: n * k }, () => {
        const exponent = 10 + Math.floor(random() * 8);
        return ((random() < 0.5) << 15) | (exponent << 10) | Math.floor(random() * 1024);
      });
      const half = (h) => (h >> 15 ? -1 : 1) * 2 ** (((h >> 10) & 31) - 15) * (1 + (h & 1023) / 1024);

      const adapter = await navigator.gpu.requestAdapter();
      if (f16Tile && !adapter.features.has("shader-f16")) return { skipped: true };
      const device = await adapter.requestDevice({ requiredFeatures: f16Tile ? ["shader-f16"] : [] });
      const buffer = (bytes, usage) => {
        const b = device.createBuffer({ size: Math.ceil(bytes.byteLength / 16) * 16, usage, mappedAtCreation: true });
        new Uint8Array(b.getMappedRange()).set(new Uint8Array(bytes.buffer));
        b.unmap();
        return b;
      };
      // lib/gemm_io.wgsl's Params: m, n, k, batch, then offsets and strides of A, B, C and R,
      // bias_off, alpha (f32), b_sk, b_sn, then the GEMV's pick_limit, pick_first and two pads.
      const params = new Uint32Array(24);
      params.set([m, n, k, 1, 0, k, 0, 0, k, 0, 0, n, 0, 0, 0, 0, 0, 0, 1, k, 0, 0, 0, 0]);
      new Float32Array(params.buffer)[17] = 1;
      const storage = GPUBufferUsage.STORAGE;
      const out = device.createBuffer({ size: m * n * 4, usage: storage | GPUBufferUsage.COPY_SRC });
      const read = device.createBuffer({ size: m * n * 4, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
      device.pushErrorScope("validation");
      const module = device.createShaderModule({ code });
      const messages = (await module.getCompilationInfo()).messages.filter((x) => x.type === "error");
      const pipeline = device.createComputePipeline({ layout: "auto", compute: { module, entryPoint: "main" } });
      const bindings = [
        buffer(params, GPUBufferUsage.UNIFORM),
        buffer(a, storage),
        buffer(halfBits, storage),
        out,
      ];
      const group = device.createBindGroup({
        layout: pipeline.getBindGroupLayout(0),
        entries: bindings.map((b, binding) => ({ binding, resource: { buffer: b } })),
      });
      const encoder = device.createCommandEncoder();
      const pass = encoder.beginComputePass();
      pass.setPipeline(pipeline);
      pass.setBindGroup(0, group);
      pass.dispatchWorkgroups(Math.ceil(n / block), Math.ceil(m / block));
      pass.end();
      encoder.copyBufferToBuffer(out, 0, read, 0, m * n * 4);
      device.queue.submit([encoder.finish()]);
      await read.mapAsync(GPUMapMode.READ);
      const error = await device.popErrorScope();
      const c = new Float32Array(read.getMappedRange().slice(0));
      device.destroy();

      let maxDiff = 0;
      let maxAbs = 0;
      let worst = null;
      for (let i = 0; i < m; i++) {
        for (let j = 0; j < n; j++) {
          let want = 0;
          for (let t = 0; t < k; t++) want += a[i * k + t] * half(halfBits[j * k + t]);
          const got = c[i * n + j];
          maxAbs = Math.max(maxAbs, Math.abs(want));
          const diff = Number.isFinite(got) ? Math.abs(got - want) : Infinity;
          if (diff > maxDiff) [maxDiff, worst] = [diff, { row: i, column: j, want, got }];
        }
      }
      const compileErrors = messages.map((x) => x.message).join("; ");
      return { error: error?.message ?? (compileErrors || null), maxDiff, maxAbs, worst };
    },
    { code, m, n, k, block, f16Tile, seed },
  );
}

// The GPU matmul's wide form (lib/wide_tile.wgsl) in 64×64 and 128×128 blocks (LARGE_TILE),
// with f32 and, where the adapter offers shader-f16, f16 workgroup tiles: one interior block,
// and edges in m and n with a K tail.
for (const block of [64, 128]) {
  for (const f16Tile of [false, true]) {
    for (const [n, shape] of [
      { m: block, n: block, k: 64 },
      { m: 2 * block + 2, n: block + 36, k: 72 },
    ].entries()) {
      test(`wide matmul (${block}×${block} blocks, ${f16Tile ? "f16" : "f32"} tiles, ${shape.m}×${shape.n}×${shape.k}) matches f64`, async (t) => {
        const defines = ["F16", "TRANS_B", "WIDE", "WIDE_A", "WIDE_B", ...(f16Tile ? ["F16_TILE"] : []), ...(block === 128 ? ["LARGE_TILE"] : [])];
        const code = kernelSource("runtime/matmul.wgsl", ...defines);
        const r = await wideMatmul(code, { ...shape, block, f16Tile, seed: 2000 + block + n });
        if (r.skipped) {
          t.skip("the adapter offers no shader-f16");
          return;
        }
        assert.equal(r.error, null);
        assert.ok(r.maxDiff <= 1e-4 * Math.max(1, r.maxAbs), `max |diff| ${r.maxDiff} (largest output ${r.maxAbs}); worst ${JSON.stringify(r.worst)}`);
      });
    }
  }
}
