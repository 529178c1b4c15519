//! Data blocks (§2.2.1): the records of one period T, encrypted under the interval key and
//! chained to the previous block by hash.
//!
//! ```text
//! Block    = header ‖ body_hash ‖ signature ‖ body
//! header   = stream ‖ index ‖ prev ‖ first_time ‖ last_time ‖ record_count ‖ interval ‖ key_id
//!            ‖ salt (16 bytes, the writer session's)
//! body     = XChaCha20-Poly1305(interval key, nonce = salt ‖ index (u64 BE),
//!                               aad = header bytes, plaintext) ‖ tag
//! plaintext= frame*        frame = varint(time − first_time) ‖ varint(len) ‖ record bytes
//! body_hash= keccak256(body)
//! block id = keccak256("cpchain/storage/block-id/v2\0" ‖ header bytes ‖ body_hash)
//! signature= device key over signing_digest("cpchain/storage/block/v2", block id)
//! ```
//!
//! *Header bytes* are the canonical postcard encoding of [`BlockHeader`] (fixed-size fields as
//! raw bytes, integers as LEB128 varints), produced without allocation and infallibly by
//! [`BlockHeader::to_bytes`].
//!
//! * The header is the AEAD's associated data, so a ciphertext cannot be moved under another
//!   header, and it is signed (through the block id) by the device key, so nobody else can
//!   make or alter a block.
//! * `body_hash` lets anyone holding no key (a storage node, an auditor, the chain) check
//!   that a body belongs to its header: the block id, which anchors put on chain, commits to
//!   the ciphertext too.
//!
//! # Nonce uniqueness without persistent state (wire v2)
//! The interval key is HKDF(master secret, stream, interval): it is the same for every
//! writer of the stream, and a v1 block's nonce was `"cpdb" ‖ index`. A writer restarted
//! from genesis (factory reset, lost flash, a cloned image, a gateway that always starts
//! from genesis) or two gateways of one owner writing one stream name would then encrypt
//! different records under one (key, nonce) pair, and ChaCha20-Poly1305 would leak the XOR
//! of the plaintexts and the Poly1305 key. Safety must not rest on the device remembering
//! anything, so v2 puts the randomness in the nonce:
//!
//! * Every writer session (every [`crate::Writer::new`] or [`crate::Writer::resume`]) draws a
//!   [`SessionSalt`] of 128 bits: Keccak-256 of a domain label, the device's address and 32
//!   bytes from the caller's RNG, truncated. It is carried in every block header, so readers
//!   need nothing else to decrypt.
//! * The AEAD is XChaCha20-Poly1305 (chacha20poly1305 0.10) with the 24-byte nonce
//!   `salt ‖ index (u64 BE)`. Within a session indices never repeat; across sessions the
//!   salts differ except with probability about s² / 2¹²⁹ for s sessions under one key.
//!   The device address in the salt's preimage keeps two devices apart even if their RNGs
//!   produced equal bytes; a device whose RNG repeats its output after a reset (a cloned
//!   image with a fixed seed and no entropy source) is outside what any scheme can fix
//!   without state, and is out of scope (see `docs/SECURITY.md`, section 4).
//! * The interval key stays what it was: one key per (stream, interval), so key-index
//!   records and sharing grants, which sell an interval's key, are unchanged. Only the
//!   nonce moved.
//!
//! The block's wire tag moved from 0x0401 to 0x0405 and its signature and id labels from
//! `v1` to `v2`, so a v1 decoder refuses a v2 block (and vice versa) instead of misreading
//! it. Deviation from the paper: §2.2.2 names no cipher; the extended nonce is our choice.

use crate::error::SealError;
use crate::keys::{IntervalKey, KeyId};
use core::fmt;
use core::marker::PhantomData;
use cpchain_core::encoding::Domain;
use cpchain_core::{keccak256, keccak256_concat, Hash, Timestamp, WireMessage};
use cpchain_crypto::aead::{AeadKey, TAG_LEN};
use cpchain_crypto::{PublicKey, SecretKey, Signature};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Domain of the device signature over a block id.
pub const BLOCK_DOMAIN: Domain = Domain::new("cpchain/storage/block/v2");

