//! C ABI of the CPChain SDK, in the manner of rustls-ffi.
//!
//! Gateways, car firmware and host applications written in C or C++ link
//! `libcpchain_ffi.a` (or the shared `libcpchain_ffi.so`) and include
//! `cpchain-ffi/include/cpchain.h`, which cbindgen generates from this crate. This crate is
//! the only one of the SDK where `unsafe` is allowed: it is confined to the pointer
//! conversions in `boundary.rs` and to one-line forwards, each with a `SAFETY` comment.
//!
//! # Conventions
//!
//! * **Results.** Every fallible function returns a [`cpchain_result`]: `CPCHAIN_RESULT_OK`
//!   (0) or an error code of 7000 and up, clear of `errno`. [`cpchain_result_message`]
//!   turns any code into text. The `_free` functions return nothing; [`cpchain_version`]
//!   returns a static string.
//! * **No unwinding into C.** Every exported function runs inside a panic boundary; a
//!   panic (which would be an SDK bug: the code is panic-free by lint) becomes
//!   `CPCHAIN_RESULT_PANIC`. The design is also correct under `panic = "abort"`.
//! * **Pointers.** Every pointer argument is checked for NULL (`CPCHAIN_RESULT_NULL_PARAMETER`)
//!   and out-pointers and handles for alignment. An input buffer is a `(pointer, length)`
//!   pair; NULL is allowed for an empty variable-length input. Fixed-size inputs (keys,
//!   digests, signatures, nonces) take their length too and refuse any other length with
//!   `CPCHAIN_RESULT_INVALID_LENGTH`: a truncated buffer is an error code, never an
//!   over-read. Text inputs are `(pointer, length)`, not NUL-terminated, and must be UTF-8.
//! * **Caller-owned output buffers.** The library never allocates memory the caller must
//!   free, except handles. An output is `(buf, buf_len)`; fixed-size outputs need at least
//!   their `CPCHAIN_*_LEN` bytes. Variable-size outputs also take `size_t *out_len`: on
//!   success it is the bytes written; on `CPCHAIN_RESULT_INSUFFICIENT_SIZE` it is the size
//!   needed and nothing was written, so a call with `buf == NULL, buf_len == 0` asks for the
//!   size. Text outputs are NUL-terminated; their `*out_len` on success is the length
//!   without the NUL (as `strlen`) and on a too-small buffer the size needed with it.
//! * **Aliasing.** A fixed-size output may alias an input (inputs are read first). An
//!   in-place buffer (AEAD) must not overlap any other argument: that is checked and refused
//!   with `CPCHAIN_RESULT_OVERLAPPING_BUFFERS`.
//! * **Handles.** Opaque types (`cpchain_secret_key`, `cpchain_chain_spec`,
//!   `cpchain_chain_writer`) are made by a constructor writing `T **out` and released by
//!   `cpchain_T_free`; `free(NULL)` is a no-op. On any constructor error `*out` is set to
//!   NULL. The caller must not free a handle while another thread uses it, nor free it twice.
//!   Secret keys and writers are wiped when freed.
//! * **Immutable and mutable handles.** Keys and specs are immutable and may be shared
//!   between threads. State machines (`cpchain_chain_writer`) are mutable and
//!   single-threaded: they may move between threads, but a call made while another is running
//!   on the same handle is refused with `CPCHAIN_RESULT_HANDLE_BUSY` (a run-time check, not
//!   undefined behaviour). If a call on a mutable handle panics (an SDK bug) the handle is
//!   poisoned: every later call returns `CPCHAIN_RESULT_HANDLE_POISONED`; only `_free` works.
//! * **Polling.** State machines hand out effects through a `_poll` call that writes one
//!   output into a caller buffer with a `kind` out-parameter, and returns
//!   `CPCHAIN_RESULT_NO_OUTPUT` (7008, a state, not a failure) when there is none left.
//! * **No heap where firmware needs none.** The gateway path (keys, signing, AEAD, the
//!   data-chain writer) allocates nothing per call. A handle can also live in caller storage:
//!   `cpchain_T_..._in(&storage, ..., &out)` with a `cpchain_T_storage` the caller declares
//!   (a `static`, a stack frame); the handle is used and freed exactly like a heap one, and
//!   `_free` wipes it in place. Secret keys and data-chain writers offer this. Host-side
//!   readers (`cpchain_chain_verify`, `cpchain_chain_open_block`, decoding) use temporary
//!   heap buffers, freed before they return; nothing is ever left for the caller to free.
//! * **No OS resources.** No randomness (keys from seeds come from the caller's entropy),
//!   no clock, no files, no threads, no global state.
//!
//! # Example (C)
//!
//! Abridged from `tests/c/example.c`, which the C test script compiles and runs:
//!
//! ```c
//! #include "cpchain.h"
//!
//! uint8_t seed[CPCHAIN_SEED_LEN];            /* from the device's hardware RNG */
//! cpchain_secret_key *key = NULL;
//! cpchain_result rc = cpchain_secret_key_from_seed(seed, sizeof seed, &key);
//! if (rc != CPCHAIN_RESULT_OK) { /* report and stop */ }
//!
//! static const char domain[] = "cpchain/gateway/reading/v1";
//! const uint8_t reading[] = {0x15, 0x05};
//! uint8_t sig[CPCHAIN_SIGNATURE_LEN];
//! rc = cpchain_secret_key_sign(key, domain, sizeof domain - 1, reading, sizeof reading,
//!                              sig, sizeof sig);
//!
//! char text[CPCHAIN_RESULT_MESSAGE_MAX];
//! size_t n;
//! if (rc != CPCHAIN_RESULT_OK && cpchain_result_message(rc, text, sizeof text, &n) == 0) {
//!   fprintf(stderr, "signing failed: %s\n", text);
//! }
//! cpchain_secret_key_free(key);              /* wipes the scalar; NULL is fine */
//! ```
//!
//! # Files
//!
//! * `include/cpchain.h`: the header, generated by cbindgen 0.29.4 from this crate with
//!   `cbindgen.toml` and committed. `tests/check-header.sh` regenerates it and fails on any
//!   difference (`--write` updates it).
//! * `tests/run-c-tests.sh`: builds the library and runs the C tests (`tests/c/`) under
//!   AddressSanitizer + UBSan and under valgrind, against the static and the shared library,
//!   plus a C++17 program; it prints `N passed, N failed` last.
//! * `tests/c/example.c`: the example above as a complete program.
//! * `tests/c/test_share.c`: the sharing tests, built with `-DCPCHAIN_PRE` against a `pre`
//!   library by the C test script (ASan + UBSan and valgrind).
//! * `examples/c-gateway/gateway.c` (repository root): a firmware-style gateway with static
//!   buffers only, run by the C test script under ASan and valgrind; with `-DCPCHAIN_PRE` it
//!   also makes a share grant.
//! * `tests/ffi_agrees_with_rust.rs`: the C entry points, called from Rust, give the same
//!   bytes and the same errors as the Rust API, on fixed and random input.
//! * `tests/c/test_lbft_dpor.c`: four validators on a DPoR schedule across term boundaries
//!   into an elected committee, and each attributable fault's evidence verified (run under
//!   ASan and valgrind); `tests/evidence_agrees_with_rust.rs`: the `FAULT` bytes equal the
//!   Rust evidence of the same fault.
//!
//! # Areas
//!
//! | Area | Functions | Codes |
//! |---|---|---|
//! | keys, signing, recovery, addresses | `cpchain_secret_key_*`, `cpchain_signature_*`, `cpchain_public_key_*`, `cpchain_address_*` | 71xx, 72xx |
//! | AEAD | `cpchain_aead_*` | 71xx |
//! | chain parameters | `cpchain_chain_spec_*` | 74xx |
//! | LBFT validator (with crash restore, on a fixed rotation or a copied DPoR schedule), light verification, fault evidence | `cpchain_lbft_*` | 75xx |
//! | DPoR: RPT, election, proposer schedule | `cpchain_rpt_compute`, `cpchain_elect`, `cpchain_dpor_schedule_*` | 76xx |
//! | data chains: writer, reader | `cpchain_chain_*`, `cpchain_records_next` | 77xx |
//! | authorised sharing (feature `pre` only) | `cpchain_share_owner_*`, `cpchain_share_proxy_*`, `cpchain_share_grantee_*` | 78xx |
//!
//! # Build features
//!
//! `std` (default) is the host library: the whole API. Without it (`--no-default-features`)
//! the library is `#![no_std]` for microcontrollers (built and run on a Cortex-M4F and a
//! Cortex-M33 under QEMU by `examples/c-firmware`): keys in caller storage
//! (`cpchain_secret_key_from_*_in`), signing, verification, recovery, Keccak, AEAD and the
//! data-chain writer in caller storage (`cpchain_chain_writer_new_in`), with no heap at all.
//! The `alloc` feature adds, over a heap the firmware supplies through the C hooks
//! `cpchain_hook_alloc` / `cpchain_hook_free`, chain specs, LBFT light verification and
//! DPoR. The host-side readers (`cpchain_chain_verify`, `cpchain_chain_open_block`, block and
//! anchor info) and the LBFT validator handle need `std`. The header marks each function's
//! build: C code linking a firmware library defines `CPCHAIN_NO_STD` (and `CPCHAIN_ALLOC` for
//! an `alloc` build), which hides the `CPCHAIN_STD` (and `CPCHAIN_ALLOC`) blocks;
//! `tests/check-firmware-exports.sh` checks each build's symbols against the header.
//!
//! Without std a panic cannot be caught: the library's panic handler calls the firmware's
//! `cpchain_hook_panic(file, file_len, line)`, which must not return (reset, log, halt: the
//! firmware decides), and `ffi_boundary!` passes results straight through. Deviation from
//! the rest of these docs: on a `no_std` build `CPCHAIN_RESULT_PANIC` and
//! `CPCHAIN_RESULT_HANDLE_POISONED` are never returned, since a panic never comes back.
//! Build it with the workspace's `firmware` profile (opt-level "z", LTO, panic = abort):
//! `cargo rustc -p cpchain-ffi --no-default-features [--features alloc]
//! --target thumbv7em-none-eabihf --profile firmware --crate-type staticlib`. Use
//! `cargo rustc --crate-type staticlib`, not `cargo build`: this crate is also an rlib and a
//! cdylib, and cargo runs LTO only for a unit whose every crate type takes it, so `cargo
//! build` ships an archive with one object per crate (core's prebuilt ones included) and
//! a C gateway image 65 % larger (82,656 against 50,248 bytes of flash, docs/BENCHMARKS.md,
//! "Firmware").
//!
//! The FFI must never be built against test-only cryptography: it enables
//! `cpchain-crypto/forbid-insecure-test-crypto`, so any build graph that also turns on the
//! simulator's `insecure-test-crypto` fails to compile.
//!
//! Authorised sharing (Umbral proxy re-encryption, white paper §2.2.2) is behind this crate's
//! `pre` feature, which enables `cpchain-storage/pre` and `cpchain-crypto/pre` and so links
//! umbral-pre (GPL-3.0-only): a library built with it is GPL-3.0. The default build links no
//! GPL code. The header declares the sharing API under `#if defined(CPCHAIN_PRE)` (cbindgen
//! maps the feature to that macro), so one committed header serves both builds: C code
//! defines `CPCHAIN_PRE` exactly when it links a `pre` library. The 78xx result codes exist
//! in both builds (so that C code compiles either way) but only a `pre` build returns them.
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]
#![allow(non_camel_case_types)]
#![cfg_attr(not(feature = "std"), no_std)]

