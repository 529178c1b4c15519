//! Sharding, placement and the key index (§2.2.1 DHT, §2.2.2 improved DHT).

mod common;
use common::*;
use cpchain_core::encoding;
use cpchain_storage::*;

fn nodes(n: u8) -> Vec<KadKey> {
    (0..n).map(|i| KadKey::from_preimage(&[b'n', i])).collect()
}

fn subsets(n: usize, size: usize) -> Vec<Vec<usize>> {
    (0u32..1 << n)
        .filter(|m| m.count_ones() as usize == size)
        .map(|m| (0..n).filter(|i| m & (1 << i) != 0).collect())
        .collect()
}

#[test]
fn a_block_survives_the_loss_of_any_m_shards() {
    let chain = sample_chain();
    let block = &chain.blocks[2];
    let params = ShardParams::new(4, 2).unwrap();
    let (record, shards) = shard_block(block, params).unwrap();
    assert_eq!(shards.len(), 6);
    for lost in subsets(6, 2) {
        let kept: Vec<Shard> = shards
            .iter()
            .enumerate()
            .filter(|(i, _)| !lost.contains(i))
            .map(|(_, s)| s.clone())
            .collect();
        assert_eq!(&reassemble(&record, &kept).unwrap(), block, "lost {lost:?}");
    }
    for lost in subsets(6, 3) {
        let kept: Vec<Shard> = shards
            .iter()
            .enumerate()
            .filter(|(i, _)| !lost.contains(i))
            .map(|(_, s)| s.clone())
            .collect();
        assert_eq!(
            reassemble(&record, &kept),
            Err(ShardError::NotEnoughShards { needed: 4, have: 3 })
        );
    }
}

#[test]
fn shard_ids_are_content_hashes_and_corrupt_shards_are_ignored() {
    let chain = sample_chain();
    let block = &chain.blocks[0];
    let (record, mut shards) = shard_block(block, ShardParams::new(3, 2).unwrap()).unwrap();
    for (s, id) in shards.iter().zip(&record.shards) {
        assert_eq!(s.id(), *id);
    }
    let ids: std::collections::BTreeSet<_> = record.shards.iter().collect();
    assert_eq!(ids.len(), 5, "ids are distinct even for equal padding");
    // Corrupt two shards: they no longer match their ids and are skipped; 3 good remain.
    shards[0].bytes[0] ^= 1;
    shards[4].bytes[1] ^= 1;
    assert_eq!(&reassemble(&record, &shards).unwrap(), block);
    shards[1].bytes[0] ^= 1;
    assert_eq!(
        reassemble(&record, &shards),
        Err(ShardError::NotEnoughShards { needed: 3, have: 2 })
    );
}

#[test]
fn the_key_index_record_names_block_interval_and_key() {
    let chain = sample_chain();
    let block = &chain.blocks[5];
    let (record, _) = shard_block(block, ShardParams::new(2, 1).unwrap()).unwrap();
    assert_eq!(record.block, block.id());
    assert_eq!(record.interval, block.header.interval);
    assert_eq!(record.key_id, block.header.key_id);
    assert_eq!(
        record.key_id,
        master().interval_key(&STREAM, record.interval).id()
    );
    assert_eq!(record.capsule, None);
    let bytes = encoding::encode_to_vec(&record).unwrap();
    assert_eq!(encoding::decode::<KeyIndexRecord>(&bytes).unwrap(), record);
    // The extension point round-trips too.
    let mut with_capsule = record.clone();
    with_capsule.capsule = Some(heapless::Vec::from_slice(&[9u8; 98]).unwrap());
    let bytes = encoding::encode_to_vec(&with_capsule).unwrap();
    assert!(bytes.len() <= <KeyIndexRecord as cpchain_core::WireMessage>::MAX_ENCODED_LEN);
    assert_eq!(
        encoding::decode::<KeyIndexRecord>(&bytes).unwrap(),
        with_capsule
    );
}

#[test]
fn a_record_naming_another_block_rejects_its_shards() {
    let chain = sample_chain();
    let (record_a, _) = shard_block(&chain.blocks[0], ShardParams::new(2, 1).unwrap()).unwrap();
    let (_, shards_b) = shard_block(&chain.blocks[1], ShardParams::new(2, 1).unwrap()).unwrap();
    assert!(matches!(
        reassemble(&record_a, &shards_b),
        Err(ShardError::NotEnoughShards { .. })
    ));
}

#[test]
fn shards_round_trip_the_wire() {
    let chain = sample_chain();
    let (_, shards) = shard_block(&chain.blocks[0], ShardParams::new(2, 2).unwrap()).unwrap();
    for s in &shards {
        let bytes = encoding::encode_to_vec(s).unwrap();
        assert_eq!(&encoding::decode::<Shard>(&bytes).unwrap(), s);
    }
}

#[test]
fn shard_params_are_bounded() {
    assert_eq!(ShardParams::new(0, 1), Err(ConfigError::ShardCounts));
    assert_eq!(ShardParams::new(1, 0), Err(ConfigError::ShardCounts));
    assert_eq!(ShardParams::new(60, 5), Err(ConfigError::ShardCounts));
    assert!(ShardParams::new(32, 32).is_ok());
}

#[test]
fn placement_is_the_r_closest_nodes_by_xor() {
    let view = nodes(20);
    let target = KadKey::from_preimage(b"shard");
    let got = closest_nodes(&target, &view, 3);
    let mut brute = view.clone();
    brute.sort_by_key(|n| target.distance(n));
    assert_eq!(got, brute[..3].to_vec());
    let mut buf = [KadKey([0; 32]); 3];
    assert_eq!(closest(&target, &view, &mut buf), 3);
    assert_eq!(buf.to_vec(), got);
}

#[test]
fn disjoint_placement_survives_the_loss_of_any_m_nodes() {
    let chain = sample_chain();
    let block = &chain.blocks[1];
    let (record, shards) = shard_block(block, ShardParams::new(3, 2).unwrap()).unwrap();
    let view = nodes(8);
    let placement = place_shards(&record.shards, &view, 1).unwrap();
    let mut holders = std::collections::BTreeSet::new();
    for p in &placement {
        assert_eq!(p.nodes.len(), 1);
        assert!(holders.insert(p.nodes[0]), "a node holds two shards");
    }
    for lost in subsets(view.len(), 2) {
        let dead: Vec<KadKey> = lost.iter().map(|&i| view[i]).collect();
        let alive: Vec<Shard> = shards
            .iter()
            .zip(&placement)
            .filter(|(_, p)| p.nodes.iter().any(|n| !dead.contains(n)))
            .map(|(s, _)| s.clone())
            .collect();
        assert_eq!(&reassemble(&record, &alive).unwrap(), block);
    }
    // Same inputs, same placement: a reader recomputes it from the record.
    assert_eq!(place_shards(&record.shards, &view, 1).unwrap(), placement);
}

#[test]
fn placement_refuses_a_too_small_view() {
    let ids = [ShardId::default(); 4];
    assert_eq!(
        place_shards(&ids, &nodes(7), 2),
        Err(PlacementError::NotEnoughNodes { needed: 8, have: 7 })
    );
    assert_eq!(
        place_shards(&ids, &nodes(7), 0),
        Err(PlacementError::ZeroReplication)
    );
}
