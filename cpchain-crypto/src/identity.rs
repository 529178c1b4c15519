//! Ethereum/CPChain-compatible secp256k1 identities.

// The host-only libsecp256k1 recovery backend and the simulators' verification cache live
// under this module: both return or store its types while it calls them.
#[cfg(feature = "libsecp256k1")]
mod libsecp;
#[cfg(feature = "std")]
pub mod verify_cache;

use crate::CryptoError;
use core::fmt;
use cpchain_core::encoding::{signing_digest, Domain};
use cpchain_core::{keccak256, Address, Hash};
use k256::ecdsa::hazmat::SignPrimitive;
use k256::ecdsa::{self, RecoveryId, SigningKey, VerifyingKey};
use k256::elliptic_curve::ops::{Invert, LinearCombination, Reduce};
use k256::elliptic_curve::point::{AffineCoordinates, DecompressPoint};
use k256::elliptic_curve::subtle::Choice;
use k256::elliptic_curve::PrimeField;
use k256::{AffinePoint, ProjectivePoint, Scalar, U256};
use rand_core::CryptoRngCore;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The RFC 6979 nonce of secret scalar `d` for field element `z` with additional data
/// `extra`, exactly as k256's signing derives it (HMAC-DRBG over SHA-256). Never inlined:
/// see [`SecretKey::sign_ecdsa_with`]. The copy of `d` is wiped; `None` cannot happen
/// (RFC 6979 only returns scalars in [1, n)), but is not a panic path either.
#[cfg(not(feature = "insecure-test-crypto"))]
#[inline(never)]
fn rfc6979_nonce(d: &Scalar, z: &k256::FieldBytes, extra: &[u8]) -> Option<Scalar> {
    use k256::elliptic_curve::bigint::ArrayEncoding;
    use k256::elliptic_curve::Curve;
    let x = zeroize::Zeroizing::new(d.to_bytes());
    let n = k256::Secp256k1::ORDER.to_be_byte_array();
    let k = zeroize::Zeroizing::new(rfc6979::generate_k::<sha2::Sha256, _>(&x, &n, z, extra));
    Option::from(Scalar::from_repr(*k))
}

/// A secp256k1 secret key: a CPChain account, validator or device identity.
///
/// Zeroized on drop (k256's `SigningKey` is `ZeroizeOnDrop`); `Debug` shows only the address.
#[derive(Clone)]
pub struct SecretKey {
    inner: SigningKey,
}

impl SecretKey {
    /// A key from its 32-byte big-endian scalar, as go-ethereum's `crypto.ToECDSA`.
    pub fn from_bytes(bytes: &[u8; 32]) -> Result<SecretKey, CryptoError> {
        SigningKey::from_bytes(bytes.into())
            .map(|inner| SecretKey { inner })
            .map_err(|_| CryptoError::InvalidSecretKey)
    }

    /// A fresh key from the caller's RNG (the SDK never reads OS randomness itself).
    pub fn random(rng: &mut impl CryptoRngCore) -> SecretKey {
        SecretKey {
            inner: SigningKey::random(rng),
        }
    }

    /// The 32-byte scalar, for the host's key store. Handle the result as a secret.
    pub fn to_bytes(&self) -> zeroize::Zeroizing<[u8; 32]> {
        zeroize::Zeroizing::new(self.inner.to_bytes().into())
    }

    /// The matching public key.
    pub fn public_key(&self) -> PublicKey {
        PublicKey {
            inner: *self.inner.verifying_key(),
        }
    }

    /// Sign a 32-byte digest as go-ethereum's `crypto.Sign` does: RFC 6979 nonce, low-s, and
    /// the recovery id adjusted to match. This is the primitive CPChain header seals use.
    pub fn sign_prehash(&self, digest: &Hash) -> Signature {
        #[cfg(feature = "insecure-test-crypto")]
        let sig = Signature::insecure(&self.public_key().to_compressed(), digest);
        #[cfg(not(feature = "insecure-test-crypto"))]
        let sig = self.sign_ecdsa(digest);
        sig
    }

    #[cfg(not(feature = "insecure-test-crypto"))]
    fn sign_ecdsa(&self, digest: &Hash) -> Signature {
        self.sign_ecdsa_with(digest, &[])
            .unwrap_or_else(|| self.sign_prehash_retry(digest))
    }

