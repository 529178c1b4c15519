//! Cryptography of the CPChain SDK, compatible with CPChain mainnet identities.
//!
//! * [`keccak256`]: the hash of addresses, block hashes and every signing digest.
//! * [`SecretKey`], [`PublicKey`], [`Signature`]: go-ethereum-compatible secp256k1. Addresses
//!   are the last 20 bytes of Keccak-256 of the uncompressed key; signatures are 65 bytes
//!   `r ‖ s ‖ v` with `v ∈ {0, 1}`, made with RFC 6979 nonces and always low-s. Decoding a
//!   signature refuses high-s and `v > 1`, so a signature has exactly one valid byte form.
//! * [`SecretKey::sign`] / [`Signature::recover_signer`]: domain-separated signing of protocol
//!   payloads (see [`cpchain_core::encoding::signing_digest`]).
//! * [`aead`]: ChaCha20-Poly1305 sealing in place, over an `alloc::vec::Vec` or a
//!   fixed-capacity `heapless::Vec` (through [`aead::HeaplessBuffer`]) for firmware.
//!
//! # One accepted encoding per signature
//! [`PublicKey::verify`] (and everything built on it: `verify_payload`, data blocks, anchors,
//! votes, the C API) accepts a signature only when its 65 bytes, `v` included, recover the
//! verifying key. Plain ECDSA verification ignores `v`, so `r ‖ s ‖ 0` and `r ‖ s ‖ 1` would
//! both pass; here exactly one does. The check costs nothing extra: the point
//! `R' = z·s⁻¹·G + r·s⁻¹·Q` that plain verification computes must have `x = r` and the `y`
//! parity `v`.
//!
//! # Recovery
//! [`Signature::recover`] computes `Q = r⁻¹(s·R − z·G)` with one double-scalar
//! multiplication ([`Signature::recover_k256`], `no_std`, the firmware path) instead of
//! ecdsa 0.16's `recover_from_prehash`, which adds a full verification that cannot fail.
//! Feature `libsecp256k1` (hosts only; refused for `target_os = "none"`) recovers and
//! verifies on libsecp256k1 instead, go-ethereum's backend; both backends accept and refuse
//! the same bytes (tests/recovery_backends.rs). Only `v ∈ {0, 1}` is accepted, as on mainnet:
//! go-ethereum's low-level `secp256k1.RecoverPubkey` takes `v ∈ {2, 3}` (x = r + n) but its
//! `ValidateSignatureValues` and every transaction and seal check refuse them.
//!
//! # Simulation only: `insecure-test-crypto`
//! Feature `insecure-test-crypto` (off by default) replaces ECDSA with a keyed hash whose
//! key is in this source: signatures made with it are forgeable by anyone. It builds only
//! when rustc also gets `--cfg cpchain_insecure_test_crypto`
//! (`RUSTFLAGS="--cfg cpchain_insecure_test_crypto"`), which feature unification cannot set,
//! and never together with `cpchain-ffi` (`forbid-insecure-test-crypto`). See the
//! `sim_crypto` module source and docs/SECURITY.md (section 3).
//! With `std`, [`verify_cache`] is a per-thread, opt-in memo of signature checks for
//! simulators.
//!
//! Secrets ([`SecretKey`], [`aead::AeadKey`]) are zeroized on drop and print as `<redacted>`.
//!
//! The crate is `#![no_std]`. Feature `std` (default) adds k256's precomputed tables, which
//! make signing several times faster on hosts but do not build for `thumbv7em-none-eabihf`.
//! There is no GPL code in this crate unless the opt-in `pre` feature is enabled: it adds
//! [`pre`](crate#feature-pre), Umbral threshold proxy re-encryption over umbral-pre 0.11,
//! which is GPL-3.0-only, so a binary built with `pre` is GPL-3.0. It builds `no_std` (with
//! an allocator) and takes the caller's RNG everywhere; umbral-pre's OS-RNG feature stays off.
//!
//! # Feature `pre`
//! Module `pre` (only with the feature): per-interval key wrapping in Umbral capsules,
//! kfrag generation, re-encryption and threshold opening, with postcard wire forms (tags
//! `0x0501`–`0x0504`). Why each encryption interval gets its own delegating key is explained
//! there and in `cpchain_storage::sharing`.
//!
//! ```
//! use cpchain_crypto::{keccak256, SecretKey};
//! let sk = SecretKey::from_bytes(&[0x11; 32]).unwrap();
//! let digest = keccak256(b"hello");
//! let sig = sk.sign_prehash(&digest);
//! assert_eq!(sig.recover(&digest).unwrap(), sk.public_key());
//! assert_eq!(sig.recover(&digest).unwrap().address(), sk.public_key().address());
//! ```
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
// The simulation-only scheme leaves the ECDSA paths and the cache unused.
#![cfg_attr(feature = "insecure-test-crypto", allow(dead_code, unused_imports))]

#[cfg(feature = "alloc")]
extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

pub mod aead;
mod error;
mod identity;
#[cfg(feature = "pre")]
pub mod pre;
mod sim_crypto;

#[cfg(feature = "std")]
pub use identity::verify_cache;

/// Whether this build signs with the simulation-only keyed hash of feature
/// `insecure-test-crypto` instead of ECDSA (never in a shipped build).
pub const INSECURE_TEST_CRYPTO: bool = cfg!(feature = "insecure-test-crypto");

pub use cpchain_core::{keccak256, keccak256_concat, Address, Domain, Hash};
pub use error::CryptoError;
pub use identity::{PublicKey, SecretKey, Signature};
/// The RNG trait every randomised call takes: the SDK never reaches for OS randomness.
pub use rand_core::CryptoRngCore;
