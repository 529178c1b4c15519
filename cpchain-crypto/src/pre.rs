//! Umbral threshold proxy re-encryption (feature `pre`), wrapping umbral-pre 0.11.
//!
//! # Licence boundary
//! umbral-pre is **GPL-3.0-only**. This module, and every crate feature that enables it
//! (`cpchain-crypto/pre`, `cpchain-storage/pre`), is off by default: a binary built without
//! `pre` links no GPL code (CI checks `cargo tree -p cpchain-crypto --no-default-features`
//! shows no umbral-pre). A binary built with it is GPL-3.0.
//!
//! # What it is for (white paper §2.2.2)
//! A data owner encrypts an encryption interval's data once, under a symmetric
//! [`AeadKey`], and authorises many readers later. [`wrap_key`] puts that key in a
//! [`WrappedKey`] (an Umbral [`Capsule`] plus the key sealed under the capsule's secret)
//! for a *delegating* public key. [`generate_kfrags`] splits a re-encryption key for one
//! grantee into `n` [`KeyFrag`]s, any `m` of which suffice; each proxy turns the capsule
//! into a [`CapsuleFrag`] with [`reencrypt`]; the grantee verifies the cfrags and, with `m`
//! of them, opens the wrapped key ([`WrappedKey::open_reencrypted`]). No proxy ever sees
//! the key, and fewer than `m` proxies learn nothing.
//!
//! A kfrag re-encrypts **every** capsule made under its delegating key. The data layer
//! therefore gives each encryption interval its own delegating key pair (see
//! `cpchain_storage::sharing`), so a grant is limited to the intervals it names.
//!
//! # Keys
//! umbral-pre does not import raw scalars, so an Umbral secret key is always defined by a
//! 32-byte seed ([`PreSecretKey::from_seed`]): `umbral SecretKeyFactory(seed)
//! .make_key("cpchain/pre/key/v1")`. [`PreSecretKey::derive`] first derives that seed with
//! HKDF over Keccak-256 (`hkdf::SimpleHkdf<sha3::Keccak256>`, salt and info chosen by the
//! caller), so keys can be recomputed from one master secret rather than stored.
//!
//! # Wire format
//! [`Capsule`] (tag `0x0501`), [`KeyFrag`] (`0x0502`), [`CapsuleFrag`] (`0x0503`) and
//! [`WrappedKey`] (`0x0504`) implement [`WireMessage`]: postcard through umbral-pre's serde,
//! decoded canonically by [`cpchain_core::encoding::decode`]. Decoding checks what
//! umbral-pre checks (points on the curve, scalars in range, the capsule's own proof) and
//! refuses a kfrag whose embedded scheme parameter is not the standard one. Verification
//! against keys ([`KeyFrag::verify`], [`CapsuleFrag::verify`]) is a separate, explicit step:
//! only the `Verified*` types can be used to re-encrypt or to open.

use crate::aead::AeadKey;
use crate::CryptoError;
use alloc::vec::Vec;
use core::fmt;
use cpchain_core::WireMessage;
use rand_core::CryptoRngCore;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use zeroize::{Zeroize, Zeroizing};

/// Bytes of a [`WrappedKey`]'s ciphertext: umbral-pre's XChaCha20-Poly1305 DEM writes a
/// 24-byte nonce, the 32-byte key and a 16-byte tag.
pub const WRAPPED_KEY_CIPHERTEXT_LEN: usize = 24 + 32 + 16;

/// Most kfrags (proxies) one grant may have: kfrag indices travel as `u8`.
pub const MAX_SHARES: u8 = u8::MAX;

/// Label of the Umbral key factory step: fixes how a seed becomes a key in this SDK.
const KEY_LABEL: &[u8] = b"cpchain/pre/key/v1";

/// An Umbral secret key: a delegating key (owner side) or a receiving key (grantee side).
///
/// Zeroized on drop (umbral-pre's key is `ZeroizeOnDrop`); `Debug` never shows it.
#[derive(Clone)]
pub struct PreSecretKey(umbral_pre::SecretKey);

impl PreSecretKey {
    /// The key defined by a 32-byte secret seed. The seed is the key's storage form: keep
    /// it as secret as the key.
    /// (umbral-pre refuses only a seed of the wrong length, which the type rules out.)
    pub fn from_seed(seed: &[u8; 32]) -> Result<PreSecretKey, CryptoError> {
        umbral_pre::SecretKeyFactory::from_secure_randomness(seed)
            .map(|factory| PreSecretKey(factory.make_key(KEY_LABEL)))
            .map_err(|_| CryptoError::InvalidSecretKey)
    }

    /// A fresh key from the caller's RNG; returns the seed too, for the host's key store.
    pub fn random(
        rng: &mut impl CryptoRngCore,
    ) -> Result<(PreSecretKey, Zeroizing<[u8; 32]>), CryptoError> {
        let mut seed = Zeroizing::new([0u8; 32]);
        rng.fill_bytes(seed.as_mut());
        Ok((PreSecretKey::from_seed(&seed)?, seed))
    }

