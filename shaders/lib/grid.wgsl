// Included snippet: where a workgroup stands in a dispatch. Grids of more than 65535
// workgroups fold into y (gpu::grid), so kernels number their workgroups
// `id.x + id.y · count.x`. Both builtins are uniform over a workgroup, so a row index taken
// from them may guard barriers. Entry points take `wg: Workgroup` and, where they need it,
// `@builtin(local_invocation_id) lid: vec3<u32>`.

struct Workgroup {
    @builtin(workgroup_id) id: vec3<u32>,
    @builtin(num_workgroups) count: vec3<u32>,
}

// One workgroup per row: the row.
fn workgroup_index(wg: Workgroup) -> u32 {
    return wg.id.x + wg.id.y * wg.count.x;
}

// One thread per element, 256 threads per workgroup: the element.
fn thread_index(wg: Workgroup, lid: vec3<u32>) -> u32 {
    return workgroup_index(wg) * 256u + lid.x;
}
