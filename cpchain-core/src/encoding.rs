//! The SDK's wire format: versioned, tagged, size-limited, canonical postcard.
//!
//! Every message that crosses a trust boundary is framed as
//!
//! ```text
//! version: u8 (= WIRE_VERSION) ‖ tag: u16 big-endian ‖ postcard body
//! ```
//!
//! * The **version** lets a later format coexist with this one.
//! * The **tag** names the message type ([`WireMessage::TAG`]), so bytes of one type can never
//!   be decoded as another.
//! * The **size limit** ([`WireMessage::MAX_ENCODED_LEN`]) is checked before parsing starts.
//! * Decoding is **canonical**: the decoder re-encodes what it parsed and compares it with
//!   the input as it goes (a postcard flavor that writes nothing: single bytes and whole
//!   slices are compared in place, stopping at the first difference), so every accepted
//!   message has exactly one encoding (postcard alone would accept an overlong varint).
//!   Trailing bytes are refused.
//! * **Byte strings** (`Vec<u8>` payloads, block bodies) go through serde as bytes
//!   ([`bytes`], [`bounded_bytes`], [`byte_vecs`], [`bounded_byte_vecs`]), not as sequences
//!   of `u8`: postcard encodes both forms identically, and as bytes each string is one
//!   length and one slice to copy, compare or hash instead of one serde call per byte.
//!
//! Signed payloads go through [`signing_digest`], which prefixes a [`Domain`] so that a
//! signature made for one purpose (a PREPARE vote, a data-block header, a grant) can never be
//! replayed as another.
//!
//! ```
//! use cpchain_core::{encoding, Hash, WireMessage};
//! #[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
//! struct Ping { nonce: u64, head: Hash }
//! impl WireMessage for Ping { const TAG: u16 = 0x7f01; const MAX_ENCODED_LEN: usize = 64; }
//!
//! let ping = Ping { nonce: 7, head: Hash::ZERO };
//! let mut buf = [0u8; 64];
//! let bytes = encoding::encode_to_slice(&ping, &mut buf).unwrap();
//! assert_eq!(encoding::decode::<Ping>(bytes).unwrap(), ping);
//! ```

use crate::{keccak256_concat, DecodeError, EncodeError, Hash};
use postcard::ser_flavors::Flavor;
use serde::de::DeserializeOwned;
use serde::Serialize;

/// Version byte of the current wire format.
pub const WIRE_VERSION: u8 = 1;

/// Bytes of the envelope header (version + tag).
pub const HEADER_LEN: usize = 3;

/// A message type with a place in the wire format.
///
/// Tags are allocated per crate: `0x00xx` core, `0x01xx` crypto, `0x02xx` consensus (LBFT),
/// `0x03xx` consensus (DPoR), `0x04xx` storage, `0x05xx` sharing, `0x7fxx` tests and examples.
pub trait WireMessage: Serialize + DeserializeOwned {
    /// The type's tag in the envelope; unique across the SDK.
    const TAG: u16;
    /// Hard limit on the encoded length, envelope included; longer input is refused unparsed.
    const MAX_ENCODED_LEN: usize;
}

/// Encode `msg` into `buf` and return the written prefix. Needs no allocator, for firmware.
pub fn encode_to_slice<'a, T: WireMessage>(
    msg: &T,
    buf: &'a mut [u8],
) -> Result<&'a mut [u8], EncodeError> {
    let (head, body) = buf
        .split_at_mut_checked(HEADER_LEN)
        .ok_or(EncodeError::BufferTooSmall)?;
    write_header::<T>(head);
    let used = postcard::to_slice(msg, body)
        .map_err(|e| match e {
            postcard::Error::SerializeBufferFull => EncodeError::BufferTooSmall,
            _ => EncodeError::Unserializable,
        })?
        .len();
    let len = HEADER_LEN + used;
    if len > T::MAX_ENCODED_LEN {
        return Err(EncodeError::TooLarge {
            len,
            max: T::MAX_ENCODED_LEN,
        });
    }
    buf.get_mut(..len).ok_or(EncodeError::BufferTooSmall)
}

/// Encode `msg` into a fixed-capacity `heapless::Vec`, for firmware that keeps messages in
/// static buffers.
pub fn encode_to_heapless<T: WireMessage, const N: usize>(
    msg: &T,
) -> Result<heapless::Vec<u8, N>, EncodeError> {
    let mut buf = [0u8; N];
    let bytes = encode_to_slice(msg, &mut buf)?;
    heapless::Vec::from_slice(bytes).map_err(|_| EncodeError::BufferTooSmall)
}