    /// A key derived from a master secret: seed = HKDF-Keccak256(salt, ikm, info) → 32 bytes,
    /// then [`from_seed`](Self::from_seed). Different `(salt, info)` give independent keys.
    pub fn derive(ikm: &[u8], salt: &[u8], info: &[&[u8]]) -> Result<PreSecretKey, CryptoError> {
        PreSecretKey::from_seed(&hkdf_keccak256(ikm, salt, info))
    }

    /// The matching public key.
    ///
    /// Computed with k256's fixed-base multiplication (precomputed tables under `std`)
    /// rather than umbral-pre's, which multiplies the generator with its generic
    /// variable-base routine: about half the cost, which owners pay once per interval
    /// for every grant and wrapped key. The point is the same (test
    /// `fast_public_key_is_umbrals`).
    pub fn public_key(&self) -> PrePublicKey {
        self.fast_public_key()
            .unwrap_or_else(|| PrePublicKey::new(self.0.public_key()))
    }

    fn fast_public_key(&self) -> Option<PrePublicKey> {
        use k256::elliptic_curve::ops::MulByGenerator;
        use k256::elliptic_curve::sec1::ToEncodedPoint;
        let secret = self.0.to_be_bytes();
        // k256's SecretKey zeroizes its scalar on drop; `secret` is a SecretBox.
        let sk = k256::SecretKey::from_slice(secret.as_secret().as_slice()).ok()?;
        let point = k256::ProjectivePoint::mul_by_generator(sk.to_nonzero_scalar().as_ref());
        let encoded = point.to_affine().to_encoded_point(true);
        let compressed: [u8; 33] = encoded.as_bytes().try_into().ok()?;
        PrePublicKey::from_compressed(&compressed).ok()
    }
}

impl fmt::Debug for PreSecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PreSecretKey(<redacted>)")
    }
}

/// HKDF over Keccak-256 with `info` given in parts (concatenated): the SDK's documented KDF.
pub fn hkdf_keccak256(ikm: &[u8], salt: &[u8], info: &[&[u8]]) -> Zeroizing<[u8; 32]> {
    let hk = hkdf::SimpleHkdf::<sha3::Keccak256>::new(Some(salt), ikm);
    let mut okm = Zeroizing::new([0u8; 32]);
    // 32 bytes is far below HKDF's 255 × 32 limit, so expand cannot fail.
    if hk.expand_multi_info(info, okm.as_mut()).is_err() {
        okm.zeroize();
    }
    okm
}

/// An Umbral public key (secp256k1), 33 bytes compressed on the wire.
///
/// The compressed form is kept beside the point: compressing needs a field inversion, and
/// grants encode, hash and compare these keys often.
#[derive(Clone, Copy)]
pub struct PrePublicKey {
    key: umbral_pre::PublicKey,
    compressed: [u8; 33],
}

impl PartialEq for PrePublicKey {
    fn eq(&self, other: &Self) -> bool {
        // The compressed form is a bijection of the point.
        self.compressed == other.compressed
    }
}

impl Eq for PrePublicKey {}

impl PrePublicKey {
    fn new(key: umbral_pre::PublicKey) -> PrePublicKey {
        let mut compressed = [0u8; 33];
        for (dst, src) in compressed.iter_mut().zip(key.to_compressed_bytes().iter()) {
            *dst = *src;
        }
        PrePublicKey { key, compressed }
    }

    /// Parse a 33-byte compressed SEC1 point.
    pub fn from_compressed(bytes: &[u8; 33]) -> Result<PrePublicKey, CryptoError> {
        umbral_pre::PublicKey::try_from_compressed_bytes(bytes)
            .map(|key| PrePublicKey {
                key,
                compressed: *bytes,
            })
            .map_err(|_| CryptoError::InvalidPublicKey)
    }

    /// The 33-byte compressed SEC1 form.
    pub fn to_compressed(&self) -> [u8; 33] {
        self.compressed
    }
}

impl PartialOrd for PrePublicKey {
    fn partial_cmp(&self, other: &Self) -> Option<core::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for PrePublicKey {
    fn cmp(&self, other: &Self) -> core::cmp::Ordering {
        self.compressed.cmp(&other.compressed)
    }
}

impl fmt::Debug for PrePublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PrePublicKey(0x")?;
        for b in self.compressed.iter().take(8) {
            write!(f, "{b:02x}")?;
        }
        f.write_str("…)")
    }
}

impl Serialize for PrePublicKey {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        cpchain_core::fixed_bytes::serialize(&self.compressed, s)
    }
}

