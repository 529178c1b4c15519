//! The mempool's and the sender cache's byte bounds, measured with a counting global
//! allocator (one test file, one binary): the heap they hold after a flood of valid,
//! signed transactions (live bytes after minus before, everything else dropped) stays
//! within what they charge, and so within their budgets.

mod heap;
use heap::*;

use cpchain_core::{Address, ChainSpec, Hash};
use cpchain_crypto::SecretKey;
use cpchain_node::ingest::{check_one, SenderCache, SENDER_CACHE_ENTRY_BYTES};
use cpchain_node::tx::{
    Account, Checked, Mempool, Transaction, TxBody, TxError, TxKind, MEMPOOL_ENTRY_OVERHEAD,
    QUEUED_PER_SENDER,
};
use cpchain_node::validator::SENDER_CACHE_CAPACITY;

/// A devnet transfer from `k`, signed and recovered.
fn checked_transfer(k: &SecretKey, nonce: u64, amount: u128) -> Checked {
    let chain_id = ChainSpec::devnet().chain_id;
    let bytes = Transaction::sign(
        k,
        TxBody {
            chain_id,
            nonce,
            kind: TxKind::Transfer {
                to: Address([7; 20]),
                amount,
            },
        },
    )
    .to_bytes();
    check_one(&bytes, chain_id).expect("valid")
}

#[test]
fn mempool_heap_stays_within_its_byte_budget() {
    let _one_at_a_time = serial();
    let budget = 2usize << 20;
    let keys: Vec<SecretKey> = (1..=16u8)
        .map(|i| SecretKey::from_bytes(&[i; 32]).expect("scalar"))
        .collect();
    let load = |_: &Address| Account {
        balance: u128::MAX / 2,
        ..Account::default()
    };
    let before = live();
    let mut pool = Mempool::new(usize::MAX, budget);
    let mut admitted = 0usize;
    let mut full = false;
    // Senders interleaved, nonces rising: the pool's B-tree fills as under a flood.
    'flood: for nonce in 0..10_000u64 {
        for k in &keys {
            let c = checked_transfer(k, nonce, u128::from(nonce));
            match pool.admit_checked(c, &load) {
                Ok(_) => admitted += 1,
                Err(TxError::MempoolFull) => {
                    full = true;
                    break 'flood;
                }
                Err(e) => panic!("refused: {e}"),
            }
        }
    }
    let held = live() - before;
    assert!(full, "the byte budget was reached");
    assert!(pool.charged_bytes() <= budget);
    eprintln!(
        "mempool: {admitted} transactions, {held} heap bytes held ({} per transaction), \
         {} charged (overhead {MEMPOOL_ENTRY_OVERHEAD} + encoding)",
        held / admitted as isize,
        pool.charged_bytes()
    );
    assert!(
        held <= pool.charged_bytes() as isize,
        "held {held} > charged {}",
        pool.charged_bytes()
    );
    drop(pool);
}

/// Issue 14: the queued part (transactions behind a nonce gap, from many accounts, each
/// to `QUEUED_PER_SENDER`) holds no more heap than it charges, within its own budget, and
/// the ready part stays empty.
#[test]
fn queued_part_heap_stays_within_its_byte_budget() {
    let _one_at_a_time = serial();
    let budget = 1usize << 20;
    let keys: Vec<SecretKey> = (1..=64u8)
        .map(|i| SecretKey::from_bytes(&[i; 32]).expect("scalar"))
        .collect();
    let load = |_: &Address| Account {
        balance: u128::MAX / 2,
        ..Account::default()
    };
    // Signed and recovered before the measurement.
    let mut flood = Vec::new();
    for nonce in 1..=(QUEUED_PER_SENDER as u64) {
        for k in &keys {
            flood.push(checked_transfer(k, nonce, 1));
        }
    }
    let before = live();
    let mut pool = Mempool::with_queue(usize::MAX, usize::MAX, usize::MAX, budget);
    let mut queued = 0usize;
    let mut full = false;
    // Copies admitted (a refused copy is freed again); the originals live on.
    for c in &flood {
        match pool.admit_checked(c.clone(), &load) {
            Ok(_) => queued += 1,
            Err(TxError::MempoolFull) => full = true,
            Err(e) => panic!("refused: {e}"),
        }
    }
    let held = live() - before;
    assert!(full, "the queued byte budget was reached");
    assert_eq!(pool.ready_len(), 0);
    assert_eq!(pool.queued_len(), queued);
    assert!(pool.queued_charged_bytes() <= budget);
    eprintln!(
        "queued part: {queued} transactions, {held} heap bytes held ({} per transaction), {} charged",
        held / queued as isize,
        pool.queued_charged_bytes()
    );
    assert!(
        held <= pool.queued_charged_bytes() as isize,
        "held {held} > charged {}",
        pool.queued_charged_bytes()
    );
    assert!(held > 0);
    drop(pool);
    drop(flood);
}

