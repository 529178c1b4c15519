//! ChaCha20-Poly1305 sealing in place, over heap or fixed-capacity buffers.
//!
//! Firmware seals data blocks into a static `heapless::Vec` (wrap it in [`HeaplessBuffer`]);
//! hosts use `alloc::vec::Vec`. Both go through aead's [`Buffer`] trait, so the same
//! [`seal_in_place`]/[`open_in_place`] serve both with no copy.
//!
//! ```
//! use cpchain_crypto::aead::{open_in_place, seal_in_place, AeadKey, HeaplessBuffer, Nonce};
//! let key = AeadKey::from_bytes([7; 32]);
//! let nonce = Nonce([1; 12]);
//! let mut storage: heapless::Vec<u8, 64> = heapless::Vec::new();
//! storage.extend_from_slice(b"sensor reading").unwrap();
//! let mut buf = HeaplessBuffer(&mut storage);
//! seal_in_place(&key, &nonce, b"header", &mut buf).unwrap();
//! open_in_place(&key, &nonce, b"header", &mut buf).unwrap();
//! assert_eq!(&storage[..], b"sensor reading");
//! ```

use crate::CryptoError;
pub use aead::Buffer;
use chacha20poly1305::aead::AeadInPlace;
use chacha20poly1305::{ChaCha20Poly1305, KeyInit};
use core::fmt;
use zeroize::{Zeroize, ZeroizeOnDrop};

/// Bytes the Poly1305 tag adds to every sealed message.
pub const TAG_LEN: usize = 16;

/// A 256-bit ChaCha20-Poly1305 key. Zeroized on drop, redacted in `Debug`.
#[derive(Clone, Zeroize, ZeroizeOnDrop, PartialEq, Eq)]
pub struct AeadKey([u8; 32]);

impl AeadKey {
    /// A key from 32 secret bytes (typically the output of a KDF).
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        AeadKey(bytes)
    }
    /// The key bytes, for wrapping the key (for example in an Umbral capsule).
    pub fn expose_secret(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Debug for AeadKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AeadKey(<redacted>)")
    }
}

/// A 96-bit nonce. It must never repeat under one key; the data chain derives it from
/// (stream, block index) so that it cannot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Nonce(pub [u8; 12]);

/// Encrypt `buf` in place and append the tag; `aad` is authenticated but not encrypted.
pub fn seal_in_place(
    key: &AeadKey,
    nonce: &Nonce,
    aad: &[u8],
    buf: &mut dyn Buffer,
) -> Result<(), CryptoError> {
    ChaCha20Poly1305::new(&key.0.into())
        .encrypt_in_place(&nonce.0.into(), aad, buf)
        .map_err(|_| CryptoError::BufferFull)
}

/// Check the tag and decrypt `buf` in place, removing the tag. On failure `buf` is left
/// as it was (ciphertext), never as unauthenticated plaintext.
pub fn open_in_place(
    key: &AeadKey,
    nonce: &Nonce,
    aad: &[u8],
    buf: &mut dyn Buffer,
) -> Result<(), CryptoError> {
    ChaCha20Poly1305::new(&key.0.into())
        .decrypt_in_place(&nonce.0.into(), aad, buf)
        .map_err(|_| CryptoError::OpenFailed)
}

/// Encrypt `buf` in place and return the detached tag: for callers whose ciphertext lives
/// in a plain slice (a DMA buffer, a C caller's array).
pub fn seal_detached(
    key: &AeadKey,
    nonce: &Nonce,
    aad: &[u8],
    buf: &mut [u8],
) -> Result<[u8; TAG_LEN], CryptoError> {
    ChaCha20Poly1305::new(&key.0.into())
        .encrypt_in_place_detached(&nonce.0.into(), aad, buf)
        .map(Into::into)
        .map_err(|_| CryptoError::BufferFull)
}

/// Check a detached tag and decrypt `buf` in place. On failure `buf` still holds the
/// ciphertext.
pub fn open_detached(
    key: &AeadKey,
    nonce: &Nonce,
    aad: &[u8],
    buf: &mut [u8],
    tag: &[u8; TAG_LEN],
) -> Result<(), CryptoError> {
    ChaCha20Poly1305::new(&key.0.into())
        .decrypt_in_place_detached(&nonce.0.into(), aad, buf, tag.into())
        .map_err(|_| CryptoError::OpenFailed)
}

