// Included snippet: matmul.wgsl's WIDE form (GPU drivers) for B stored [n, k] with both
// operands aligned to 16 bytes (the host checks: ops::matmul::wide_fits). The register tiling
// of lib/tile.wgsl — a 16×16 workgroup computes a 64×64 block, each thread a 4×4 tile —
// with the operands fetched as GPUs like them:
// - A bound as vec4s (WIDE_A): each thread loads 16 bytes along k of two rows of A;
// - B bound as 16-byte units (WIDE_B): each thread loads whole runs along k of B's rows
//   (8 halves with F16, 4 f32 otherwise), so neighbouring threads read neighbouring bytes
//   where the [n, k] weight is read across rows by lib/tile.wgsl;
// - K steps of 32, and no bounds checks where the block and the step lie inside the
//   matrices (a choice uniform over the workgroup);
// - with F16_TILE (the device has shader-f16) B's tile holds the halves themselves: half of
//   B's workgroup memory and its traffic, and exact, as the weights are halves already.
// LARGE_TILE: a 128×128 block, each thread four 4×4 tiles (rows lid.y·4 and 64 + lid.y·4,
// columns likewise), so that each value read from workgroup memory serves twice the
// products; K steps of 16, so that the tiles stay within WebGPU's 16 KiB of workgroup
// memory. For products with enough blocks to fill a GPU (ops::matmul::MatmulForm::of).
// Each thread still adds its products one k at a time in order, as lib/tile.wgsl does.

#if LARGE_TILE
const BLOCK: u32 = 128u;
const TK: u32 = 16u;
#else
const BLOCK: u32 = 64u;
const TK: u32 = 32u;
#endif
// 4×4 tiles per thread along each side of the block.
const SPAN: u32 = BLOCK / 64u;
// A's vec4s per block row of a K step; A's and B's loads per thread and step.
const A_QUADS: u32 = TK / 4u;
const A_LOADS: u32 = BLOCK * A_QUADS / 256u;
const B_UNITS_PER_ROW: u32 = TK / V;
const B_LOADS: u32 = BLOCK * B_UNITS_PER_ROW / 256u;
// B's vec4s per step row (k) of its tile.
const B_QUADS: u32 = BLOCK / 4u;

// tile_a[m * A_QUADS + k / 4]: four consecutive k of block row m.
var<workgroup> tile_a: array<vec4<f32>, BLOCK * A_QUADS>;
// tile_b[k * B_QUADS + n / 4]: four consecutive n of step row k.
#if F16_TILE
alias TileValue = f16;
#else
alias TileValue = f32;
#endif
var<workgroup> tile_b: array<vec4<TileValue>, TK * B_QUADS>;

// Stores unit `w` of B (row n of the block, k = kc ... kc + V − 1 of the step) into tile_b.
fn stage_b(n: u32, kc: u32, w: vec4<Packed>) {
    let at = kc * B_QUADS + n / 4u;
    let lane = n % 4u;
    for (var e = 0u; e < 4u; e++) {
#if F16
        let pair = unpack2x16float(w[e]);
        tile_b[at + (2u * e) * B_QUADS][lane] = TileValue(pair.x);
        tile_b[at + (2u * e + 1u) * B_QUADS][lane] = TileValue(pair.y);
#else
        tile_b[at + e * B_QUADS][lane] = w[e];
#endif
    }
}

// The batch item of this workgroup.
var<private> batch: u32;

fn tile_out(row: u32, col: u32, v: f32) {
    store(batch, row, col, v);
}

@compute @workgroup_size(16, 16, 1)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    batch = wid.z;
    let m0 = wid.y * BLOCK;
    let n0 = wid.x * BLOCK;
    let t = lid.y * 16u + lid.x;
    // A in vec4s; B in elements (its units are element / V).
    let a_base = (p.a_off + batch * p.a_bs) / 4u;
    let lda4 = p.lda / 4u;
    let b_base = p.b_off + batch * p.b_bs;
    // This thread's A loads: block rows a_row + h · 256 / A_QUADS, k = 4·a_quad ... of the step.
    let a_row = t / A_QUADS;
    let a_quad = t % A_QUADS;
    let inside_mn = m0 + BLOCK <= p.m && n0 + BLOCK <= p.n;

    // acc[(si · SPAN + sj) · 4 + i]: row i of the 4×4 tile at block rows si · 64 + lid.y · 4
    // and block columns sj · 64 + lid.x · 4.
    var acc: array<vec4<f32>, 4u * SPAN * SPAN>;
    for (var i = 0u; i < 4u * SPAN * SPAN; i++) {
        acc[i] = vec4<f32>(0.0);
    }
    for (var k0 = 0u; k0 < p.k; k0 += TK) {
        let inside = inside_mn && k0 + TK <= p.k;
        let kq = k0 / 4u + a_quad;
        for (var h = 0u; h < A_LOADS; h++) {
            let row = a_row + (256u / A_QUADS) * h;
            var va = vec4<f32>(0.0);
            if (inside || (m0 + row < p.m && 4u * kq < p.k)) {
                va = a[a_base + (m0 + row) * lda4 + kq];
            }
            tile_a[row * A_QUADS + a_quad] = va;
        }
        for (var l = 0u; l < B_LOADS; l++) {
            let q = t + 256u * l;
            let n = q / B_UNITS_PER_ROW;
            let kc = (q % B_UNITS_PER_ROW) * V;
            var w = vec4<Packed>();
            if (inside || (n0 + n < p.n && k0 + kc < p.k)) {
                w = b[(b_base + (n0 + n) * p.ldb + k0 + kc) / V];
            }
            stage_b(n, kc, w);
        }
        workgroupBarrier();
        for (var kq4 = 0u; kq4 < A_QUADS; kq4++) {
            // av[si · 4 + i]: four k of block row si · 64 + lid.y · 4 + i.
            var av = array<vec4<f32>, 4u * SPAN>();
            for (var si = 0u; si < SPAN; si++) {
                for (var i = 0u; i < 4u; i++) {
                    av[si * 4u + i] = tile_a[(si * 64u + lid.y * 4u + i) * A_QUADS + kq4];
                }
            }
            for (var j = 0u; j < 4u; j++) {
                for (var sj = 0u; sj < SPAN; sj++) {
                    let bv = vec4<f32>(tile_b[(kq4 * 4u + j) * B_QUADS + sj * 16u + lid.x]);
                    for (var si = 0u; si < SPAN; si++) {
                        for (var i = 0u; i < 4u; i++) {
                            acc[(si * SPAN + sj) * 4u + i] += av[si * 4u + i][j] * bv;
                        }
                    }
                }
            }
        }
        workgroupBarrier();
    }
    for (var si = 0u; si < SPAN; si++) {
        for (var sj = 0u; sj < SPAN; sj++) {
            let at = (si * SPAN + sj) * 4u;
            let tile = array<vec4<f32>, 4>(acc[at], acc[at + 1u], acc[at + 2u], acc[at + 3u]);
            store_tile(lid, m0 + si * 64u, p.m, n0 + sj * 64u, p.n, tile);
        }
    }
}
