//! Reed–Solomon sharding of sealed blocks (§2.2.1: "each part will enter different storage
//! nodes"): an encoded block is cut into k data shards and extended with m parity shards, so
//! any k of the k + m shards rebuild it and the loss of any m storage nodes loses nothing.
//!
//! Shards carry only ciphertext (the block is sealed before sharding), so a storage node
//! learns nothing about the data. A shard's id is a content hash over all its fields
//! ([`Shard::id`]); the key-index record lists the ids in position order, so a reader can
//! check every shard it fetches before using it and ignore corrupt or substituted ones.
//!
//! The erasure code is `reed-solomon-simd` (O(n log n) Leopard-style codes over GF(2^16),
//! SIMD on x86-64 and AArch64). It needs an allocator and runtime-built tables of about
//! 128 KiB, so sharding lives behind the `alloc` feature: on the gateway profile the device
//! seals and the host (or edge) shards.

use crate::block::{BlockBody, BlockId, VecBlock, BLOCK_OVERHEAD, MAX_BLOCK_BODY};
use crate::index::{KeyIndexRecord, ShardId, ShardParams};
use crate::ShardError;
use alloc::vec::Vec;
use core::fmt;
use cpchain_core::{encoding, keccak256_concat, WireMessage};
use serde::{Deserialize, Serialize};

/// Prefix of the shard-id preimage.
pub const SHARD_ID_PREFIX: &[u8] = b"cpchain/storage/shard-id/v1\0";

/// Largest encoded block that can be sharded.
pub const MAX_SHARDED_BLOCK: usize = MAX_BLOCK_BODY + BLOCK_OVERHEAD;

/// One Reed–Solomon shard of an encoded block.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shard {
    /// The block this shard rebuilds.
    pub block: BlockId,
    /// Position: `0..k` data, `k..k+m` parity.
    pub position: u8,
    /// k and m.
    pub params: ShardParams,
    /// Length of the encoded block (data shards are zero-padded).
    pub block_len: u32,
    /// The shard's bytes.
    #[serde(with = "shard_bytes")]
    pub bytes: Vec<u8>,
}

impl WireMessage for Shard {
    const TAG: u16 = 0x0404;
    const MAX_ENCODED_LEN: usize = MAX_SHARDED_BLOCK + 128;
}

impl fmt::Debug for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Shard")
            .field("block", &self.block)
            .field("position", &self.position)
            .field("params", &self.params)
            .field("len", &self.bytes.len())
            .finish()
    }
}

impl Shard {
    /// `keccak256(prefix ‖ block ‖ position ‖ k ‖ m ‖ block_len (u32 BE) ‖ bytes)`: every field,
    /// so two shards with equal bytes (for example all-zero padding) still differ.
    pub fn id(&self) -> ShardId {
        ShardId(keccak256_concat(&[
            SHARD_ID_PREFIX,
            self.block.0.as_bytes(),
            &[self.position, self.params.data, self.params.parity],
            &self.block_len.to_be_bytes(),
            &self.bytes,
        ]))
    }
}

mod shard_bytes {
    use super::*;
    use serde::{Deserializer, Serializer};

    pub fn serialize<S: Serializer>(b: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(b)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Vec<u8>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("shard bytes")
            }
            fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<Vec<u8>, E> {
                // One data shard of an odd-length block is one byte longer (even symbols).
                if v.len() > MAX_SHARDED_BLOCK + 1 {
                    return Err(E::invalid_length(v.len(), &self));
                }
                Ok(v.to_vec())
            }
        }
        d.deserialize_bytes(V)
    }
}

/// Bytes per shard for an encoded block of `len` bytes: ⌈len / k⌉ rounded up to even (the
/// coder works on 16-bit symbols).
pub fn shard_len(len: usize, data: u8) -> usize {
    let k = usize::from(data.max(1));
    let per = len.div_ceil(k).max(2);
    per.saturating_add(per & 1)
}

