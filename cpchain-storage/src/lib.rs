//! CPChain storage: interval-encrypted IoT data chains, on-chain anchors, Reed–Solomon shard
//! placement over a Kademlia DHT and the key index (white paper §2.1, §2.2), plus authorised
//! sharing through proxy re-encryption behind the `pre` feature.
//!
//! This crate is being filled by the data-chain and sharing issues; it holds nothing yet.
#![no_std]