/// Encode `msg` into a new `Vec`.
#[cfg(feature = "alloc")]
pub fn encode_to_vec<T: WireMessage>(msg: &T) -> Result<alloc::vec::Vec<u8>, EncodeError> {
    let mut out = alloc::vec::Vec::with_capacity(64);
    out.push(WIRE_VERSION);
    out.extend_from_slice(&T::TAG.to_be_bytes());
    let out = postcard::to_extend(msg, out).map_err(|_| EncodeError::Unserializable)?;
    if out.len() > T::MAX_ENCODED_LEN {
        return Err(EncodeError::TooLarge {
            len: out.len(),
            max: T::MAX_ENCODED_LEN,
        });
    }
    Ok(out)
}

/// Decode one whole message of type `T` from untrusted bytes.
///
/// Refuses, with a typed error and without panicking: input over the size limit, a wrong
/// version or tag, a malformed body, a non-canonical encoding and trailing bytes.
pub fn decode<T: WireMessage>(input: &[u8]) -> Result<T, DecodeError> {
    if input.len() > T::MAX_ENCODED_LEN {
        return Err(DecodeError::TooLarge {
            len: input.len(),
            max: T::MAX_ENCODED_LEN,
        });
    }
    let (head, body) = input
        .split_at_checked(HEADER_LEN)
        .ok_or(DecodeError::Truncated)?;
    let tag = peek_header(head)?;
    if tag != T::TAG {
        return Err(DecodeError::WrongTag {
            expected: T::TAG,
            found: tag,
        });
    }
    let (msg, rest) = postcard::take_from_bytes::<T>(body).map_err(|_| DecodeError::Malformed)?;
    if !rest.is_empty() {
        return Err(DecodeError::TrailingBytes(rest.len()));
    }
    ensure_canonical(&msg, body)?;
    Ok(msg)
}

/// Byte strings (`Vec<u8>`) through serde as bytes rather than as sequences of `u8`:
/// `#[serde(with = "cpchain_core::encoding::bytes")]`.
///
/// Why: serde's own `Vec<u8>` goes through `serialize_seq`/`visit_seq`, one call per byte
/// each way, and the canonical check re-serializes it byte by byte; as bytes it is one
/// length and one slice copy or compare. Postcard writes a sequence of `u8` and a byte
/// string identically (varint length, then the raw bytes), so the wire format is the same
/// byte for byte. Formats without a byte type (serde_json) write both as an array of
/// numbers; the decoder accepts such a sequence too.
///
/// Decoding allocates only what the input holds: postcard hands over a slice it has checked
/// is present, and a sequence grows as its items arrive (never pre-allocated from a length
/// prefix). For a stated cap use [`bounded_bytes`].
#[cfg(feature = "alloc")]
pub mod bytes {
    use alloc::vec::Vec;

    /// Serialize a byte string as bytes (one varint length and the raw bytes in postcard).
    pub fn serialize<S: serde::Serializer, T: AsRef<[u8]> + ?Sized>(
        v: &T,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(v.as_ref())
    }

    /// Deserialize a byte string written by [`serialize`] (or as a sequence of `u8`).
    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        d.deserialize_bytes(super::bounded::Item { left: usize::MAX })
    }
}

/// Decode a byte string (as [`bytes`] does) of at most `MAX` bytes, refusing a longer one
/// before copying it: `#[serde(serialize_with = "cpchain_core::encoding::bytes::serialize",
/// deserialize_with = "cpchain_core::encoding::bounded_bytes::<_, MAX>")]`.
#[cfg(feature = "alloc")]
pub fn bounded_bytes<'de, D: serde::Deserializer<'de>, const MAX: usize>(
    d: D,
) -> Result<alloc::vec::Vec<u8>, D::Error> {
    d.deserialize_bytes(bounded::Item { left: MAX })
}

/// Serialize a list of byte strings (a block body) with each item as bytes (see [`bytes`]);
/// the encoding is the same as serde's `Vec<Vec<u8>>` one, only cheaper. The decoding
/// counterpart is [`bounded_byte_vecs`]: `#[serde(serialize_with =
/// "cpchain_core::encoding::byte_vecs", deserialize_with = "…bounded_byte_vecs::<…>")]`.
pub fn byte_vecs<S: serde::Serializer, T: AsRef<[u8]>>(
    items: &[T],
    s: S,
) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeSeq;
    let mut seq = s.serialize_seq(Some(items.len()))?;
    for item in items {
        seq.serialize_element(&AsBytes(item.as_ref()))?;
    }
    seq.end()
}

