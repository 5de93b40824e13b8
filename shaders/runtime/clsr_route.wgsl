// Partitions tokens by gate, on the GPU, in one workgroup (a stable stream compaction):
// route[0] = number of expert tokens E; route[4 + r] for r < E lists the expert tokens in
// order, then r ≥ E the shared tokens. Each thread counts a contiguous chunk, a workgroup
// prefix sum gives every chunk its first expert and shared slot, and a second pass writes
// the token indices. With STATS, (E, rows) is added to counter `slot` of `stats`.
// One workgroup is enough: rows is at most a few thousand and this is two linear passes.

struct Params {
    rows: u32, slot: u32, _pad0: u32, _pad1: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> gates: array<u32>;
@group(0) @binding(2) var<storage, read_write> route: array<u32>;
#if STATS
@group(0) @binding(3) var<storage, read_write> stats: array<u32>;
#endif

var<workgroup> scan: array<u32, 256>;

@compute @workgroup_size(256, 1, 1)
fn main(@builtin(local_invocation_id) lid: vec3<u32>) {
    let t = lid.x;
    let chunk = (p.rows + 255u) / 256u;
    let start = min(t * chunk, p.rows);
    let end = min(start + chunk, p.rows);
    var ones = 0u;
    for (var i = start; i < end; i++) {
        ones += gates[i];
    }
    // Inclusive Hillis–Steele scan of the chunk counts.
    scan[t] = ones;
    workgroupBarrier();
    for (var s = 1u; s < 256u; s <<= 1u) {
        var v = scan[t];
        if (t >= s) {
            v += scan[t - s];
        }
        workgroupBarrier();
        scan[t] = v;
        workgroupBarrier();
    }
    let experts = scan[255];
    var e = scan[t] - ones;
    var s = experts + start - e;
    for (var i = start; i < end; i++) {
        if (gates[i] != 0u) {
            route[4u + e] = i;
            e++;
        } else {
            route[4u + s] = i;
            s++;
        }
    }
    if (t == 0u) {
        route[0] = experts;
#if STATS
        stats[2u * p.slot] += experts;
        stats[2u * p.slot + 1u] += p.rows;
#endif
    }
}
