// Beam search's KV-cache reorder: y[pos, b, :] = x[pos, sources[b], :] for pos < positions,
// where x holds `from_beams` sequences per position and y `to_beams` (both laid out
// [position, beam, width]). The surviving hypotheses keep their parents' keys and values;
// expanding a prompt decoded once to every beam is sources = [0, 0, …].

struct Params {
    positions: u32, width: u32, from_beams: u32, to_beams: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(3) var<storage, read> sources: array<u32>;

#include lib/map_io.wgsl
#include lib/thread_kernel.wgsl

fn element_count() -> u32 {
    return p.positions * p.to_beams * p.width;
}

fn element(i: u32) {
    let col = i % p.width;
    let row = i / p.width;
    let pos = row / p.to_beams;
    let beam = row % p.to_beams;
    y[i] = x[(pos * p.from_beams + sources[beam]) * p.width + col];
}
