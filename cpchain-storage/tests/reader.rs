//! The reader detects every way a stored chain can be altered (§2.2.1: the chain "guarantees
//! the integrity and authenticity of the data"), each with its own error, then decrypts.

mod common;
use common::*;
use cpchain_core::{encoding, Timestamp};
use cpchain_crypto::SecretKey;
use cpchain_storage::*;

fn verdict(chain: &Chain) -> Result<ChainSummary, VerifyError> {
    verify_chain(verifier(), &chain.anchors, &chain.blocks, &master())
}

#[test]
fn an_untouched_chain_verifies_and_decrypts_every_record() {
    let chain = sample_chain();
    let s = verdict(&chain).unwrap();
    assert_eq!(s.checkpoint.next_index, 12);
    assert_eq!(s.anchored, Some(11));
    assert_eq!(s.keyed_blocks, 12);
    let mut got = Vec::new();
    for b in &chain.blocks {
        let key = master().interval_key(&STREAM, b.header.interval);
        let mut scratch = vec![0u8; b.body.len()];
        for r in open_block(b, &key, &mut scratch).unwrap() {
            got.push((r.time.as_millis(), r.data.to_vec()));
        }
    }
    assert_eq!(got, sample_records());
}

#[test]
fn read_chain_delivers_records_only_after_the_whole_chain_verifies() {
    let chain = sample_chain();
    let mut got = Vec::new();
    read_chain(
        verifier(),
        &chain.anchors,
        &chain.blocks,
        &master(),
        |h, r| got.push((h.index, r.time.as_millis(), r.data.to_vec())),
    )
    .unwrap();
    let flat: Vec<(u64, Vec<u8>)> = got.iter().map(|(_, t, d)| (*t, d.clone())).collect();
    assert_eq!(flat, sample_records());
    let mut tampered = chain.clone();
    tampered.blocks[11].body[0] ^= 1;
    let mut delivered = 0;
    let r = read_chain(
        verifier(),
        &tampered.anchors,
        &tampered.blocks,
        &master(),
        |_, _| delivered += 1,
    );
    assert_eq!(r, Err(VerifyError::BodyTampered { index: 11 }));
    assert_eq!(delivered, 0);
}

#[test]
fn a_storage_node_verifies_without_keys() {
    let chain = sample_chain();
    let s = verify_chain(verifier(), &chain.anchors, &chain.blocks, &NoKeys).unwrap();
    assert_eq!(s.keyed_blocks, 0);
    assert_eq!(s.checkpoint.next_index, 12);
}

#[test]
fn tampering_with_a_body_is_detected() {
    let mut chain = sample_chain();
    chain.blocks[3].body[5] ^= 1;
    assert_eq!(verdict(&chain), Err(VerifyError::BodyTampered { index: 3 }));
}

#[test]
fn tampering_with_a_header_is_detected() {
    let mut chain = sample_chain();
    chain.blocks[3].header.record_count += 1;
    assert_eq!(verdict(&chain), Err(VerifyError::BadSignature { index: 3 }));
    let mut chain = sample_chain();
    chain.blocks[4].header.last_time = Timestamp(chain.blocks[4].header.last_time.0 + 1);
    assert_eq!(verdict(&chain), Err(VerifyError::BadSignature { index: 4 }));
}

#[test]
fn a_body_with_a_consistent_forged_hash_fails_the_signature() {
    let mut chain = sample_chain();
    chain.blocks[2].body[0] ^= 1;
    chain.blocks[2].body_hash = cpchain_core::keccak256(&chain.blocks[2].body);
    assert_eq!(verdict(&chain), Err(VerifyError::BadSignature { index: 2 }));
}

#[test]
fn a_block_signed_by_another_device_is_rejected() {
    let mut chain = sample_chain();
    let other = SecretKey::from_bytes(&[0x99; 32]).unwrap();
    let b = &chain.blocks[0];
    let key = master().interval_key(&STREAM, b.header.interval);
    let plain = open_block_to_vec(b, &key).unwrap();
    let mut pt = Vec::new();
    for r in plain.records() {
        cpchain_storage::block::RecordFramer::push(
            &mut pt,
            r.time.0 - b.header.first_time.0,
            r.data,
        )
        .unwrap();
    }
    chain.blocks[0] = Block::seal(b.header, pt, &key, &other).unwrap();
    assert_eq!(verdict(&chain), Err(VerifyError::BadSignature { index: 0 }));
}

#[test]
fn reordered_blocks_are_detected() {
    let mut chain = sample_chain();
    chain.blocks.swap(5, 6);
    assert_eq!(
        verdict(&chain),
        Err(VerifyError::Reordered {
            expected: 5,
            found: 6
        })
    );
}

