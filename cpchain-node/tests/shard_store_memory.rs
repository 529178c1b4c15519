//! Byte bounds of a storage node under attack from its peers (issue 15 item 2), measured
//! with a counting global allocator (one test file, one binary, tests run one at a time
//! through a lock so their counts do not mix): the heap a [`ShardStore`] holds after a
//! writer filled it to its quota, the heap a hostile shard-protocol frame costs to decode,
//! and the heap a loop of gets for unknown ids leaves behind.

mod heap;
use heap::*;

use cpchain_core::{encoding, Address};
use cpchain_node::dht::{sample_blocks, ShardRequest};
use cpchain_node::network::MAX_MESSAGE_BYTES;
use cpchain_node::storage_node::{Refusal, ShardStore, STORE_CACHE_BYTES};
use cpchain_storage::{BlockId, ShardParams};

fn tmp(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!(
        "cpchain-shard-mem-{name}-{}-{:?}",
        std::process::id(),
        std::time::SystemTime::now()
    ));
    std::fs::create_dir_all(&d).expect("dir");
    d.join("shards.redb")
}

/// A writer fills a store to its quota; the heap the store then holds (live bytes with the
/// store open, minus before it was opened, the blocks themselves made beforehand) is bounded
/// by the store's page cache, not by the bytes the writer put.
#[test]
fn a_full_store_holds_at_most_its_cache_in_heap() {
    let _g = serial();
    let quota: u64 = 12 * 1024 * 1024;
    let blocks = sample_blocks(120, 40, 4000, ShardParams::new(2, 2).expect("params"));
    let path = tmp("fill");
    let before = live();
    let store = ShardStore::open(&path, quota, u64::MAX).expect("open");
    let w = Address([9; 20]);
    let mut full = false;
    'fill: for (rec, shards) in &blocks {
        for s in shards {
            match store.put(&w, rec, Some(s)) {
                Ok(_) => {}
                Err(Refusal::QuotaFull) => {
                    full = true;
                    break 'fill;
                }
                Err(e) => panic!("refused: {e}"),
            }
        }
    }
    let used = store.used().expect("used");
    let held = live() - before;
    let file = std::fs::metadata(&path).expect("file").len();
    eprintln!(
        "store: charged {used} bytes (quota {quota}, full {full}), redb file {file}, \
         heap held {held} bytes (cache bound {STORE_CACHE_BYTES})"
    );
    assert!(used > 8 * 1024 * 1024, "the writer put {used} bytes");
    assert!(
        held <= STORE_CACHE_BYTES as isize + 1024 * 1024,
        "the store holds {held} heap bytes after {used} bytes were put"
    );
    drop(store);
}

/// Run a future that never waits (reads from an in-memory cursor).
fn now<F: std::future::Future>(f: F) -> F::Output {
    futures::FutureExt::now_or_never(f).expect("an in-memory read never waits")
}

/// Attack on the shard protocol's frames: a length prefix that claims a large frame and is
/// followed by a few bytes (the rest never sent, or trickled) must cost the bytes sent, not
/// the bytes claimed; a claim past the largest request (`ShardRequest::MAX_ENCODED_LEN`,
/// ~1.05 MiB, not the 2 MiB of other protocols) is refused before anything is read.
#[test]
fn a_claimed_frame_length_costs_only_the_bytes_sent() {
    use cpchain_core::WireMessage;
    use cpchain_node::dht::ShardCodec;
    use libp2p::request_response::Codec;
    use libp2p::StreamProtocol;
    let _g = serial();
    let proto = StreamProtocol::new("/cpchain/shard/1");
    let max = <ShardRequest as WireMessage>::MAX_ENCODED_LEN;
    // A claim of the largest request followed by 100 bytes.
    let mut frame = (max as u32).to_be_bytes().to_vec();
    frame.extend_from_slice(&[0u8; 100]);
    let mut io = futures::io::Cursor::new(frame);
    let a0 = allocated();
    let r = now(ShardCodec.read_request(&proto, &mut io));
    let cost = allocated() - a0;
    eprintln!("a {max}-byte claim with 100 bytes sent: {r:?}, {cost} bytes allocated");
    assert!(r.is_err(), "a truncated frame is an error");
    assert!(
        cost <= 128 * 1024,
        "{cost} bytes allocated for 100 bytes sent"
    );
    // One byte past the largest request, and the 2 MiB other protocols allow: refused
    // before reading.
    for claim in [max + 1, MAX_MESSAGE_BYTES] {
        let mut frame = (claim as u32).to_be_bytes().to_vec();
        frame.extend_from_slice(&vec![0u8; claim]);
        let mut io = futures::io::Cursor::new(frame);
        let a0 = allocated();
        let r = now(ShardCodec.read_request(&proto, &mut io));
        let cost = allocated() - a0;
        assert!(r.is_err(), "a {claim}-byte frame is refused");
        assert!(
            cost <= 4096,
            "{cost} bytes allocated to refuse a {claim}-byte frame"
        );
    }
}