/// Prefix of the block-id preimage.
pub const BLOCK_ID_PREFIX: &[u8] = b"cpchain/storage/block-id/v2\0";

/// Largest block body (ciphertext + tag) any decoder accepts: 1 MiB.
pub const MAX_BLOCK_BODY: usize = 1 << 20;

/// Largest encoding of a [`BlockHeader`]: 3 × 32 fixed bytes, 4 u64 and one u32 varint, and
/// the 16-byte session salt.
pub const HEADER_MAX: usize = 32 * 3 + 10 * 4 + 5 + SALT_LEN;

/// Bytes of a writer session's salt.
pub const SALT_LEN: usize = 16;

/// Prefix of a session salt's preimage.
pub const SALT_PREFIX: &[u8] = b"cpchain/storage/session-salt/v2\0";

/// Bytes of an XChaCha20-Poly1305 nonce: salt ‖ index.
pub const XNONCE_LEN: usize = 24;

/// The random value of one writer session, carried in every block header it seals and
/// prefixed to the block index in the nonce, so that no two writer sessions (a restart from
/// genesis, two gateways of one stream) ever use one (key, nonce) pair (see the module docs).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
pub struct SessionSalt(#[serde(with = "cpchain_core::fixed_bytes")] pub [u8; SALT_LEN]);

impl SessionSalt {
    /// The salt of a session of the device at `device`, from 32 bytes of fresh entropy
    /// (the caller's RNG, a hardware RNG on firmware): the first 16 bytes of
    /// `keccak256("cpchain/storage/session-salt/v2\0" ‖ device address ‖ entropy)`.
    pub fn from_entropy(device: &cpchain_core::Address, entropy: &[u8; 32]) -> SessionSalt {
        let h = keccak256_concat(&[SALT_PREFIX, &device.0, entropy]);
        let mut salt = [0u8; SALT_LEN];
        for (d, s) in salt.iter_mut().zip(h.as_bytes()) {
            *d = *s;
        }
        SessionSalt(salt)
    }

    /// A fresh salt for a session of the device at `device`, drawing 32 bytes from `rng`.
    pub fn random(
        device: &cpchain_core::Address,
        rng: &mut impl cpchain_crypto::CryptoRngCore,
    ) -> SessionSalt {
        let mut entropy = [0u8; 32];
        rng.fill_bytes(&mut entropy);
        SessionSalt::from_entropy(device, &entropy)
    }
}

impl fmt::Debug for SessionSalt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SessionSalt(0x")?;
        cpchain_core::fixed_bytes::write_hex(f, &self.0)?;
        f.write_str(")")
    }
}

/// Bytes a block's wire encoding adds to its body, at most: envelope, header, body hash,
/// signature and the body's length prefix.
pub const BLOCK_OVERHEAD: usize = cpchain_core::encoding::HEADER_LEN + HEADER_MAX + 32 + 65 + 5;

pub use crate::ids::{BlockId, StreamId};

/// The signed, authenticated-but-not-encrypted part of a block.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockHeader {
    /// The stream the block belongs to.
    pub stream: StreamId,
    /// Position in the stream, from 0.
    pub index: u64,
    /// Id of the block at `index − 1`; [`Hash::ZERO`] for block 0.
    pub prev: BlockId,
    /// Time of the first record.
    pub first_time: Timestamp,
    /// Time of the last record (same period T as `first_time`).
    pub last_time: Timestamp,
    /// Number of records in the body.
    pub record_count: u32,
    /// Encryption interval number (e) of `first_time`.
    pub interval: u64,
    /// Commitment to the key the body is sealed under.
    pub key_id: KeyId,
    /// The sealing writer session's salt: the first 16 bytes of the block's nonce.
    pub salt: SessionSalt,
}

/// A header's canonical bytes in a fixed buffer (no allocation).
#[derive(Clone, Copy)]
pub struct HeaderBytes {
    buf: [u8; HEADER_MAX],
    len: usize,
}

