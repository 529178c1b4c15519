//! Interval keys (§2.2.2): "the secret key needs to be updated every encryption interval".
//!
//! Every (stream, encryption interval) pair has its own ChaCha20-Poly1305 key, derived from the
//! owner's [`MasterSecret`] with HKDF (RFC 5869) over Keccak-256
//! (`hkdf::SimpleHkdf<sha3::Keccak256>`, HMAC block size 136 bytes):
//!
//! ```text
//! PRK = HKDF-Extract(salt = KDF_SALT, IKM = master secret (32 bytes))
//! OKM = HKDF-Expand(PRK, info = purpose label ‖ 0x00 ‖ stream id (32 bytes) ‖ interval (u64 BE), L = 32)
//! ```
//!
//! with `KDF_SALT = "cpchain/storage/kdf/v1"` and, for data keys, the purpose label
//! `"cpchain/storage/interval-data-key/v1"`. The purpose label is a separate HKDF `info`
//! component so later derivations from the same master secret (the sharing feature's
//! per-interval delegating keys) are independent of data keys: add a [`KeyPurpose`] variant.
//! Binding the stream id means two streams of one owner never share a key, so a grant for one
//! stream's interval opens nothing of another stream.
//!
//! A key is published only through its [`KeyId`], a Keccak-256 commitment
//! `keccak256("cpchain/storage/key-id/v1\0" ‖ stream ‖ interval (u64 BE) ‖ key)`. The block
//! header and the key-index record carry it, so a reader holding a key can tell, before
//! decrypting, whether a block was sealed under its interval's key; the commitment reveals
//! nothing about the 256-bit key.
//!
//! Secrets are zeroized on drop and print as `<redacted>`.

use crate::ids::StreamId;
use core::fmt;
use cpchain_core::{keccak256_concat, Hash};
use cpchain_crypto::aead::AeadKey;
use cpchain_crypto::CryptoRngCore;
use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

/// HKDF salt of every derivation from a master secret.
pub const KDF_SALT: &[u8] = b"cpchain/storage/kdf/v1";

/// Prefix of the key-id commitment.
pub const KEY_ID_PREFIX: &[u8] = b"cpchain/storage/key-id/v1\0";

/// What a derived key is for; its label is part of HKDF `info`, so keys for different
/// purposes are independent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyPurpose {
    /// The ChaCha20-Poly1305 key that seals an interval's blocks.
    DataKey,
}

impl KeyPurpose {
    /// The HKDF `info` label of this purpose.
    pub const fn label(self) -> &'static [u8] {
        match self {
            KeyPurpose::DataKey => b"cpchain/storage/interval-data-key/v1",
        }
    }
}

/// The owner's root secret from which every interval key of every stream is derived.
///
/// Whoever holds it reads the owner's whole history: keep it on the owner's device or gateway
/// and hand out interval keys (or, with the sharing feature, re-encryption grants) instead.
#[derive(Clone, Zeroize, ZeroizeOnDrop, PartialEq, Eq)]
pub struct MasterSecret([u8; 32]);

impl MasterSecret {
    /// A master secret from 32 secret bytes (for example from the host's key store).
    pub fn from_bytes(bytes: [u8; 32]) -> MasterSecret {
        MasterSecret(bytes)
    }

    /// A fresh master secret from the caller's RNG.
    pub fn random(rng: &mut impl CryptoRngCore) -> MasterSecret {
        let mut b = [0u8; 32];
        rng.fill_bytes(&mut b);
        let out = MasterSecret(b);
        b.zeroize();
        out
    }

    /// The 32 secret bytes, for the host's key store.
    pub fn expose_secret(&self) -> &[u8; 32] {
        &self.0
    }

    /// 32 bytes of key material for `purpose`, `stream` and `interval` (see the module docs
    /// for the exact HKDF input).
    pub fn derive(
        &self,
        purpose: KeyPurpose,
        stream: &StreamId,
        interval: u64,
    ) -> Zeroizing<[u8; 32]> {
        let hk = hkdf::SimpleHkdf::<sha3::Keccak256>::new(Some(KDF_SALT), &self.0);
        let mut okm = Zeroizing::new([0u8; 32]);
        let interval = interval.to_be_bytes();
        let info: [&[u8]; 4] = [purpose.label(), &[0u8], &stream.0, &interval];
        // HKDF-Expand fails only when L > 255 · HashLen; L = 32 and HashLen = 32, so the
        // error branch cannot be taken. It is handled rather than unwrapped (no panics in
        // library code) by leaving the buffer as is.
        let _infallible = hk.expand_multi_info(&info, okm.as_mut());
        okm
    }

