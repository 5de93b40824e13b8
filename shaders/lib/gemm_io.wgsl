// Included snippet: parameters, bindings and the fused epilogue of the dense products
// (matmul.wgsl, gemv.wgsl): A is f32 activations, B an activation (f32) or a weight (f32 or,
// with F16, packed halves), then C[b, m, n] = act(alpha · sum + bias[n]) + R[b, m, n] with
// BIAS, GELU and RESIDUAL. Offsets and strides are in elements; `batch` is the tiled
// kernel's, (b_sk, b_sn) the strides of B's element (k, n) in the few-row kernel's walk;
// (pick_limit, pick_first) place gemv.wgsl's argmax partials (PICK).

#include lib/f16.wgsl

struct Params {
    m: u32, n: u32, k: u32, batch: u32,
    a_off: u32, lda: u32, a_bs: u32, b_off: u32,
    ldb: u32, b_bs: u32, c_off: u32, ldc: u32,
    c_bs: u32, r_off: u32, ldr: u32, r_bs: u32,
    bias_off: u32, alpha: f32, b_sk: u32, b_sn: u32,
    pick_limit: u32, pick_first: u32, _pad0: u32, _pad1: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
#if WIDE_A
// The GPU matmul's aligned form (lib/wide_tile.wgsl) and the CPU drivers' walking matmul
// and GEMV over aligned rows read A 16 bytes at a time.
@group(0) @binding(1) var<storage, read> a: array<vec4<f32>>;
#else
@group(0) @binding(1) var<storage, read> a: array<f32>;
#endif
#if WIDE_B
// The weight forms of the GEMV and the walking and wide matmuls read B 16 bytes at a time
// (weight buffers are padded to 16 bytes); the walks provide lib/wide_rows.wgsl's `Acc` and
// `x_at`.
#if WIDE
#include lib/wide_units.wgsl
#else
#include lib/wide_rows.wgsl
#endif
@group(0) @binding(2) var<storage, read> b: array<vec4<Packed>>;
#else
@group(0) @binding(2) var<storage, read> b: array<Packed>;
#endif
@group(0) @binding(3) var<storage, read_write> c: array<f32>;
#if BIAS
@group(0) @binding(4) var<storage, read> bias: array<Packed>;
#endif
#if RESIDUAL
@group(0) @binding(5) var<storage, read> r: array<f32>;
#endif
#if NORM
// The layer norm applied to A's rows as they are read (few-row kernel only; never with
// RESIDUAL): f32 [gamma (k) | beta (k)].
@group(0) @binding(5) var<storage, read> norm: array<f32>;
#endif

#if GELU
#include lib/gelu.wgsl
#endif

fn load_b(i: u32) -> f32 {
#if WIDE_B
    return wide_at(b[packed_index(i) >> 2u], i);
#else
    return unpack_at(b[packed_index(i)], i);
#endif
}

// Finishes output (row, col) of batch item `batch` from its dot product `sum`; returns the
// value stored.
fn store(batch: u32, row: u32, col: u32, sum: f32) -> f32 {
    var v = sum * p.alpha;
#if BIAS
    let i = p.bias_off + col;
    v += unpack_at(bias[packed_index(i)], i);
#endif
#if GELU
    v = gelu(v);
#endif
#if RESIDUAL
    v += r[p.r_off + batch * p.r_bs + row * p.ldr + col];
#endif
    c[p.c_off + batch * p.c_bs + row * p.ldc + col] = v;
    return v;
}