impl HeaderBytes {
    /// The encoded header.
    pub fn as_slice(&self) -> &[u8] {
        self.buf.get(..self.len).unwrap_or(&[])
    }

    fn put(&mut self, bytes: &[u8]) {
        for b in bytes {
            if let Some(slot) = self.buf.get_mut(self.len) {
                *slot = *b;
                self.len += 1;
            }
        }
    }

    fn put_varint(&mut self, v: u64) {
        let mut tmp = [0u8; 10];
        let n = write_varint(v, &mut tmp);
        self.put(tmp.get(..n).unwrap_or(&[]));
    }
}

impl BlockHeader {
    /// The canonical encoding: identical to postcard's (checked by a unit test), but written
    /// by hand into a fixed buffer so it cannot fail or allocate.
    pub fn to_bytes(&self) -> HeaderBytes {
        let mut out = HeaderBytes {
            buf: [0u8; HEADER_MAX],
            len: 0,
        };
        out.put(&self.stream.0);
        out.put_varint(self.index);
        out.put(self.prev.0.as_bytes());
        out.put_varint(self.first_time.as_millis());
        out.put_varint(self.last_time.as_millis());
        out.put_varint(u64::from(self.record_count));
        out.put_varint(self.interval);
        out.put(self.key_id.0.as_bytes());
        out.put(&self.salt.0);
        out
    }

    /// The XChaCha20-Poly1305 nonce of this block (see the module docs for why it never
    /// repeats under a key).
    pub fn nonce(&self) -> [u8; XNONCE_LEN] {
        block_nonce(&self.salt, self.index)
    }
}

/// `salt ‖ index (u64 BE)`: the 24-byte nonce of block `index` of a writer session.
pub fn block_nonce(salt: &SessionSalt, index: u64) -> [u8; XNONCE_LEN] {
    let mut n = [0u8; XNONCE_LEN];
    let (prefix, idx) = n.split_at_mut(SALT_LEN);
    for (d, s) in prefix.iter_mut().zip(salt.0) {
        *d = s;
    }
    for (d, s) in idx.iter_mut().zip(index.to_be_bytes()) {
        *d = s;
    }
    n
}

/// XChaCha20-Poly1305 encryption of `buf` in place; returns the detached tag.
pub(crate) fn xseal_detached(
    key: &AeadKey,
    nonce: &[u8; XNONCE_LEN],
    aad: &[u8],
    buf: &mut [u8],
) -> Result<[u8; TAG_LEN], SealError> {
    use chacha20poly1305::aead::AeadInPlace;
    use chacha20poly1305::{KeyInit, XChaCha20Poly1305};
    let cipher = XChaCha20Poly1305::new(key.expose_secret().into());
    let tag = cipher
        .encrypt_in_place_detached(nonce.into(), aad, buf)
        .map_err(|_| SealError::BufferFull)?;
    Ok(tag.into())
}

/// XChaCha20-Poly1305 decryption of `buf` in place against `tag`; `Err` (and `buf` left as
/// garbage the caller must not use) when the tag does not verify.
pub(crate) fn xopen_detached(
    key: &AeadKey,
    nonce: &[u8; XNONCE_LEN],
    aad: &[u8],
    buf: &mut [u8],
    tag: &[u8; TAG_LEN],
) -> Result<(), ()> {
    use chacha20poly1305::aead::AeadInPlace;
    use chacha20poly1305::{KeyInit, XChaCha20Poly1305};
    let cipher = XChaCha20Poly1305::new(key.expose_secret().into());
    cipher
        .decrypt_in_place_detached(nonce.into(), aad, buf, tag.into())
        .map_err(|_| ())
}

/// The id of a block with header bytes `header` and body hash `body_hash`.
pub fn block_id(header: &HeaderBytes, body_hash: &Hash) -> BlockId {
    BlockId(keccak256_concat(&[
        BLOCK_ID_PREFIX,
        header.as_slice(),
        body_hash.as_bytes(),
    ]))
}

