//! Data-chain throughput beside the irreducible raw work, in one run (issue 7, goal ≥ 0.8×):
//!
//! * `ingest/sdk/<record>-<block>`: [`Writer::append`] of records until blocks seal by
//!   capacity, draining each sealed block (framing, key cache, header, AEAD, body hash, block
//!   id, device signature, output move).
//! * `ingest/raw/<record>-<block>`: for the same bytes, the raw crates only: copy the records
//!   into a block buffer, XChaCha20-Poly1305 seal it (salt ‖ index nonce, as the SDK since wire v2), Keccak-256 over it and one secp256k1
//!   signature per block.
//! * `shard_place`: Reed–Solomon (k = 4, m = 2) of a 64 KiB block plus disjoint placement of
//!   its 6 shards over 64 nodes with r = 2.
//! * `read`: verify and decrypt a chain of 64 KiB blocks.
//!
//! "4 KiB" and "64 KiB" blocks hold 4 KiB / 64 KiB of record bytes: the body capacity adds the
//! tag and the framing of one record, so a 4 KiB record fits a 4 KiB block.

#![allow(missing_docs)] // criterion_group! generates undocumented public items

use chacha20poly1305::aead::AeadInPlace;
use chacha20poly1305::{KeyInit, XChaCha20Poly1305};
use cpchain_core::{Duration as Ms, Timestamp};
use cpchain_crypto::SecretKey;
use cpchain_storage::*;
use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use k256::ecdsa::SigningKey;
use sha3::{Digest, Keccak256};
use std::time::Duration;

/// Bytes of records ingested per iteration.
const TOTAL: usize = 256 * 1024;
const CAP_4K: usize = 4096 + 16 + 3;
const CAP_64K: usize = 65536 + 16 + 3;

fn schedule() -> Schedule {
    // T = u = 1 h: blocks seal by capacity, as in a busy stream.
    Schedule::new(
        Ms::from_secs(3600),
        Ms::from_secs(3600),
        Ms::from_secs(3600),
    )
    .unwrap()
}

fn stream() -> StreamId {
    StreamId([0x33; 32])
}

fn device() -> SecretKey {
    SecretKey::from_bytes(&[0x11; 32]).unwrap()
}

fn records_per_block(record: usize, cap: usize) -> usize {
    let framed = record + 1 + if record < 128 { 1 } else { 2 };
    (cap - 16) / framed
}

fn sdk_ingest<const CAP: usize>(w: &mut Writer<CAP>, clock: &mut u64, record: &[u8]) -> usize {
    let mut sealed = 0;
    for _ in 0..TOTAL / record.len() {
        *clock += 1;
        if w.append(Timestamp(*clock), record).is_err() {
            break;
        }
        while let Some(o) = w.poll_output() {
            if let WriterOutput::Block(b) = o {
                sealed += black_box(b.body.len());
            }
        }
    }
    sealed
}

fn raw_ingest(cap: usize, record: &[u8], sk: &SigningKey, aead: &XChaCha20Poly1305) -> usize {
    let per_block = records_per_block(record.len(), cap);
    let mut buf: Vec<u8> = Vec::with_capacity(cap);
    let mut sealed = 0;
    let mut in_block = 0;
    let mut index = 0u64;
    for _ in 0..TOTAL / record.len() {
        buf.extend_from_slice(record);
        in_block += 1;
        if in_block == per_block {
            let mut nonce = [0x5a_u8; 24];
            nonce[16..].copy_from_slice(&index.to_be_bytes());
            let tag = aead
                .encrypt_in_place_detached(&nonce.into(), b"header", &mut buf)
                .unwrap();
            buf.extend_from_slice(&tag);
            let digest = Keccak256::digest(&buf);
            let sig = sk.sign_prehash_recoverable(&digest).unwrap();
            sealed += black_box(buf.len()) + black_box(sig.1.to_byte() as usize);
            buf.clear();
            in_block = 0;
            index += 1;
        }
    }
    sealed
}

fn ingest_case<const CAP: usize>(c: &mut Criterion, record: usize, name: &str) {
    let mut g = c.benchmark_group("data_chain/ingest");
    g.sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .throughput(Throughput::Bytes(TOTAL as u64));
    let rec = vec![0x5a_u8; record];
    let mut w: Box<Writer<CAP>> = Box::new(Writer::new(
        stream(),
        schedule(),
        device(),
        MasterSecret::from_bytes([0x22; 32]),
        &mut <rand_chacha::ChaCha20Rng as rand_chacha::rand_core::SeedableRng>::seed_from_u64(1),
    ));
    let mut clock = 0u64;
    g.bench_function(format!("sdk/{name}"), |b| {
        b.iter(|| sdk_ingest(&mut w, &mut clock, black_box(&rec)))
    });
    let sk = SigningKey::from_bytes((&[0x11u8; 32]).into()).unwrap();
    let aead = XChaCha20Poly1305::new(&[0x22u8; 32].into());
    g.bench_function(format!("raw/{name}"), |b| {
        b.iter(|| raw_ingest(CAP, black_box(&rec), &sk, &aead))
    });
    g.finish();
}

