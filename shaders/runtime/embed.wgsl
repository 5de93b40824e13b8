// Decoder input: y[i, :] = tokens_table[ids[i], :] + positions[first_pos + i / rows_per_pos, :]
// (rows_per_pos 1: consecutive positions; the beam count in beam search: one position per
// step shared by every beam).
// The token table may be split into row chunks (binding limits); this dispatch covers the
// ids that fall in rows [chunk_start, chunk_start + chunk_rows) and leaves the rest alone.

struct Params {
    count: u32, cols: u32, first_pos: u32, chunk_start: u32,
    chunk_rows: u32, rows_per_pos: u32, _pad0: u32, _pad1: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> ids: array<u32>;
@group(0) @binding(2) var<storage, read> tokens_table: array<Packed>;
@group(0) @binding(3) var<storage, read> positions: array<Packed>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;

#include lib/f16.wgsl
#include lib/thread_kernel.wgsl

fn element_count() -> u32 {
    return p.count * p.cols;
}

fn element(i: u32) {
    let row = i / p.cols;
    let col = i % p.cols;
    let id = ids[row];
    if (id < p.chunk_start || id >= p.chunk_start + p.chunk_rows) {
        return;
    }
    let token = (id - p.chunk_start) * p.cols + col;
    let position = (p.first_pos + row / p.rows_per_pos) * p.cols + col;
    y[i] = unpack_at(tokens_table[packed_index(token)], token)
        + unpack_at(positions[packed_index(position)], position);
}