/// Storage for a block body: a fixed-capacity `heapless::Vec` on firmware, a `Vec` on hosts.
/// Both have the same wire form (length-prefixed bytes).
pub trait BlockBody: AsRef<[u8]> + AsMut<[u8]> + Sized {
    /// Largest body this storage holds; decoding refuses anything longer.
    const MAX_LEN: usize;
    /// A body holding a copy of `bytes`; `None` if it does not fit.
    fn from_slice(bytes: &[u8]) -> Option<Self>;
    /// Append `bytes`; `Err` (and no change) if they do not fit.
    fn try_extend(&mut self, bytes: &[u8]) -> Result<(), SealError>;
}

impl<const N: usize> BlockBody for heapless::Vec<u8, N> {
    const MAX_LEN: usize = if N < MAX_BLOCK_BODY {
        N
    } else {
        MAX_BLOCK_BODY
    };
    fn from_slice(bytes: &[u8]) -> Option<Self> {
        if bytes.len() > Self::MAX_LEN {
            return None;
        }
        heapless::Vec::from_slice(bytes).ok()
    }
    fn try_extend(&mut self, bytes: &[u8]) -> Result<(), SealError> {
        if self.len().saturating_add(bytes.len()) > Self::MAX_LEN {
            return Err(SealError::BufferFull);
        }
        self.extend_from_slice(bytes)
            .map_err(|_| SealError::BufferFull)
    }
}

#[cfg(feature = "alloc")]
impl BlockBody for alloc::vec::Vec<u8> {
    const MAX_LEN: usize = MAX_BLOCK_BODY;
    fn from_slice(bytes: &[u8]) -> Option<Self> {
        (bytes.len() <= MAX_BLOCK_BODY).then(|| bytes.to_vec())
    }
    fn try_extend(&mut self, bytes: &[u8]) -> Result<(), SealError> {
        if self.len().saturating_add(bytes.len()) > MAX_BLOCK_BODY {
            return Err(SealError::BufferFull);
        }
        self.extend_from_slice(bytes);
        Ok(())
    }
}

/// A sealed data block. Fields are public because a block is a wire value from an untrusted
/// source: [`crate::ChainVerifier`] checks every one of them.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(bound(serialize = "B: BlockBody", deserialize = "B: BlockBody"))]
pub struct Block<B> {
    /// The header (AEAD associated data).
    pub header: BlockHeader,
    /// Keccak-256 of `body`.
    pub body_hash: Hash,
    /// Device signature over the block id.
    pub signature: Signature,
    /// Ciphertext of the framed records, then the 16-byte Poly1305 tag.
    #[serde(with = "body_serde")]
    pub body: B,
}

/// A block whose body lives in a fixed-capacity buffer of `N` bytes: what the firmware writer
/// emits.
pub type HeaplessBlock<const N: usize> = Block<heapless::Vec<u8, N>>;

/// A block with a heap body: what hosts decode and store.
#[cfg(feature = "alloc")]
pub type VecBlock = Block<alloc::vec::Vec<u8>>;

impl<B: BlockBody> WireMessage for Block<B> {
    /// v2 (XChaCha20-Poly1305, salted nonce); v1 blocks were 0x0401.
    const TAG: u16 = 0x0405;
    const MAX_ENCODED_LEN: usize = B::MAX_LEN + BLOCK_OVERHEAD;
}

impl<B: BlockBody> fmt::Debug for Block<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Block")
            .field("header", &self.header)
            .field("body_hash", &self.body_hash)
            .field("body_len", &self.body.as_ref().len())
            .finish()
    }
}

impl<B: BlockBody> Block<B> {
    /// Seal `plaintext` (framed records, see [`RecordFramer`]) under `key` as the block
    /// `header`, and sign it with the device key. `header.key_id` is set from `key`; the
    /// caller gives every other field (the [`crate::Writer`] does this for you).
    pub fn seal(
        header: BlockHeader,
        mut plaintext: B,
        key: &IntervalKey,
        device: &SecretKey,
    ) -> Result<Block<B>, SealError> {
        let seal = seal_in_place(header, &mut plaintext, key, device)?;
        Ok(Block {
            header: seal.header,
            body_hash: seal.body_hash,
            signature: seal.signature,
            body: plaintext,
        })
    }

