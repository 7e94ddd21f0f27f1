//! How the allocator is set up so that memory stays within the bound of
//! review issue 10, finding 5: a peak RSS of at most four times
//! `store.max_message_size` plus 32 MB, for any input. scripts/bench
//! measures it; the systemd unit's `MemoryMax=` relies on it.
//!
//! glibc's malloc raises its mmap threshold to the size of every large
//! block it frees (up to 32 MiB), and its trim threshold to twice that. So
//! after one large message, the next ones come from the heap, and what they
//! leave there when freed stays resident. Measured on IMAP intake with the
//! default 25 MB limit: four 24.9 MB messages peaked at 162 MB with the
//! moving threshold and at 76 MB with a fixed one, one such message alone at
//! 75 MB. A fixed threshold sends every block of [`MMAP_THRESHOLD`] or more
//! to its own mapping, returned to the system when freed.

/// Blocks this large or larger get their own mapping. Message bodies,
/// decoded parts and fetch buffers are; the small allocations that make up
/// the rest of the daemon's work are not (an mmap each would cost time).
pub const MMAP_THRESHOLD: usize = 256 * 1024;

/// Fixes malloc's mmap threshold at [`MMAP_THRESHOLD`]. Call it first
/// thing in `main`; a no-op with other C libraries.
pub fn fix_malloc_thresholds() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // Setting the threshold also stops glibc moving it (mallopt(3)); it
        // is refused only above 32 MiB.
        // SAFETY: mallopt only changes malloc's tunables, under its own
        // arena locks.
        unsafe {
            libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD as libc::c_int);
        }
    }
}
