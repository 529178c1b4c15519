//! Byte bounds of a storage node under attack from its peers (issue 15 item 2), measured
//! with a counting global allocator (one test file, one binary, tests run one at a time
//! through a lock so their counts do not mix): the heap a [`ShardStore`] holds after a
//! writer filled it to its quota, the heap a hostile shard-protocol frame costs to decode,
//! and the heap a loop of gets for unknown ids leaves behind.

use cpchain_core::{encoding, Address};
use cpchain_node::dht::{sample_blocks, ShardRequest};
use cpchain_node::network::MAX_MESSAGE_BYTES;
use cpchain_node::storage_node::{Refusal, ShardStore, STORE_CACHE_BYTES};
use cpchain_storage::{BlockId, ShardParams};
use stats_alloc::{StatsAlloc, INSTRUMENTED_SYSTEM};
use std::alloc::System;
use std::sync::Mutex;

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// The tests of this binary measure one process-wide counter: one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

/// Live heap bytes of the process.
fn live() -> isize {
    let s = GLOBAL.stats();
    s.bytes_allocated as isize - s.bytes_deallocated as isize
}

/// Peak-free measure of what one call allocates in all (bytes allocated, freed or not).
fn allocated() -> usize {
    GLOBAL.stats().bytes_allocated
}

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
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
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
