// Included snippet: products over a few token rows (1 to 4: decoder steps) keep one
// accumulator value per row. `Acc` is a vec4 over the rows, or with ONE_ROW a scalar. The
// kernel provides its activation rows: `fn act_at(base: u32, row: u32, kk: u32) -> f32`
// (element kk of row `row`) and `fn act_rows() -> u32`; with WIDE_A (rows on 16-byte
// boundaries) also `fn act4_at(base: u32, row: u32, t: u32) -> vec4<f32>` (elements t ...
// t + 3 in one load), from which `x4_at` serves lib/wide_rows.wgsl's 16-byte walk.
// Split-K kernels run 32 lanes (x) per output row (y) of a 32×8 workgroup; `lane_sum`
// adds up the lanes' shares. gemv.wgsl's SUBGROUPS form keeps its running sums in `partial`.

#if ONE_ROW
alias Acc = f32;

fn rows_at(base: u32, kk: u32) -> Acc {
    return act_at(base, 0u, kk);
}

fn row_value(v: Acc, m: u32) -> f32 {
    return v;
}

#if WIDE_A
fn x4_at(base: u32, t: u32) -> array<Acc, 4> {
    let x = act4_at(base, 0u, t);
    return array<Acc, 4>(x.x, x.y, x.z, x.w);
}
#endif
#else
alias Acc = vec4<f32>;

// Rows past the last repeat it; their results are never stored.
fn rows_at(base: u32, kk: u32) -> Acc {
    let last = act_rows() - 1u;
    return vec4<f32>(
        act_at(base, 0u, kk),
        act_at(base, min(1u, last), kk),
        act_at(base, min(2u, last), kk),
        act_at(base, min(3u, last), kk),
    );
}

fn row_value(v: Acc, m: u32) -> f32 {
    return v[m];
}

#if WIDE_A
// Row i's elements t ... t + 3 become component i of each (rows past the last repeat it).
fn x4_at(base: u32, t: u32) -> array<Acc, 4> {
    let last = act_rows() - 1u;
    let rows = transpose(mat4x4<f32>(
        act4_at(base, 0u, t),
        act4_at(base, min(1u, last), t),
        act4_at(base, min(2u, last), t),
        act4_at(base, min(3u, last), t),
    ));
    return array<Acc, 4>(rows[0], rows[1], rows[2], rows[3]);
}
#endif
#endif

var<workgroup> partial: array<Acc, 256>;

// The sum of `acc` over the 32 lanes of row lid.y, valid in lane 0. Every invocation must
// call it (it holds barriers).
fn lane_sum(lid: vec3<u32>, acc: Acc) -> Acc {
    let slot = lid.y * 32u + lid.x;
    partial[slot] = acc;
    workgroupBarrier();
    for (var s = 16u; s > 0u; s >>= 1u) {
        if (lid.x < s) {
            partial[slot] += partial[slot + s];
        }
        workgroupBarrier();
    }
    return partial[slot];
}