    /// A borrowed view of this block.
    pub fn view(&self) -> BlockRef<'_> {
        BlockRef {
            header: self.header,
            body_hash: self.body_hash,
            signature: self.signature,
            body: self.body.as_ref(),
        }
    }

    /// The block id as claimed by the header and `body_hash` (not checked against the body).
    pub fn id(&self) -> BlockId {
        block_id(&self.header.to_bytes(), &self.body_hash)
    }

    /// Check that the body matches `body_hash` and the device signed the block; return the
    /// block id. This is all a storage node needs to accept a block for a known device.
    pub fn authenticate(&self, device: &PublicKey) -> Result<BlockId, crate::VerifyError> {
        let index = self.header.index;
        if keccak256(self.body.as_ref()) != self.body_hash {
            return Err(crate::VerifyError::BodyTampered { index });
        }
        let id = self.id();
        device
            .verify_payload(&BLOCK_DOMAIN, id.0.as_bytes(), &self.signature)
            .map_err(|_| crate::VerifyError::BadSignature { index })?;
        Ok(id)
    }
}

/// The signed parts of a block sealed in place: everything but the body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockSeal {
    /// The header, with `key_id` set.
    pub header: BlockHeader,
    /// Keccak-256 of the sealed body.
    pub body_hash: Hash,
    /// Device signature over the block id.
    pub signature: Signature,
    /// The block id (what the next block links to).
    pub id: BlockId,
}

/// Seal `body` (framed records) in place: encrypt it under `key` with the header as
/// associated data, append the tag, hash it and sign the block id. `header.key_id` is set
/// from `key`. On `Err` the body is unchanged.
pub fn seal_in_place<B: BlockBody>(
    mut header: BlockHeader,
    body: &mut B,
    key: &IntervalKey,
    device: &SecretKey,
) -> Result<BlockSeal, SealError> {
    header.key_id = key.id();
    let (body_hash, id) = encrypt_in_place(&header, body, key)?;
    let signature = device.sign(&BLOCK_DOMAIN, id.0.as_bytes());
    Ok(BlockSeal {
        header,
        body_hash,
        signature,
        id,
    })
}

/// The first half of [`seal_in_place`]: encrypt `body` in place, append the tag, and return
/// the body hash and block id. Never inlined, so that its cipher and hash state (about
/// 2.4 KiB on a Cortex-M4 at opt-level "z") is off the stack before the signature's scalar
/// multiplication (about 11 KiB) starts: the two never add up (docs/BENCHMARKS.md,
/// "Firmware"). On `Err` the body is unchanged.
#[inline(never)]
fn encrypt_in_place<B: BlockBody>(
    header: &BlockHeader,
    body: &mut B,
    key: &IntervalKey,
) -> Result<(Hash, BlockId), SealError> {
    let hb = header.to_bytes();
    let plain_len = body.as_ref().len();
    body.try_extend(&[0u8; TAG_LEN])?;
    let (pt, tag_slot) = body
        .as_mut()
        .split_at_mut_checked(plain_len)
        .ok_or(SealError::BufferFull)?;
    let tag = xseal_detached(key.aead_key(), &header.nonce(), hb.as_slice(), pt)?;
    for (d, s) in tag_slot.iter_mut().zip(tag) {
        *d = s;
    }
    let body_hash = keccak256(body.as_ref());
    Ok((body_hash, block_id(&hb, &body_hash)))
}

/// A sealed block whose body is borrowed: what [`crate::Writer::poll_output`] hands out, so a
/// block is never copied on its way from the writer's buffer to the host's storage or radio.
/// Its wire form is exactly that of [`Block`].
#[derive(Clone, Copy, PartialEq, Eq, Serialize)]
pub struct BlockRef<'a> {
    /// The header.
    pub header: BlockHeader,
    /// Keccak-256 of `body`.
    pub body_hash: Hash,
    /// Device signature over the block id.
    pub signature: Signature,
    /// Ciphertext and tag.
    #[serde(serialize_with = "serialize_bytes")]
    pub body: &'a [u8],
}