/// aead's [`Buffer`] over a fixed-capacity `heapless::Vec` (heapless 0.9, which aead 0.5's
/// own `heapless` feature predates): sealing fails with [`CryptoError::BufferFull`] instead
/// of allocating when the tag does not fit.
#[derive(Debug)]
pub struct HeaplessBuffer<'a, const N: usize>(pub &'a mut heapless::Vec<u8, N>);

impl<const N: usize> AsRef<[u8]> for HeaplessBuffer<'_, N> {
    fn as_ref(&self) -> &[u8] {
        self.0.as_slice()
    }
}

impl<const N: usize> AsMut<[u8]> for HeaplessBuffer<'_, N> {
    fn as_mut(&mut self) -> &mut [u8] {
        self.0.as_mut_slice()
    }
}

impl<const N: usize> Buffer for HeaplessBuffer<'_, N> {
    fn extend_from_slice(&mut self, other: &[u8]) -> aead::Result<()> {
        self.0.extend_from_slice(other).map_err(|_| aead::Error)
    }

    fn truncate(&mut self, len: usize) {
        self.0.truncate(len);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    extern crate alloc;
    use alloc::vec::Vec;

    #[test]
    fn vec_and_heapless_agree() {
        let key = AeadKey::from_bytes([3; 32]);
        let nonce = Nonce([9; 12]);
        let mut v: Vec<u8> = b"abc".to_vec();
        seal_in_place(&key, &nonce, b"ad", &mut v).unwrap();
        let mut h: heapless::Vec<u8, 32> = heapless::Vec::from_slice(b"abc").unwrap();
        seal_in_place(&key, &nonce, b"ad", &mut HeaplessBuffer(&mut h)).unwrap();
        assert_eq!(&v[..], &h[..]);
        assert_eq!(v.len(), 3 + TAG_LEN);
        open_in_place(&key, &nonce, b"ad", &mut v).unwrap();
        assert_eq!(v, b"abc");
    }

    #[test]
    fn full_heapless_buffer_is_an_error_not_a_panic() {
        let key = AeadKey::from_bytes([3; 32]);
        let mut h: heapless::Vec<u8, 8> = heapless::Vec::from_slice(b"abcdefgh").unwrap();
        let r = seal_in_place(&key, &Nonce([0; 12]), b"", &mut HeaplessBuffer(&mut h));
        assert_eq!(r, Err(CryptoError::BufferFull));
    }

    #[test]
    fn tamper_wrong_aad_wrong_nonce_fail_and_keep_ciphertext() {
        let key = AeadKey::from_bytes([3; 32]);
        let nonce = Nonce([9; 12]);
        let mut v: Vec<u8> = b"payload".to_vec();
        seal_in_place(&key, &nonce, b"ad", &mut v).unwrap();
        let sealed = v.clone();
        assert_eq!(
            open_in_place(&key, &nonce, b"AD", &mut v),
            Err(CryptoError::OpenFailed)
        );
        assert_eq!(v, sealed);
        assert!(open_in_place(&key, &Nonce([8; 12]), b"ad", &mut v).is_err());
        v[0] ^= 1;
        assert!(open_in_place(&key, &nonce, b"ad", &mut v).is_err());
        let other = AeadKey::from_bytes([4; 32]);
        let mut w = sealed.clone();
        assert!(open_in_place(&other, &nonce, b"ad", &mut w).is_err());
    }

    #[test]
    fn detached_round_trip() {
        let key = AeadKey::from_bytes([5; 32]);
        let nonce = Nonce([1; 12]);
        let mut buf = *b"0123456789";
        let tag = seal_detached(&key, &nonce, b"h", &mut buf).unwrap();
        assert_ne!(&buf, b"0123456789");
        open_detached(&key, &nonce, b"h", &mut buf, &tag).unwrap();
        assert_eq!(&buf, b"0123456789");
    }

    #[test]
    fn debug_redacts() {
        let key = AeadKey::from_bytes([0xab; 32]);
        let s = alloc::format!("{key:?}");
        assert!(!s.contains("ab, ") && !s.contains("171"));
        assert!(s.contains("redacted"));
    }
}
