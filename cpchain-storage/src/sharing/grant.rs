//! The sharing wire messages (tags 0x0510–0x0517): grants, revokes, kfrag deliveries,
//! re-encryption requests and signed cfrag responses.

use super::SharingError;
use crate::block::StreamId;
use crate::signed::{Signable, Signed, SignedError};
use alloc::vec::Vec;
use cpchain_core::encoding::{encode_to_vec, Domain};
use cpchain_core::{keccak256, Address, Hash, Timestamp, WireMessage};
use cpchain_crypto::pre::{Capsule, CapsuleFrag, KeyFrag, PrePublicKey};
use cpchain_crypto::SecretKey;
use serde::{Deserialize, Serialize};

/// Most encryption intervals one grant covers: bounds the grant and the kfrag delivery.
pub const MAX_GRANT_INTERVALS: usize = 16;
/// Most proxies (kfrag shares `n`) of one grant.
pub const MAX_PROXIES: usize = 16;

/// Domain of the owner's grant signature (v2: grants carry a random salt).
pub const GRANT_DOMAIN: Domain = Domain::new("cpchain/sharing/grant/v2");

/// Bytes of a grant's random salt.
pub const GRANT_SALT_LEN: usize = 16;
/// Domain of the owner's revoke signature.
pub const REVOKE_DOMAIN: Domain = Domain::new("cpchain/sharing/revoke/v1");
/// Domain of a proxy's signature over a cfrag response.
pub const CFRAG_DOMAIN: Domain = Domain::new("cpchain/sharing/cfrag/v1");

/// A grant's identity: Keccak-256 of its canonical encoding, so every party (and the chain)
/// names it the same way. No two grants share one because every grant carries 16 random
/// bytes from the owner's RNG ([`Grant::salt`]) and the owner refuses an id it already
/// holds: two grants of one request in one millisecond have different kfrags, and each
/// must have its own id, or proxies holding either set would let a grantee reach `Ready`
/// with cfrags that do not combine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct GrantId(pub Hash);

/// An owner's authorisation of one grantee for a range of encryption intervals of one
/// stream, through `proxies` with threshold `threshold`. Put on chain (signed) so proxies,
/// grantee and market can all check it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Grant {
    /// Chain the grant is for; signatures are bound to it.
    pub chain_id: u64,
    /// The owner's chain address; the grant is signed by this identity.
    pub owner: Address,
    /// The stream whose intervals are shared.
    pub stream: StreamId,
    /// First granted encryption interval.
    pub first_interval: u64,
    /// Last granted encryption interval (inclusive).
    pub last_interval: u64,
    /// The grantee's Umbral receiving key.
    pub grantee: PrePublicKey,
    /// Cfrags needed to open (`m`).
    pub threshold: u8,
    /// The proxies, by chain address; proxy `j` holds kfrag `j` of every interval (`n`).
    pub proxies: heapless::Vec<Address, MAX_PROXIES>,
    /// The key that signs this stream's kfrags.
    pub kfrag_signer: PrePublicKey,
    /// Delegating public key of each granted interval, in interval order.
    pub delegating_keys: heapless::Vec<PrePublicKey, MAX_GRANT_INTERVALS>,
    /// When the grant was issued.
    pub issued_at: Timestamp,
    /// When proxies stop re-encrypting for it.
    pub expires_at: Timestamp,
    /// Random bytes from the owner's RNG: they make the grant's id unique even for equal
    /// requests issued in one millisecond (see [`GrantId`]).
    #[serde(with = "cpchain_core::fixed_bytes")]
    pub salt: [u8; GRANT_SALT_LEN],
}

impl WireMessage for Grant {
    const TAG: u16 = 0x0510;
    const MAX_ENCODED_LEN: usize = GRANT_SALT_LEN
        + 3
        + 10
        + 20
        + 32
        + 10
        + 10
        + 33
        + 1
        + 1
        + 20 * MAX_PROXIES
        + 33
        + 1
        + 33 * MAX_GRANT_INTERVALS
        + 10
        + 10;
}

impl Grant {
    /// Structural checks every receiver makes: a non-empty range matching the key list,
    /// `1 ≤ m ≤ n`, distinct proxies and an expiry after issue.
    pub fn validate(&self) -> Result<(), SharingError> {
        let count = self
            .last_interval
            .checked_sub(self.first_interval)
            .and_then(|d| d.checked_add(1))
            .ok_or(SharingError::MalformedGrant)?;
        if count != self.delegating_keys.len() as u64 {
            return Err(SharingError::MalformedGrant);
        }
        let n = self.proxies.len();
        if n == 0 || has_duplicates(&self.proxies) {
            return Err(SharingError::InvalidProxySet);
        }
        if self.threshold == 0 || usize::from(self.threshold) > n {
            return Err(SharingError::InvalidThreshold);
        }
        if self.expires_at <= self.issued_at {
            return Err(SharingError::InvalidExpiry);
        }
        Ok(())
    }

