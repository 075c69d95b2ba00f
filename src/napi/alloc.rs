//! The addon's allocator: mimalloc, tuned to give memory back without
//! costing the media path.

/// The addon's Rust allocations (rtc's per-packet messages, SDP strings)
/// go through mimalloc: glibc malloc/free was ~7% of CPU with media flowing
/// and ~15% during call setup, across the shard threads.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Freed memory goes back to the OS after 100 ms (mimalloc's default is
/// 1 s), and the shard threads run mimalloc's collection once a second
/// (`crate::shard::set_housekeeping`), so expired purges happen even when
/// nothing allocates (an idle process after a burst of hostile offers).
///
/// Measured (soak.test.mjs's child, 6,000 calls and 75 hostile offers;
/// `bench/child.mjs --stack sipwire-bot-pcmu --n 100`, medians of 4
/// interleaved runs):
/// - purge 0 and lazily committed arenas, this file's earlier choice:
///   5 MB retained after hostile offers, but 6,244 `madvise` calls and
///   29,000 page faults per bench run and +19 % CPU per call-second;
/// - purge 100 ms, arenas committed eagerly (the default): 3.1 MB retained,
///   +0.5 MB per 1000 calls, and CPU within 4 % of the build before these
///   options existed (46af778); base RSS is ~14 MB higher.
///
/// Set before the first allocation (at load, from `.init_array`); the
/// `MIMALLOC_*` environment variables still win.
#[cfg(target_os = "linux")]
#[used]
#[link_section = ".init_array"]
static MIMALLOC_OPTIONS: extern "C" fn() = {
    extern "C" {
        fn mi_option_set(option: std::os::raw::c_int, value: std::os::raw::c_long);
        fn mi_collect(force: bool);
    }
    // mimalloc v3's `mi_option_t` (include/mimalloc.h).
    const PURGE_DELAY: std::os::raw::c_int = 15;
    fn collect() {
        // SAFETY: collects the calling thread's heap; no pointers involved.
        unsafe { mi_collect(false) };
    }
    extern "C" fn set_options() {
        if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
            // SAFETY: plain setter on mimalloc's static option table.
            unsafe { mi_option_set(PURGE_DELAY, 100) };
        }
        crate::shard::set_housekeeping(collect);
    }
    set_options
};
