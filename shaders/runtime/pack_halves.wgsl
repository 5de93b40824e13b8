// f32 values to halves packed two per u32 (low half first), the layout of f16 weights:
// out[i] = pack2x16float(x[2i], x[2i + 1]) for i < p.words (x holds 2·words values). Values
// beyond f16's range are clamped to ±65504 first (pack2x16float leaves them undefined).

struct Params {
    words: u32, _pad0: u32, _pad1: u32, _pad2: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<vec2<f32>>;
@group(0) @binding(2) var<storage, read_write> out: array<u32>;

#include lib/thread_kernel.wgsl

const F16_MAX: f32 = 65504.0;

fn element_count() -> u32 {
    return p.words;
}

fn element(i: u32) {
    out[i] = pack2x16float(clamp(x[i], vec2<f32>(-F16_MAX), vec2<f32>(F16_MAX)));
}
