//! Errors of the crypto crate.

use thiserror::Error;

/// Why a cryptographic operation failed. Small and `Copy`; it never carries secret material.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum CryptoError {
    /// 32 bytes that are not a valid secp256k1 scalar (zero or ≥ the group order).
    #[error("invalid secret key")]
    InvalidSecretKey,
    /// Bytes that are not a point on secp256k1.
    #[error("invalid public key")]
    InvalidPublicKey,
    /// `r` or `s` is zero or out of range.
    #[error("malformed signature")]
    MalformedSignature,
    /// `s` is in the upper half of the order: a malleated form CPChain refuses.
    #[error("signature has high s")]
    HighS,
    /// `v` is not 0 or 1.
    #[error("invalid recovery id {0}")]
    InvalidRecoveryId(u8),
    /// No public key recovers from this signature and digest.
    #[error("public key recovery failed")]
    RecoveryFailed,
    /// The signature does not verify under the key.
    #[error("signature does not verify")]
    BadSignature,
    /// The signature verifies but under a different signer than required.
    #[error("signature is from an unexpected signer")]
    WrongSigner,
    /// Authenticated decryption failed: wrong key, nonce or associated data, or tampering.
    #[error("authenticated decryption failed")]
    OpenFailed,
    /// The output buffer has no room for the tag or the plaintext.
    #[error("buffer capacity exceeded")]
    BufferFull,
    /// A threshold of zero or above the number of shares.
    #[error("invalid threshold")]
    InvalidThreshold,
    /// A kfrag that does not verify under the signer, delegating and receiving keys.
    #[error("kfrag does not verify")]
    KfragInvalid,
    /// A cfrag that is not a correct re-encryption of the capsule under a kfrag of the grant.
    #[error("cfrag does not verify")]
    CfragInvalid,
    /// The capsule did not open: fewer cfrags than the threshold, cfrags of different
    /// grants, or cfrags of another capsule.
    #[error("capsule does not open with these cfrags")]
    CapsuleOpenFailed,
}
