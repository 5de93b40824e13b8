// Positional add in place: x[t, :] += table[first_row + t, :] for a weight table (f32 or
// f16 packed), e.g. the encoder's sinusoidal positions after the stem.

struct Params {
    rows: u32, cols: u32, first_row: u32, _pad: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> x: array<f32>;
@group(0) @binding(2) var<storage, read> table: array<Packed>;

#include lib/f16.wgsl
#include lib/thread_kernel.wgsl

fn element_count() -> u32 {
    return p.rows * p.cols;
}

fn element(i: u32) {
    let at = p.first_row * p.cols + i;
    x[i] += unpack_at(table[packed_index(at)], at);
}
