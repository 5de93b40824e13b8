// Included snippet: the bindings and fused epilogue of the dense products (matmul.wgsl,
// gemv.wgsl): A is f32 activations, B an activation (f32) or a weight (f32 or, with F16,
// packed halves), then C[b, m, n] = act(alpha · sum + bias[n]) + R[b, m, n] with BIAS, GELU
// and RESIDUAL. The kernel's `Params` holds the offsets and strides named below.

#include lib/f16.wgsl

@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<Packed>;
@group(0) @binding(3) var<storage, read_write> c: array<f32>;
#if BIAS
@group(0) @binding(4) var<storage, read> bias: array<Packed>;
#endif
#if RESIDUAL
@group(0) @binding(5) var<storage, read> r: array<f32>;
#endif

#if GELU
#include lib/gelu.wgsl
#endif

fn load_b(i: u32) -> f32 {
    return unpack_at(b[packed_index(i)], i);
}

// Finishes output (row, col) of batch item `batch` from its dot product `sum`.
fn store(batch: u32, row: u32, col: u32, sum: f32) {
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
}
