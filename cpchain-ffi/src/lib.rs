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
//! * **Handles.** Opaque types (`cpchain_secret_key`, `cpchain_chain_spec`) are made by a
//!   constructor writing `T **out` and released by `cpchain_T_free`; `free(NULL)` is a no-op.
//!   On any constructor error `*out` is set to NULL. Handles are immutable, so they may be
//!   shared between threads; the caller must not free one while another thread uses it, nor
//!   free it twice. Secret keys are wiped when freed.
//! * **No OS resources.** No randomness (keys from seeds come from the caller's entropy),
//!   no clock, no files, no threads, no global state.
//!
//! # Build features
//!
//! The FFI must never be built against test-only cryptography: when the consensus crate
//! grows its `insecure-test-crypto` feature, this crate will refuse to compile with it.
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

mod aead;
mod boundary;
mod keys;
mod result;
mod spec;

pub use aead::*;
pub(crate) use boundary::FfiResult;
pub use keys::*;
pub use result::{cpchain_result, cpchain_result_message, CPCHAIN_RESULT_MESSAGE_MAX};
pub use spec::*;

use core::ffi::c_char;

// The crate docs promise that handles may be shared between threads.
const _: () = {
    const fn shareable<T: Send + Sync>() {}
    shareable::<cpchain_secret_key>();
    shareable::<cpchain_chain_spec>();
};

/// The library's version, NUL-terminated and static (never free it): for logs and for
/// checking that the header and the library came from the same build.
#[no_mangle]
pub extern "C" fn cpchain_version() -> *const c_char {
    const VERSION: &str = concat!("cpchain-ffi/", env!("CARGO_PKG_VERSION"), "\0");
    VERSION.as_ptr().cast::<c_char>()
}
