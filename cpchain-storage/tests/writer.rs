//! The writer's contract (§2.2.1): periods, intervals, anchors, ordering, limits, determinism.

mod common;
use common::*;
use cpchain_core::{encoding, Timestamp};
use cpchain_crypto::SecretKey;
use cpchain_storage::*;

#[test]
fn a_block_is_sealed_at_the_end_of_each_period_t() {
    let mut w = writer();
    let mut chain = Chain::default();
    w.append(Timestamp(100), b"a").unwrap();
    w.append(Timestamp(900), b"b").unwrap();
    drain(&mut w, &mut chain);
    assert!(chain.blocks.is_empty(), "period not over yet");
    w.append(Timestamp(1000), b"c").unwrap(); // next period
    drain(&mut w, &mut chain);
    assert_eq!(chain.blocks.len(), 1);
    let h = chain.blocks[0].header;
    assert_eq!((h.index, h.record_count), (0, 2));
    assert_eq!(
        (h.first_time, h.last_time),
        (Timestamp(100), Timestamp(900))
    );
    assert_eq!(h.prev, BlockId::default());
}

#[test]
fn a_quiet_stream_still_seals_on_time() {
    let mut w = writer();
    let mut chain = Chain::default();
    w.append(Timestamp(1500), b"only").unwrap();
    assert_eq!(w.next_deadline(), Some(Timestamp(2000)));
    w.handle_timeout(Timestamp(1999));
    drain(&mut w, &mut chain);
    assert!(chain.blocks.is_empty());
    w.handle_timeout(Timestamp(2000));
    drain(&mut w, &mut chain);
    assert_eq!(chain.blocks.len(), 1);
    // u = 2 s: the boundary at 2000 anchors the new head, after the block.
    assert_eq!(chain.order, "BA");
    assert_eq!(chain.anchors[0].last_index, 0);
    assert_eq!(chain.anchors[0].head, chain.blocks[0].id());
    assert_eq!(chain.anchors[0].through, Timestamp(2000));
    assert_eq!(
        w.next_deadline(),
        None,
        "idle and anchored: no timer needed"
    );
}

#[test]
fn every_upload_interval_anchors_the_head_after_its_blocks() {
    let chain = sample_chain();
    assert_eq!(chain.blocks.len(), 12);
    assert!(chain.anchors.len() >= 5);
    // Every anchor comes after the block it names.
    let mut seen_blocks = 0usize;
    let mut anchors = chain.anchors.iter();
    for c in chain.order.chars() {
        if c == 'B' {
            seen_blocks += 1;
        } else {
            let a = anchors.next().unwrap();
            assert!((a.last_index as usize) < seen_blocks);
            assert_eq!(a.head, chain.blocks[a.last_index as usize].id());
            assert_eq!(a.through.as_millis() % 2000, 0);
            a.verify(&device().public_key()).unwrap();
        }
    }
    let last = chain.anchors.last().unwrap();
    assert_eq!(last.last_index, 11, "the final head is anchored");
}

#[test]
fn interval_keys_rotate_every_encryption_interval() {
    let chain = sample_chain();
    for b in &chain.blocks {
        let h = b.header;
        assert_eq!(h.interval, h.first_time.as_millis() / 4000);
        assert_eq!(h.key_id, master().interval_key(&STREAM, h.interval).id());
    }
    let ids: std::collections::BTreeSet<_> = chain.blocks.iter().map(|b| b.header.key_id).collect();
    assert_eq!(ids.len(), 3);
}

#[test]
fn blocks_chain_by_previous_hash_with_consecutive_indices() {
    let chain = sample_chain();
    let mut prev = BlockId::default();
    for (i, b) in chain.blocks.iter().enumerate() {
        assert_eq!(b.header.index, i as u64);
        assert_eq!(b.header.prev, prev);
        prev = b.id();
    }
}

#[test]
fn a_late_record_is_refused_and_the_writer_is_unchanged() {
    let mut w = writer();
    w.append(Timestamp(500), b"x").unwrap();
    let before = (
        w.checkpoint(),
        w.open_records(),
        w.stats(),
        w.next_deadline(),
    );
    assert_eq!(
        w.append(Timestamp(499), b"late"),
        Err(WriteError::TimeWentBackwards {
            last: Timestamp(500),
            now: Timestamp(499)
        })
    );
    assert_eq!(
        before,
        (
            w.checkpoint(),
            w.open_records(),
            w.stats(),
            w.next_deadline()
        )
    );
    w.append(Timestamp(500), b"same time is fine").unwrap();
    assert_eq!(w.open_records(), 2);
}

#[test]
fn a_record_larger_than_a_block_is_refused_and_the_writer_is_unchanged() {
    let mut w: Writer<256> = Writer::new(STREAM, schedule(), device(), master(), &mut rng());
    w.append(Timestamp(1), b"x").unwrap();
    let before = (w.checkpoint(), w.open_records(), w.stats());
    let max = Writer::<256>::PLAINTEXT_CAP;
    let r = w.append(Timestamp(2), &[0u8; 256]);
    assert!(matches!(r, Err(WriteError::RecordTooLarge { len: 256, max: m }) if m == max));
    assert_eq!(before, (w.checkpoint(), w.open_records(), w.stats()));
    // The largest record that fits an empty block (2 bytes of framing) is accepted.
    w.append(Timestamp(3), &vec![7u8; max - 3]).unwrap();
}