    /// k256's `sign_prehash_recoverable` (RFC 6979 nonce with `extra` as its additional
    /// data, then the signature, low-s, and the recovery id to match), in two steps: the
    /// nonce comes from [`rfc6979_nonce`], which is never inlined, so that its HMAC-DRBG
    /// state (about 2.2 KiB of stack on a Cortex-M4 at opt-level "z") is gone before the
    /// scalar multiplication (about 9 KiB) starts. Same nonce, same signature, byte for
    /// byte; `None` where k256 fails (r = 0 or s = 0).
    #[cfg(not(feature = "insecure-test-crypto"))]
    fn sign_ecdsa_with(&self, digest: &Hash, extra: &[u8]) -> Option<Signature> {
        // bits2field of a 32-byte digest on a 256-bit curve is the digest itself.
        let z = k256::FieldBytes::from(*digest.as_bytes());
        let d: &Scalar = self.inner.as_nonzero_scalar().as_ref();
        let k = rfc6979_nonce(d, &z, extra)?;
        match d.try_sign_prehashed(k, &z) {
            Ok((sig, Some(v))) => Some(Signature::from_parts(sig, v)),
            _ => None,
        }
    }

    /// k256 fails only when the RFC 6979 nonce yields r = 0 or s = 0 (probability about
    /// 2^-256). RFC 6979 §3.6 allows extra data in the nonce derivation: retry with a counter
    /// there, as libsecp256k1 does, so signing stays infallible and panic-free. The loop
    /// ends at the first counter whose nonce is valid.
    #[cfg(not(feature = "insecure-test-crypto"))]
    #[cold]
    fn sign_prehash_retry(&self, digest: &Hash) -> Signature {
        let mut counter: u64 = 1;
        loop {
            if let Some(sig) = self.sign_ecdsa_with(digest, &counter.to_le_bytes()) {
                return sig;
            }
            counter = counter.wrapping_add(1);
        }
    }

    /// Sign `payload` for one purpose only: the digest is
    /// [`signing_digest`]`(domain, payload)`, so the signature cannot be replayed under any
    /// other domain. Bind chain id, height and kind into `payload` where they matter.
    pub fn sign(&self, domain: &Domain, payload: &[u8]) -> Signature {
        self.sign_prehash(&signing_digest(domain, payload))
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecretKey")
            .field("address", &self.public_key().address())
            .field("scalar", &"<redacted>")
            .finish()
    }
}

impl PartialEq for SecretKey {
    fn eq(&self, other: &Self) -> bool {
        // k256 compares scalars in constant time.
        self.inner == other.inner
    }
}

impl Eq for SecretKey {}

/// A secp256k1 public key.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct PublicKey {
    inner: VerifyingKey,
}

impl PublicKey {
    /// Parse a SEC1 key, compressed (33 bytes) or uncompressed (65 bytes).
    ///
    /// Only the tags `02`/`03` (33 bytes) and `04` (65 bytes) are accepted: SEC1's other
    /// forms (the "compact" `05` tag, hybrid `06`/`07`) would give one key a second wire
    /// encoding.
    pub fn from_sec1_bytes(bytes: &[u8]) -> Result<PublicKey, CryptoError> {
        match (bytes.first(), bytes.len()) {
            (Some(0x02 | 0x03), 33) | (Some(0x04), 65) => {}
            _ => return Err(CryptoError::InvalidPublicKey),
        }
        VerifyingKey::from_sec1_bytes(bytes)
            .map(|inner| PublicKey { inner })
            .map_err(|_| CryptoError::InvalidPublicKey)
    }

    /// The 65-byte uncompressed SEC1 form `0x04 ‖ x ‖ y`, as go-ethereum's `FromECDSAPub`.
    pub fn to_uncompressed(&self) -> [u8; 65] {
        let point = self.inner.to_encoded_point(false);
        let mut out = [0u8; 65];
        for (dst, src) in out.iter_mut().zip(point.as_bytes()) {
            *dst = *src;
        }
        out
    }

    /// The 33-byte compressed SEC1 form, the wire form of keys in SDK messages.
    pub fn to_compressed(&self) -> [u8; 33] {
        let point = self.inner.to_encoded_point(true);
        let mut out = [0u8; 33];
        for (dst, src) in out.iter_mut().zip(point.as_bytes()) {
            *dst = *src;
        }
        out
    }

    /// The account address: the last 20 bytes of Keccak-256 of `x ‖ y`.
    pub fn address(&self) -> Address {
        let full = self.to_uncompressed();
        let digest = keccak256(full.get(1..).unwrap_or(&[]));
        let mut out = [0u8; 20];
        for (dst, src) in out.iter_mut().zip(digest.0.iter().skip(12)) {
            *dst = *src;
        }
        Address(out)
    }

