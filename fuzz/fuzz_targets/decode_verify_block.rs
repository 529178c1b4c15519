//! Decode arbitrary bytes as every storage wire type (block, anchor, key-index record, shard);
//! whatever decodes must re-encode to exactly the input, and verifying, opening and
//! reassembling it must return a verdict, never panic.
#![no_main]

use cpchain_core::encoding::{decode, encode_to_vec};
use cpchain_core::{Duration, WireMessage};
use cpchain_crypto::SecretKey;
use cpchain_storage::*;
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

struct Ctx {
    device: cpchain_crypto::PublicKey,
    schedule: Schedule,
    master: MasterSecret,
}

fn ctx() -> &'static Ctx {
    static C: OnceLock<Ctx> = OnceLock::new();
    C.get_or_init(|| Ctx {
        device: SecretKey::from_bytes(&[0x11; 32]).unwrap().public_key(),
        schedule: Schedule::new(
            Duration::from_millis(1000),
            Duration::from_millis(2000),
            Duration::from_millis(2000),
        )
        .unwrap(),
        master: MasterSecret::from_bytes([0x22; 32]),
    })
}

fn canonical<M: WireMessage + core::fmt::Debug>(data: &[u8]) -> Option<M> {
    let msg = decode::<M>(data).ok()?;
    assert_eq!(
        encode_to_vec(&msg).unwrap(),
        data,
        "non-canonical accept: {msg:?}"
    );
    Some(msg)
}

fn exercise<B: BlockBody>(b: &Block<B>) {
    let c = ctx();
    let mut v = ChainVerifier::new(b.header.stream, c.device, c.schedule);
    let _ = v.verify_block(b);
    let _ = verify_chain(
        ChainVerifier::new(b.header.stream, c.device, c.schedule),
        &[],
        core::slice::from_ref(b),
        &c.master,
    );
    let key = c.master.interval_key(&b.header.stream, b.header.interval);
    let mut scratch = vec![0u8; b.body.as_ref().len()];
    if let Ok(records) = open_block(b, &key, &mut scratch) {
        for r in records {
            assert!(r.time >= b.header.first_time && r.time <= b.header.last_time);
        }
    }
    let _ = open_block(b, &key, &mut [0u8; 8]);
    let _ = b.id();
}

fuzz_target!(|data: &[u8]| {
    if let Some(b) = canonical::<VecBlock>(data) {
        exercise(&b);
        if let Ok((record, shards)) = shard_block(&b, ShardParams::new(2, 1).unwrap()) {
            assert_eq!(reassemble(&record, &shards[1..]).as_ref(), Ok(&b));
        }
    }
    if let Some(b) = canonical::<HeaplessBlock<512>>(data) {
        exercise(&b);
    }
    if let Some(a) = canonical::<Anchor>(data) {
        let c = ctx();
        let _ = a.verify(&c.device);
        let _ = ChainVerifier::new(a.stream, c.device, c.schedule).check_anchor(&a);
        let _ = verify_chain::<Vec<u8>, _>(
            ChainVerifier::new(a.stream, c.device, c.schedule),
            &[a],
            &[],
            &NoKeys,
        );
    }
    if let Some(r) = canonical::<KeyIndexRecord>(data) {
        let _ = reassemble(&r, &[]);
        let _ = r.dht_key();
    }
    if let Some(s) = canonical::<Shard>(data) {
        let _ = s.id();
    }
});