    /// The data key of `stream`'s encryption interval `interval`.
    pub fn interval_key(&self, stream: &StreamId, interval: u64) -> IntervalKey {
        let okm = self.derive(KeyPurpose::DataKey, stream, interval);
        IntervalKey::from_parts(*stream, interval, AeadKey::from_bytes(*okm))
    }
}

impl fmt::Debug for MasterSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MasterSecret(<redacted>)")
    }
}

/// The public commitment to an interval key carried by block headers and key-index records.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
pub struct KeyId(pub Hash);

impl fmt::Debug for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyId({})", self.0)
    }
}

/// The key of one encryption interval of one stream, with its position and commitment.
///
/// Zeroized on drop (through [`AeadKey`]); `Debug` shows the interval and key id only.
#[derive(Clone, PartialEq, Eq)]
pub struct IntervalKey {
    stream: StreamId,
    interval: u64,
    key: AeadKey,
    id: KeyId,
}

impl IntervalKey {
    /// An interval key from its parts, for a reader that received the key itself (for
    /// example unwrapped from a re-encryption capsule). The key id is recomputed from the key,
    /// so a wrong key shows up as a key-id mismatch against the block header.
    pub fn from_parts(stream: StreamId, interval: u64, key: AeadKey) -> IntervalKey {
        let id = key_id(&stream, interval, &key);
        IntervalKey {
            stream,
            interval,
            key,
            id,
        }
    }

    /// The stream this key belongs to.
    pub fn stream(&self) -> &StreamId {
        &self.stream
    }

    /// The encryption interval number.
    pub fn interval(&self) -> u64 {
        self.interval
    }

    /// The public commitment to the key.
    pub fn id(&self) -> KeyId {
        self.id
    }

    /// The AEAD key. Handle as a secret (the sharing feature wraps it in a capsule).
    pub fn aead_key(&self) -> &AeadKey {
        &self.key
    }
}

impl fmt::Debug for IntervalKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IntervalKey")
            .field("stream", &self.stream)
            .field("interval", &self.interval)
            .field("id", &self.id)
            .field("key", &"<redacted>")
            .finish()
    }
}

/// The commitment to `key` as the key of (`stream`, `interval`).
pub fn key_id(stream: &StreamId, interval: u64, key: &AeadKey) -> KeyId {
    KeyId(keccak256_concat(&[
        KEY_ID_PREFIX,
        &stream.0,
        &interval.to_be_bytes(),
        key.expose_secret(),
    ]))
}

/// Where a reader finds interval keys: the owner derives them from its [`MasterSecret`], a
/// grantee holds only the few intervals it was granted.
pub trait KeyRing {
    /// The key of `stream`'s interval `interval`, if this ring has it.
    fn interval_key(&self, stream: &StreamId, interval: u64) -> Option<IntervalKey>;
}

impl KeyRing for MasterSecret {
    fn interval_key(&self, stream: &StreamId, interval: u64) -> Option<IntervalKey> {
        Some(MasterSecret::interval_key(self, stream, interval))
    }
}

impl KeyRing for [IntervalKey] {
    fn interval_key(&self, stream: &StreamId, interval: u64) -> Option<IntervalKey> {
        self.iter()
            .find(|k| k.stream == *stream && k.interval == interval)
            .cloned()
    }
}

/// One key is a ring: a buyer that opened one interval reads it without building a list.
impl KeyRing for IntervalKey {
    fn interval_key(&self, stream: &StreamId, interval: u64) -> Option<IntervalKey> {
        (self.stream == *stream && self.interval == interval).then(|| self.clone())
    }
}

/// A fixed list of keys (no allocator needed).
impl<const N: usize> KeyRing for [IntervalKey; N] {
    fn interval_key(&self, stream: &StreamId, interval: u64) -> Option<IntervalKey> {
        self.as_slice().interval_key(stream, interval)
    }
}

