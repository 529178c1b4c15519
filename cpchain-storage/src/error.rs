//! Error types of the storage crate. All are small and `Copy`, carry no secret material, and
//! leave the caller's state unchanged when returned.

use cpchain_core::{DecodeError, Timestamp};
use thiserror::Error;

/// An inconsistent [`crate::Schedule`] or shard configuration: the caller's mistake, found
/// before any state exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The block period T is zero.
    #[error("block period T must be positive")]
    ZeroPeriod,
    /// The encryption interval e is not a positive multiple of T, so a block could straddle
    /// two keys.
    #[error("encryption interval e must be a positive multiple of the period T")]
    EncryptionInterval,
    /// The upload interval u is not a positive multiple of T, so an anchor could cut a block.
    #[error("upload interval u must be a positive multiple of the period T")]
    UploadInterval,
    /// Reed–Solomon parameters out of range (k ≥ 1, m ≥ 1, k + m ≤ [`crate::MAX_SHARDS`]).
    #[error("shard counts out of range")]
    ShardCounts,
}

/// Why [`crate::Writer::append`] refused a record. The writer is unchanged: the caller may
/// retry (after draining outputs) or drop the record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum WriteError {
    /// `now` is earlier than a time the writer has already seen: records are chained in time
    /// order (§2.2.1), so a late record cannot be inserted without rewriting sealed blocks.
    #[error("time went backwards: last {last}, now {now}")]
    TimeWentBackwards {
        /// Latest time the writer has seen.
        last: Timestamp,
        /// The refused time.
        now: Timestamp,
    },
    /// The framed record exceeds an empty block's plaintext capacity: it can never be stored
    /// under this writer's block capacity.
    #[error("record of {len} bytes exceeds the block capacity ({max} bytes framed)")]
    RecordTooLarge {
        /// Record length.
        len: usize,
        /// Largest framed record an empty block holds.
        max: usize,
    },
    /// A block must be sealed to take this record, but the previous sealed block has not been
    /// drained with [`crate::Writer::poll_output`] yet (one sealed block is buffered).
    #[error("a sealed block is waiting to be polled")]
    OutputPending,
    /// The chain has used every block index (2^64 blocks).
    #[error("block index space exhausted")]
    Exhausted,
}

/// Why [`crate::Block::seal`] could not seal a block.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum SealError {
    /// The body buffer has no room for the Poly1305 tag.
    #[error("body buffer has no room for the tag")]
    BufferFull,
}

