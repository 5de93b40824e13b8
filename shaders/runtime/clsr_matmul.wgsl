// One Linear of the routed CLSR FFN over many tokens: every token row goes through either
// the expert's or the shared weight, chosen by the partition in `route` (clsr_route.wgsl):
// route[0] = E expert tokens, route[4 + r] = token of slot r, expert slots first.
//   GELU:    c[tok, n] = gelu(a[tok, :] · W[n, :] + bias[n])    (fc1, into h)
//   default: c[tok, n] += a[tok, :] · W[n, :] + bias[n]         (fc2; c holds the residual)
// W is [n, k] (PyTorch Linear), f32 or f16 packed two per u32 (define F16).
// Tiling as in matmul.wgsl (lib/tile.wgsl): 16×16 threads, a 64×64 block, 4×4 per thread, K steps of 16.
// Row tile x of the grid covers expert slots while x < ceil(E / 64) and shared slots after;
// the grid has ceil(rows / 64) + 1 row tiles (the most the two sets can need), and tiles past
// the end exit at once — so E never has to be read back to size the dispatch. Row tiles are
// the grid's x (fastest) axis so that the idle tiles are spread over the whole dispatch: at
// its end they left one lavapipe thread without work (10% slower at 512 tokens).

#include lib/clsr_linear_io.wgsl
#include lib/tile.wgsl
#include lib/tile_store.wgsl
@group(0) @binding(7) var<storage, read> route: array<u32>;

#if GELU
#include lib/gelu.wgsl
#endif

// Whether this workgroup's rows take the expert (uniform over the workgroup).
var<private> expert: bool;

fn load_w(i: u32) -> f32 {
    if (expert) {
        return unpack_at(w_expert[packed_index(i)], i);
    }
    return unpack_at(w_shared[packed_index(i)], i);
}

const TILE: u32 = 64u;
const NONE: u32 = 0xffffffffu;

var<workgroup> expert_count: u32;

// Row `tok` of A is a token index, or NONE past the workgroup's slots.
fn tile_a_at(tok: u32, col: u32) -> f32 {
    if (tok != NONE && col < p.k) {
        return a[tok * p.k + col];
    }
    return 0.0;
}

fn tile_b_at(k: u32, n: u32) -> f32 {
    if (k < p.k && n < p.n) {
        return load_w(n * p.k + k);
    }
    return 0.0;
}

// Output (slot, col): the token in that slot, through the workgroup's weight.
fn tile_out(slot: u32, col: u32, acc: f32) {
    let v = acc + bias_of(expert, col);
    let at = route[4u + slot] * p.n + col;
#if GELU
    c[at] = gelu(v);
#else
    c[at] += v;
#endif
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
    // The token of the A row this thread loads.
    let a_slot = r0 + t / 4u;
    var a_tok = NONE;
    if (a_slot < r1) {
        a_tok = route[4u + a_slot];
    }
    let acc = tile_product(lid, a_tok, n0, p.k);
    store_tile(lid, r0, r1, n0, p.n, acc);
}