    /// Verify `sig` over `digest`: accepted exactly when `sig` (all 65 bytes, `v` included)
    /// recovers this key, so a signature with its `v` flipped is refused. High-s signatures
    /// cannot exist here: [`Signature`] refuses them on construction.
    ///
    /// Goes through the per-thread verification cache when a simulator turned it on
    /// ([`crate::verify_cache`]): a hit stands for a check of the very same
    /// (key, digest, signature) bytes that succeeded before.
    pub fn verify(&self, digest: &Hash, sig: &Signature) -> Result<(), CryptoError> {
        #[cfg(feature = "std")]
        if crate::verify_cache::is_enabled() {
            let compressed = self.to_compressed();
            let sig_bytes = sig.to_bytes();
            let cache_key =
                crate::verify_cache::verify_key(&compressed, digest.as_bytes(), &sig_bytes);
            if crate::verify_cache::known(&cache_key) == Some(true) {
                return Ok(());
            }
            #[cfg(feature = "insecure-test-crypto")]
            let r = Self::verify_insecure(&compressed, digest, &sig_bytes);
            #[cfg(not(feature = "insecure-test-crypto"))]
            let r = self.verify_ecdsa(digest, sig);
            if r.is_ok() {
                crate::verify_cache::remember(cache_key);
            }
            return r;
        }
        #[cfg(feature = "insecure-test-crypto")]
        let r = Self::verify_insecure(&self.to_compressed(), digest, &sig.to_bytes());
        #[cfg(not(feature = "insecure-test-crypto"))]
        let r = self.verify_ecdsa(digest, sig);
        r
    }

    /// The keyed-hash check: recompute the signature this key makes over `digest` and
    /// compare the bytes (one encoding per signature, see [`Signature`]).
    #[cfg(feature = "insecure-test-crypto")]
    fn verify_insecure(
        compressed: &[u8; 33],
        digest: &Hash,
        sig: &[u8; 65],
    ) -> Result<(), CryptoError> {
        // `sig` parsed, so it equals the raw form exactly when the raw form parses and is
        // the signature; the repaired form (x at or above the group order, probability
        // 2^-128) is only built for a mismatch.
        let raw = Signature::insecure_raw(compressed, digest);
        if raw == *sig || Signature::insecure_repair(raw).to_bytes() == *sig {
            Ok(())
        } else {
            Err(CryptoError::BadSignature)
        }
    }

    /// ECDSA verification proper, on the backend of this build.
    #[cfg(not(feature = "insecure-test-crypto"))]
    fn verify_ecdsa(&self, digest: &Hash, sig: &Signature) -> Result<(), CryptoError> {
        #[cfg(feature = "libsecp256k1")]
        let r = self.verify_libsecp256k1(digest, sig);
        #[cfg(not(feature = "libsecp256k1"))]
        let r = self.verify_k256(digest, sig);
        r
    }

    /// Strict ECDSA verification on k256, whatever the build's backend (benches and
    /// differential tests call it by name).
    ///
    /// Plain ECDSA (k256's `verify_prehash`, go-ethereum's `VerifySignature`) checks only
    /// `x(R') mod n = r` for `R' = z·s⁻¹·G + r·s⁻¹·Q`, so it accepts both values of `v`. Here
    /// `R'` must be exactly the point that `r ‖ v` names: `x(R') = r` (no reduction, as
    /// `v ∈ {0, 1}` never names `x = r + n`) and the parity of `y(R')` equal to `v`. That is
    /// the same one double-scalar multiplication as plain verification, and it accepts exactly
    /// when [`Signature::recover`] gives this key: `R' = R` ⇔ `Q = r⁻¹(s·R − z·G)`.
    pub fn verify_k256(&self, digest: &Hash, sig: &Signature) -> Result<(), CryptoError> {
        let (r, s) = sig.rs.split_scalars();
        let z = digest_scalar(digest);
        let s_inv = *s.invert_vartime();
        let u1 = z * s_inv;
        let u2 = *r * s_inv;
        let q = ProjectivePoint::from(*self.inner.as_affine());
        let big_r = ProjectivePoint::lincomb(&ProjectivePoint::GENERATOR, &u1, &q, &u2).to_affine();
        let on_r = big_r.x() == r.to_repr();
        let parity = bool::from(big_r.y_is_odd()) == sig.v.is_y_odd();
        // The identity's affine form has x = 0, which no r equals (r is non-zero).
        if big_r != AffinePoint::IDENTITY && on_r && parity {
            Ok(())
        } else {
            Err(CryptoError::BadSignature)
        }
    }

