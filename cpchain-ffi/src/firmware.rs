//! What a `no_std` build (`--no-default-features`, for firmware) needs from the firmware
//! that links it: the panic hook and, with the `alloc` feature, the heap.
//!
//! The library is panic-free by lint, so a panic is an SDK bug; without std there is no
//! unwinding to catch it, and the firmware, not the library, knows what is safe to do then
//! (reset, log over a debug channel, halt). So the panic handler calls the C function
//!
//! ```c
//! void cpchain_hook_panic(const char *file, size_t file_len, uint32_t line);
//! ```
//!
//! which the firmware defines and which must not return (if it does, the library spins
//! forever). `file` is not NUL-terminated.
//!
//! With the `alloc` feature (chain specs, LBFT light verification, DPoR) the library's
//! global allocator calls
//!
//! ```c
//! void *cpchain_hook_alloc(size_t size, size_t align);   /* NULL when out of memory */
//! void cpchain_hook_free(void *ptr, size_t size, size_t align);
//! ```
//!
//! so the firmware chooses the heap (a static arena, its RTOS's pools). An allocation
//! failure reaches `cpchain_hook_panic`. The header declares the three hooks under
//! `!defined(CPCHAIN_STD)`; the gateway path (keys, signing, AEAD, the writer) calls none of the
//! allocation hooks.

use core::ffi::c_char;
use core::panic::PanicInfo;

extern "C" {
    /// Defined by the firmware: called by the `no_std` library when it panics (an SDK bug;
    /// the library is panic-free by lint) with the source location (`file` is not
    /// NUL-terminated). The firmware decides what is safe: reset, log, halt. It must not
    /// return; if it does, the library spins forever.
    fn cpchain_hook_panic(file: *const c_char, file_len: usize, line: u32);
}

/// The panic handler of the `no_std` library: report the location to the firmware's hook,
/// and never return.
#[cfg(not(test))]
#[panic_handler]
fn panic(info: &PanicInfo<'_>) -> ! {
    let (file, line) = info.location().map_or(("", 0), |l| (l.file(), l.line()));
    // SAFETY: the hook is the firmware's, declared in cpchain.h with this signature; `file`
    // is valid for `file.len()` bytes for the whole call.
    unsafe { cpchain_hook_panic(file.as_ptr().cast::<c_char>(), file.len(), line) };
    loop {
        core::hint::spin_loop();
    }
}

#[cfg(feature = "alloc")]
mod heap {
    use core::alloc::{GlobalAlloc, Layout};
    use core::ffi::c_void;

    extern "C" {
        /// Defined by the firmware for a `no_std` + `alloc` library: `size` bytes aligned to
        /// `align` (a power of two), or NULL when out of memory (the library then panics).
        /// Only the `CPCHAIN_ALLOC` functions call it, never the gateway path.
        fn cpchain_hook_alloc(size: usize, align: usize) -> *mut c_void;
        /// Defined by the firmware: give back memory from `cpchain_hook_alloc`, with the
        /// size and alignment it was asked for.
        fn cpchain_hook_free(ptr: *mut c_void, size: usize, align: usize);
    }

    /// The global allocator of a `no_std` + `alloc` build: the firmware's C hooks.
    struct FirmwareHeap;

    // SAFETY: the hooks' contract (cpchain.h) is GlobalAlloc's: aligned memory of the size
    // asked or NULL, and free of exactly what alloc returned.
    unsafe impl GlobalAlloc for FirmwareHeap {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            // SAFETY: forwards to the firmware's hook with a valid layout.
            unsafe { cpchain_hook_alloc(layout.size(), layout.align()).cast::<u8>() }
        }

        unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
            // SAFETY: `ptr` came from `alloc` with this layout (GlobalAlloc's contract).
            unsafe { cpchain_hook_free(ptr.cast::<c_void>(), layout.size(), layout.align()) }
        }
    }

    #[global_allocator]
    static HEAP: FirmwareHeap = FirmwareHeap;
}