#[cfg(feature = "alloc")]
extern crate alloc;

mod aead;
mod boundary;
mod chain;
#[cfg(feature = "alloc")]
mod dpor;
#[cfg(not(feature = "std"))]
mod firmware;
mod keys;
#[cfg(feature = "alloc")]
mod lbft;
mod result;
#[cfg(feature = "pre")]
mod share;
#[cfg(feature = "alloc")]
mod spec;

pub use aead::*;
pub(crate) use boundary::FfiResult;
pub use chain::*;
#[cfg(feature = "alloc")]
pub use dpor::*;
pub use keys::*;
#[cfg(feature = "alloc")]
pub use lbft::*;
pub use result::message::cpchain_result_message;
pub use result::{cpchain_result, CPCHAIN_RESULT_MESSAGE_MAX};
#[cfg(feature = "pre")]
pub use share::*;
#[cfg(feature = "alloc")]
pub use spec::*;

use core::ffi::c_char;

// The crate docs promise that handles may be shared between threads.
const _: () = {
    const fn shareable<T: Send + Sync>() {}
    shareable::<cpchain_secret_key>();
    shareable::<cpchain_chain_writer>();
};

#[cfg(feature = "alloc")]
const _: () = {
    const fn shareable<T: Send + Sync>() {}
    shareable::<cpchain_chain_spec>();
    shareable::<cpchain_lbft_validator>();
    shareable::<cpchain_dpor_schedule>();
};

#[cfg(feature = "pre")]
const _: () = {
    const fn shareable<T: Send + Sync>() {}
    shareable::<cpchain_share_owner>();
    shareable::<cpchain_share_proxy>();
    shareable::<cpchain_share_grantee>();
};

/// The library's version, NUL-terminated and static (never free it): for logs and for
/// checking that the header and the library came from the same build.
#[no_mangle]
pub extern "C" fn cpchain_version() -> *const c_char {
    const VERSION: &str = concat!("cpchain-ffi/", env!("CARGO_PKG_VERSION"), "\0");
    VERSION.as_ptr().cast::<c_char>()
}
