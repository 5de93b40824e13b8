// Decoder input: y[i, :] = tokens_table[ids[i], :] + positions[first_pos + i, :].
// The token table may be split into row chunks (binding limits); this dispatch covers the
// ids that fall in rows [chunk_start, chunk_start + chunk_rows) and leaves the rest alone.

struct Params {
    count: u32, cols: u32, first_pos: u32, chunk_start: u32,
    chunk_rows: u32, _pad0: u32, _pad1: u32, _pad2: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> ids: array<u32>;
#if F16
@group(0) @binding(2) var<storage, read> tokens_table: array<u32>;
@group(0) @binding(3) var<storage, read> positions: array<u32>;
#else
@group(0) @binding(2) var<storage, read> tokens_table: array<f32>;
@group(0) @binding(3) var<storage, read> positions: array<f32>;
#endif
@group(0) @binding(4) var<storage, read_write> y: array<f32>;

fn unpack_at(word: u32, i: u32) -> f32 {
    let pair = unpack2x16float(word);
    return select(pair.x, pair.y, (i & 1u) == 1u);
}

fn load_token(i: u32) -> f32 {
#if F16
    return unpack_at(tokens_table[i >> 1u], i);
#else
    return tokens_table[i];
#endif
}

fn load_position(i: u32) -> f32 {
#if F16
    return unpack_at(positions[i >> 1u], i);
#else
    return positions[i];
#endif
}

@compute @workgroup_size(256, 1, 1)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
    @builtin(local_invocation_id) lid: vec3<u32>,
) {
    let i = (wid.x + wid.y * groups.x) * 256u + lid.x;
    if (i >= p.count * p.cols) {
        return;
    }
    let row = i / p.cols;
    let col = i % p.cols;
    let id = ids[row];
    if (id < p.chunk_start || id >= p.chunk_start + p.chunk_rows) {
        return;
    }
    y[i] = load_token((id - p.chunk_start) * p.cols + col)
        + load_position((p.first_pos + row) * p.cols + col);
}
