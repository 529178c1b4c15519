//! Shared fixtures: a device, an owner, a schedule and a chain built through the public API.
#![allow(dead_code)]

use cpchain_core::{encoding, Duration, Timestamp};
use cpchain_crypto::SecretKey;
use cpchain_storage::*;

pub const STREAM: StreamId = StreamId([0x33; 32]);
pub const CAP: usize = 4096;

/// T = 1 s, e = 4 s, u = 2 s.
pub fn schedule() -> Schedule {
    Schedule::new(
        Duration::from_millis(1000),
        Duration::from_millis(4000),
        Duration::from_millis(2000),
    )
    .unwrap()
}

pub fn device() -> SecretKey {
    SecretKey::from_bytes(&[0x11; 32]).unwrap()
}

pub fn master() -> MasterSecret {
    MasterSecret::from_bytes([0x22; 32])
}

/// A deterministic stand-in for the device's hardware RNG (tests need the same bytes twice).
pub fn rng() -> rand_chacha::ChaCha20Rng {
    rand_chacha::rand_core::SeedableRng::seed_from_u64(0x5a17)
}

pub fn writer() -> Writer<CAP> {
    Writer::new(STREAM, schedule(), device(), master(), &mut rng())
}

pub fn verifier() -> ChainVerifier {
    ChainVerifier::new(STREAM, device().public_key(), schedule())
}

/// A lent firmware block as a host sees it: through its wire bytes.
pub fn to_host(b: &BlockRef<'_>) -> VecBlock {
    let mut buf = vec![0u8; b.body.len() + 512];
    let bytes = b.encode_to_slice(&mut buf).unwrap();
    let v: VecBlock = encoding::decode(bytes).unwrap();
    assert_eq!(v, b.to_vec_block());
    v
}

#[derive(Debug, Default, Clone)]
pub struct Chain {
    pub blocks: Vec<VecBlock>,
    pub anchors: Vec<Anchor>,
    /// Output kinds in emission order: 'B' block, 'A' anchor.
    pub order: String,
}

pub fn drain<const N: usize>(w: &mut Writer<N>, chain: &mut Chain) {
    while let Some(o) = w.poll_output() {
        match o {
            WriterOutput::Block(b) => {
                chain.blocks.push(to_host(&b));
                chain.order.push('B');
            }
            WriterOutput::Anchor(a) => {
                chain.anchors.push(a);
                chain.order.push('A');
            }
        }
    }
}

/// Feed `records` (time in ms, bytes) through a writer, draining after every input, then
/// let time run on to `end` so everything is sealed and anchored.
pub fn build<const N: usize>(w: &mut Writer<N>, records: &[(u64, Vec<u8>)], end: u64) -> Chain {
    let mut chain = Chain::default();
    for (t, r) in records {
        w.append(Timestamp(*t), r).unwrap();
        drain(w, &mut chain);
    }
    while let Some(d) = w.next_deadline() {
        if d.as_millis() > end {
            break;
        }
        w.handle_timeout(d);
        drain(w, &mut chain);
    }
    chain
}

/// Ten blocks over three encryption intervals, anchored.
pub fn sample_records() -> Vec<(u64, Vec<u8>)> {
    let mut v = Vec::new();
    for i in 0..40u64 {
        v.push((i * 300, format!("reading {i}").into_bytes()));
    }
    v
}

pub fn sample_chain() -> Chain {
    build(&mut writer(), &sample_records(), 1_000_000)
}
