//! Act 1, the gateway: a sensor stream becomes an interval-encrypted data chain. The
//! data-chain writer runs inside the simulated network (a [`cpchain_sim::storage::Gateway`]
//! node, its anchors sent to the proposers); after the run, the host shards every sealed
//! block, places the shards on DHT nodes and writes each block's key-index record with the
//! interval key wrapped for proxy re-encryption.

use super::network::Run;
use super::nodes::BLOCK_CAP;
use super::{section, short_addr, Cast, Result, INTERVALS, READINGS};
use cpchain_core::encoding;
use cpchain_storage::sharing::{Owner, OwnerConfig};
use cpchain_storage::{
    place_shards, shard_block, BlockId, KadKey, KeyIndexRecord, Shard, ShardParams, Writer,
};
use std::collections::BTreeMap;
use std::io::Write;

/// The interval the buyer is granted (relative to the first), and one it is not.
pub(super) const GRANTED: u64 = 2;
pub(super) const CLOSED: u64 = 3;
/// DHT storage nodes, and how many of them are offline when the buyer reads.
pub(super) const STORAGE_NODES: usize = 8;
pub(super) const STORAGE_OFFLINE: usize = 2;

/// The device's data-chain writer (it draws its session salt from the story's randomness).
pub fn writer(cast: &mut Cast) -> Writer<BLOCK_CAP> {
    Writer::new(
        cast.stream,
        cast.schedule,
        cast.device.clone(),
        cast.master.clone(),
        &mut cast.rng,
    )
}

/// What the host stored after the run.
pub struct Stored {
    /// The data owner (it wrapped every interval's key; it grants in act 3).
    pub owner: Owner,
    /// The DHT: each storage node's shards.
    pub dht: BTreeMap<KadKey, Vec<Shard>>,
    /// Key-index records by block.
    pub index: BTreeMap<BlockId, KeyIndexRecord>,
    /// The storage nodes.
    pub storage_nodes: Vec<KadKey>,
    /// The stream's first encryption interval.
    pub first_interval: u64,
}

/// Tell act 1 and store the sealed blocks: shards on the DHT, key-index records with the
/// interval key wrapped for re-encryption.
pub fn store(cast: &mut Cast, run: &Run, out: &mut dyn Write) -> Result<Stored> {
    section(
        out,
        "1. Gateway: a sensor stream becomes an interval-encrypted data chain",
    )?;
    let first_interval = cast.schedule.interval_of(cast.genesis_time);
    writeln!(
        out,
        "   device {} records for owner {}; T = 10 s blocks, e = 60 s keys, u = 30 s anchors",
        short_addr(&cast.device.public_key().address()),
        short_addr(&cast.owner_addr)
    )?;
    writeln!(
        out,
        "   {READINGS} readings (1 Hz) over {INTERVALS} encryption intervals -> {} sealed blocks, {} signed anchors",
        run.blocks.len(),
        run.anchors.len()
    )?;

    // The host shards every block, places the shards and writes its key-index record with
    // the interval key wrapped for proxy re-encryption.
    let mut owner = Owner::new(
        cast.owner_key.clone(),
        cast.master.clone(),
        cast.stream,
        OwnerConfig {
            chain_id: cast.spec.chain_id,
            ..OwnerConfig::default()
        },
    )?;
    let params = ShardParams::new(4, 2)?;
    let storage_nodes: Vec<KadKey> = (0..STORAGE_NODES)
        .map(|i| KadKey::from_preimage(format!("storage-node-{i}").as_bytes()))
        .collect();
    let mut dht: BTreeMap<KadKey, Vec<Shard>> = BTreeMap::new();
    let mut index: BTreeMap<BlockId, KeyIndexRecord> = BTreeMap::new();
    let mut example_line = String::new();
    for block in &run.blocks {
        let (mut record, shards) = shard_block(block, params)?;
        let interval = block.header.interval;
        owner.attach_capsule(&mut cast.rng, &mut record)?;
        let capsule_len = record.capsule.as_ref().map_or(0, |c| c.len());
        let placement = place_shards(&record.shards, &storage_nodes, 1)?;
        for (shard, place) in shards.into_iter().zip(&placement) {
            for node in &place.nodes {
                dht.entry(*node).or_default().push(shard.clone());
            }
        }
        if example_line.is_empty() && interval == first_interval + GRANTED {
            let record_len = encoding::encode_to_vec(&record)?.len();
            let sealed_len = encoding::encode_to_vec(block)?.len();
            example_line = format!(
                "   e.g. block #{} ({} readings, {sealed_len} B sealed) -> {} data + {} parity shards of {} B on {} of {STORAGE_NODES} DHT nodes;\n   its key-index record ({record_len} B) carries the interval key in a {capsule_len} B Umbral capsule",
                block.header.index,
                block.header.record_count,
                params.data,
                params.parity,
                cpchain_storage::shard::shard_len(sealed_len, params.data),
                placement.len(),
            );
        }
        index.insert(record.block, record);
    }
    writeln!(out, "{example_line}")?;
    Ok(Stored {
        owner,
        dht,
        index,
        storage_nodes,
        first_interval,
    })
}
