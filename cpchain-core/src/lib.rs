//! Core types of the CPChain SDK.
//!
//! Everything else in the SDK (consensus, storage, sharing, the C API) speaks these types:
//!
//! * [`Hash`](struct@Hash) and [`Address`]: 32-byte Keccak-256 digests and 20-byte Ethereum-compatible
//!   account addresses, displayed with the EIP-55 checksum exactly as CPChain mainnet does.
//! * [`Timestamp`] and [`Duration`]: milliseconds, as in CPChain header time. Nothing in the
//!   SDK reads a clock: the host passes `now` in.
//! * [`Height`], [`Term`], [`View`]: the counters of the white paper's §2.4 protocol.
//! * [`ChainSpec`]: the chain parameters, with the real mainnet figures in
//!   [`ChainSpec::mainnet`], a fast [`ChainSpec::devnet`], and [`ChainSpec::builder`] for a
//!   custom chain (validated on `build()`).
//! * [`machine`]: the one sans-IO contract ([`Machine`]) every state machine of the SDK keeps.
//! * [`encoding`]: the versioned, tagged, size-limited, canonical postcard wire format and
//!   the domain-separated signing digest every signed payload goes through.
//!
//! The crate is `#![no_std]`; the `alloc` feature (default) adds `Vec`-returning encoders and
//! `std` adds nothing but implies `alloc`. Decoders never panic on any input: every failure is
//! a typed, `Copy` error.
#![no_std]
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

#[cfg(feature = "alloc")]
extern crate alloc;

mod address;
pub mod encoding;
mod error;
pub mod fixed_bytes;
mod hash;
mod ids;
pub mod machine;
mod spec;
mod time;

pub use address::Address;
pub use encoding::{Domain, WireMessage};
pub use error::{AddressError, DecodeError, EncodeError, SpecError};
pub use hash::{keccak256, keccak256_concat, keccak256_iter, Hash};
pub use ids::{Height, Term, View};
pub use machine::{Machine, MachineStats};
pub use spec::{ChainSpec, ChainSpecBuilder, RptWeights, BASE_UNITS_PER_CPC};
pub use time::{Duration, Timestamp};
