//! CPChain storage: interval-encrypted IoT data chains, on-chain anchors, Reed–Solomon shard
//! placement over a Kademlia DHT and the key index (white paper §2.1, §2.2), plus authorised
//! sharing through proxy re-encryption behind the `pre` feature.
//!
//! # Market listings (§2.2.3)
//! [`market`]: the PDash listing record, its id and the seller's signature.
//!
//! # Feature `pre`: sharing (§2.2.2)
//! `sharing` (only with the feature, GPL-3.0 through umbral-pre): per-interval delegating
//! keys, the owner, proxy and grantee state machines, grants and revocation.
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

pub mod market;
#[cfg(feature = "pre")]
pub mod sharing;
#[doc(hidden)]
pub mod shim;