/// One byte string serialized as bytes.
struct AsBytes<'a>(&'a [u8]);

impl Serialize for AsBytes<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(self.0)
    }
}

/// Decoding a list of byte strings (a block body) with caps checked *while* decoding:
/// at most `MAX_ITEMS` items and `MAX_BYTES` bytes in all, each item copied from the
/// input only after the input is known to hold it, and the list grown as items arrive
/// (never pre-allocated from a length prefix the input has not paid for). Use it with
/// `#[serde(deserialize_with = "cpchain_core::encoding::bounded_byte_vecs::<_, ITEMS, BYTES>")]`.
///
/// Why: a `Vec<Vec<u8>>` decoded by plain serde costs 24 heap bytes per item (48 while the
/// list doubles) for an empty item that costs one wire byte, so a 1.4 MB message could
/// become 64 MiB. With this decoder the heap of an accepted list is at most
/// `MAX_BYTES + MAX_ITEMS × size_of::<Vec<u8>>()` (capacity trimmed to the length), and
/// a refused one is freed at once. The wire format is postcard's usual one (a varint
/// count, then each item as a varint length and raw bytes), so encoding is unchanged.
#[cfg(feature = "alloc")]
pub fn bounded_byte_vecs<'de, D, const MAX_ITEMS: usize, const MAX_BYTES: usize>(
    deserializer: D,
) -> Result<alloc::vec::Vec<alloc::vec::Vec<u8>>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    deserializer.deserialize_seq(bounded::Items::<MAX_ITEMS, MAX_BYTES>)
}

/// Heap bytes a list accepted by [`bounded_byte_vecs`] may hold: its stated decoded-size cap.
#[cfg(feature = "alloc")]
pub const fn bounded_byte_vecs_heap(max_items: usize, max_bytes: usize) -> usize {
    max_bytes.saturating_add(max_items.saturating_mul(core::mem::size_of::<alloc::vec::Vec<u8>>()))
}

#[cfg(feature = "alloc")]
mod bounded {
    use alloc::vec::Vec;
    use core::fmt;
    use serde::de::{DeserializeSeed, Error, SeqAccess, Visitor};

    /// Items pre-allocated before any has arrived (a constant, whatever the prefix says).
    const PREALLOC: usize = 16;

    pub(super) struct Items<const MAX_ITEMS: usize, const MAX_BYTES: usize>;

    impl<'de, const MAX_ITEMS: usize, const MAX_BYTES: usize> Visitor<'de>
        for Items<MAX_ITEMS, MAX_BYTES>
    {
        type Value = Vec<Vec<u8>>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(
                f,
                "at most {MAX_ITEMS} byte strings of {MAX_BYTES} bytes in all"
            )
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            if seq.size_hint().is_some_and(|n| n > MAX_ITEMS) {
                return Err(A::Error::custom("too many items"));
            }
            let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(PREALLOC));
            let mut used = 0usize;
            loop {
                let left = MAX_BYTES.saturating_sub(used);
                let Some(item) = seq.next_element_seed(Item { left })? else {
                    break;
                };
                if items.len() >= MAX_ITEMS {
                    return Err(A::Error::custom("too many items"));
                }
                used = used.saturating_add(item.len());
                items.push(item);
            }
            items.shrink_to_fit();
            Ok(items)
        }
    }

    /// One byte string, refused if longer than `left`.
    pub(super) struct Item {
        pub(super) left: usize,
    }

    impl<'de> DeserializeSeed<'de> for Item {
        type Value = Vec<u8>;
        fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Vec<u8>, D::Error> {
            d.deserialize_bytes(self)
        }
    }

    impl<'de> Visitor<'de> for Item {
        type Value = Vec<u8>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "a byte string of at most {} bytes", self.left)
        }

        fn visit_bytes<E: Error>(self, v: &[u8]) -> Result<Vec<u8>, E> {
            if v.len() > self.left {
                return Err(E::custom("too many bytes"));
            }
            Ok(v.to_vec())
        }

        fn visit_byte_buf<E: Error>(self, v: Vec<u8>) -> Result<Vec<u8>, E> {
            if v.len() > self.left {
                return Err(E::custom("too many bytes"));
            }
            Ok(v)
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<u8>, A::Error> {
            if seq.size_hint().is_some_and(|n| n > self.left) {
                return Err(A::Error::custom("too many bytes"));
            }
            let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(PREALLOC));
            while let Some(b) = seq.next_element::<u8>()? {
                if out.len() >= self.left {
                    return Err(A::Error::custom("too many bytes"));
                }
                out.push(b);
            }
            out.shrink_to_fit();
            Ok(out)
        }
    }
}

