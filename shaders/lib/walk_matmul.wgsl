// Included snippet: matmul.wgsl's WALK form (CPU drivers). B is stored [n, k] and bound as
// 16-byte units (WIDE_B). Thread (lid.x, lid.y) of an 8×8 workgroup owns rows m0 + 4·lid.y
// + i and columns n0 + 4·lid.x + j (i, j < 4) of a 32×32 block; `Acc` holds one column's
// four rows. Rows and columns past the edge repeat the last one and are not stored.

alias Acc = vec4<f32>;

// The A elements of this thread's four rows (their first elements), set per thread.
var<private> a_rows: vec4<u32>;

#if WIDE_A
// The four rows' activations at k = t ... t + 3, one 16-byte load per row (rows aligned, t a
// multiple of 4): row i's four values become component i of each.
fn x4_at(base: u32, t: u32) -> array<Acc, 4> {
    let rows = transpose(mat4x4<f32>(
        a[(a_rows.x + t) / 4u],
        a[(a_rows.y + t) / 4u],
        a[(a_rows.z + t) / 4u],
        a[(a_rows.w + t) / 4u],
    ));
    return array<Acc, 4>(rows[0], rows[1], rows[2], rows[3]);
}

// The four rows' activations at k = t (the K tail; none when WIDE_A applies).
fn x_at(base: u32, t: u32) -> Acc {
    let i = a_rows + vec4<u32>(t);
    return vec4<f32>(a[i.x / 4u][i.x % 4u], a[i.y / 4u][i.y % 4u], a[i.z / 4u][i.z % 4u], a[i.w / 4u][i.w % 4u]);
}
#else
// The four rows' activations at k = t.
fn x_at(base: u32, t: u32) -> Acc {
    return vec4<f32>(a[a_rows.x + t], a[a_rows.y + t], a[a_rows.z + t], a[a_rows.w + t]);
}
#endif

@compute @workgroup_size(8, 8, 1)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    let batch = wid.z;
    let m0 = wid.y * 32u + lid.y * 4u;
    let n0 = wid.x * 32u + lid.x * 4u;
    if (m0 >= p.m || n0 >= p.n) {
        return;
    }
    let last_m = p.m - 1u;
    let last_n = p.n - 1u;
    let a_base = p.a_off + batch * p.a_bs;
    a_rows = a_base + vec4<u32>(m0, min(m0 + 1u, last_m), min(m0 + 2u, last_m), min(m0 + 3u, last_m)) * p.lda;
    let b_base = p.b_off + batch * p.b_bs;
    let cols = b_base + vec4<u32>(n0, min(n0 + 1u, last_n), min(n0 + 2u, last_n), min(n0 + 3u, last_n)) * p.ldb;
    // acc[j]: column n0 + j of the four rows.
    var acc = array<Acc, 4>();
    var rest = 0u;
    if (b_base % V == 0u && p.ldb % V == 0u) {
        let units = p.k / V;
        let first = cols / V;
        for (var u = 0u; u < units; u++) {
            let t = u * V;
            acc[0] = unit_fma(acc[0], b[first.x + u], 0u, t);
            acc[1] = unit_fma(acc[1], b[first.y + u], 0u, t);
            acc[2] = unit_fma(acc[2], b[first.z + u], 0u, t);
            acc[3] = unit_fma(acc[3], b[first.w + u], 0u, t);
        }
        rest = units * V;
    }
    for (var kk = rest; kk < p.k; kk++) {
        let x = x_at(0u, kk);
        for (var j = 0u; j < 4u; j++) {
            acc[j] += load_b(cols[j] + kk) * x;
        }
    }
    for (var i = 0u; i < 4u; i++) {
        for (var j = 0u; j < 4u; j++) {
            if (m0 + i < p.m && n0 + j < p.n) {
                store(batch, m0 + i, n0 + j, acc[j][i]);
            }
        }
    }
}
