//! C ABI of the CPChain SDK: opaque handles, result codes, caller-owned buffers and a panic
//! boundary, in the manner of rustls-ffi.
//!
//! This crate is being filled by the FFI issue; it exports nothing yet.