impl<'de> Deserialize<'de> for PrePublicKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let bytes: [u8; 33] = cpchain_core::fixed_bytes::deserialize(d)?;
        PrePublicKey::from_compressed(&bytes)
            .map_err(|_| serde::de::Error::custom("invalid Umbral public key"))
    }
}

/// Signs kfrags, so proxies and grantees can check they come from the owner. Its public key
/// ([`verifying_key`](Self::verifying_key)) is published in the owner's signed grant.
#[derive(Clone)]
pub struct KfragSigner(umbral_pre::Signer);

impl KfragSigner {
    /// A signer over `key`.
    pub fn new(key: &PreSecretKey) -> KfragSigner {
        KfragSigner(umbral_pre::Signer::new(key.0.clone()))
    }

    /// The key that verifies this signer's kfrags.
    pub fn verifying_key(&self) -> PrePublicKey {
        PrePublicKey::new(self.0.verifying_key())
    }
}

impl fmt::Debug for KfragSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("KfragSigner")
            .field(&self.verifying_key())
            .finish()
    }
}

/// The Umbral key-encapsulation header: safe to publish, useless without the delegating
/// secret key or `m` cfrags.
#[derive(Clone, PartialEq, Serialize)]
#[serde(transparent)]
pub struct Capsule(umbral_pre::Capsule);

impl<'de> Deserialize<'de> for Capsule {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // point_e, point_v, signature.
        let raw = RawFields::<3, 0>::deserialize(d)?;
        raw.into_umbral()
            .map(Capsule)
            .map_err(serde::de::Error::custom)
    }
}

impl fmt::Debug for Capsule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl WireMessage for Capsule {
    const TAG: u16 = 0x0501;
    const MAX_ENCODED_LEN: usize = 128;
}

/// umbral-pre 0.11 decodes the SEC1 identity point (the single byte `0x00`) as a valid curve
/// point and then panics when it hashes it (`to_compressed_array` expects 33 bytes); the
/// `sharing_decode` fuzz target found this with a capsule. Every field of umbral's serialized
/// `Capsule`, `CapsuleFrag` and `KeyFrag` is a byte string (a kfrag ends with two flags), so
/// the SDK reads those fields itself first, refuses the identity encoding, and only then hands
/// the bytes to umbral-pre. Untrusted bytes therefore never reach the panicking path.
#[derive(Serialize, Deserialize)]
struct RawFields<const N: usize, const FLAGS: usize> {
    #[serde(with = "raw_fields")]
    fields: [Vec<u8>; N],
    #[serde(with = "raw_flags")]
    flags: [bool; FLAGS],
}

impl<const N: usize, const FLAGS: usize> RawFields<N, FLAGS> {
    fn into_umbral<T: serde::de::DeserializeOwned>(self) -> Result<T, &'static str> {
        if self.fields.iter().any(|f| f.as_slice() == [0u8]) {
            return Err("the identity point is not a valid Umbral point");
        }
        let mut buf = [0u8; 512];
        let bytes = postcard::to_slice(&self, &mut buf).map_err(|_| "Umbral object too large")?;
        postcard::from_bytes(bytes).map_err(|_| "malformed Umbral object")
    }
}

/// Serde for `[Vec<u8>; N]` as N consecutive byte strings (postcard: varint length ‖ bytes,
/// the same bytes as umbral-pre's own encoding of points, scalars and signatures).
mod raw_fields {
    use alloc::vec::Vec;
    use serde::de::{Error, SeqAccess, Visitor};
    use serde::ser::SerializeTuple;
    use serde::{Deserializer, Serializer};

    pub fn serialize<S: Serializer, const N: usize>(
        v: &[Vec<u8>; N],
        s: S,
    ) -> Result<S::Ok, S::Error> {
        let mut t = s.serialize_tuple(N)?;
        for f in v {
            t.serialize_element(f.as_slice())?;
        }
        t.end()
    }

    pub fn deserialize<'de, D: Deserializer<'de>, const N: usize>(
        d: D,
    ) -> Result<[Vec<u8>; N], D::Error> {
        struct V<const N: usize>;
        impl<'de, const N: usize> Visitor<'de> for V<N> {
            type Value = [Vec<u8>; N];
            fn expecting(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                write!(f, "{N} byte strings")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut out: [Vec<u8>; N] = core::array::from_fn(|_| Vec::new());
                for (i, slot) in out.iter_mut().enumerate() {
                    let bytes: Bytes = seq
                        .next_element()?
                        .ok_or_else(|| A::Error::invalid_length(i, &self))?;
                    *slot = bytes.0;
                }
                Ok(out)
            }
        }
        d.deserialize_tuple(N, V::<N>)
    }

    /// One byte string, accepted as serde bytes (postcard's form) or a sequence.
    struct Bytes(Vec<u8>);

