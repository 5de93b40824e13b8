// Included snippet: the write-back of the 4×4 block each thread of lib/tile.wgsl's
// `tile_product` (or lib/wide_tile.wgsl) holds. The kernel provides
// `fn tile_out(row: u32, col: u32, v: f32)`, which finishes and stores one output.

// Hands acc[i][j] to tile_out for block row m0 + lid.y·4 + i below m_end and column
// n0 + lid.x·4 + j below n_end.
fn store_tile(lid: vec3<u32>, m0: u32, m_end: u32, n0: u32, n_end: u32, acc: array<vec4<f32>, 4>) {
    for (var i = 0u; i < 4u; i++) {
        let row = m0 + lid.y * 4u + i;
        if (row >= m_end) {
            break;
        }
        for (var j = 0u; j < 4u; j++) {
            let col = n0 + lid.x * 4u + j;
            if (col >= n_end) {
                break;
            }
            tile_out(row, col, acc[i][j]);
        }
    }
}