#[test]
fn a_full_block_seals_early_and_drops_nothing() {
    let mut w: Writer<256> = Writer::new(STREAM, schedule(), device(), master(), &mut rng());
    let mut chain = Chain::default();
    for i in 0..20u64 {
        w.append(Timestamp(i), &[i as u8; 40]).unwrap();
        drain(&mut w, &mut chain);
    }
    w.handle_timeout(Timestamp(5000));
    drain(&mut w, &mut chain);
    assert!(chain.blocks.len() >= 4);
    assert!(w.stats().early_seals >= 3);
    let total: u32 = chain.blocks.iter().map(|b| b.header.record_count).sum();
    assert_eq!(total, 20);
    assert!(chain.blocks.iter().all(|b| b.body.len() <= 256));
    verify_chain(verifier(), &chain.anchors, &chain.blocks, &master()).unwrap();
}

#[test]
fn an_unpolled_block_holds_back_the_next_seal() {
    let mut w = writer();
    w.append(Timestamp(10), b"a").unwrap();
    w.append(Timestamp(1010), b"b").unwrap(); // seals block 0, not polled
    let before = (w.checkpoint(), w.open_records());
    assert_eq!(
        w.append(Timestamp(2010), b"c"),
        Err(WriteError::OutputPending)
    );
    assert_eq!(before, (w.checkpoint(), w.open_records()));
    // A timeout defers too, and the deadline stays due.
    w.handle_timeout(Timestamp(2010));
    assert!(w.next_deadline().unwrap() <= Timestamp(2010));
    let mut chain = Chain::default();
    drain(&mut w, &mut chain);
    w.handle_timeout(Timestamp(2010));
    drain(&mut w, &mut chain);
    w.append(Timestamp(2010), b"c").unwrap();
    assert_eq!(chain.blocks.len(), 2);
}

#[test]
fn same_inputs_give_the_same_bytes() {
    let a = sample_chain();
    let b = sample_chain();
    let enc = |c: &Chain| {
        let mut out = Vec::new();
        for blk in &c.blocks {
            out.extend(encoding::encode_to_vec(blk).unwrap());
        }
        for an in &c.anchors {
            out.extend(encoding::encode_to_vec(an).unwrap());
        }
        out
    };
    assert_eq!(enc(&a), enc(&b));
}

#[test]
fn a_resumed_writer_continues_the_same_chain() {
    let records = sample_records();
    let (first, second) = records.split_at(20);
    let mut w = writer();
    let mut chain = build(&mut w, first, 6000);
    let last = chain.blocks.last().unwrap().clone();
    drop(w);
    let mut w2 = Writer::<CAP>::resume(
        STREAM,
        schedule(),
        device(),
        master(),
        Checkpoint::after(last.view()),
        &mut rng(),
    );
    assert_eq!(
        w2.append(Timestamp(last.header.last_time.as_millis() - 1), b"x"),
        Err(WriteError::TimeWentBackwards {
            last: last.header.last_time,
            now: Timestamp(last.header.last_time.as_millis() - 1)
        })
    );
    let rest = build(&mut w2, second, 1_000_000);
    chain.blocks.extend(rest.blocks);
    chain.anchors.extend(rest.anchors);
    let s = verify_chain(verifier(), &chain.anchors, &chain.blocks, &master()).unwrap();
    assert_eq!(s.checkpoint.next_index, chain.blocks.len() as u64);
}

#[test]
fn firmware_and_host_blocks_share_one_wire_form() {
    let mut w = writer();
    w.append(Timestamp(1), b"abc").unwrap();
    assert!(w.flush(Timestamp(1)));
    let Some(WriterOutput::Block(b)) = w.poll_output() else {
        panic!("no block")
    };
    let mut tx = [0u8; 4400];
    let fw = b.encode_to_slice(&mut tx).unwrap().to_vec();
    let host = encoding::encode_to_vec(&to_host(&b)).unwrap();
    assert_eq!(fw, host);
    let owned: HeaplessBlock<CAP> = b.to_block().unwrap();
    assert_eq!(
        encoding::encode_to_heapless::<_, 4400>(&owned).unwrap(),
        &fw[..]
    );
    let back: HeaplessBlock<CAP> = encoding::decode(&fw).unwrap();
    assert_eq!(back, owned);
    assert_eq!(b.to_block::<heapless::Vec<u8, 16>>(), None);
    assert_eq!(encoding::peek_tag(&fw), Ok(0x0405));
}