fn serialize_bytes<S: Serializer>(b: &&[u8], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_bytes(b)
}

impl fmt::Debug for BlockRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BlockRef")
            .field("header", &self.header)
            .field("body_hash", &self.body_hash)
            .field("body_len", &self.body.len())
            .finish()
    }
}

impl BlockRef<'_> {
    /// The block id.
    pub fn id(&self) -> BlockId {
        block_id(&self.header.to_bytes(), &self.body_hash)
    }

    /// Encode as a [`Block`] wire message into `buf` (no allocation); returns the written
    /// prefix.
    pub fn encode_to_slice<'b>(
        &self,
        buf: &'b mut [u8],
    ) -> Result<&'b mut [u8], cpchain_core::EncodeError> {
        use cpchain_core::encoding::{HEADER_LEN, WIRE_VERSION};
        let (head, rest) = buf
            .split_at_mut_checked(HEADER_LEN)
            .ok_or(cpchain_core::EncodeError::BufferTooSmall)?;
        let [hi, lo] = <VecTag as WireMessage>::TAG.to_be_bytes();
        for (d, s) in head.iter_mut().zip([WIRE_VERSION, hi, lo]) {
            *d = s;
        }
        let used = postcard::to_slice(self, rest)
            .map_err(|_| cpchain_core::EncodeError::BufferTooSmall)?
            .len();
        buf.get_mut(..HEADER_LEN + used)
            .ok_or(cpchain_core::EncodeError::BufferTooSmall)
    }

    /// An owned copy in body storage `B`; `None` if the body does not fit `B`.
    pub fn to_block<B: BlockBody>(&self) -> Option<Block<B>> {
        Some(Block {
            header: self.header,
            body_hash: self.body_hash,
            signature: self.signature,
            body: B::from_slice(self.body)?,
        })
    }

    /// An owned copy with a heap body.
    #[cfg(feature = "alloc")]
    pub fn to_vec_block(&self) -> VecBlock {
        Block {
            header: self.header,
            body_hash: self.body_hash,
            signature: self.signature,
            body: self.body.to_vec(),
        }
    }
}

/// The block wire tag, named through one concrete instantiation.
type VecTag = Block<heapless::Vec<u8, 0>>;

#[cfg(feature = "alloc")]
impl<B: BlockBody> Block<B> {
    /// The same block with a heap body: how a host keeps a block a firmware writer emitted.
    pub fn to_vec_block(&self) -> VecBlock {
        self.view().to_vec_block()
    }
}

/// Serde for block bodies as length-prefixed bytes (postcard: varint length ‖ bytes), read
/// without going element by element.
mod body_serde {
    use super::*;

    pub fn serialize<S: Serializer, B: BlockBody>(b: &B, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(b.as_ref())
    }

    pub fn deserialize<'de, D: Deserializer<'de>, B: BlockBody>(d: D) -> Result<B, D::Error> {
        struct V<B>(PhantomData<B>);
        impl<'de, B: BlockBody> serde::de::Visitor<'de> for V<B> {
            type Value = B;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "at most {} bytes", B::MAX_LEN)
            }
            fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<B, E> {
                B::from_slice(v).ok_or_else(|| E::invalid_length(v.len(), &self))
            }
        }
        d.deserialize_bytes(V::<B>(PhantomData))
    }
}

/// LEB128 encoding of `v` into `out`; returns the length (1..=10).
pub(crate) fn write_varint(mut v: u64, out: &mut [u8; 10]) -> usize {
    let mut n = 0;
    for slot in out.iter_mut() {
        let byte = (v & 0x7f) as u8;
        v >>= 7;
        n += 1;
        if v == 0 {
            *slot = byte;
            break;
        }
        *slot = byte | 0x80;
    }
    n
}

