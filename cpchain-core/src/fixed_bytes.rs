//! Serde support for fixed-size byte arrays of any length.
//!
//! Serde implements arrays only up to 32 elements and encodes them as tuples. Signatures (65
//! bytes) and public keys (33/65 bytes) are longer, so every fixed-size field in the SDK goes
//! through this module: it encodes `[u8; N]` as an N-tuple, which postcard writes as exactly
//! N raw bytes with no length prefix, and decodes it back without allocating.
//!
//! ```
//! #[derive(serde::Serialize, serde::Deserialize)]
//! struct Sig(#[serde(with = "cpchain_core::fixed_bytes")] [u8; 65]);
//! ```

use core::fmt;
use core::marker::PhantomData;
use serde::de::{Error as _, SeqAccess, Visitor};
use serde::ser::SerializeTuple;
use serde::{Deserializer, Serializer};

/// Serialize `[u8; N]` as an N-tuple of bytes.
pub fn serialize<S: Serializer, const N: usize>(bytes: &[u8; N], s: S) -> Result<S::Ok, S::Error> {
    let mut t = s.serialize_tuple(N)?;
    for b in bytes {
        t.serialize_element(b)?;
    }
    t.end()
}

/// Deserialize an N-tuple of bytes into `[u8; N]`.
pub fn deserialize<'de, D: Deserializer<'de>, const N: usize>(d: D) -> Result<[u8; N], D::Error> {
    struct V<const N: usize>(PhantomData<[u8; N]>);
    impl<'de, const N: usize> Visitor<'de> for V<N> {
        type Value = [u8; N];
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "{N} bytes")
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<[u8; N], A::Error> {
            let mut out = [0u8; N];
            for (i, slot) in out.iter_mut().enumerate() {
                *slot = seq
                    .next_element()?
                    .ok_or_else(|| A::Error::invalid_length(i, &self))?;
            }
            Ok(out)
        }
    }
    d.deserialize_tuple(N, V::<N>(PhantomData))
}

/// Write `bytes` as lower-case hex; shared by the `Debug`/`Display` impls of byte newtypes.
pub fn write_hex(f: &mut fmt::Formatter<'_>, bytes: &[u8]) -> fmt::Result {
    for b in bytes {
        write!(f, "{b:02x}")?;
    }
    Ok(())
}

/// Parse exactly `2 * N` hex digits (either case) into `[u8; N]`; `None` on any other input.
pub fn parse_hex<const N: usize>(s: &str) -> Option<[u8; N]> {
    let raw = s.as_bytes();
    if raw.len() != 2 * N {
        return None;
    }
    let mut out = [0u8; N];
    for (slot, pair) in out.iter_mut().zip(raw.chunks_exact(2)) {
        let (hi, lo) = match pair {
            [hi, lo] => (hex_val(*hi)?, hex_val(*lo)?),
            _ => return None,
        };
        *slot = (hi << 4) | lo;
    }
    Some(out)
}

/// Value of one ASCII hex digit.
pub(crate) fn hex_val(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}