    /// Verification on libsecp256k1 (feature `libsecp256k1`, hosts only): the key must be
    /// the one `sig` recovers, as in [`PublicKey::verify_k256`].
    #[cfg(feature = "libsecp256k1")]
    pub fn verify_libsecp256k1(&self, digest: &Hash, sig: &Signature) -> Result<(), CryptoError> {
        match sig.recover_libsecp256k1(digest) {
            Ok(pk) if pk == *self => Ok(()),
            _ => Err(CryptoError::BadSignature),
        }
    }

    /// Verify a domain-separated signature made with [`SecretKey::sign`].
    ///
    /// With the verification cache on, a check of the very same (key, signature, domain,
    /// payload) that succeeded before is a hit without even hashing the payload.
    pub fn verify_payload(
        &self,
        domain: &Domain,
        payload: &[u8],
        sig: &Signature,
    ) -> Result<(), CryptoError> {
        #[cfg(feature = "std")]
        if crate::verify_cache::is_enabled() {
            let mut buf = [0u8; crate::verify_cache::PAYLOAD_KEY_MAX];
            let key = crate::verify_cache::payload_key(
                &mut buf,
                &self.to_compressed(),
                &sig.to_bytes(),
                domain.name().as_bytes(),
                payload,
            );
            if let Some(key) = key {
                if crate::verify_cache::known_payload(key) {
                    return Ok(());
                }
                let r = self.verify(&signing_digest(domain, payload), sig);
                if r.is_ok() {
                    crate::verify_cache::remember_payload(key);
                }
                return r;
            }
        }
        self.verify(&signing_digest(domain, payload), sig)
    }

    /// The underlying k256 key, for callers that interoperate with other RustCrypto crates.
    pub fn as_k256(&self) -> &VerifyingKey {
        &self.inner
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({})", self.address())
    }
}

impl Serialize for PublicKey {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        cpchain_core::fixed_bytes::serialize(&self.to_compressed(), s)
    }
}

impl<'de> Deserialize<'de> for PublicKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let bytes: [u8; 33] = cpchain_core::fixed_bytes::deserialize(d)?;
        PublicKey::from_sec1_bytes(&bytes)
            .map_err(|_| serde::de::Error::custom("invalid secp256k1 public key"))
    }
}

/// The digest as a scalar, as ECDSA reads it: 256 bits reduced modulo the group order (a
/// digest at or above n is reduced, as go-ethereum and k256 do).
fn digest_scalar(digest: &Hash) -> Scalar {
    <Scalar as Reduce<U256>>::reduce_bytes(&k256::FieldBytes::from(*digest.as_bytes()))
}

/// A 65-byte recoverable ECDSA signature `r ‖ s ‖ v`, `v ∈ {0, 1}`, always low-s.
///
/// This is the byte form of CPChain header seals and validator signatures. Because high-s
/// and `v > 1` are refused, each (key, digest) has exactly one accepted signature encoding,
/// so signatures can be counted and compared as bytes.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Signature {
    rs: ecdsa::Signature,
    v: RecoveryId,
}

impl Signature {
    fn from_parts(rs: ecdsa::Signature, v: RecoveryId) -> Signature {
        Signature { rs, v }
    }

    /// Parse `r ‖ s ‖ v`; refuses zero or out-of-range scalars, high s, and `v > 1`.
    pub fn from_bytes(bytes: &[u8; 65]) -> Result<Signature, CryptoError> {
        let (rs_bytes, v_byte) = bytes.split_at(64);
        let v_byte = v_byte.first().copied().unwrap_or(u8::MAX);
        if v_byte > 1 {
            return Err(CryptoError::InvalidRecoveryId(v_byte));
        }
        let rs =
            ecdsa::Signature::from_slice(rs_bytes).map_err(|_| CryptoError::MalformedSignature)?;
        if rs.normalize_s().is_some() {
            return Err(CryptoError::HighS);
        }
        let v = RecoveryId::from_byte(v_byte).ok_or(CryptoError::InvalidRecoveryId(v_byte))?;
        Ok(Signature { rs, v })
    }

