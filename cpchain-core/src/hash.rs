//! 32-byte digests and Keccak-256.

use core::fmt;
use serde::{Deserialize, Serialize};
use sha3::{Digest, Keccak256};

/// A 32-byte Keccak-256 digest: block hashes, header sig-hashes, content ids, signing digests.
///
/// `Display` and `Debug` print `0x`-prefixed lower-case hex, as Ethereum tooling does.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
pub struct Hash(#[serde(with = "crate::fixed_bytes")] pub [u8; 32]);

impl Hash {
    /// The all-zero hash: the parent of the genesis block and the "no value" marker on the wire.
    pub const ZERO: Hash = Hash([0u8; 32]);

    /// The raw bytes.
    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Whether this is [`Hash::ZERO`].
    pub fn is_zero(&self) -> bool {
        self.0 == [0u8; 32]
    }
}

impl From<[u8; 32]> for Hash {
    fn from(b: [u8; 32]) -> Self {
        Hash(b)
    }
}

impl From<Hash> for [u8; 32] {
    fn from(h: Hash) -> Self {
        h.0
    }
}

impl AsRef<[u8]> for Hash {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Display for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("0x")?;
        crate::fixed_bytes::write_hex(f, &self.0)
    }
}

impl fmt::Debug for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl core::str::FromStr for Hash {
    type Err = crate::DecodeError;
    /// Parses `0x` followed by 64 hex digits.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let body = s
            .strip_prefix("0x")
            .ok_or(crate::DecodeError::Invalid("hash must start with 0x"))?;
        crate::fixed_bytes::parse_hex::<32>(body)
            .map(Hash)
            .ok_or(crate::DecodeError::Invalid("hash must be 64 hex digits"))
    }
}

/// Keccak-256 (the pre-standard SHA-3 Ethereum and CPChain use), of one byte string.
///
/// ```
/// let h = cpchain_core::keccak256(b"");
/// assert_eq!(
///     h.to_string(),
///     "0xc5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"
/// );
/// ```
pub fn keccak256(data: &[u8]) -> Hash {
    Hash(Keccak256::digest(data).into())
}

/// Keccak-256 of the concatenation of `parts`, without copying them into one buffer.
pub fn keccak256_concat(parts: &[&[u8]]) -> Hash {
    let mut h = Keccak256::new();
    for p in parts {
        h.update(p);
    }
    Hash(h.finalize().into())
}

/// Keccak-256 of the concatenation of the parts an iterator yields, without collecting them
/// into one buffer first: how a list hash (a block's `tx_root`) absorbs its leaves as it
/// computes them, with no allocation.
pub fn keccak256_iter<I>(parts: I) -> Hash
where
    I: IntoIterator,
    I::Item: AsRef<[u8]>,
{
    let mut h = Keccak256::new();
    for p in parts {
        h.update(p.as_ref());
    }
    Hash(h.finalize().into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keccak256_iter_is_keccak_of_the_concatenation() {
        let parts: [&[u8]; 3] = [b"ab", b"", b"cde"];
        assert_eq!(keccak256_iter(parts), keccak256(b"abcde"));
        assert_eq!(keccak256_iter(parts), keccak256_concat(&parts));
        assert_eq!(keccak256_iter(core::iter::empty::<&[u8]>()), keccak256(b""));
    }
}
