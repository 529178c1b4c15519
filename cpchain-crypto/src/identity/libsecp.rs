//! The optional libsecp256k1 backend (feature `libsecp256k1`, hosts only).
//!
//! libsecp256k1 is the C library go-ethereum recovers with; through the `secp256k1` crate
//! (0.30, with neither `rand` nor `hashes`, so no second `rand_core` enters the graph) it
//! recovers with 2.4× fewer instructions than the k256 path on x86-64 (docs/BENCHMARKS.md). It is C, built by `cc`, so it stays off
//! firmware: the build fails if the feature meets a `target_os = "none"` target. Inputs have
//! already passed [`crate::Signature::from_bytes`] (low s, `v ∈ {0, 1}`, `0 < r, s < n`); this
//! module re-checks nothing libsecp256k1 checks itself and refuses everything it refuses, so
//! both backends accept and refuse the same inputs (tests/recovery_backends.rs).

#[cfg(target_os = "none")]
compile_error!(
    "cpchain-crypto: feature `libsecp256k1` is for hosts only; firmware builds recover on k256"
);

use crate::{CryptoError, Hash, PublicKey};
use secp256k1::ecdsa::{RecoverableSignature, RecoveryId};
use secp256k1::{Message, SECP256K1};

/// The key that signed `digest` with `r ‖ s ‖ v` (already parsed strictly), on libsecp256k1.
pub(crate) fn recover(digest: &Hash, sig: &[u8; 65]) -> Result<PublicKey, CryptoError> {
    let (rs, v) = sig.split_at(64);
    let v = v.first().copied().ok_or(CryptoError::RecoveryFailed)?;
    let recid =
        RecoveryId::try_from(i32::from(v)).map_err(|_| CryptoError::InvalidRecoveryId(v))?;
    let rsig = RecoverableSignature::from_compact(rs, recid)
        .map_err(|_| CryptoError::MalformedSignature)?;
    let pk = SECP256K1
        .recover_ecdsa(&Message::from_digest(*digest.as_bytes()), &rsig)
        .map_err(|_| CryptoError::RecoveryFailed)?;
    PublicKey::from_sec1_bytes(&pk.serialize_uncompressed())
        .map_err(|_| CryptoError::RecoveryFailed)
}
