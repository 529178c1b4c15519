//! The identifiers of the data chain: a stream, a block, a shard.
//!
//! They live in a module of their own, below `block`, `keys`, `index` and `placement`, so
//! that none of those needs another only for an id (issue 13 item 5: `block ↔ keys` and
//! `index ↔ placement` were import cycles). `block` and `index` re-export them, so their
//! paths (`block::StreamId`, `index::ShardId`) still work.

use core::fmt;
use cpchain_core::{keccak256_concat, Hash};
use serde::{Deserialize, Serialize};

/// Identifies one data stream (one sensor, one device feed) of one owner.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
pub struct StreamId(#[serde(with = "cpchain_core::fixed_bytes")] pub [u8; 32]);

impl StreamId {
    /// A stream id derived from the owner's address and a stream name, so distinct owners
    /// cannot collide by choosing the same name.
    pub fn derive(owner: &cpchain_core::Address, name: &[u8]) -> StreamId {
        StreamId(keccak256_concat(&[b"cpchain/storage/stream/v1\0", &owner.0, name]).0)
    }
}

impl fmt::Debug for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("StreamId(0x")?;
        cpchain_core::fixed_bytes::write_hex(f, &self.0)?;
        f.write_str(")")
    }
}

/// The id of a block: the hash the next block links to and an anchor puts on chain.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
pub struct BlockId(pub Hash);

impl fmt::Debug for BlockId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BlockId({})", self.0)
    }
}

/// The content hash of a shard.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
pub struct ShardId(pub Hash);

impl fmt::Debug for ShardId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ShardId({})", self.0)
    }
}