    impl<'de> serde::Deserialize<'de> for Bytes {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct B;
            impl<'de> Visitor<'de> for B {
                type Value = Bytes;
                fn expecting(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                    f.write_str("a byte string")
                }
                fn visit_bytes<E: Error>(self, v: &[u8]) -> Result<Bytes, E> {
                    Ok(Bytes(v.to_vec()))
                }
                fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Bytes, A::Error> {
                    let mut v = Vec::new();
                    while let Some(b) = seq.next_element::<u8>()? {
                        if v.len() >= 256 {
                            return Err(A::Error::custom("byte string too long"));
                        }
                        v.push(b);
                    }
                    Ok(Bytes(v))
                }
            }
            d.deserialize_bytes(B)
        }
    }
}

/// Serde for `[bool; N]` as N consecutive bools.
mod raw_flags {
    use serde::de::{Error, SeqAccess, Visitor};
    use serde::ser::SerializeTuple;
    use serde::{Deserializer, Serializer};

    pub fn serialize<S: Serializer, const N: usize>(
        v: &[bool; N],
        s: S,
    ) -> Result<S::Ok, S::Error> {
        let mut t = s.serialize_tuple(N)?;
        for f in v {
            t.serialize_element(f)?;
        }
        t.end()
    }

    pub fn deserialize<'de, D: Deserializer<'de>, const N: usize>(
        d: D,
    ) -> Result<[bool; N], D::Error> {
        struct V<const N: usize>;
        impl<'de, const N: usize> Visitor<'de> for V<N> {
            type Value = [bool; N];
            fn expecting(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                write!(f, "{N} flags")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut out = [false; N];
                for (i, slot) in out.iter_mut().enumerate() {
                    *slot = seq
                        .next_element()?
                        .ok_or_else(|| A::Error::invalid_length(i, &self))?;
                }
                Ok(out)
            }
        }
        d.deserialize_tuple(N, V::<N>)
    }
}

/// A wrapped interval key: the capsule and the AEAD key sealed under the capsule's secret.
/// This is what the key-index record carries for an encryption interval.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct WrappedKey {
    capsule: Capsule,
    #[serde(with = "cpchain_core::fixed_bytes")]
    ciphertext: [u8; WRAPPED_KEY_CIPHERTEXT_LEN],
}

impl fmt::Debug for WrappedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WrappedKey")
            .field("capsule", &self.capsule)
            .finish_non_exhaustive()
    }
}

impl WireMessage for WrappedKey {
    const TAG: u16 = 0x0504;
    const MAX_ENCODED_LEN: usize = 192;
}

/// Wrap `key` for `delegating`: only the delegating secret key, or `m` cfrags from kfrags
/// of that key, can unwrap it.
pub fn wrap_key(
    rng: &mut impl CryptoRngCore,
    delegating: &PrePublicKey,
    key: &AeadKey,
) -> Result<WrappedKey, CryptoError> {
    let (capsule, ct) = umbral_pre::encrypt_with_rng(rng, &delegating.key, key.expose_secret())
        .map_err(|_| CryptoError::BufferFull)?;
    let ciphertext: [u8; WRAPPED_KEY_CIPHERTEXT_LEN] = ct
        .as_ref()
        .try_into()
        .map_err(|_| CryptoError::BufferFull)?;
    Ok(WrappedKey {
        capsule: Capsule(capsule),
        ciphertext,
    })
}

impl WrappedKey {
    /// The capsule that proxies re-encrypt.
    pub fn capsule(&self) -> &Capsule {
        &self.capsule
    }

    /// Unwrap with the delegating secret key: the owner's own path.
    pub fn open_original(&self, delegating: &PreSecretKey) -> Result<AeadKey, CryptoError> {
        let pt = umbral_pre::decrypt_original(&delegating.0, &self.capsule.0, self.ciphertext)
            .map_err(|_| CryptoError::OpenFailed)?;
        key_from_plaintext(pt)
    }

    /// Unwrap as the grantee with verified cfrags of this capsule. Fails with
    /// [`CryptoError::CapsuleOpenFailed`] with fewer than the threshold, mixed grants or
    /// cfrags of another capsule, and [`CryptoError::OpenFailed`] if the sealed key does not
    /// authenticate.
    pub fn open_reencrypted(
        &self,
        receiving: &PreSecretKey,
        delegating: &PrePublicKey,
        cfrags: &[VerifiedCapsuleFrag],
    ) -> Result<AeadKey, CryptoError> {
        let pt = umbral_pre::decrypt_reencrypted(
            &receiving.0,
            &delegating.key,
            &self.capsule.0,
            cfrags.iter().map(|c| c.0.clone()),
            self.ciphertext,
        )
        .map_err(|e| match e {
            umbral_pre::ReencryptionError::OnOpen(_) => CryptoError::CapsuleOpenFailed,
            umbral_pre::ReencryptionError::OnDecryption(_) => CryptoError::OpenFailed,
        })?;
        key_from_plaintext(pt)
    }
}