/// Length of the LEB128 encoding of `v`.
pub(crate) fn varint_len(v: u64) -> usize {
    let bits = 64 - v.leading_zeros() as usize;
    bits.div_ceil(7).max(1)
}

/// Read one canonical LEB128 u64 from the front of `input`; `None` on truncation, overflow
/// or an overlong (non-canonical) form.
pub(crate) fn read_varint(input: &[u8]) -> Option<(u64, &[u8])> {
    let mut v: u64 = 0;
    for (i, b) in input.iter().enumerate().take(10) {
        let chunk = u64::from(b & 0x7f);
        let shift = 7 * i as u32;
        if i == 9 && chunk > 1 {
            return None;
        }
        v |= chunk << shift;
        if b & 0x80 == 0 {
            if i > 0 && *b == 0 {
                return None; // overlong
            }
            return Some((v, input.get(i + 1..)?));
        }
    }
    None
}

/// Bytes one record of `len` bytes at `delta` ms after the block's first record takes in a
/// block's plaintext.
pub fn framed_len(delta: u64, len: usize) -> usize {
    varint_len(delta)
        .saturating_add(varint_len(len as u64))
        .saturating_add(len)
}

/// Appends framed records to a block's plaintext buffer; the writer's inner loop.
#[derive(Debug)]
pub struct RecordFramer;

impl RecordFramer {
    /// Append `record` at `delta` ms after the block's first record. `Err` (buffer unchanged)
    /// if it does not fit.
    pub fn push<B: BlockBody>(buf: &mut B, delta: u64, record: &[u8]) -> Result<(), SealError> {
        let mut a = [0u8; 10];
        let mut b = [0u8; 10];
        let na = write_varint(delta, &mut a);
        let nb = write_varint(record.len() as u64, &mut b);
        let total = na.saturating_add(nb).saturating_add(record.len());
        if buf.as_ref().len().saturating_add(total) > B::MAX_LEN {
            return Err(SealError::BufferFull);
        }
        // Cannot fail after the check above; each call checks again anyway.
        buf.try_extend(a.get(..na).unwrap_or(&[]))?;
        buf.try_extend(b.get(..nb).unwrap_or(&[]))?;
        buf.try_extend(record)
    }
}

/// One decrypted record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Record<'a> {
    /// When the record was appended.
    pub time: Timestamp,
    /// The record's bytes.
    pub data: &'a [u8],
}

/// The records of an opened block, in order. Construct with [`crate::open_block`], which
/// validates the framing first, so iteration cannot fail.
#[derive(Debug, Clone)]
pub struct Records<'a> {
    rest: &'a [u8],
    first_time: Timestamp,
}