#[test]
fn an_unpolled_anchor_is_superseded_by_the_newer_one() {
    let mut w = writer();
    let mut chain = Chain::default();
    w.append(Timestamp(100), b"a").unwrap();
    w.handle_timeout(Timestamp(2000)); // seals block 0, anchors it
    match w.poll_output() {
        Some(WriterOutput::Block(b)) => chain.blocks.push(b.to_vec_block()),
        other => panic!("expected a block, got {other:?}"),
    }
    // The host does not take the anchor; a new block and boundary come.
    w.append(Timestamp(2100), b"b").unwrap();
    w.handle_timeout(Timestamp(4000));
    drain(&mut w, &mut chain);
    assert_eq!(chain.anchors.len(), 1);
    assert_eq!(chain.anchors[0].last_index, 1);
    assert_eq!(chain.anchors[0].through, Timestamp(4000));
    assert_eq!(w.stats().anchors_superseded, 1);
    verify_chain(verifier(), &chain.anchors, &chain.blocks, &master()).unwrap();
}

#[test]
fn a_stale_timeout_is_ignored() {
    let mut w = writer();
    w.append(Timestamp(1500), b"a").unwrap();
    w.handle_timeout(Timestamp(1000));
    assert!(w.poll_output().is_none());
    assert_eq!(w.open_records(), 1);
    w.append(Timestamp(1500), b"b").unwrap();
    assert_eq!(w.open_records(), 2);
}

#[test]
fn a_lent_block_is_released_by_the_next_call() {
    let mut w = writer();
    w.append(Timestamp(10), b"a").unwrap();
    w.append(Timestamp(1010), b"b").unwrap();
    let id = match w.poll_output() {
        Some(WriterOutput::Block(b)) => b.id(),
        other => panic!("expected a block, got {other:?}"),
    };
    // The host took the block and goes on without polling to None: the slot is free again.
    w.append(Timestamp(2010), b"c").unwrap();
    let mut chain = Chain::default();
    drain(&mut w, &mut chain);
    assert_eq!(chain.blocks.len(), 1);
    assert_eq!(chain.blocks[0].header.prev, id);
    assert_eq!(chain.blocks[0].header.index, 1);
}

/// Issue 12 item 5: a writer restarted from genesis (same device, same master secret, same
/// stream) and a second gateway of the same owner writing the same stream name both seal
/// block 0, 1, ... again; with a salted nonce no (key, nonce) pair and no ciphertext repeats.
#[test]
fn writers_restarted_from_genesis_never_reuse_a_key_nonce_pair() {
    use rand_chacha::rand_core::SeedableRng;
    let records = sample_records();
    let other_device = SecretKey::from_bytes(&[0x44; 32]).unwrap();
    // (device, RNG seed): the first session, the same device after a factory reset, a second
    // gateway of the owner, and a cloned image whose RNG repeats the first session's bytes
    // on another device key.
    let sessions = [
        (device(), 1u64),
        (device(), 2),
        (other_device.clone(), 3),
        (other_device, 1),
    ];
    let mut seen: Vec<(KeyId, [u8; 24], Vec<u8>)> = Vec::new();
    for (dev, seed) in sessions {
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(seed);
        let mut w: Writer<CAP> = Writer::new(STREAM, schedule(), dev.clone(), master(), &mut rng);
        let chain = build(&mut w, &records, 1_000_000);
        assert!(chain.blocks.len() >= 10);
        let verifier = ChainVerifier::new(STREAM, dev.public_key(), schedule());
        verify_chain(verifier, &chain.anchors, &chain.blocks, &master()).unwrap();
        for b in &chain.blocks {
            let pair = (b.header.key_id, b.header.nonce());
            for (k, n, body) in &seen {
                assert!((k, n) != (&pair.0, &pair.1), "(key, nonce) reused: {b:?}");
                assert_ne!(
                    body, &b.body,
                    "equal ciphertext for block {}",
                    b.header.index
                );
            }
            // The reader still opens it with the interval key alone (the salt is in the header).
            let key = master().interval_key(&STREAM, b.header.interval);
            open_block_to_vec(b, &key).unwrap();
            seen.push((pair.0, pair.1, b.body.clone()));
        }
    }
    // Same plaintexts, same keys: the keys did repeat, only the nonces kept them apart.
    let keys: std::collections::BTreeSet<_> = seen.iter().map(|s| s.0).collect();
    assert!(keys.len() < seen.len());
}

#[test]
fn the_session_salt_comes_from_the_rng_and_is_in_every_header() {
    use rand_chacha::rand_core::SeedableRng;
    let mut r1 = rand_chacha::ChaCha20Rng::seed_from_u64(7);
    let mut r2 = rand_chacha::ChaCha20Rng::seed_from_u64(7);
    let a: Writer<CAP> = Writer::new(STREAM, schedule(), device(), master(), &mut r1);
    let b: Writer<CAP> = Writer::new(STREAM, schedule(), device(), master(), &mut r2);
    // Same inputs, same outputs: the salt is a function of the RNG's bytes and the device.
    assert_eq!(a.salt(), b.salt());
    let c: Writer<CAP> = Writer::new(STREAM, schedule(), device(), master(), &mut r1);
    assert_ne!(a.salt(), c.salt());
    let chain = build(&mut writer(), &sample_records(), 1_000_000);
    let salt = writer().salt();
    assert!(chain.blocks.iter().all(|b| b.header.salt == salt));
}