/// Encode `block` and cut it into k data and m parity shards; returns the key-index record
/// (without capsule) and the shards in position order.
pub fn shard_block<B: BlockBody>(
    block: &crate::Block<B>,
    params: ShardParams,
) -> Result<(KeyIndexRecord, Vec<Shard>), ShardError> {
    params.validate()?;
    let encoded = encoding::encode_to_vec(block).map_err(|_| ShardError::BlockSize)?;
    let block_len = u32::try_from(encoded.len()).map_err(|_| ShardError::BlockSize)?;
    let id = block.id();
    let k = usize::from(params.data);
    let m = usize::from(params.parity);
    let per = shard_len(encoded.len(), params.data);
    let mut data: Vec<Vec<u8>> = encoded
        .chunks(per)
        .map(|c| {
            let mut v = c.to_vec();
            v.resize(per, 0);
            v
        })
        .collect();
    data.resize(k, alloc::vec![0u8; per]);
    let parity = reed_solomon_simd::encode(k, m, &data).map_err(|_| ShardError::Coding)?;
    let mut shards = Vec::with_capacity(k + m);
    for (pos, bytes) in data.into_iter().chain(parity).enumerate() {
        shards.push(Shard {
            block: id,
            position: u8::try_from(pos).map_err(|_| ShardError::Coding)?,
            params,
            block_len,
            bytes,
        });
    }
    let mut ids = heapless::Vec::new();
    for s in &shards {
        ids.push(s.id())
            .map_err(|_| ShardError::Config(crate::ConfigError::ShardCounts))?;
    }
    let record = KeyIndexRecord {
        block: id,
        stream: block.header.stream,
        index: block.header.index,
        interval: block.header.interval,
        key_id: block.header.key_id,
        params,
        block_len,
        shards: ids,
        capsule: None,
    };
    Ok((record, shards))
}

/// Rebuild and decode the block `record` names from any `k` of its shards. Shards whose id is
/// not the one the record lists at their position are ignored, as are duplicates; the result
/// is checked against the record's block id and header fields.
pub fn reassemble(record: &KeyIndexRecord, shards: &[Shard]) -> Result<VecBlock, ShardError> {
    record.params.validate()?;
    let k = usize::from(record.params.data);
    let m = usize::from(record.params.parity);
    let block_len = usize::try_from(record.block_len).map_err(|_| ShardError::BlockSize)?;
    if block_len == 0 || block_len > MAX_SHARDED_BLOCK || record.shards.len() != k + m {
        return Err(ShardError::Mismatch);
    }
    let per = shard_len(block_len, record.params.data);
    let mut slots: Vec<Option<&[u8]>> = alloc::vec![None; k + m];
    for s in shards {
        let pos = usize::from(s.position);
        let listed = record.shards.get(pos);
        let fits = s.bytes.len() == per
            && s.block == record.block
            && s.params == record.params
            && s.block_len == record.block_len;
        if let (true, Some(want), Some(slot)) = (fits, listed, slots.get_mut(pos)) {
            if slot.is_none() && s.id() == *want {
                *slot = Some(&s.bytes);
            }
        }
    }
    let have = slots.iter().filter(|s| s.is_some()).count();
    if have < k {
        return Err(ShardError::NotEnoughShards { needed: k, have });
    }
    let (data_slots, parity_slots) = slots.split_at(k);
    let mut data: Vec<Vec<u8>> = Vec::with_capacity(k);
    if data_slots.iter().all(Option::is_some) {
        data.extend(data_slots.iter().flatten().map(|b| b.to_vec()));
    } else {
        let originals = data_slots
            .iter()
            .enumerate()
            .filter_map(|(i, s)| s.map(|b| (i, b)));
        let recovery = parity_slots
            .iter()
            .enumerate()
            .filter_map(|(i, s)| s.map(|b| (i, b)));
        let restored =
            reed_solomon_simd::decode(k, m, originals, recovery).map_err(|_| ShardError::Coding)?;
        for (i, s) in data_slots.iter().enumerate() {
            let bytes = match s {
                Some(b) => b.to_vec(),
                None => restored.get(&i).cloned().ok_or(ShardError::Coding)?,
            };
            data.push(bytes);
        }
    }
    let mut encoded: Vec<u8> = data.concat();
    encoded.truncate(block_len);
    let block: VecBlock = encoding::decode(&encoded).map_err(|_| ShardError::Mismatch)?;
    let h = &block.header;
    if block.id() != record.block
        || h.stream != record.stream
        || h.index != record.index
        || h.interval != record.interval
        || h.key_id != record.key_id
    {
        return Err(ShardError::Mismatch);
    }
    Ok(block)
}