fn ingest(c: &mut Criterion) {
    ingest_case::<CAP_4K>(c, 64, "64B-4KiB");
    ingest_case::<CAP_4K>(c, 4096, "4KiB-4KiB");
    ingest_case::<CAP_64K>(c, 64, "64B-64KiB");
    ingest_case::<CAP_64K>(c, 4096, "4KiB-64KiB");
}

fn chain_of_64k_blocks(n: usize) -> Vec<VecBlock> {
    let mut w: Box<Writer<CAP_64K>> = Box::new(Writer::new(
        stream(),
        schedule(),
        device(),
        MasterSecret::from_bytes([0x22; 32]),
        &mut <rand_chacha::ChaCha20Rng as rand_chacha::rand_core::SeedableRng>::seed_from_u64(1),
    ));
    let rec = vec![0x5a_u8; 4096];
    let mut out = Vec::new();
    let mut t = 0;
    while out.len() < n {
        t += 1;
        w.append(Timestamp(t), &rec).unwrap();
        while let Some(o) = w.poll_output() {
            if let WriterOutput::Block(b) = o {
                out.push(b.to_vec_block());
            }
        }
    }
    out
}

/// A block of ~1 MiB of 4 KiB records, sealed directly (a writer of that capacity would not
/// fit the bench's stack).
fn one_mib_block() -> VecBlock {
    let key = MasterSecret::from_bytes([0x22; 32]).interval_key(&stream(), 0);
    let mut pt = Vec::new();
    let mut n = 0;
    while pt.len() + 4099 + 16 <= MAX_BLOCK_BODY {
        cpchain_storage::block::RecordFramer::push(&mut pt, 0, &[0x5a; 4096]).unwrap();
        n += 1;
    }
    let header = BlockHeader {
        stream: stream(),
        index: 0,
        prev: BlockId::default(),
        first_time: Timestamp(1),
        last_time: Timestamp(1),
        record_count: n,
        interval: 0,
        key_id: key.id(),
        salt: SessionSalt([0x5a; 16]),
    };
    Block::seal(header, pt, &key, &device()).unwrap()
}

fn shard_place(c: &mut Criterion) {
    let nodes: Vec<KadKey> = (0..64u8).map(|i| KadKey::from_preimage(&[i])).collect();
    let params = ShardParams::new(4, 2).unwrap();
    for (name, block) in [
        ("64KiB", chain_of_64k_blocks(1).remove(0)),
        ("1MiB", one_mib_block()),
    ] {
        let len = cpchain_core::encoding::encode_to_vec(&block).unwrap().len();
        let mut g = c.benchmark_group("data_chain/shard_place");
        g.sample_size(10)
            .warm_up_time(Duration::from_millis(500))
            .measurement_time(Duration::from_secs(2))
            .throughput(Throughput::Bytes(len as u64));
        g.bench_function(format!("shard+place-{name}-k4m2-r2-64nodes"), |b| {
            b.iter(|| {
                let (record, shards) = shard_block(black_box(&block), params).unwrap();
                let p = place_shards(&record.shards, &nodes, 2).unwrap();
                (shards.len(), p.len())
            })
        });
        let (record, shards) = shard_block(&block, params).unwrap();
        g.bench_function(format!("reassemble-{name}-2-lost"), |b| {
            b.iter(|| reassemble(&record, black_box(&shards[2..])).unwrap())
        });
        g.finish();
    }
}

fn read(c: &mut Criterion) {
    let blocks = chain_of_64k_blocks(4);
    let bytes: usize = blocks.iter().map(|b| b.body.len()).sum();
    let master = MasterSecret::from_bytes([0x22; 32]);
    let pk = device().public_key();
    let mut g = c.benchmark_group("data_chain/read");
    g.sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .throughput(Throughput::Bytes(bytes as u64));
    let mut scratch = vec![0u8; CAP_64K];
    g.bench_function("verify+open-64KiB-blocks", |b| {
        b.iter(|| {
            verify_chain(
                ChainVerifier::new(stream(), pk, schedule()),
                &[],
                &blocks,
                &master,
            )
            .unwrap();
            let mut n = 0;
            for blk in &blocks {
                let key = master.interval_key(&stream(), blk.header.interval);
                n += open_block(blk, &key, &mut scratch).unwrap().count();
            }
            n
        })
    });
    g.finish();
}

criterion_group!(benches, ingest, shard_place, read);
criterion_main!(benches);