/// Attack: hostile postcard inside a well-sized frame (length prefixes claiming more than
/// the frame holds, a shard list longer than 64, a wrong tag, trailing bytes, a truncated
/// valid request). Each is a typed decode error, and decoding allocates at most about
/// twice the frame (the canonical re-encoding check), never what a prefix claims.
#[test]
fn hostile_postcard_in_a_frame_is_a_bounded_typed_error() {
    let _g = serial();
    let blocks = sample_blocks(1, 5, 50, ShardParams::new(2, 2).expect("params"));
    let (record, shards) = &blocks[0];
    let good = encoding::encode_to_vec(&ShardRequest::Put {
        record: Box::new(record.clone()),
        shard: Some(shards[0].clone()),
    })
    .expect("enc");
    let mut hostile: Vec<Vec<u8>> = Vec::new();
    // Truncated at every length.
    for cut in 0..good.len() {
        hostile.push(good[..cut].to_vec());
    }
    // Trailing bytes; a wrong tag.
    let mut trailing = good.clone();
    trailing.push(0);
    hostile.push(trailing);
    let mut tag = good.clone();
    tag[0] ^= 0xff;
    hostile.push(tag);
    // Every single byte of the body set to 0xff (varint prefixes claiming ~2^32, lists
    // longer than 64, unknown variants).
    for i in 0..good.len() {
        let mut b = good.clone();
        b[i] = 0xff;
        hostile.push(b);
    }
    let mut worst = 0usize;
    for h in &hostile {
        let a0 = allocated();
        let r = encoding::decode::<ShardRequest>(h);
        let cost = allocated() - a0;
        worst = worst.max(cost);
        if let Ok(req) = r {
            // A flipped byte inside the shard's bytes or ids still decodes: it is then
            // refused by the store's checks, not by the decoder.
            assert!(matches!(req, ShardRequest::Put { .. }));
        }
        assert!(
            cost <= 2 * good.len() + 4096,
            "{cost} bytes allocated decoding {} bytes",
            h.len()
        );
    }
    eprintln!(
        "{} hostile frames of ≤ {} bytes: at most {worst} bytes allocated by one decode",
        hostile.len(),
        good.len() + 1
    );
    // The store loop: unknown-id gets keep nothing in the heap.
    let store = ShardStore::open(&tmp("gets"), u64::MAX, u64::MAX).expect("open");
    let before = live();
    for i in 0..5_000u32 {
        let mut id = [0u8; 32];
        id[..4].copy_from_slice(&i.to_le_bytes());
        let b = BlockId(cpchain_core::Hash(id));
        assert_eq!(store.shard(&b, (i % 256) as u8).expect("read"), None);
        assert_eq!(store.record(&b).expect("read"), None);
        assert_eq!(store.holds(&b).expect("read"), (false, 0));
    }
    let held = live() - before;
    eprintln!("5,000 unknown-id gets, records and holds: {held} heap bytes held after");
    assert!(held <= 64 * 1024, "{held} bytes held after unknown-id gets");
}
