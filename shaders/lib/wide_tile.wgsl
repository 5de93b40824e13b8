// Included snippet: matmul.wgsl's WIDE form (GPU drivers) for B stored [n, k] with both
// operands aligned to 16 bytes (the host checks: ops::matmul::wide_fits). The register tiling
// of lib/tile.wgsl — a 16×16 workgroup computes a 64×64 block, each thread a 4×4 tile —
// with the operands fetched as GPUs like them:
// - A bound as vec4s (WIDE_A): each thread loads 16 bytes along k of two rows of A;
// - B bound as 16-byte units (WIDE_B): each thread loads whole runs along k of one row of B
//   (8 halves with F16, 4 f32 otherwise), so neighbouring threads read neighbouring bytes
//   where the [n, k] weight is read across rows by lib/tile.wgsl;
// - K steps of 32, and no bounds checks where the block and the step lie inside the
//   matrices (a choice uniform over the workgroup);
// - with F16_TILE (the device has shader-f16) B's tile holds the halves themselves: half of
//   B's workgroup memory and its traffic, and exact, as the weights are halves already.
// Each thread still adds its products one k at a time in order, as lib/tile.wgsl does.

const TK: u32 = 32u;
// B's 16-byte units per row of a K step, and per thread.
const B_UNITS_PER_ROW: u32 = TK / V;
const B_LOADS: u32 = 64u * B_UNITS_PER_ROW / 256u;

// tile_a[m * 8 + k / 4]: four consecutive k of block row m.
var<workgroup> tile_a: array<vec4<f32>, 512>;
// tile_b[k * 16 + n / 4]: four consecutive n of step row k.
#if F16_TILE
alias TileValue = f16;
#else
alias TileValue = f32;
#endif
var<workgroup> tile_b: array<vec4<TileValue>, 512>;

// Stores unit `w` of B (row n of the block, k = kc ... kc + V − 1 of the step) into tile_b.
fn stage_b(n: u32, kc: u32, w: vec4<Packed>) {
    let at = kc * 16u + n / 4u;
    let lane = n % 4u;
    for (var e = 0u; e < 4u; e++) {
#if F16
        let pair = unpack2x16float(w[e]);
        tile_b[at + (2u * e) * 16u][lane] = TileValue(pair.x);
        tile_b[at + (2u * e + 1u) * 16u][lane] = TileValue(pair.y);
#else
        tile_b[at + e * 16u][lane] = w[e];
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
    let m0 = wid.y * 64u;
    let n0 = wid.x * 64u;
    let t = lid.y * 16u + lid.x;
    // A in vec4s; B in elements (its units are element / V).
    let a_base = (p.a_off + batch * p.a_bs) / 4u;
    let lda4 = p.lda / 4u;
    let b_base = p.b_off + batch * p.b_bs;
    // This thread's A loads: block rows a_row and a_row + 32, k = 4·a_quad ... of the step.
    let a_row = t / 8u;
    let a_quad = t % 8u;
    let inside_mn = m0 + 64u <= p.m && n0 + 64u <= p.n;

    var acc: array<vec4<f32>, 4>;
    for (var i = 0u; i < 4u; i++) {
        acc[i] = vec4<f32>(0.0);
    }
    for (var k0 = 0u; k0 < p.k; k0 += TK) {
        let inside = inside_mn && k0 + TK <= p.k;
        let kq = k0 / 4u + a_quad;
        for (var h = 0u; h < 2u; h++) {
            let row = a_row + 32u * h;
            var va = vec4<f32>(0.0);
            if (inside || (m0 + row < p.m && 4u * kq < p.k)) {
                va = a[a_base + (m0 + row) * lda4 + kq];
            }
            tile_a[row * 8u + a_quad] = va;
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
        for (var kq4 = 0u; kq4 < TK / 4u; kq4++) {
            let a0 = tile_a[(lid.y * 4u + 0u) * 8u + kq4];
            let a1 = tile_a[(lid.y * 4u + 1u) * 8u + kq4];
            let a2 = tile_a[(lid.y * 4u + 2u) * 8u + kq4];
            let a3 = tile_a[(lid.y * 4u + 3u) * 8u + kq4];
            for (var j = 0u; j < 4u; j++) {
                let bv = vec4<f32>(tile_b[(kq4 * 4u + j) * 16u + lid.x]);
                acc[0] += a0[j] * bv;
                acc[1] += a1[j] * bv;
                acc[2] += a2[j] * bv;
                acc[3] += a3[j] * bv;
            }
        }
        workgroupBarrier();
    }
    store_tile(lid, m0, p.m, n0, p.n, acc);
}