fn key_from_plaintext(mut pt: alloc::boxed::Box<[u8]>) -> Result<AeadKey, CryptoError> {
    let mut bytes = Zeroizing::new([0u8; 32]);
    let ok = pt.len() == 32;
    for (dst, src) in bytes.iter_mut().zip(pt.iter()) {
        *dst = *src;
    }
    pt.as_mut().zeroize();
    if ok {
        Ok(AeadKey::from_bytes(*bytes))
    } else {
        Err(CryptoError::OpenFailed)
    }
}

/// A key fragment as received from the network: not yet checked against any key.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "RawFields<7, 2>", into = "umbral_pre::KeyFrag")]
pub struct KeyFrag(umbral_pre::KeyFrag);

impl TryFrom<RawFields<7, 2>> for KeyFrag {
    type Error = &'static str;

    fn try_from(raw: RawFields<7, 2>) -> Result<Self, Self::Error> {
        // params.u, id, key, precursor, then the proof: commitment, signature_for_proxy,
        // signature_for_receiver, and its two flags.
        KeyFrag::try_from(raw.into_umbral::<umbral_pre::KeyFrag>()?)
    }
}

impl fmt::Debug for KeyFrag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl From<KeyFrag> for umbral_pre::KeyFrag {
    fn from(k: KeyFrag) -> Self {
        k.0
    }
}

/// Postcard bytes of umbral-pre's standard parameters, which every serialized kfrag starts
/// with (the kfrag carries its own copy of the scheme parameter `u`).
fn standard_params_prefix(buf: &mut [u8; 40]) -> Option<&[u8]> {
    postcard::to_slice(&umbral_pre::Parameters::new(), buf)
        .ok()
        .map(|s| &*s)
}

impl TryFrom<umbral_pre::KeyFrag> for KeyFrag {
    type Error = &'static str;

    fn try_from(k: umbral_pre::KeyFrag) -> Result<Self, Self::Error> {
        // A kfrag embeds the scheme parameter `u`; one with a foreign `u` would verify
        // against itself yet re-encrypt wrongly. Accept only the standard parameter.
        let mut params = [0u8; 40];
        let mut body = [0u8; 512];
        let prefix = standard_params_prefix(&mut params).ok_or("parameters")?;
        let bytes = postcard::to_slice(&k, &mut body).map_err(|_| "kfrag too large")?;
        if bytes.starts_with(prefix) {
            Ok(KeyFrag(k))
        } else {
            Err("kfrag with non-standard parameters")
        }
    }
}

impl WireMessage for KeyFrag {
    const TAG: u16 = 0x0502;
    const MAX_ENCODED_LEN: usize = 384;
}

impl KeyFrag {
    /// Check the kfrag was made by `signer` for exactly this delegating and receiving key;
    /// a proxy does this on receipt and never re-encrypts with an unverified kfrag.
    pub fn verify(
        &self,
        signer: &PrePublicKey,
        delegating: &PrePublicKey,
        receiving: &PrePublicKey,
    ) -> Result<VerifiedKeyFrag, CryptoError> {
        self.0
            .clone()
            .verify(&signer.key, Some(&delegating.key), Some(&receiving.key))
            .map(VerifiedKeyFrag)
            .map_err(|_| CryptoError::KfragInvalid)
    }
}

/// A kfrag that passed [`KeyFrag::verify`] (or was just generated by the owner).
#[derive(Clone, PartialEq)]
pub struct VerifiedKeyFrag(umbral_pre::VerifiedKeyFrag);

impl VerifiedKeyFrag {
    /// The wire form, for sending to its proxy.
    pub fn to_unverified(&self) -> KeyFrag {
        KeyFrag(self.0.clone().unverify())
    }
}

impl fmt::Debug for VerifiedKeyFrag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Make `shares` kfrags of `delegating` for `receiving`, any `threshold` of which open a
/// capsule made under `delegating`. Both keys are signed into every kfrag, so a kfrag
/// cannot be presented as belonging to another delegation.
pub fn generate_kfrags(
    rng: &mut impl CryptoRngCore,
    delegating: &PreSecretKey,
    receiving: &PrePublicKey,
    signer: &KfragSigner,
    threshold: u8,
    shares: u8,
) -> Result<Vec<VerifiedKeyFrag>, CryptoError> {
    if threshold == 0 || threshold > shares {
        return Err(CryptoError::InvalidThreshold);
    }
    let kfrags = umbral_pre::generate_kfrags_with_rng(
        rng,
        &delegating.0,
        &receiving.key,
        &signer.0,
        usize::from(threshold),
        usize::from(shares),
        true,
        true,
    );
    Ok(kfrags.into_vec().into_iter().map(VerifiedKeyFrag).collect())
}