/// The keys a buyer collected, as it collected them.
#[cfg(feature = "alloc")]
impl KeyRing for alloc::vec::Vec<IntervalKey> {
    fn interval_key(&self, stream: &StreamId, interval: u64) -> Option<IntervalKey> {
        self.as_slice().interval_key(stream, interval)
    }
}

/// A ring with no keys: verify a chain's structure without reading it (a storage node or an
/// auditor).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoKeys;

impl KeyRing for NoKeys {
    fn interval_key(&self, _: &StreamId, _: u64) -> Option<IntervalKey> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    extern crate alloc;

    #[test]
    fn derivation_binds_stream_interval_and_purpose() {
        let m = MasterSecret::from_bytes([1; 32]);
        let s1 = StreamId([2; 32]);
        let s2 = StreamId([3; 32]);
        let a = m.interval_key(&s1, 5);
        assert_eq!(a, m.interval_key(&s1, 5));
        assert_ne!(a.aead_key(), m.interval_key(&s1, 6).aead_key());
        assert_ne!(a.aead_key(), m.interval_key(&s2, 5).aead_key());
        assert_ne!(
            a.aead_key(),
            MasterSecret::from_bytes([9; 32])
                .interval_key(&s1, 5)
                .aead_key()
        );
        assert_eq!(a.id(), key_id(&s1, 5, a.aead_key()));
        assert_ne!(*m.derive(KeyPurpose::DataKey, &s1, 5), [0u8; 32]);
    }

    #[test]
    fn hkdf_matches_rfc5869_construction_by_hand() {
        // HKDF-Extract/Expand written out with HMAC-Keccak256, one output block.
        use hkdf::hmac::{Mac, SimpleHmac};
        let m = MasterSecret::from_bytes([7; 32]);
        let s = StreamId([8; 32]);
        let mut ext = SimpleHmac::<sha3::Keccak256>::new_from_slice(KDF_SALT).unwrap();
        ext.update(&[7; 32]);
        let prk = ext.finalize().into_bytes();
        let mut exp = SimpleHmac::<sha3::Keccak256>::new_from_slice(&prk).unwrap();
        exp.update(KeyPurpose::DataKey.label());
        exp.update(&[0]);
        exp.update(&[8; 32]);
        exp.update(&42u64.to_be_bytes());
        exp.update(&[1]);
        let t1 = exp.finalize().into_bytes();
        assert_eq!(&m.derive(KeyPurpose::DataKey, &s, 42)[..], &t1[..]);
    }

    #[test]
    fn debug_never_shows_secrets() {
        let m = MasterSecret::from_bytes([0xab; 32]);
        let k = m.interval_key(&StreamId([0; 32]), 1);
        let dm = alloc::format!("{m:?}");
        let dk = alloc::format!("{k:?}");
        assert!(dm.contains("redacted") && !dm.contains("ab"));
        assert!(dk.contains("redacted"));
        let raw = k.aead_key().expose_secret();
        let hex: alloc::string::String = raw.iter().map(|b| alloc::format!("{b:02x}")).collect();
        assert!(!dk.contains(&hex[..8]));
    }

    #[test]
    fn key_ring_works_for_one_key_an_array_and_a_vec() {
        let m = MasterSecret::from_bytes([7; 32]);
        let s = StreamId([8; 32]);
        let k1 = m.interval_key(&s, 1);
        let k2 = m.interval_key(&s, 2);
        fn find<R: KeyRing + ?Sized>(r: &R, s: &StreamId, i: u64) -> Option<IntervalKey> {
            r.interval_key(s, i)
        }
        assert_eq!(find(&k1, &s, 1), Some(k1.clone()));
        assert_eq!(find(&k1, &s, 2), None);
        assert_eq!(find(&k1, &StreamId([9; 32]), 1), None);
        let arr = [k1.clone(), k2.clone()];
        assert_eq!(find(&arr, &s, 2), Some(k2.clone()));
        #[cfg(feature = "alloc")]
        {
            let v = alloc::vec![k1.clone(), k2.clone()];
            assert_eq!(find(&v, &s, 1), Some(k1));
            assert_eq!(find(&v, &s, 3), None);
        }
    }
}
