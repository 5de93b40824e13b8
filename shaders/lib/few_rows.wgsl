// Included snippet: products over a few token rows (1 to 4: decoder steps) keep one
// accumulator value per row. `Acc` is a vec4 over the rows, or with ONE_ROW a scalar. The
// kernel provides its activation rows: `fn act_at(base: u32, row: u32, kk: u32) -> f32`
// (element kk of row `row`) and `fn act_rows() -> u32`.
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