/// Re-encrypt `capsule` with a verified kfrag: the proxy's one operation.
pub fn reencrypt(
    rng: &mut impl CryptoRngCore,
    capsule: &Capsule,
    kfrag: &VerifiedKeyFrag,
) -> VerifiedCapsuleFrag {
    VerifiedCapsuleFrag(umbral_pre::reencrypt_with_rng(
        rng,
        &capsule.0,
        kfrag.0.clone(),
    ))
}

/// A capsule fragment as received from a proxy: not yet checked.
#[derive(Clone, PartialEq, Serialize)]
#[serde(transparent)]
pub struct CapsuleFrag(umbral_pre::CapsuleFrag);

impl<'de> Deserialize<'de> for CapsuleFrag {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // point_e1, point_v1, kfrag_id, precursor, then the proof: point_e2, point_v2,
        // kfrag_commitment, kfrag_pok, signature, kfrag_signature.
        let raw = RawFields::<10, 0>::deserialize(d)?;
        raw.into_umbral()
            .map(CapsuleFrag)
            .map_err(serde::de::Error::custom)
    }
}

impl fmt::Debug for CapsuleFrag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl WireMessage for CapsuleFrag {
    const TAG: u16 = 0x0503;
    const MAX_ENCODED_LEN: usize = 448;
}

impl CapsuleFrag {
    /// The id of the kfrag this cfrag was made with: two cfrags with one id are one share,
    /// so a grantee counts distinct ids towards the threshold (a proxy replaying another
    /// proxy's cfrag adds nothing). Read from the serialized form (umbral-pre has no
    /// accessor): postcard writes `e1` and `v1` (1 + 33 bytes each) then the 32-byte id.
    pub fn kfrag_id(&self) -> Option<[u8; 32]> {
        let mut buf = [0u8; 512];
        let bytes = postcard::to_slice(&self.0, &mut buf).ok()?;
        let (len, id) = bytes.get(68..)?.split_first()?;
        if *len != 32 {
            return None;
        }
        id.get(..32)?.try_into().ok()
    }

    /// Check the cfrag is a correct re-encryption of `capsule` by a kfrag that `signer` made
    /// for this delegating and receiving key. A grantee opens only with verified cfrags.
    pub fn verify(
        &self,
        capsule: &Capsule,
        signer: &PrePublicKey,
        delegating: &PrePublicKey,
        receiving: &PrePublicKey,
    ) -> Result<VerifiedCapsuleFrag, CryptoError> {
        self.0
            .clone()
            .verify(&capsule.0, &signer.key, &delegating.key, &receiving.key)
            .map(VerifiedCapsuleFrag)
            .map_err(|_| CryptoError::CfragInvalid)
    }
}

/// A cfrag that passed [`CapsuleFrag::verify`] (or was just made by [`reencrypt`]).
#[derive(Clone, PartialEq)]
pub struct VerifiedCapsuleFrag(umbral_pre::VerifiedCapsuleFrag);

impl VerifiedCapsuleFrag {
    /// See [`CapsuleFrag::kfrag_id`].
    pub fn kfrag_id(&self) -> Option<[u8; 32]> {
        self.to_unverified().kfrag_id()
    }

    /// The wire form, for sending to the grantee.
    pub fn to_unverified(&self) -> CapsuleFrag {
        CapsuleFrag(self.0.clone().unverify())
    }
}

impl fmt::Debug for VerifiedCapsuleFrag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// The raw umbral-pre types, for benchmarks and interop that need to compare against or
/// hand over to umbral-pre directly.
pub mod raw {
    pub use umbral_pre::{
        decrypt_reencrypted, encrypt_with_rng, generate_kfrags_with_rng, reencrypt_with_rng,
        Capsule, CapsuleFrag, KeyFrag, PublicKey, SecretKey, SecretKeyFactory, Signer,
        VerifiedCapsuleFrag, VerifiedKeyFrag,
    };

