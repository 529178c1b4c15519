//! 20-byte account addresses with EIP-55 checksummed text.

use crate::{fixed_bytes, keccak256, AddressError};
use core::fmt;
use serde::{Deserialize, Serialize};

/// An Ethereum-compatible account address: the last 20 bytes of the Keccak-256 of an
/// uncompressed secp256k1 public key (without its `0x04` prefix), as on CPChain mainnet.
///
/// `Display` is the EIP-55 mixed-case checksum form; `FromStr` accepts all-lower, all-upper
/// or correctly checksummed text and refuses mixed case with a wrong checksum, which is how a
/// typo in a copied address is caught.
///
/// ```
/// use cpchain_core::Address;
/// let a: Address = "0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed".parse().unwrap();
/// assert_eq!(a.to_string(), "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed");
/// assert!("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD".parse::<Address>().is_err());
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub struct Address(#[serde(with = "crate::fixed_bytes")] pub [u8; 20]);

/// The bytes' lexicographic order, as the derived one. On 64-bit targets compared as two
/// big-endian integers: the derived order calls `memcmp` for every comparison, and the host
/// node's pool and state maps are B-trees keyed by address (about 2 % of a loaded devnet's
/// CPU went to those calls, issue 14). On 32-bit targets the bytes are compared as before:
/// there the 128-bit comparison, inlined into every B-tree keyed by address, grew the C
/// firmware image by 8.5 KiB of flash (84,520 B against 76,040 B).
impl Ord for Address {
    #[inline]
    fn cmp(&self, other: &Self) -> core::cmp::Ordering {
        if cfg!(target_pointer_width = "64") {
            self.order_key().cmp(&other.order_key())
        } else {
            self.0.cmp(&other.0)
        }
    }
}

impl PartialOrd for Address {
    #[inline]
    fn partial_cmp(&self, other: &Self) -> Option<core::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Address {
    /// The zero address; an impeach block's coinbase, as on mainnet.
    pub const ZERO: Address = Address([0u8; 20]);

    /// The raw bytes.
    pub const fn as_bytes(&self) -> &[u8; 20] {
        &self.0
    }

    /// The first 16 bytes and the last 4 as big-endian integers: comparing the pairs is
    /// comparing the bytes lexicographically.
    #[inline]
    fn order_key(&self) -> (u128, u32) {
        let hi = self.0.first_chunk::<16>().copied().unwrap_or([0; 16]);
        let lo = self.0.last_chunk::<4>().copied().unwrap_or([0; 4]);
        (u128::from_be_bytes(hi), u32::from_be_bytes(lo))
    }

    /// Whether this is [`Address::ZERO`].
    pub fn is_zero(&self) -> bool {
        self.0 == [0u8; 20]
    }

    /// The EIP-55 checksummed text without allocating: `0x` + 40 characters.
    pub fn to_checksum_bytes(&self) -> [u8; 42] {
        let mut lower = [0u8; 40];
        for (pair, b) in lower.chunks_exact_mut(2).zip(self.0.iter()) {
            if let [hi, lo] = pair {
                *hi = hex_digit(b >> 4);
                *lo = hex_digit(b & 0x0f);
            }
        }
        let digest = keccak256(&lower);
        let mut out = [0u8; 42];
        out[0] = b'0';
        out[1] = b'x';
        for (i, (dst, c)) in out.iter_mut().skip(2).zip(lower.iter()).enumerate() {
            // EIP-55: upper-case the i-th hex letter when the i-th nibble of the hash is >= 8.
            let byte = digest.0.get(i / 2).copied().unwrap_or(0);
            let nibble = if i % 2 == 0 { byte >> 4 } else { byte & 0x0f };
            *dst = if c.is_ascii_alphabetic() && nibble >= 8 {
                c.to_ascii_uppercase()
            } else {
                *c
            };
        }
        out
    }
}

/// Lower-case ASCII hex digit of a nibble (`n < 16`).
const fn hex_digit(n: u8) -> u8 {
    if n < 10 {
        b'0' + n
    } else {
        b'a' + (n - 10)
    }
}

impl From<[u8; 20]> for Address {
    fn from(b: [u8; 20]) -> Self {
        Address(b)
    }
}

impl AsRef<[u8]> for Address {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = self.to_checksum_bytes();
        // Only ASCII hex digits and "0x" are ever written into `text`.
        f.write_str(core::str::from_utf8(&text).map_err(|_| fmt::Error)?)
    }
}

impl fmt::Debug for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl core::str::FromStr for Address {
    type Err = AddressError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let body = s.strip_prefix("0x").ok_or(AddressError::MissingPrefix)?;
        if body.len() != 40 {
            return Err(AddressError::WrongLength(body.len()));
        }
        let bytes = fixed_bytes::parse_hex::<20>(body).ok_or(AddressError::NotHex)?;
        let addr = Address(bytes);
        let has_lower = body.bytes().any(|c| c.is_ascii_lowercase());
        let has_upper = body.bytes().any(|c| c.is_ascii_uppercase());
        if has_lower && has_upper && addr.to_checksum_bytes().get(2..) != Some(body.as_bytes()) {
            return Err(AddressError::BadChecksum);
        }
        Ok(addr)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;
    extern crate alloc;

    // The EIP-55 specification's own examples.
    const EIP55: [&str; 8] = [
        "0x52908400098527886E0F7030069857D2E4169EE7",
        "0x8617E340B3D01FA5F11F306F4090FD50E238070D",
        "0xde709f2102306220921060314715629080e2fb77",
        "0x27b1fdb04752bbc536007a920d24acb045561c26",
        "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
        "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
        "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB",
        "0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb",
    ];

    proptest::proptest! {
        /// The integer comparison is the bytes' lexicographic order (the derived one),
        /// also for pairs that differ only in the last four bytes or share a long prefix.
        #[test]
        fn order_is_the_bytes_order(a: [u8; 20], b: [u8; 20], cut in 0usize..20) {
            let mut c = a;
            c[cut..].copy_from_slice(&b[cut..]);
            for (x, y) in [(a, b), (a, c), (c, a), (a, a)] {
                proptest::prop_assert_eq!(Address(x).cmp(&Address(y)), x.cmp(&y));
                proptest::prop_assert_eq!(Address(x).partial_cmp(&Address(y)), Some(x.cmp(&y)));
            }
        }
    }

    #[test]
    fn eip55_examples_round_trip() {
        for s in EIP55 {
            let a: Address = s.parse().unwrap();
            assert_eq!(a.to_string(), s);
            assert_eq!(s.to_lowercase().parse::<Address>().unwrap(), a);
            let upper = alloc::format!("0x{}", &s[2..].to_uppercase());
            assert_eq!(upper.parse::<Address>().unwrap(), a);
        }
    }

    #[test]
    fn eip55_rejects_bad_checksum_and_shapes() {
        // Flip the case of one letter in a checksummed address.
        let bad = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD";
        assert_eq!(bad.parse::<Address>(), Err(AddressError::BadChecksum));
        assert_eq!(
            "5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed".parse::<Address>(),
            Err(AddressError::MissingPrefix)
        );
        assert_eq!(
            "0x1234".parse::<Address>(),
            Err(AddressError::WrongLength(4))
        );
        assert_eq!(
            "0xzzaeb6053f3e94c9b9a09f33669435e7ef1beaed".parse::<Address>(),
            Err(AddressError::NotHex)
        );
        assert!("0x5aaeb6053f3e94c9b9a09f33669435e7ef1beae\u{e9}"
            .parse::<Address>()
            .is_err());
    }
}