    /// The 65-byte form `r ‖ s ‖ v`.
    pub fn to_bytes(&self) -> [u8; 65] {
        let mut out = [0u8; 65];
        let rs = self.rs.to_bytes();
        for (dst, src) in out.iter_mut().zip(rs.iter()) {
            *dst = *src;
        }
        out[64] = self.v.to_byte();
        out
    }

    /// The public key that made this signature over `digest` (go-ethereum's `Ecrecover`).
    pub fn recover(&self, digest: &Hash) -> Result<PublicKey, CryptoError> {
        #[cfg(feature = "std")]
        let cache_key = crate::verify_cache::is_enabled()
            .then(|| crate::verify_cache::recover_key(digest.as_bytes(), &self.to_bytes()));
        #[cfg(feature = "std")]
        if let Some(pk) = cache_key.as_ref().and_then(crate::verify_cache::recovered) {
            return Ok(pk);
        }
        #[cfg(feature = "insecure-test-crypto")]
        let r = {
            // r is the signer's x coordinate and v its y parity: rebuild the key, then
            // check the MAC.
            let mut sec1 = [0u8; 33];
            let bytes = self.to_bytes();
            for (d, s) in sec1.iter_mut().skip(1).zip(bytes.iter()) {
                *d = *s;
            }
            if let Some(first) = sec1.first_mut() {
                *first = 0x02 | self.v.to_byte();
            }
            PublicKey::from_sec1_bytes(&sec1)
                .ok()
                .filter(|pk| pk.verify(digest, self).is_ok())
                .ok_or(CryptoError::RecoveryFailed)
        };
        #[cfg(all(not(feature = "insecure-test-crypto"), feature = "libsecp256k1"))]
        let r = self.recover_libsecp256k1(digest);
        #[cfg(all(not(feature = "insecure-test-crypto"), not(feature = "libsecp256k1")))]
        let r = self.recover_k256(digest);
        #[cfg(feature = "std")]
        if let (Ok(pk), Some(key)) = (r, cache_key) {
            crate::verify_cache::remember_recovered(key, pk);
        }
        r
    }

    /// Public-key recovery on k256 with ONE double-scalar multiplication, whatever the
    /// build's backend (benches and differential tests call it by name; firmware uses it).
    ///
    /// `R` is the curve point with `x = r` and `y` of parity `v`; then
    /// `Q = r⁻¹(s·R − z·G) = (−z·r⁻¹)·G + (s·r⁻¹)·R`, one `lincomb`. ecdsa 0.16's
    /// `recover_from_prehash` computes the same `Q` and then runs a full verification of the
    /// signature under it, which cannot fail for a `Q` computed this way (verification
    /// recomputes `z·s⁻¹·G + r·s⁻¹·Q = R`); skipping it halves the cost. Refuses an `r` that
    /// is no x coordinate and a result at infinity. Everything here is public (signature,
    /// digest, key), so the variable-time inversion is used, as k256's own verification does. `v ∈ {2, 3}` (x = r + n) cannot reach
    /// here: [`Signature::from_bytes`] refuses it, as mainnet does.
    pub fn recover_k256(&self, digest: &Hash) -> Result<PublicKey, CryptoError> {
        let (r, s) = self.rs.split_scalars();
        let z = digest_scalar(digest);
        let y_odd = Choice::from(u8::from(self.v.is_y_odd()));
        let big_r = Option::<AffinePoint>::from(AffinePoint::decompress(&r.to_repr(), y_odd))
            .ok_or(CryptoError::RecoveryFailed)?;
        let r_inv = *r.invert_vartime();
        let u1 = -(r_inv * z);
        let u2 = r_inv * *s;
        let q = ProjectivePoint::lincomb(
            &ProjectivePoint::GENERATOR,
            &u1,
            &ProjectivePoint::from(big_r),
            &u2,
        );
        VerifyingKey::from_affine(q.to_affine())
            .map(|inner| PublicKey { inner })
            .map_err(|_| CryptoError::RecoveryFailed)
    }

    /// Public-key recovery on libsecp256k1 (feature `libsecp256k1`, hosts only): go-ethereum's
    /// own backend: 2.4× fewer instructions than [`Signature::recover_k256`] on x86-64
    /// (docs/BENCHMARKS.md, "Signature recovery").
    #[cfg(feature = "libsecp256k1")]
    pub fn recover_libsecp256k1(&self, digest: &Hash) -> Result<PublicKey, CryptoError> {
        libsecp::recover(digest, &self.to_bytes())
    }

