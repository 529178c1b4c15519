//! One signed-record type (issue 13 item 6): a record and its signer's signature over the
//! record's canonical encoding, under a signing domain of the record's own.
//!
//! Before, the sequence encode → sign under a domain → recover → compare → `BadSignature` was
//! written out four times (market listing, sharing grant, revoke, cfrag response). Now each
//! of those records says only what differs, by implementing [`Signable`] (its domain, the tag
//! of its signed form, how it encodes), and [`Signed<T>`] does the rest once.
//!
//! # Wire compatibility
//! The signed bytes are unchanged: the payload is still the record's canonical encoding
//! (envelope and tag included) under the same domain, and `Signed<T>` encodes as the record
//! followed by the 65-byte signature under the tag the old type had ([`Signable::SIGNED_TAG`]).
//! So `SignedGrant`, `SignedRevoke`, `CfragResponse` and `SignedListing` (now aliases of
//! `Signed<…>`) keep their wire form byte for byte, and no version moves.
//!
//! # Why here and not in `cpchain-crypto`
//! All four users are storage records, and the type needs only `cpchain-core`'s encoding and
//! `cpchain-crypto`'s keys, so it sits next to them; it has no storage dependency and can move
//! down into `cpchain-crypto` unchanged when a consensus record wants it (the LBFT messages
//! sign their own payload layouts today).

use cpchain_core::encoding::Domain;
use cpchain_core::{keccak256, Address, EncodeError, Hash, WireMessage};
use cpchain_crypto::{SecretKey, Signature};
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// A record that is signed as a whole: what [`Signed<T>`] needs to know about it.
pub trait Signable: WireMessage {
    /// The domain its signature is made under (distinct per record type, so a signature of
    /// one kind of record is never valid as another).
    const DOMAIN: Domain;
    /// The wire tag of `Signed<Self>`.
    const SIGNED_TAG: u16;
    /// Where the canonical encoding is made: a `Vec` where there is an allocator, a
    /// fixed-capacity buffer where there may be none.
    type Encoded: AsRef<[u8]>;
    /// The canonical encoding: the signed bytes, and the preimage of the record's id.
    fn encode_payload(&self) -> Result<Self::Encoded, EncodeError>;
}

/// Why a signed record did not check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum SignedError {
    /// The signature does not recover, or recovers to someone other than the expected signer.
    #[error("bad signature")]
    BadSignature,
    /// The record could not be encoded.
    #[error("encode: {0}")]
    Encode(EncodeError),
}

impl From<EncodeError> for SignedError {
    fn from(e: EncodeError) -> Self {
        SignedError::Encode(e)
    }
}

/// A record with its signer's 65-byte recoverable signature over its canonical encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Signed<T> {
    /// The signed record.
    pub body: T,
    /// The signature under `T::DOMAIN`.
    pub signature: Signature,
}

impl<T: Signable> WireMessage for Signed<T> {
    const TAG: u16 = T::SIGNED_TAG;
    const MAX_ENCODED_LEN: usize = T::MAX_ENCODED_LEN + 65;
}

impl<T: Signable> Signed<T> {
    /// Sign `body` with `key`; also returns the Keccak-256 of the signed bytes (the record's
    /// id where it has one), from the same single encoding.
    pub fn sign_with(body: T, key: &SecretKey) -> Result<(Hash, Signed<T>), EncodeError> {
        let payload = body.encode_payload()?;
        let signature = key.sign(&T::DOMAIN, payload.as_ref());
        Ok((keccak256(payload.as_ref()), Signed { body, signature }))
    }

    /// Who signed it, and the Keccak-256 of the signed bytes.
    pub fn recover_signer(&self) -> Result<(Address, Hash), SignedError> {
        let payload = self.body.encode_payload()?;
        let signer = self
            .signature
            .recover_signer(&T::DOMAIN, payload.as_ref())
            .map_err(|_| SignedError::BadSignature)?;
        Ok((signer, keccak256(payload.as_ref())))
    }

    /// Check that `expected` signed it; returns the Keccak-256 of the signed bytes.
    pub fn verify_by(&self, expected: &Address) -> Result<Hash, SignedError> {
        let (signer, hash) = self.recover_signer()?;
        if &signer == expected {
            Ok(hash)
        } else {
            Err(SignedError::BadSignature)
        }
    }
}
