// One Linear of the routed CLSR FFN over many tokens: every token row goes through either
// the expert's or the shared weight, chosen by the partition in `route` (clsr_route.wgsl):
// route[0] = E expert tokens, route[4 + r] = token of slot r, expert slots first.
//   GELU:    c[tok, n] = gelu(a[tok, :] · W[n, :] + bias[n])    (fc1, into h)
//   default: c[tok, n] += a[tok, :] · W[n, :] + bias[n]         (fc2; c holds the residual)
// W is [n, k] (PyTorch Linear), f32 or f16 packed two per u32 (define F16).
// Tiling as in matmul.wgsl: 16×16 threads, a 64×64 block, 4×4 per thread, K steps of 16.
// Row tile x of the grid covers expert slots while x < ceil(E / 64) and shared slots after;
// the grid has ceil(rows / 64) + 1 row tiles (the most the two sets can need), and tiles past
// the end exit at once — so E never has to be read back to size the dispatch. Row tiles are
// the grid's x (fastest) axis so that the idle tiles are spread over the whole dispatch: at
// its end they left one lavapipe thread without work (10% slower at 512 tokens).

#include clsr_linear_io.wgsl
@group(0) @binding(7) var<storage, read> route: array<u32>;

#if GELU
#include gelu.wgsl
#endif

// Whether this workgroup's rows take the expert (uniform over the workgroup).
var<private> expert: bool;

#if F16
fn half_at(pair: u32, i: u32) -> f32 {
    let v = unpack2x16float(pair);
    return select(v.x, v.y, (i & 1u) == 1u);
}

fn load_w(i: u32) -> f32 {
    if (expert) {
        return half_at(w_expert[i >> 1u], i);
    }
    return half_at(w_shared[i >> 1u], i);
}

fn load_bias(i: u32) -> f32 {
    if (expert) {
        return half_at(b_expert[i >> 1u], i);
    }
    return half_at(b_shared[i >> 1u], i);
}
#else
fn load_w(i: u32) -> f32 {
    if (expert) {
        return w_expert[i];
    }
    return w_shared[i];
}

fn load_bias(i: u32) -> f32 {
    if (expert) {
        return b_expert[i];
    }
    return b_shared[i];
}
#endif

const TILE: u32 = 64u;
const TK: u32 = 16u;
const NONE: u32 = 0xffffffffu;

var<workgroup> tile_a: array<vec4<f32>, 256>;
var<workgroup> tile_b: array<vec4<f32>, 256>;
var<workgroup> expert_count: u32;

fn load_a(tok: u32, col: u32) -> f32 {
    if (tok != NONE && col < p.k) {
        return a[tok * p.k + col];
    }
    return 0.0;
}

fn load_b_kn(k: u32, n: u32) -> f32 {
    if (k < p.k && n < p.n) {
        return load_w(n * p.k + k);
    }
    return 0.0;
}

@compute @workgroup_size(16, 16, 1)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    let t = lid.y * 16u + lid.x;
    if (t == 0u) {
        expert_count = route[0];
    }
    let experts = workgroupUniformLoad(&expert_count);
    let expert_tiles = (experts + TILE - 1u) / TILE;
    var r0: u32;
    var r1: u32;
    if (wid.x < expert_tiles) {
        expert = true;
        r0 = wid.x * TILE;
        r1 = min(r0 + TILE, experts);
    } else {
        expert = false;
        r0 = experts + (wid.x - expert_tiles) * TILE;
        r1 = min(r0 + TILE, p.rows);
    }
    if (r0 >= r1) {
        return;
    }
    let n0 = wid.y * TILE;
    // This thread's share of the tile loads: one vec4 of A and one of B per K step.
    let a_slot = r0 + t / 4u;
    var a_tok = NONE;
    if (a_slot < r1) {
        a_tok = route[4u + a_slot];
    }
    let a_col = (t % 4u) * 4u;
    let b_k = t / 16u;
    let b_col = n0 + (t % 16u) * 4u;

    var acc: array<vec4<f32>, 4>;
    for (var i = 0u; i < 4u; i++) {
        acc[i] = vec4<f32>(0.0);
    }

    for (var k0 = 0u; k0 < p.k; k0 += TK) {
        let ak = k0 + a_col;
        tile_a[t] = vec4<f32>(
            load_a(a_tok, ak),
            load_a(a_tok, ak + 1u),
            load_a(a_tok, ak + 2u),
            load_a(a_tok, ak + 3u),
        );
        let bk = k0 + b_k;
        tile_b[t] = vec4<f32>(
            load_b_kn(bk, b_col),
            load_b_kn(bk, b_col + 1u),
            load_b_kn(bk, b_col + 2u),
            load_b_kn(bk, b_col + 3u),
        );
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

    for (var i = 0u; i < 4u; i++) {
        let slot = r0 + lid.y * 4u + i;
        if (slot >= r1) {
            break;
        }
        let tok = route[4u + slot];
        for (var j = 0u; j < 4u; j++) {
            let col = n0 + lid.x * 4u + j;
            if (col >= p.n) {
                break;
            }
            let v = acc[i][j] + load_bias(col);
            let at = tok * p.n + col;
#if GELU
            c[at] = gelu(v);
#else
            c[at] += v;
#endif
        }
    }
}