    /// The umbral-pre secret key inside a [`super::PreSecretKey`].
    pub fn secret_key(k: &super::PreSecretKey) -> &SecretKey {
        &k.0
    }
    /// The umbral-pre public key inside a [`super::PrePublicKey`].
    pub fn public_key(k: &super::PrePublicKey) -> &PublicKey {
        &k.key
    }
    /// The umbral-pre signer inside a [`super::KfragSigner`].
    pub fn signer(s: &super::KfragSigner) -> &Signer {
        &s.0
    }
    /// The umbral-pre capsule inside a [`super::Capsule`].
    pub fn capsule(c: &super::Capsule) -> &Capsule {
        &c.0
    }
    /// The umbral-pre verified kfrag inside a [`super::VerifiedKeyFrag`].
    pub fn verified_kfrag(k: &super::VerifiedKeyFrag) -> &VerifiedKeyFrag {
        &k.0
    }
    /// The umbral-pre cfrag inside a [`super::CapsuleFrag`].
    pub fn cfrag(c: &super::CapsuleFrag) -> &CapsuleFrag {
        &c.0
    }
    /// The umbral-pre verified cfrag inside a [`super::VerifiedCapsuleFrag`].
    pub fn verified_cfrag(c: &super::VerifiedCapsuleFrag) -> &VerifiedCapsuleFrag {
        &c.0
    }
    /// The DEM ciphertext inside a [`super::WrappedKey`].
    pub fn wrapped_ciphertext(w: &super::WrappedKey) -> &[u8] {
        &w.ciphertext
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cpchain_core::encoding;
    use rand_chacha::rand_core::SeedableRng;
    use rand_chacha::ChaCha20Rng;

    fn rng() -> ChaCha20Rng {
        ChaCha20Rng::from_seed([7; 32])
    }

    #[test]
    fn fast_public_key_is_umbrals() {
        let mut rng = rng();
        for _ in 0..64 {
            let (k, _) = PreSecretKey::random(&mut rng).unwrap();
            let fast = k.fast_public_key().unwrap();
            let umbral = PrePublicKey::new(k.0.public_key());
            assert_eq!(fast, umbral);
            assert_eq!(fast.key, umbral.key);
            assert_eq!(k.public_key(), umbral);
        }
    }

    #[test]
    fn seed_and_kdf_are_deterministic_and_separated() {
        let a = PreSecretKey::from_seed(&[1; 32]).unwrap().public_key();
        assert_eq!(a, PreSecretKey::from_seed(&[1; 32]).unwrap().public_key());
        assert_ne!(a, PreSecretKey::from_seed(&[2; 32]).unwrap().public_key());
        let d1 = PreSecretKey::derive(b"master", b"salt/a", &[b"x", &1u64.to_be_bytes()]).unwrap();
        let d2 = PreSecretKey::derive(b"master", b"salt/a", &[b"x", &2u64.to_be_bytes()]).unwrap();
        let d3 = PreSecretKey::derive(b"master", b"salt/b", &[b"x", &1u64.to_be_bytes()]).unwrap();
        assert_ne!(d1.public_key(), d2.public_key());
        assert_ne!(d1.public_key(), d3.public_key());
        assert!(alloc::format!("{d1:?}").contains("redacted"));
    }

    #[test]
    fn threshold_round_trip_through_the_wire() {
        let mut rng = rng();
        let (owner, _) = PreSecretKey::random(&mut rng).unwrap();
        let (bob, _) = PreSecretKey::random(&mut rng).unwrap();
        let (signer_key, _) = PreSecretKey::random(&mut rng).unwrap();
        let signer = KfragSigner::new(&signer_key);
        let key = AeadKey::from_bytes([9; 32]);
        let wrapped = wrap_key(&mut rng, &owner.public_key(), &key).unwrap();
        assert_eq!(wrapped.open_original(&owner).unwrap(), key);
        let wbytes = encoding::encode_to_vec(&wrapped).unwrap();
        let wrapped: WrappedKey = encoding::decode(&wbytes).unwrap();

        let kfrags = generate_kfrags(&mut rng, &owner, &bob.public_key(), &signer, 2, 3).unwrap();
        let mut cfrags = Vec::new();
        for k in &kfrags {
            let bytes = encoding::encode_to_vec(&k.to_unverified()).unwrap();
            let k: KeyFrag = encoding::decode(&bytes).unwrap();
            let vk = k
                .verify(
                    &signer.verifying_key(),
                    &owner.public_key(),
                    &bob.public_key(),
                )
                .unwrap();
            let c = reencrypt(&mut rng, wrapped.capsule(), &vk);
            let bytes = encoding::encode_to_vec(&c.to_unverified()).unwrap();
            let c: CapsuleFrag = encoding::decode(&bytes).unwrap();
            cfrags.push(
                c.verify(
                    wrapped.capsule(),
                    &signer.verifying_key(),
                    &owner.public_key(),
                    &bob.public_key(),
                )
                .unwrap(),
            );
        }
        let ids: Vec<_> = cfrags.iter().map(|c| c.kfrag_id().unwrap()).collect();
        assert!(ids[0] != ids[1] && ids[1] != ids[2] && ids[0] != ids[2]);
        let again = reencrypt(&mut rng, wrapped.capsule(), &kfrags[0]);
        assert_eq!(again.kfrag_id(), Some(ids[0]));
        let opened = wrapped
            .open_reencrypted(&bob, &owner.public_key(), &cfrags[..2])
            .unwrap();
        assert_eq!(opened, key);
        assert_eq!(
            wrapped.open_reencrypted(&bob, &owner.public_key(), &cfrags[..1]),
            Err(CryptoError::CapsuleOpenFailed)
        );
        assert_eq!(
            generate_kfrags(&mut rng, &owner, &bob.public_key(), &signer, 3, 2).unwrap_err(),
            CryptoError::InvalidThreshold
        );
    }

    #[test]
    fn kfrag_for_wrong_keys_is_refused() {
        let mut rng = rng();
        let (owner, _) = PreSecretKey::random(&mut rng).unwrap();
        let (other, _) = PreSecretKey::random(&mut rng).unwrap();
        let (bob, _) = PreSecretKey::random(&mut rng).unwrap();
        let signer = KfragSigner::new(&PreSecretKey::random(&mut rng).unwrap().0);
        let k = generate_kfrags(&mut rng, &owner, &bob.public_key(), &signer, 1, 1).unwrap();
        let k = k[0].to_unverified();
        let vk = signer.verifying_key();
        assert!(k
            .verify(&vk, &other.public_key(), &bob.public_key())
            .is_err());
        assert!(k
            .verify(&vk, &owner.public_key(), &other.public_key())
            .is_err());
        assert!(k
            .verify(&owner.public_key(), &owner.public_key(), &bob.public_key())
            .is_err());
    }

    #[test]
    fn kfrag_with_foreign_parameter_is_refused() {
        let mut rng = rng();
        let (owner, _) = PreSecretKey::random(&mut rng).unwrap();
        let signer = KfragSigner::new(&owner);
        let k = generate_kfrags(&mut rng, &owner, &owner.public_key(), &signer, 1, 1).unwrap();
        let mut bytes = encoding::encode_to_vec(&k[0].to_unverified()).unwrap();
        // body starts with the parameter point (len 33 then the point); swap in G.
        let g = k256::ProjectivePoint::GENERATOR.to_affine();
        let g = k256::elliptic_curve::sec1::ToEncodedPoint::to_encoded_point(&g, true);
        bytes[encoding::HEADER_LEN + 1..encoding::HEADER_LEN + 34].copy_from_slice(g.as_bytes());
        assert!(encoding::decode::<KeyFrag>(&bytes).is_err());
    }

    #[test]
    fn identity_points_are_refused_not_a_panic() {
        // umbral-pre 0.11 panics hashing an identity point it decoded; the SDK must refuse
        // one in any field of a capsule, a cfrag or a kfrag (found by `sharing_decode`).
        let mut rng = rng();
        let (owner, _) = PreSecretKey::random(&mut rng).unwrap();
        let (bob, _) = PreSecretKey::random(&mut rng).unwrap();
        let (signer_key, _) = PreSecretKey::random(&mut rng).unwrap();
        let signer = KfragSigner::new(&signer_key);
        let wrapped =
            wrap_key(&mut rng, &owner.public_key(), &AeadKey::from_bytes([9; 32])).unwrap();
        let kfrags = generate_kfrags(&mut rng, &owner, &bob.public_key(), &signer, 2, 3).unwrap();
        let cfrag = reencrypt(&mut rng, wrapped.capsule(), &kfrags[0]).to_unverified();
        let kfrag = kfrags[0].to_unverified();

        /// Replace the `index`-th byte string of the body with the identity encoding.
        fn with_identity_at(bytes: &[u8], index: usize) -> alloc::vec::Vec<u8> {
            let mut out = bytes[..encoding::HEADER_LEN].to_vec();
            let mut pos = encoding::HEADER_LEN;
            let mut field = 0;
            while pos < bytes.len() {
                let len = usize::from(bytes[pos]);
                assert!(len < 0x80, "one-byte varint lengths in these objects");
                if field == index {
                    out.extend_from_slice(&[1, 0]);
                } else {
                    out.extend_from_slice(&bytes[pos..pos + 1 + len]);
                }
                pos += 1 + len;
                field += 1;
                if field == 7 && bytes.len() - pos == 2 {
                    // a kfrag's two trailing flags
                    out.extend_from_slice(&bytes[pos..]);
                    break;
                }
            }
            out
        }

        let cb = encoding::encode_to_vec(wrapped.capsule()).unwrap();
        for i in 0..2 {
            assert!(encoding::decode::<Capsule>(&with_identity_at(&cb, i)).is_err());
        }
        let fb = encoding::encode_to_vec(&cfrag).unwrap();
        for i in [0, 1, 3, 4, 5, 6, 7] {
            assert!(encoding::decode::<CapsuleFrag>(&with_identity_at(&fb, i)).is_err());
        }
        let kb = encoding::encode_to_vec(&kfrag).unwrap();
        for i in [0, 3, 4] {
            assert!(encoding::decode::<KeyFrag>(&with_identity_at(&kb, i)).is_err());
        }
        // The untouched objects still decode.
        assert!(encoding::decode::<Capsule>(&cb).is_ok());
        assert!(encoding::decode::<CapsuleFrag>(&fb).is_ok());
        assert!(encoding::decode::<KeyFrag>(&kb).is_ok());
    }
}