    /// The grant's id.
    pub fn id(&self) -> Result<GrantId, SharingError> {
        Ok(GrantId(keccak256(&encode_to_vec(self)?)))
    }

    /// Whether `interval` is one of the granted intervals.
    pub fn covers(&self, interval: u64) -> bool {
        (self.first_interval..=self.last_interval).contains(&interval)
    }

    /// Whether proxies may re-encrypt for it at `now` (revocation aside).
    pub fn is_live(&self, now: Timestamp) -> bool {
        self.issued_at <= now && now < self.expires_at
    }

    /// The delegating key of a granted interval.
    pub fn delegating_key(&self, interval: u64) -> Option<&PrePublicKey> {
        let offset = interval.checked_sub(self.first_interval)?;
        self.delegating_keys.get(usize::try_from(offset).ok()?)
    }

    /// Position of `proxy` in the grant, which is also the index of its kfrags.
    pub fn proxy_index(&self, proxy: &Address) -> Option<usize> {
        self.proxies.iter().position(|p| p == proxy)
    }

    /// Sign as the owner (the signer must be [`Grant::owner`]); returns the grant's id too,
    /// from the same single encoding.
    pub fn sign(self, owner: &SecretKey) -> Result<(GrantId, SignedGrant), SharingError> {
        let (id, signed) = Signed::sign_with(self, owner)?;
        Ok((GrantId(id), signed))
    }
}

impl Signable for Grant {
    const DOMAIN: Domain = GRANT_DOMAIN;
    const SIGNED_TAG: u16 = 0x0511;
    type Encoded = Vec<u8>;
    fn encode_payload(&self) -> Result<Vec<u8>, cpchain_core::EncodeError> {
        encode_to_vec(self)
    }
}

impl From<SignedError> for SharingError {
    fn from(e: SignedError) -> Self {
        match e {
            SignedError::BadSignature => SharingError::BadSignature,
            SignedError::Encode(e) => SharingError::Encode(e),
        }
    }
}

fn has_duplicates<T: PartialEq>(items: &[T]) -> bool {
    items
        .iter()
        .enumerate()
        .any(|(i, a)| items.iter().skip(i + 1).any(|b| a == b))
}

/// A grant with the owner's signature under [`GRANT_DOMAIN`] (wire tag 0x0511).
pub type SignedGrant = Signed<Grant>;

impl Signed<Grant> {
    /// Check structure, chain and the owner's signature; return the grant id.
    pub fn verify(&self, chain_id: u64) -> Result<GrantId, SharingError> {
        if self.body.chain_id != chain_id {
            return Err(SharingError::WrongChain);
        }
        self.body.validate()?;
        Ok(GrantId(self.verify_by(&self.body.owner)?))
    }
}

/// The owner's withdrawal of a grant: proxies drop its kfrags.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Revoke {
    /// Chain the revoke is for.
    pub chain_id: u64,
    /// The owner of the grant; the revoke is signed by this identity.
    pub owner: Address,
    /// The revoked grant.
    pub grant: GrantId,
    /// The grant's expiry: proxies keep the tombstone until then, so a replayed delivery
    /// cannot reinstall the kfrags.
    pub until: Timestamp,
    /// When the owner revoked.
    pub at: Timestamp,
}

impl WireMessage for Revoke {
    const TAG: u16 = 0x0512;
    const MAX_ENCODED_LEN: usize = 3 + 10 + 20 + 32 + 10 + 10;
}

impl Revoke {
    /// Sign as the owner.
    pub fn sign(self, owner: &SecretKey) -> Result<SignedRevoke, SharingError> {
        Ok(Signed::sign_with(self, owner)?.1)
    }
}

impl Signable for Revoke {
    const DOMAIN: Domain = REVOKE_DOMAIN;
    const SIGNED_TAG: u16 = 0x0513;
    type Encoded = Vec<u8>;
    fn encode_payload(&self) -> Result<Vec<u8>, cpchain_core::EncodeError> {
        encode_to_vec(self)
    }
}

/// A revoke with the owner's signature under [`REVOKE_DOMAIN`] (wire tag 0x0513).
pub type SignedRevoke = Signed<Revoke>;

impl Signed<Revoke> {
    /// Check chain and that the revoke's owner signed it.
    pub fn verify(&self, chain_id: u64) -> Result<(), SharingError> {
        if self.body.chain_id != chain_id {
            return Err(SharingError::WrongChain);
        }
        self.verify_by(&self.body.owner)?;
        Ok(())
    }
}

