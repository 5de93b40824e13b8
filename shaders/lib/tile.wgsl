// Included snippet: the register-tiled product of matmul.wgsl, shared with the tiled CLSR
// kernels. A 16×16 workgroup computes a 64×64 block, each thread a 4×4 tile, stepping K by
// 16 through workgroup memory. Workgroup tiles hold vec4s so the inner loop does one load per
// four values: tile_a[m * 4 + k/4] packs four consecutive k of row m; tile_b[k * 16 + n/4]
// four consecutive n of row k. The kernel provides the operands, 0 outside them:
// `fn tile_a_at(row: u32, k: u32) -> f32` and `fn tile_b_at(k: u32, n: u32) -> f32`.

const TK: u32 = 16u;

var<workgroup> tile_a: array<vec4<f32>, 256>;
var<workgroup> tile_b: array<vec4<f32>, 256>;

// This thread's 4×4 block over k < k_len: acc[i][j] for block row lid.y·4 + i and column
// n0 + lid.x·4 + j. Thread t = lid.y·16 + lid.x loads row `a_row` of A (block row t / 4;
// the kernel maps it to its own row numbering) and columns n0 + (t % 16)·4 .. +3 of B.
// Every invocation must call it (it holds barriers).
fn tile_product(lid: vec3<u32>, a_row: u32, n0: u32, k_len: u32) -> array<vec4<f32>, 4> {
    let t = lid.y * 16u + lid.x;
    let a_col = (t % 4u) * 4u;
    let b_k = t / 16u;
    let b_col = n0 + (t % 16u) * 4u;
    var acc: array<vec4<f32>, 4>;
    for (var i = 0u; i < 4u; i++) {
        acc[i] = vec4<f32>(0.0);
    }
    for (var k0 = 0u; k0 < k_len; k0 += TK) {
        var va = vec4<f32>();
        var vb = vec4<f32>();
        for (var j = 0u; j < 4u; j++) {
            va[j] = tile_a_at(a_row, k0 + a_col + j);
            vb[j] = tile_b_at(k0 + b_k, b_col + j);
        }
        tile_a[t] = va;
        tile_b[t] = vb;
        workgroupBarrier();
        for (var kq = 0u; kq < 4u; kq++) {
            let a0 = tile_a[(lid.y * 4u + 0u) * 4u + kq];
            let a1 = tile_a[(lid.y * 4u + 1u) * 4u + kq];
            let a2 = tile_a[(lid.y * 4u + 2u) * 4u + kq];
            let a3 = tile_a[(lid.y * 4u + 3u) * 4u + kq];
            for (var j = 0u; j < 4u; j++) {
                let bv = tile_b[(kq * 4u + j) * 16u + lid.x];
                acc[0] += a0[j] * bv;
                acc[1] += a1[j] * bv;
                acc[2] += a2[j] * bv;
                acc[3] += a3[j] * bv;
            }
        }
        workgroupBarrier();
    }
    return acc;
}