/// Read the tag of an envelope without decoding the body: how a host dispatches bytes from a
/// peer to the right decoder.
pub fn peek_tag(input: &[u8]) -> Result<u16, DecodeError> {
    let head = input.get(..HEADER_LEN).ok_or(DecodeError::Truncated)?;
    peek_header(head)
}

fn peek_header(head: &[u8]) -> Result<u16, DecodeError> {
    match head {
        [WIRE_VERSION, hi, lo] => Ok(u16::from_be_bytes([*hi, *lo])),
        [v, _, _] => Err(DecodeError::UnsupportedVersion(*v)),
        _ => Err(DecodeError::Truncated),
    }
}

fn write_header<T: WireMessage>(head: &mut [u8]) {
    let [hi, lo] = T::TAG.to_be_bytes();
    for (dst, src) in head.iter_mut().zip([WIRE_VERSION, hi, lo]) {
        *dst = src;
    }
}

/// Re-serialize `msg` against `body`, comparing as it goes; no allocation.
fn ensure_canonical<T: Serialize>(msg: &T, body: &[u8]) -> Result<(), DecodeError> {
    let same = postcard::serialize_with_flavor::<T, Compare<'_>, bool>(
        msg,
        Compare {
            expected: body,
            pos: 0,
        },
    )
    .map_err(|_| DecodeError::NonCanonical)?;
    if same {
        Ok(())
    } else {
        Err(DecodeError::NonCanonical)
    }
}

/// A postcard flavor that checks the serialized bytes equal `expected`.
struct Compare<'a> {
    expected: &'a [u8],
    pos: usize,
}

impl Flavor for Compare<'_> {
    type Output = bool;

    fn try_push(&mut self, data: u8) -> postcard::Result<()> {
        match self.expected.get(self.pos) {
            Some(b) if *b == data => {
                self.pos += 1;
                Ok(())
            }
            _ => Err(postcard::Error::SerializeBufferFull),
        }
    }

    /// A whole slice at once (a byte string's body, a varint): one comparison, not one
    /// call per byte.
    fn try_extend(&mut self, data: &[u8]) -> postcard::Result<()> {
        let end = self
            .pos
            .checked_add(data.len())
            .ok_or(postcard::Error::SerializeBufferFull)?;
        match self.expected.get(self.pos..end) {
            Some(have) if have == data => {
                self.pos = end;
                Ok(())
            }
            _ => Err(postcard::Error::SerializeBufferFull),
        }
    }

    fn finalize(self) -> postcard::Result<bool> {
        Ok(self.pos == self.expected.len())
    }
}

/// The purpose a signature is made for. Distinct domains make signatures non-transferable
/// between message kinds; the version suffix lets a payload format change without ambiguity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Domain(&'static str);

impl Domain {
    /// A domain from a constant name such as `"cpchain/lbft/prepare/v1"`.
    pub const fn new(name: &'static str) -> Self {
        Domain(name)
    }
    /// The domain's name.
    pub const fn name(&self) -> &'static str {
        self.0
    }
}

/// Prefix of every domain-separated signing digest; it cannot begin an RLP-encoded header or
/// an Ethereum `personal_sign` message, so SDK signatures never collide with chain ones.
pub const SIGNING_PREFIX: &[u8] = b"\xffCPChain SDK signed payload\x00";