#[test]
fn sender_cache_heap_stays_within_its_bound() {
    let _one_at_a_time = serial();
    let before = live();
    let mut cache = SenderCache::new(SENDER_CACHE_CAPACITY);
    for i in 0..(SENDER_CACHE_CAPACITY + 10_000) as u64 {
        let mut h = [0u8; 32];
        h[..8].copy_from_slice(&i.to_le_bytes());
        cache.insert(Hash(h), Address([1; 20]));
    }
    let held = live() - before;
    let bound = (SENDER_CACHE_CAPACITY * SENDER_CACHE_ENTRY_BYTES) as isize;
    eprintln!(
        "sender cache: {} entries, {held} heap bytes held, bound {bound}",
        cache.len()
    );
    assert_eq!(cache.len(), SENDER_CACHE_CAPACITY);
    assert!(held <= bound, "held {held} > bound {bound}");
}

/// The same bound for the largest transactions the node takes: signed market listings
/// of the longest fields (data ledger, issue 15), each holding a boxed listing besides
/// its encoding.
#[test]
fn mempool_heap_of_the_longest_listings_stays_within_its_byte_budget() {
    let _one_at_a_time = serial();
    use cpchain_storage::market::{
        Listing, MAX_DESCRIPTION_LEN, MAX_LABELS, MAX_LABEL_LEN, MAX_TITLE_LEN,
    };
    let spec = ChainSpec::devnet();
    let budget = 2usize << 20;
    let keys: Vec<SecretKey> = (1..=16u8)
        .map(|i| SecretKey::from_bytes(&[i; 32]).expect("scalar"))
        .collect();
    let load = |_: &Address| Account {
        balance: u128::MAX / 2,
        ..Account::default()
    };
    let fill = |n: usize| "x".repeat(n);
    let listings: Vec<_> = keys
        .iter()
        .map(|k| {
            Listing {
                chain_id: spec.chain_id,
                seller: k.public_key().address(),
                title: heapless::String::try_from(fill(MAX_TITLE_LEN).as_str()).expect("fits"),
                labels: (0..MAX_LABELS)
                    .map(|_| {
                        heapless::String::try_from(fill(MAX_LABEL_LEN).as_str()).expect("fits")
                    })
                    .collect(),
                description: heapless::String::try_from(fill(MAX_DESCRIPTION_LEN).as_str())
                    .expect("fits"),
                price: u128::MAX,
                stream: cpchain_storage::StreamId([0xff; 32]),
                first_interval: 0,
                last_interval: u64::MAX,
                created_at: cpchain_core::Timestamp(u64::MAX),
            }
            .sign(k)
            .expect("signs")
        })
        .collect();
    let before = live();
    let mut pool = Mempool::new(usize::MAX, budget);
    let mut admitted = 0usize;
    let mut full = false;
    'flood: for nonce in 0..10_000u64 {
        for (k, l) in keys.iter().zip(&listings) {
            let bytes = Transaction::sign(
                k,
                TxBody {
                    chain_id: spec.chain_id,
                    nonce,
                    kind: TxKind::Listing(Box::new(l.clone())),
                },
            )
            .to_bytes();
            let c = check_one(&bytes, spec.chain_id).expect("valid");
            match pool.admit_checked(c, &load) {
                Ok(_) => admitted += 1,
                Err(TxError::MempoolFull) => {
                    full = true;
                    break 'flood;
                }
                Err(e) => panic!("refused: {e}"),
            }
        }
    }
    let held = live() - before;
    assert!(full, "the byte budget was reached");
    assert!(pool.charged_bytes() <= budget);
    eprintln!(
        "mempool of listings: {admitted} transactions, {held} heap bytes held ({} per \
         transaction), {} charged",
        held / admitted as isize,
        pool.charged_bytes()
    );
    assert!(
        held <= pool.charged_bytes() as isize,
        "held {held} > charged {}",
        pool.charged_bytes()
    );
}
