//! Every mutation of a valid, fully anchored chain is detected: take a real chain, apply
//! fuzzer-chosen bit flips (in blocks or anchors, through the wire form), swaps, drops and
//! duplicates of blocks, and assert the verifier refuses the result unless the mutations
//! cancelled out (the chain is byte-identical to the original).
//!
//! Dropping a whole anchor is not a mutation of the chain (anchors are extra evidence, and a
//! reader with fewer anchors knows less), so anchors are only ever altered, never removed.
#![no_main]

use arbitrary::Arbitrary;
use cpchain_core::encoding::{decode, encode_to_vec};
use cpchain_core::{Duration, Timestamp};
use cpchain_crypto::SecretKey;
use cpchain_storage::*;
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

const STREAM: StreamId = StreamId([0x33; 32]);

fn schedule() -> Schedule {
    Schedule::new(
        Duration::from_millis(1000),
        Duration::from_millis(2000),
        Duration::from_millis(2000),
    )
    .unwrap()
}

fn device() -> SecretKey {
    SecretKey::from_bytes(&[0x11; 32]).unwrap()
}

struct Fixture {
    blocks: Vec<Vec<u8>>,
    anchors: Vec<Vec<u8>>,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        // A fixed session salt: the fixture is the same chain on every run.
        let salt = SessionSalt::from_entropy(&device().public_key().address(), &[0x5e; 32]);
        let mut w: Writer<1024> = Writer::with_salt(
            STREAM,
            schedule(),
            device(),
            MasterSecret::from_bytes([0x22; 32]),
            Checkpoint::GENESIS,
            salt,
        );
        let (mut blocks, mut anchors) = (Vec::new(), Vec::new());
        let mut drain = |w: &mut Writer<1024>| {
            while let Some(o) = w.poll_output() {
                match o {
                    WriterOutput::Block(b) => {
                        blocks.push(encode_to_vec(&b.to_vec_block()).unwrap())
                    }
                    WriterOutput::Anchor(a) => anchors.push(encode_to_vec(&a).unwrap()),
                }
            }
        };
        for i in 0..24u64 {
            w.append(Timestamp(i * 350), &[i as u8; 40]).unwrap();
            drain(&mut w);
        }
        while let Some(d) = w.next_deadline() {
            w.handle_timeout(d);
            drain(&mut w);
        }
        Fixture { blocks, anchors }
    })
}

#[derive(Debug, Arbitrary)]
enum Op {
    FlipBlock { block: u8, byte: u16, mask: u8 },
    FlipAnchor { anchor: u8, byte: u8, mask: u8 },
    Swap(u8, u8),
    Drop(u8),
    Duplicate { from: u8, to: u8 },
}

fn pick(len: usize, i: u8) -> Option<usize> {
    (len > 0).then(|| usize::from(i) % len)
}

fuzz_target!(|ops: Vec<Op>| {
    let f = fixture();
    let mut blocks = f.blocks.clone();
    let mut anchors = f.anchors.clone();
    for op in ops.iter().take(8) {
        match *op {
            Op::FlipBlock { block, byte, mask } => {
                if let Some(i) = pick(blocks.len(), block) {
                    let j = usize::from(byte) % blocks[i].len();
                    blocks[i][j] ^= mask;
                }
            }
            Op::FlipAnchor { anchor, byte, mask } => {
                if let Some(i) = pick(anchors.len(), anchor) {
                    let j = usize::from(byte) % anchors[i].len();
                    anchors[i][j] ^= mask;
                }
            }
            Op::Swap(a, b) => {
                if let (Some(a), Some(b)) = (pick(blocks.len(), a), pick(blocks.len(), b)) {
                    blocks.swap(a, b);
                }
            }
            Op::Drop(a) => {
                if let Some(a) = pick(blocks.len(), a) {
                    blocks.remove(a);
                }
            }
            Op::Duplicate { from, to } => {
                if let Some(a) = pick(blocks.len(), from) {
                    let b = usize::from(to) % (blocks.len() + 1);
                    let copy = blocks[a].clone();
                    blocks.insert(b, copy);
                }
            }
        }
    }
    if blocks == f.blocks && anchors == f.anchors {
        return; // the mutations cancelled out
    }
    let decoded_blocks: Result<Vec<VecBlock>, _> = blocks.iter().map(|b| decode(b)).collect();
    let decoded_anchors: Result<Vec<Anchor>, _> = anchors.iter().map(|a| decode(a)).collect();
    let (Ok(bs), Ok(an)) = (decoded_blocks, decoded_anchors) else {
        return; // refused at decoding: detected
    };
    let verdict = verify_chain(
        ChainVerifier::new(STREAM, device().public_key(), schedule()),
        &an,
        &bs,
        &MasterSecret::from_bytes([0x22; 32]),
    );
    assert!(
        verdict.is_err(),
        "undetected mutation {ops:?}: {} blocks, {} anchors",
        bs.len(),
        an.len()
    );
});