/// What the owner sends one proxy: the signed grant and that proxy's kfrag of every granted
/// interval (`kfrags[i]` is for interval `first_interval + i`). Send it over a confidential
/// channel (see the module docs).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KfragDelivery {
    /// The grant.
    pub grant: SignedGrant,
    /// The proxy the kfrags are for.
    pub proxy: Address,
    /// One kfrag per granted interval, in interval order. A fixed-capacity list: decoding
    /// refuses a 17th kfrag outright and reserves nothing on the word of a length prefix,
    /// and the delivery's size is a compile-time constant (the machines' memory bounds
    /// count on it).
    pub kfrags: heapless::Vec<KeyFrag, MAX_GRANT_INTERVALS>,
}

impl WireMessage for KfragDelivery {
    const TAG: u16 = 0x0514;
    const MAX_ENCODED_LEN: usize = SignedGrant::MAX_ENCODED_LEN
        + 20
        + 1
        + MAX_GRANT_INTERVALS * <KeyFrag as WireMessage>::MAX_ENCODED_LEN;
}

/// A grantee's request that a proxy re-encrypt an interval's capsule. Unsigned: the cfrag is
/// useful only to the grant's grantee.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReencryptionRequest {
    /// The grant it is made under.
    pub grant: GrantId,
    /// The interval whose capsule it is.
    pub interval: u64,
    /// The capsule from the interval's key-index record.
    pub capsule: Capsule,
}

impl WireMessage for ReencryptionRequest {
    const TAG: u16 = 0x0515;
    const MAX_ENCODED_LEN: usize = 3 + 32 + 10 + <Capsule as WireMessage>::MAX_ENCODED_LEN;
}

/// What a proxy signs when it answers: the cfrag and exactly which capsule it re-encrypted,
/// so a bad cfrag is evidence against the proxy that anyone holding the grant can check.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CfragBody {
    /// The grant.
    pub grant: GrantId,
    /// The interval.
    pub interval: u64,
    /// The capsule that was re-encrypted.
    pub capsule: Capsule,
    /// The cfrag.
    pub cfrag: CapsuleFrag,
}

impl WireMessage for CfragBody {
    const TAG: u16 = 0x0516;
    const MAX_ENCODED_LEN: usize = 3
        + 32
        + 10
        + <Capsule as WireMessage>::MAX_ENCODED_LEN
        + <CapsuleFrag as WireMessage>::MAX_ENCODED_LEN;
}

impl Signable for CfragBody {
    const DOMAIN: Domain = CFRAG_DOMAIN;
    const SIGNED_TAG: u16 = 0x0517;
    type Encoded = Vec<u8>;
    fn encode_payload(&self) -> Result<Vec<u8>, cpchain_core::EncodeError> {
        encode_to_vec(self)
    }
}

/// A cfrag with the proxy identity's signature under [`CFRAG_DOMAIN`] (wire tag 0x0517).
pub type CfragResponse = Signed<CfragBody>;

impl Signed<CfragBody> {
    /// Sign `body` as a proxy.
    pub fn sign(body: CfragBody, proxy: &SecretKey) -> Result<CfragResponse, SharingError> {
        Ok(Signed::sign_with(body, proxy)?.1)
    }

    /// Sign `body` and return the response with its wire encoding, built from the signed
    /// bytes: the cfrag's points are compressed once, not again when the host sends it.
    pub fn sign_to_wire(
        body: CfragBody,
        proxy: &SecretKey,
    ) -> Result<(CfragResponse, Vec<u8>), SharingError> {
        let mut bytes = encode_to_vec(&body)?;
        let signature = proxy.sign(&CFRAG_DOMAIN, &bytes);
        // Same envelope, the response's tag, then postcard of `signature` (65 raw bytes):
        // postcard encodes a struct as its fields in order, so this is the canonical
        // encoding of `CfragResponse { body, signature }`.
        let [hi, lo] = <CfragResponse as WireMessage>::TAG.to_be_bytes();
        if let Some(tag) = bytes.get_mut(1..3) {
            tag.copy_from_slice(&[hi, lo]);
        }
        bytes.extend_from_slice(&signature.to_bytes());
        if bytes.len() > <CfragResponse as WireMessage>::MAX_ENCODED_LEN {
            return Err(SharingError::Encode(cpchain_core::EncodeError::TooLarge {
                len: bytes.len(),
                max: <CfragResponse as WireMessage>::MAX_ENCODED_LEN,
            }));
        }
        Ok((CfragResponse { body, signature }, bytes))
    }

    /// The address that signed the response.
    pub fn signer(&self) -> Result<Address, SharingError> {
        Ok(self.recover_signer()?.0)
    }
}
