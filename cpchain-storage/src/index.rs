//! The key index of the "improved DHT" (§2.2.1, §2.2.2): "records the correspondence between
//! the key and the data block". One [`KeyIndexRecord`] per block, stored in the DHT under the
//! block id ([`KeyIndexRecord::dht_key`]), says which shards rebuild the block, which
//! encryption interval it belongs to and which key (by commitment) seals it.
//!
//! The record needs no signature of its own: every field is checked against the block it
//! names (the block id is signed by the device and anchored on chain; [`crate::reassemble`]
//! checks shard ids, block id, interval and key id). The optional `capsule` is the extension
//! point of the sharing feature: the interval key wrapped for proxy re-encryption, stored as
//! opaque bytes so this record's format and licence do not depend on the PRE library; the
//! sharing feature authenticates it itself.

use crate::ids::{BlockId, StreamId};
use crate::keys::KeyId;
use crate::placement::KadKey;
use crate::ConfigError;
use cpchain_core::WireMessage;
use serde::{Deserialize, Serialize};

/// Most shards (k + m) one block may have.
pub const MAX_SHARDS: usize = 64;

/// Largest capsule the key index carries (an Umbral capsule is under 100 bytes).
pub const MAX_CAPSULE_LEN: usize = 256;

pub use crate::ids::ShardId;

/// Reed–Solomon parameters: k data shards and m parity shards.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ShardParams {
    /// k: shards needed to rebuild.
    pub data: u8,
    /// m: shards that may be lost.
    pub parity: u8,
}

impl ShardParams {
    /// k data and m parity shards; k ≥ 1, m ≥ 1, k + m ≤ [`MAX_SHARDS`].
    pub fn new(data: u8, parity: u8) -> Result<ShardParams, ConfigError> {
        let p = ShardParams { data, parity };
        p.validate()?;
        Ok(p)
    }

    /// Check the bounds (decoded parameters are untrusted).
    pub fn validate(&self) -> Result<(), ConfigError> {
        let total = usize::from(self.data) + usize::from(self.parity);
        if self.data == 0 || self.parity == 0 || total > MAX_SHARDS {
            return Err(ConfigError::ShardCounts);
        }
        Ok(())
    }

    /// k + m.
    pub fn total(&self) -> usize {
        usize::from(self.data) + usize::from(self.parity)
    }
}

/// Opaque capsule bytes (see the module docs).
pub type CapsuleBytes = heapless::Vec<u8, MAX_CAPSULE_LEN>;

/// The key-index record of one block.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyIndexRecord {
    /// The block.
    pub block: BlockId,
    /// Its stream.
    pub stream: StreamId,
    /// Its index in the stream.
    pub index: u64,
    /// Its encryption interval number.
    pub interval: u64,
    /// Commitment to the key that seals it.
    pub key_id: KeyId,
    /// k and m.
    pub params: ShardParams,
    /// Length of the encoded block.
    pub block_len: u32,
    /// Shard ids by position (`0..k` data, `k..k+m` parity).
    pub shards: heapless::Vec<ShardId, MAX_SHARDS>,
    /// The interval key wrapped for re-encryption; filled by the sharing feature.
    pub capsule: Option<CapsuleBytes>,
}

impl WireMessage for KeyIndexRecord {
    const TAG: u16 = 0x0403;
    const MAX_ENCODED_LEN: usize =
        3 + 32 * 2 + 10 * 2 + 32 + 2 + 5 + 1 + 32 * MAX_SHARDS + 1 + 2 + MAX_CAPSULE_LEN;
}

impl KeyIndexRecord {
    /// Where the record lives in a libp2p-style Kademlia key space.
    pub fn dht_key(&self) -> KadKey {
        KadKey::from_preimage(self.block.0.as_bytes())
    }
}
