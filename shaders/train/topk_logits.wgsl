// A teacher's logits for one vocabulary chunk (columns v0..v0+vc) rebuilt from its cached
// top-k log-probabilities, for the Jensen–Shannon passes of train/loss.wgsl: FILL sets every
// column of row r to tail[r] (τ·log p̃ of a token outside the top k), then SCATTER writes
// each top-k entry's τ·log p over its column when that column lies in the chunk.
// ids [rows, k] (u32, 0xffffffff for none), top [rows, k], tail [rows], out [rows, vc].

struct Params {
    rows: u32, vc: u32, v0: u32, k: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> ids: array<u32>;
@group(0) @binding(2) var<storage, read> top: array<f32>;
@group(0) @binding(3) var<storage, read> tail: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;

#if FILL
fn element_count() -> u32 {
    return p.rows * p.vc;
}

fn element(i: u32) {
    out[i] = tail[i / p.vc];
}
#endif

#if SCATTER
fn element_count() -> u32 {
    return p.rows * p.k;
}

fn element(i: u32) {
    let id = ids[i];
    if (id >= p.v0 && id < p.v0 + p.vc) {
        out[(i / p.k) * p.vc + (id - p.v0)] = top[i];
    }
}
#endif

#include lib/thread_kernel.wgsl
