//! Small helpers shared by the kernel wrappers.

use whisper_clsr::gpu::grid;

/// A size as a GPU u32; panics on overflow (shapes are checked long before this).
pub fn u(x: usize) -> u32 {
    u32::try_from(x).expect("GPU index exceeds u32")
}

/// Workgroups for one thread per element with `per_group` threads per group (2-D when the
/// count exceeds 65535; kernels recover `wid.x + wid.y * num_workgroups.x`).
pub fn threads_grid(elements: usize, per_group: usize) -> [u32; 3] {
    grid(u(elements.div_ceil(per_group)))
}

/// One workgroup per row.
pub fn rows_grid(rows: usize) -> [u32; 3] {
    grid(u(rows))
}