#[test]
fn a_dropped_block_is_detected() {
    let mut chain = sample_chain();
    chain.blocks.remove(7);
    assert_eq!(
        verdict(&chain),
        Err(VerifyError::MissingBlock {
            expected: 7,
            found: 8
        })
    );
}

#[test]
fn a_replayed_block_is_detected() {
    let mut chain = sample_chain();
    let again = chain.blocks[4].clone();
    chain.blocks.insert(6, again);
    assert_eq!(verdict(&chain), Err(VerifyError::Replayed { index: 4 }));
}

#[test]
fn a_conflicting_block_for_an_accepted_index_is_detected() {
    // The device equivocates: a second, validly signed block 3 with other records.
    let chain = sample_chain();
    let b3 = &chain.blocks[3];
    let key = master().interval_key(&STREAM, b3.header.interval);
    let mut pt = Vec::new();
    cpchain_storage::block::RecordFramer::push(&mut pt, 0, b"forged").unwrap();
    let h = BlockHeader {
        record_count: 1,
        last_time: b3.header.first_time,
        ..b3.header
    };
    let fork = Block::seal(h, pt, &key, &device()).unwrap();
    let mut blocks = chain.blocks.clone();
    blocks.insert(5, fork.clone());
    assert_eq!(
        verify_chain(verifier(), &chain.anchors, &blocks, &master()),
        Err(VerifyError::ConflictingBlock { index: 3 })
    );
    // In place of the original, it breaks the link of block 4 ...
    let mut blocks = chain.blocks.clone();
    blocks[3] = fork;
    assert_eq!(
        verify_chain(verifier(), &[], &blocks, &master()),
        Err(VerifyError::BrokenLink { index: 4 })
    );
    // ... and, where block 3 was anchored, contradicts the anchor first.
    assert!(chain.anchors.iter().any(|a| a.last_index == 3));
    assert_eq!(
        verify_chain(verifier(), &chain.anchors, &blocks, &master()),
        Err(VerifyError::AnchorMismatch { index: 3 })
    );
}

#[test]
fn truncation_after_an_anchor_is_detected() {
    let mut chain = sample_chain();
    chain.blocks.truncate(10);
    assert_eq!(
        verdict(&chain),
        Err(VerifyError::TruncatedAfterAnchor {
            anchored: 11,
            have: 10
        })
    );
}

#[test]
fn a_substituted_anchored_head_is_detected() {
    let mut chain = sample_chain();
    let a = chain.anchors[1];
    chain.anchors[1] = Anchor::sign(
        STREAM,
        a.last_index,
        BlockId::default(),
        a.through,
        &device(),
    );
    assert_eq!(
        verdict(&chain),
        Err(VerifyError::AnchorMismatch {
            index: a.last_index
        })
    );
}

#[test]
fn a_forged_or_foreign_anchor_is_rejected() {
    let mut chain = sample_chain();
    chain.anchors[0].last_index += 1;
    let idx = chain.anchors[0].last_index;
    assert_eq!(verdict(&chain), Err(VerifyError::BadAnchor { index: idx }));
    let mut chain = sample_chain();
    let a = chain.anchors[0];
    chain.anchors[0] = Anchor::sign(
        StreamId([1; 32]),
        a.last_index,
        a.head,
        a.through,
        &device(),
    );
    assert_eq!(
        verdict(&chain),
        Err(VerifyError::AnchorWrongStream {
            index: a.last_index
        })
    );
}

#[test]
fn a_block_backdated_behind_an_anchor_is_detected() {
    // The device anchors block 0 through t = 2000, then seals a block with older records.
    let sk = device();
    let key = master().interval_key(&STREAM, 0);
    let mk = |index, prev, t| {
        let mut pt = Vec::new();
        cpchain_storage::block::RecordFramer::push(&mut pt, 0, b"r").unwrap();
        let h = BlockHeader {
            stream: STREAM,
            index,
            prev,
            first_time: Timestamp(t),
            last_time: Timestamp(t),
            record_count: 1,
            interval: 0,
            key_id: key.id(),
            salt: SessionSalt([7; 16]),
        };
        Block::seal(h, pt, &key, &sk).unwrap()
    };
    let b0 = mk(0, BlockId::default(), 100);
    let b1 = mk(1, b0.id(), 1500);
    let anchor = Anchor::sign(STREAM, 0, b0.id(), Timestamp(2000), &sk);
    assert_eq!(
        verify_chain(verifier(), &[anchor], &[b0, b1], &master()),
        Err(VerifyError::BackdatedAfterAnchor { index: 1 })
    );
}