/// The digest that is signed for `payload` under `domain`:
/// `keccak256(SIGNING_PREFIX ‖ len(domain) as u64 LE ‖ domain ‖ payload)`.
pub fn signing_digest(domain: &Domain, payload: &[u8]) -> Hash {
    let name = domain.0.as_bytes();
    let len = (name.len() as u64).to_le_bytes();
    keccak256_concat(&[SIGNING_PREFIX, &len, name, payload])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Address, Timestamp};
    use serde::Deserialize;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Probe {
        a: u64,
        who: Address,
        at: Timestamp,
        flag: bool,
    }
    impl WireMessage for Probe {
        const TAG: u16 = 0x7f00;
        const MAX_ENCODED_LEN: usize = 64;
    }

    fn probe() -> Probe {
        Probe {
            a: 300,
            who: Address([7; 20]),
            at: Timestamp(1_700_000_000_000),
            flag: true,
        }
    }

    #[test]
    fn round_trip_slice_vec_heapless() {
        let mut buf = [0u8; 64];
        let a = encode_to_slice(&probe(), &mut buf).unwrap().to_vec();
        let b = encode_to_vec(&probe()).unwrap();
        let c = encode_to_heapless::<_, 64>(&probe()).unwrap();
        assert_eq!(a, b);
        assert_eq!(&a[..], &c[..]);
        assert_eq!(decode::<Probe>(&a).unwrap(), probe());
        assert_eq!(peek_tag(&a), Ok(0x7f00));
    }

    #[test]
    fn refusals_are_typed() {
        let good = encode_to_vec(&probe()).unwrap();
        assert_eq!(decode::<Probe>(&good[..2]), Err(DecodeError::Truncated));
        let mut v = good.clone();
        v[0] = 9;
        assert_eq!(decode::<Probe>(&v), Err(DecodeError::UnsupportedVersion(9)));
        let mut v = good.clone();
        v[2] = 1;
        assert!(matches!(
            decode::<Probe>(&v),
            Err(DecodeError::WrongTag { .. })
        ));
        let mut v = good.clone();
        v.push(0);
        assert_eq!(decode::<Probe>(&v), Err(DecodeError::TrailingBytes(1)));
        assert_eq!(
            decode::<Probe>(&[0u8; 65]),
            Err(DecodeError::TooLarge { len: 65, max: 64 })
        );
        let mut v = good.clone();
        *v.last_mut().unwrap() = 2; // bool must be 0 or 1
        assert_eq!(decode::<Probe>(&v), Err(DecodeError::Malformed));
        let mut small = [0u8; 10];
        assert_eq!(
            encode_to_slice(&probe(), &mut small),
            Err(EncodeError::BufferTooSmall)
        );
    }

    #[test]
    fn overlong_varint_is_non_canonical() {
        // a = 300 is the varint [0xac, 0x02]; write 0 as [0x80, 0x00] in a fresh message.
        let mut v = encode_to_vec(&Probe { a: 0, ..probe() }).unwrap();
        assert_eq!(v[HEADER_LEN], 0);
        v[HEADER_LEN] = 0x80;
        v.insert(HEADER_LEN + 1, 0x00);
        assert_eq!(decode::<Probe>(&v), Err(DecodeError::NonCanonical));
    }

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Body {
        #[serde(deserialize_with = "bounded_byte_vecs::<_, 4, 10>")]
        items: alloc::vec::Vec<alloc::vec::Vec<u8>>,
    }
    impl WireMessage for Body {
        const TAG: u16 = 0x7f02;
        const MAX_ENCODED_LEN: usize = 1 << 16;
    }

    #[test]
    fn bounded_byte_vecs_refuse_counts_and_bytes_over_the_caps() {
        use alloc::vec;
        let ok = Body {
            items: vec![vec![1, 2, 3], vec![], vec![4; 7]],
        };
        let bytes = encode_to_vec(&ok).unwrap();
        assert_eq!(decode::<Body>(&bytes).unwrap(), ok);
        // Five items (cap 4), even empty ones.
        let many = encode_to_vec(&Body {
            items: vec![vec![]; 5],
        })
        .unwrap();
        assert_eq!(decode::<Body>(&many), Err(DecodeError::Malformed));
        // Eleven bytes in all (cap 10).
        let big = encode_to_vec(&Body {
            items: vec![vec![0; 6], vec![0; 5]],
        })
        .unwrap();
        assert_eq!(decode::<Body>(&big), Err(DecodeError::Malformed));
        // A count prefix the input does not pay for: refused, nothing large allocated.
        let mut lying = bytes.clone();
        lying.truncate(HEADER_LEN);
        lying.extend_from_slice(&[0x80, 0x80, 0x04]);
        assert_eq!(decode::<Body>(&lying), Err(DecodeError::Malformed));
    }

    /// The same fields through serde's sequence form (what `main` had) and as bytes.
    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct AsSeq {
        data: alloc::vec::Vec<u8>,
        items: alloc::vec::Vec<alloc::vec::Vec<u8>>,
    }
    impl WireMessage for AsSeq {
        const TAG: u16 = 0x7f03;
        const MAX_ENCODED_LEN: usize = 1 << 20;
    }
    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct AsBytesProbe {
        #[serde(with = "bytes")]
        data: alloc::vec::Vec<u8>,
        #[serde(
            serialize_with = "byte_vecs",
            deserialize_with = "bounded_byte_vecs::<_, 100, 100_000>"
        )]
        items: alloc::vec::Vec<alloc::vec::Vec<u8>>,
    }
    impl WireMessage for AsBytesProbe {
        const TAG: u16 = 0x7f03;
        const MAX_ENCODED_LEN: usize = 1 << 20;
    }

    /// Issue 14: byte strings as bytes are the sequence encoding byte for byte (lengths
    /// with one-, two- and three-byte varints), and each form decodes the other's bytes.
    #[test]
    fn bytes_and_byte_vecs_encode_exactly_like_sequences() {
        use alloc::vec;
        for n in [0usize, 1, 127, 128, 300, 16_383, 16_384, 40_000] {
            let data: alloc::vec::Vec<u8> = (0..n).map(|i| (i * 7) as u8).collect();
            let items = vec![vec![], data.clone(), vec![1; 128], data[..n / 2].to_vec()];
            let seq = AsSeq {
                data: data.clone(),
                items: items.clone(),
            };
            let byt = AsBytesProbe { data, items };
            let a = encode_to_vec(&seq).unwrap();
            let b = encode_to_vec(&byt).unwrap();
            assert_eq!(a, b, "n = {n}");
            let mut buf = vec![0u8; a.len()];
            assert_eq!(encode_to_slice(&byt, &mut buf).unwrap(), &a[..]);
            assert_eq!(decode::<AsBytesProbe>(&a).unwrap(), byt);
            assert_eq!(decode::<AsSeq>(&b).unwrap(), seq);
        }
    }

    /// Issue 14 item 2: the canonical check compares whole slices; an overlong varint in a
    /// byte string's length (3 written as `[0x83, 0x00]`) is still refused, and so are a
    /// body that differs inside a byte string and one that ends early or late.
    #[test]
    fn overlong_byte_string_length_is_non_canonical() {
        use alloc::vec;
        let msg = AsBytesProbe {
            data: vec![1, 2, 3],
            items: vec![],
        };
        let good = encode_to_vec(&msg).unwrap();
        assert_eq!(good[HEADER_LEN..], [3, 1, 2, 3, 0]);
        let mut v = good.clone();
        v[HEADER_LEN] = 0x83;
        v.insert(HEADER_LEN + 1, 0x00);
        assert_eq!(decode::<AsBytesProbe>(&v), Err(DecodeError::NonCanonical));
        let body = &good[HEADER_LEN..];
        assert_eq!(ensure_canonical(&msg, body), Ok(()));
        assert_eq!(
            ensure_canonical(&msg, &[3, 1, 9, 3, 0]),
            Err(DecodeError::NonCanonical)
        );
        assert_eq!(
            ensure_canonical(&msg, &[3, 1, 2]),
            Err(DecodeError::NonCanonical)
        );
        assert_eq!(
            ensure_canonical(&msg, &[3, 1, 2, 3, 0, 0]),
            Err(DecodeError::NonCanonical)
        );
    }

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Capped {
        #[serde(
            serialize_with = "bytes::serialize",
            deserialize_with = "bounded_bytes::<_, 8>"
        )]
        data: alloc::vec::Vec<u8>,
    }
    impl WireMessage for Capped {
        const TAG: u16 = 0x7f04;
        const MAX_ENCODED_LEN: usize = 64;
    }

    #[test]
    fn bounded_bytes_refuse_more_than_the_cap() {
        use alloc::vec;
        let ok = Capped { data: vec![5; 8] };
        assert_eq!(decode::<Capped>(&encode_to_vec(&ok).unwrap()).unwrap(), ok);
        let long = encode_to_vec(&Capped { data: vec![5; 9] }).unwrap();
        assert_eq!(decode::<Capped>(&long), Err(DecodeError::Malformed));
        // A length the input does not hold: refused, nothing allocated for it.
        let mut lying = encode_to_vec(&Capped { data: vec![] }).unwrap();
        lying[HEADER_LEN] = 7;
        assert_eq!(decode::<Capped>(&lying), Err(DecodeError::Malformed));
    }

    #[test]
    fn domains_separate_digests() {
        let a = signing_digest(&Domain::new("x/a/v1"), b"payload");
        let b = signing_digest(&Domain::new("x/b/v1"), b"payload");
        // A domain that absorbs payload bytes must not collide either.
        let c = signing_digest(&Domain::new("x/a/v1p"), b"ayload");
        assert_ne!(a, b);
        assert_ne!(a, c);
    }
}