/// A verdict against a data chain, an anchor or a block (§2.2.1: the chain "guarantees the
/// integrity and authenticity of the data"). Each failure mode has its own variant so that a
/// host can tell an attack (tampering, a fork) from a storage loss (a missing block).
///
/// `index` fields are the block index claimed by the offending block (authenticated, since
/// every positional check runs after the signature check).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// The bytes do not decode as the expected wire type.
    #[error("decode: {0}")]
    Decode(DecodeError),
    /// The body's Keccak-256 differs from the signed `body_hash`: the ciphertext was altered.
    #[error("block {index}: body does not match its signed hash")]
    BodyTampered {
        /// Claimed index.
        index: u64,
    },
    /// The header signature does not verify under the stream's device key: the header was
    /// altered or the block was not made by the device.
    #[error("block {index}: bad device signature")]
    BadSignature {
        /// Claimed index.
        index: u64,
    },
    /// A block of another stream.
    #[error("block {index}: belongs to another stream")]
    WrongStream {
        /// Claimed index.
        index: u64,
    },
    /// A block is missing: the chain jumps from `expected` to `found`.
    #[error("block {expected} is missing (found {found})")]
    MissingBlock {
        /// Index the chain needs next.
        expected: u64,
        /// Index that came instead.
        found: u64,
    },
    /// Blocks are out of order: `found` came while `expected` is still to come.
    #[error("blocks reordered: expected {expected}, found {found}")]
    Reordered {
        /// Index the chain needs next.
        expected: u64,
        /// Index that came instead.
        found: u64,
    },
    /// A block already accepted came again.
    #[error("block {index} replayed")]
    Replayed {
        /// Index of the replayed block.
        index: u64,
    },
    /// A second, different, validly signed block for an index already accepted: the device
    /// equivocated (or its key leaked). The two blocks are the evidence.
    #[error("conflicting block at index {index}")]
    ConflictingBlock {
        /// Index with two blocks.
        index: u64,
    },
    /// The block's `prev` is not the hash of the block before it.
    #[error("block {index}: previous-hash link broken")]
    BrokenLink {
        /// Claimed index.
        index: u64,
    },
    /// The block starts before the previous block ended.
    #[error("block {index}: time goes backwards")]
    TimeNotMonotonic {
        /// Claimed index.
        index: u64,
    },
    /// The header's time range is empty, reversed, or spans two periods T, or the block has
    /// no records or no room for a tag.
    #[error("block {index}: malformed header")]
    MalformedHeader {
        /// Claimed index.
        index: u64,
    },
    /// The header's interval number is not the encryption interval of its time.
    #[error("block {index}: interval number does not match its time")]
    IntervalMismatch {
        /// Claimed index.
        index: u64,
    },
    /// The block was sealed under a key that is not its interval's key (its key id differs
    /// from the commitment of the interval key the reader holds).
    #[error("block {index}: sealed under the wrong interval's key (interval {interval})")]
    WrongIntervalKey {
        /// Claimed index.
        index: u64,
        /// The block's interval number.
        interval: u64,
    },
    /// The reader holds no key for the block's interval.
    #[error("no key for interval {interval}")]
    NoKey {
        /// The block's interval number.
        interval: u64,
    },
    /// AEAD decryption failed although the key id matched: only a device bug can cause it.
    #[error("block {index}: decryption failed")]
    DecryptFailed {
        /// Claimed index.
        index: u64,
    },
    /// The decrypted records do not parse, or their count or times contradict the header.
    #[error("block {index}: malformed records")]
    MalformedRecords {
        /// Claimed index.
        index: u64,
    },
    /// The caller's scratch buffer is smaller than the block body.
    #[error("scratch buffer too small")]
    ScratchTooSmall,
    /// An anchor's signature does not verify under the stream's device key.
    #[error("anchor at index {index}: bad signature")]
    BadAnchor {
        /// Anchored index.
        index: u64,
    },
    /// An anchor of another stream.
    #[error("anchor at index {index}: belongs to another stream")]
    AnchorWrongStream {
        /// Anchored index.
        index: u64,
    },
    /// The block at an anchored index is not the anchored head.
    #[error("anchor at index {index}: head hash mismatch")]
    AnchorMismatch {
        /// Anchored index.
        index: u64,
    },
    /// The chain ends before an anchored index: blocks after an anchor were cut off.
    #[error("chain truncated: anchored up to {anchored}, have {have} blocks")]
    TruncatedAfterAnchor {
        /// Anchored last index.
        anchored: u64,
        /// Number of blocks the chain has.
        have: u64,
    },
    /// A block after an anchor holds records from before the anchor's `through` time: data
    /// was inserted into a span the anchor had closed.
    #[error("block {index}: backdated behind an anchor")]
    BackdatedAfterAnchor {
        /// Claimed index.
        index: u64,
    },
}

impl From<DecodeError> for VerifyError {
    fn from(e: DecodeError) -> Self {
        VerifyError::Decode(e)
    }
}

/// Why sharding or reassembly failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ShardError {
    /// Bad parameters.
    #[error("config: {0}")]
    Config(ConfigError),
    /// The block is empty or larger than [`crate::MAX_BLOCK_BODY`] plus its envelope.
    #[error("block size out of range")]
    BlockSize,
    /// Fewer than k shards with ids listed in the key-index record.
    #[error("need {needed} valid shards, have {have}")]
    NotEnoughShards {
        /// k.
        needed: usize,
        /// Valid shards offered.
        have: usize,
    },
    /// The reassembled bytes are not the block the record names.
    #[error("reassembled block does not match the record")]
    Mismatch,
    /// The erasure coder refused (internal limits).
    #[error("erasure coding failed")]
    Coding,
}

impl From<ConfigError> for ShardError {
    fn from(e: ConfigError) -> Self {
        ShardError::Config(e)
    }
}

/// Why a placement could not be computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum PlacementError {
    /// Disjoint placement needs `needed` distinct nodes; the routing view has `have`.
    #[error("need {needed} distinct nodes, have {have}")]
    NotEnoughNodes {
        /// shards × r.
        needed: usize,
        /// Distinct nodes offered.
        have: usize,
    },
    /// Replication factor r must be at least 1.
    #[error("replication factor must be positive")]
    ZeroReplication,
}