#[test]
fn a_block_under_the_wrong_intervals_key_is_detected() {
    // Block 4 lies in interval 1 but is sealed under interval 0's key.
    let chain = sample_chain();
    let b = &chain.blocks[4];
    assert_eq!(b.header.interval, 1);
    let good = master().interval_key(&STREAM, 1);
    let wrong = master().interval_key(&STREAM, 0);
    let plain = open_block_to_vec(b, &good).unwrap();
    let mut pt = Vec::new();
    for r in plain.records() {
        cpchain_storage::block::RecordFramer::push(
            &mut pt,
            r.time.0 - b.header.first_time.0,
            r.data,
        )
        .unwrap();
    }
    let mut blocks = chain.blocks.clone();
    blocks[4] = Block::seal(b.header, pt, &wrong, &device()).unwrap();
    // The chain from here on must be rebuilt on the substituted block to isolate the key.
    blocks.truncate(5);
    assert_eq!(
        verify_chain(verifier(), &[], &blocks, &master()),
        Err(VerifyError::WrongIntervalKey {
            index: 4,
            interval: 1
        })
    );
    // A reader holding interval 1's key refuses it before decrypting.
    let mut scratch = vec![0u8; blocks[4].body.len()];
    assert_eq!(
        open_block(&blocks[4], &good, &mut scratch).err(),
        Some(VerifyError::WrongIntervalKey {
            index: 4,
            interval: 1
        })
    );
    // And interval 0's key does not open an honest interval-1 block.
    let mut scratch = vec![0u8; b.body.len()];
    assert_eq!(
        open_block(b, &wrong, &mut scratch).err(),
        Some(VerifyError::WrongIntervalKey {
            index: 4,
            interval: 1
        })
    );
}

#[test]
fn a_block_of_another_stream_is_rejected() {
    let mut w = Writer::<CAP>::new(
        StreamId([5; 32]),
        schedule(),
        device(),
        master(),
        &mut rng(),
    );
    let other = build(&mut w, &sample_records()[..4], 100_000);
    let mut chain = sample_chain();
    chain.blocks[0] = other.blocks[0].clone();
    assert_eq!(verdict(&chain), Err(VerifyError::WrongStream { index: 0 }));
}

#[test]
fn the_streaming_verifier_is_unchanged_by_a_bad_block() {
    let chain = sample_chain();
    let mut v = verifier();
    v.verify_block(&chain.blocks[0]).unwrap();
    let before = (v.next_index(), v.head());
    let mut bad = chain.blocks[1].clone();
    bad.body[0] ^= 0x80;
    assert!(v.verify_block(&bad).is_err());
    assert!(v.verify_block(&chain.blocks[2]).is_err());
    assert_eq!(before, (v.next_index(), v.head()));
    v.verify_block(&chain.blocks[1]).unwrap();
}

#[test]
fn a_grantee_with_one_interval_key_reads_only_that_interval() {
    let chain = sample_chain();
    let ring = [master().interval_key(&STREAM, 1)];
    let s = verify_chain(verifier(), &chain.anchors, &chain.blocks, &ring[..]).unwrap();
    assert_eq!(s.keyed_blocks, 4);
    for b in &chain.blocks {
        let opened = ring[..]
            .interval_key(&STREAM, b.header.interval)
            .map(|k| open_block_to_vec(b, &k));
        assert_eq!(opened.is_some(), b.header.interval == 1);
    }
}

#[test]
fn decoding_refuses_oversized_and_non_canonical_blocks() {
    let chain = sample_chain();
    let bytes = encoding::encode_to_vec(&chain.blocks[0]).unwrap();
    assert!(encoding::decode::<HeaplessBlock<16>>(&bytes).is_err());
    let mut extra = bytes.clone();
    extra.push(0);
    assert!(encoding::decode::<VecBlock>(&extra).is_err());
    assert!(encoding::decode::<Anchor>(&bytes).is_err());
}

#[test]
fn a_wrong_key_handed_to_a_grantee_is_caught_by_its_key_id() {
    // A grantee receives interval 1's key bytes (for example from a capsule), but corrupted.
    let chain = sample_chain();
    let good = master().interval_key(&STREAM, 1);
    let mut bytes = *good.aead_key().expose_secret();
    bytes[0] ^= 1;
    let bad = IntervalKey::from_parts(STREAM, 1, cpchain_crypto::aead::AeadKey::from_bytes(bytes));
    assert_ne!(bad.id(), good.id());
    let ring = [bad];
    let b4 = chain
        .blocks
        .iter()
        .position(|b| b.header.interval == 1)
        .unwrap() as u64;
    assert_eq!(
        verify_chain(verifier(), &chain.anchors, &chain.blocks, &ring[..]),
        Err(VerifyError::WrongIntervalKey {
            index: b4,
            interval: 1
        })
    );
    let rebuilt = IntervalKey::from_parts(
        STREAM,
        1,
        cpchain_crypto::aead::AeadKey::from_bytes(*good.aead_key().expose_secret()),
    );
    assert_eq!(rebuilt, good);
}