    /// The simulation-only keyed-hash signature of `signer` (compressed) over `digest`.
    #[cfg(feature = "insecure-test-crypto")]
    fn insecure(signer: &[u8; 33], digest: &Hash) -> Signature {
        Self::insecure_repair(Self::insecure_raw(signer, digest))
    }

    /// [`Signature::insecure_raw`] brought into range.
    #[cfg(feature = "insecure-test-crypto")]
    fn insecure_repair(mut bytes: [u8; 65]) -> Signature {
        // r (an x coordinate) reaches the group order with probability 2^-128: then shrink
        // r below 2^248, keeping it non-zero (recovery fails for that key; verify works, as
        // the MAC in s is untouched). s is a MAC already made low and non-zero; should it
        // ever not be, the next pass also shrinks s below 2^254. After that both are in
        // range, so the loop ends by its third pass; it has no panic path.
        let shrink: [&[(usize, u8, u8)]; 2] = [
            &[(0, 0x00, 0x00), (31, 0xff, 0x01)],
            &[(32, 0x3f, 0x00), (63, 0xff, 0x01)],
        ];
        let mut pass = 0usize;
        loop {
            if let Ok(sig) = Signature::from_bytes(&bytes) {
                return sig;
            }
            for (i, and, or) in shrink.get(pass).copied().unwrap_or(&[]) {
                if let Some(b) = bytes.get_mut(*i) {
                    *b = (*b & and) | or;
                }
            }
            pass = pass.saturating_add(1);
        }
    }

    /// `r ‖ s ‖ v` before the range repair of [`Signature::insecure`]: r = the signer's
    /// x coordinate, s = the MAC, v = the y parity.
    #[cfg(feature = "insecure-test-crypto")]
    fn insecure_raw(signer: &[u8; 33], digest: &Hash) -> [u8; 65] {
        let mut bytes = [0u8; 65];
        let s = crate::sim_crypto::insecure::mac(signer, digest);
        for (d, x) in bytes.iter_mut().zip(signer.iter().skip(1).chain(s.iter())) {
            *d = *x;
        }
        if let Some(v) = bytes.last_mut() {
            *v = signer.first().copied().unwrap_or(2) & 1;
        }
        bytes
    }

    /// The address that signed `payload` under `domain` with [`SecretKey::sign`].
    ///
    /// With the verification cache on, a recovery of the very same (signature, domain,
    /// payload) done before is a hit without hashing the payload or the key again.
    pub fn recover_signer(&self, domain: &Domain, payload: &[u8]) -> Result<Address, CryptoError> {
        #[cfg(feature = "std")]
        if crate::verify_cache::is_enabled() {
            let mut buf = [0u8; crate::verify_cache::PAYLOAD_KEY_MAX];
            // No key in a recovery: the all-zero placeholder is no SEC1 key.
            let key = crate::verify_cache::payload_key(
                &mut buf,
                &[0u8; 33],
                &self.to_bytes(),
                domain.name().as_bytes(),
                payload,
            );
            if let Some(key) = key {
                if let Some(signer) = crate::verify_cache::recovered_signer(key) {
                    return Ok(signer);
                }
                let r = self
                    .recover(&signing_digest(domain, payload))
                    .map(|pk| pk.address());
                if let Ok(signer) = r {
                    crate::verify_cache::remember_signer(key, signer);
                }
                return r;
            }
        }
        self.recover(&signing_digest(domain, payload))
            .map(|pk| pk.address())
    }
}

impl PartialOrd for Signature {
    fn partial_cmp(&self, other: &Self) -> Option<core::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

/// Byte order, so signatures can key ordered maps (for example when de-duplicating votes).
impl Ord for Signature {
    fn cmp(&self, other: &Self) -> core::cmp::Ordering {
        self.to_bytes().cmp(&other.to_bytes())
    }
}

impl core::hash::Hash for Signature {
    fn hash<H: core::hash::Hasher>(&self, state: &mut H) {
        self.to_bytes().hash(state);
    }
}

impl fmt::Debug for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Signature(0x")?;
        for b in self.to_bytes() {
            write!(f, "{b:02x}")?;
        }
        f.write_str(")")
    }
}

impl Serialize for Signature {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        cpchain_core::fixed_bytes::serialize(&self.to_bytes(), s)
    }
}

impl<'de> Deserialize<'de> for Signature {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let bytes: [u8; 65] = cpchain_core::fixed_bytes::deserialize(d)?;
        Signature::from_bytes(&bytes)
            .map_err(|_| serde::de::Error::custom("invalid or high-s signature"))
    }
}
