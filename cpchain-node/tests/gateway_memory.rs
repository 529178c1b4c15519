//! Gateway ingest memory (issue 15 item 3): what the judge keeps per stream is bounded by
//! `gateway::MAX_UNANCHORED` entries of `gateway::UNANCHORED_ENTRY_BYTES`, measured with a
//! counting allocator; a refused output keeps nothing; an anchor releases the entries.

mod heap;
use heap::*;

use cpchain_crypto::SecretKey;
use cpchain_node::devgateway::{self, SimOptions, SimOutput};
use cpchain_node::gateway::{self, Gateway, Verdict, UNANCHORED_ENTRY_BYTES};
use cpchain_storage::{MasterSecret, ShardParams, StreamId};
use rand_chacha::rand_core::SeedableRng;

#[test]
fn gateway_heap_per_unanchored_block_is_within_its_stated_bound() {
    let device = SecretKey::from_bytes(&[0x11; 32]).expect("key");
    let master = MasterSecret::from_bytes([0x22; 32]);
    let opts = SimOptions {
        stream: StreamId([3; 32]),
        schedule: devgateway::default_schedule(),
        start_ms: 1_800_000_000_000,
        seconds: 3_000,
        pad: 0,
        seed: 1,
    };
    let (outputs, _) = devgateway::simulate(&opts, &device, &master).expect("simulate");
    let blocks: Vec<&Vec<u8>> = outputs
        .iter()
        .filter_map(|o| match o {
            SimOutput::Block(b) => Some(b),
            SimOutput::Anchor(_) => None,
        })
        .collect();
    let last_anchor = outputs
        .iter()
        .rev()
        .find_map(|o| match o {
            SimOutput::Anchor(a) => Some(a.clone()),
            SimOutput::Block(_) => None,
        })
        .expect("anchor");
    let mut g = Gateway::new(vec![(
        gateway::StreamConfig {
            stream: opts.stream,
            device: device.public_key(),
            schedule: opts.schedule,
            params: ShardParams::new(4, 2).expect("params"),
        },
        None,
    )]);
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(1);
    // Warm-up: one-time tables (k256's precomputed tables, the erasure coder's) are
    // allocated on first use; judge block 0 once without keeping it.
    drop(g.prepare_block(None, blocks[0], &mut rng).expect("warm-up"));
    let before = live();
    for b in &blocks {
        let Verdict::New(p) = g.prepare_block(None, b, &mut rng).expect("block") else {
            panic!("duplicate")
        };
        g.commit_block(&p).expect("commit");
        drop(p);
    }
    let held = live() - before;
    let per = held as f64 / blocks.len() as f64;
    eprintln!(
        "{} unanchored blocks hold {held} heap bytes ({per:.1} per block)",
        blocks.len()
    );
    assert!(
        held <= (blocks.len() * UNANCHORED_ENTRY_BYTES) as isize,
        "{held} bytes for {} entries",
        blocks.len()
    );
    // A refused block keeps nothing (the refusal path judged once first: one-time
    // allocations of its own, 326 bytes measured, are not per block).
    let mut bad = blocks[1].clone();
    let n = bad.len() - 1;
    bad[n] ^= 1;
    assert!(g.prepare_block(None, &bad, &mut rng).is_err());
    let at = live();
    for _ in 0..10 {
        assert!(g.prepare_block(None, &bad, &mut rng).is_err());
    }
    assert_eq!(live(), at, "a refused block kept heap");
    // The anchor over the head releases the entries.
    assert!(matches!(
        g.accept_anchor(None, &last_anchor),
        Ok(Verdict::New(_))
    ));
    assert!(live() - before < 1024, "{} bytes left", live() - before);
}
