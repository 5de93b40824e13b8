//! This process's memory as the leak tests read it (Linux, glibc): resident memory after
//! the allocator has returned what it keeps cached, and the bytes in live heap allocations
//! (a driver's host allocations included).

unsafe extern "C" {
    /// glibc: returns freed heap memory to the system, so that RSS counts live memory
    /// rather than what the allocator keeps cached.
    fn malloc_trim(pad: usize) -> i32;
    /// glibc: the allocator's statistics, among them the bytes in live allocations.
    fn mallinfo2() -> MallInfo2;
}

/// glibc's `struct mallinfo2`.
#[repr(C)]
struct MallInfo2 {
    arena: usize,
    ordblks: usize,
    smblks: usize,
    hblks: usize,
    hblkhd: usize,
    usmblks: usize,
    fsmblks: usize,
    uordblks: usize,
    fordblks: usize,
    keepcost: usize,
}

/// Resident memory of this process in KiB (VmRSS), after trimming the heap.
pub fn resident_kib() -> u64 {
    // SAFETY: malloc_trim only releases free memory; no pointer is involved.
    unsafe { malloc_trim(0) };
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS in /proc/self/status")
}

/// Bytes in live heap allocations (small blocks and mmapped ones): unlike VmRSS, not moved
/// by what the allocator keeps cached.
pub fn heap_bytes() -> usize {
    // SAFETY: mallinfo2 only reads the allocator's counters.
    let m = unsafe { mallinfo2() };
    m.uordblks + m.hblkhd
}