impl<'a> Records<'a> {
    /// Validate `plaintext` against `header` (count, times within the header's range and
    /// non-decreasing) and return the iterator; `None` if anything is off.
    pub(crate) fn parse(plaintext: &'a [u8], header: &BlockHeader) -> Option<Records<'a>> {
        let span = header
            .last_time
            .as_millis()
            .checked_sub(header.first_time.as_millis())?;
        let mut rest = plaintext;
        let mut count: u32 = 0;
        let mut last_delta = 0u64;
        while !rest.is_empty() {
            let (delta, r) = read_varint(rest)?;
            let (len, r) = read_varint(r)?;
            let len = usize::try_from(len).ok()?;
            if delta < last_delta || delta > span || (count == 0 && delta != 0) {
                return None;
            }
            last_delta = delta;
            rest = r.get(len..)?;
            count = count.checked_add(1)?;
        }
        if count != header.record_count || last_delta != span {
            return None;
        }
        Some(Records {
            rest: plaintext,
            first_time: header.first_time,
        })
    }
}

impl<'a> Records<'a> {
    /// Records of a plaintext that [`Records::parse`] has already accepted.
    #[cfg(feature = "alloc")]
    pub(crate) fn from_validated(plaintext: &'a [u8], first_time: Timestamp) -> Records<'a> {
        Records {
            rest: plaintext,
            first_time,
        }
    }
}

impl<'a> Iterator for Records<'a> {
    type Item = Record<'a>;
    fn next(&mut self) -> Option<Record<'a>> {
        let (delta, r) = read_varint(self.rest)?;
        let (len, r) = read_varint(r)?;
        let len = usize::try_from(len).ok()?;
        let (data, rest) = r.split_at_checked(len)?;
        self.rest = rest;
        Some(Record {
            time: self
                .first_time
                .saturating_add(cpchain_core::Duration(delta)),
            data,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MasterSecret;
    extern crate alloc;

    fn header() -> BlockHeader {
        BlockHeader {
            stream: StreamId([u8::MAX; 32]),
            index: u64::MAX,
            prev: BlockId(Hash([0xee; 32])),
            first_time: Timestamp(u64::MAX),
            last_time: Timestamp(u64::MAX),
            record_count: u32::MAX,
            interval: u64::MAX,
            key_id: KeyId(Hash([0xdd; 32])),
            salt: SessionSalt([0xcc; SALT_LEN]),
        }
    }

    #[test]
    fn header_bytes_equal_postcard_and_fit_the_bound() {
        let big = header();
        let small = BlockHeader {
            index: 0,
            first_time: Timestamp(300),
            last_time: Timestamp(128),
            record_count: 1,
            interval: 127,
            ..big
        };
        for h in [big, small] {
            let pc = postcard::to_allocvec(&h).unwrap();
            assert_eq!(h.to_bytes().as_slice(), &pc[..]);
        }
        assert_eq!(big.to_bytes().as_slice().len(), HEADER_MAX);
    }

    #[test]
    fn varints_round_trip_and_refuse_overlong() {
        for v in [0u64, 1, 127, 128, 300, 16_383, 16_384, u64::MAX] {
            let mut b = [0u8; 10];
            let n = write_varint(v, &mut b);
            assert_eq!(n, varint_len(v));
            assert_eq!(read_varint(&b[..n]), Some((v, &[][..])));
        }
        assert_eq!(read_varint(&[0x80, 0x00]), None);
        assert_eq!(read_varint(&[0xff; 10]), None);
        assert_eq!(read_varint(&[0x80]), None);
    }

    #[test]
    fn nonce_is_injective_in_salt_and_index() {
        let a = SessionSalt([1; SALT_LEN]);
        let b = SessionSalt([2; SALT_LEN]);
        assert_ne!(block_nonce(&a, 1), block_nonce(&a, 256));
        assert_ne!(block_nonce(&a, 7), block_nonce(&b, 7));
        assert_eq!(&block_nonce(&a, 7)[..SALT_LEN], &a.0);
        assert_eq!(&block_nonce(&a, 7)[SALT_LEN..], &7u64.to_be_bytes());
    }

    #[test]
    fn salt_binds_device_and_entropy() {
        let d1 = cpchain_core::Address([1; 20]);
        let d2 = cpchain_core::Address([2; 20]);
        let e = [9u8; 32];
        assert_eq!(
            SessionSalt::from_entropy(&d1, &e),
            SessionSalt::from_entropy(&d1, &e)
        );
        assert_ne!(
            SessionSalt::from_entropy(&d1, &e),
            SessionSalt::from_entropy(&d2, &e)
        );
        assert_ne!(
            SessionSalt::from_entropy(&d1, &e),
            SessionSalt::from_entropy(&d1, &[8; 32])
        );
    }

    #[test]
    fn a_full_buffer_refuses_the_tag_without_panicking() {
        let m = MasterSecret::from_bytes([1; 32]);
        let k = m.interval_key(&StreamId([0; 32]), 0);
        let sk = SecretKey::from_bytes(&[3; 32]).unwrap();
        let body: heapless::Vec<u8, 8> = heapless::Vec::from_slice(&[1; 8]).unwrap();
        let h = BlockHeader {
            record_count: 1,
            ..header()
        };
        assert_eq!(
            Block::seal(h, body, &k, &sk).err(),
            Some(SealError::BufferFull)
        );
    }
}
