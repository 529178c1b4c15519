//! Issue 14 test 5: a flood of 100,000 signed transfers from 100 accounts, submitted in
//! batches over `POST /txs` to all four validators, is committed exactly once each (every
//! block of every node read); invalid ones mixed into the flood (bad signature, wrong
//! chain, replayed nonce) are refused with their error codes and never reach a block;
//! each node recovers each signature about once (not again when judging and committing
//! the blocks carrying it); the mempool stays within its count and byte bounds and every
//! node's peak RSS under `RSS_CEILING`.

mod common;

use common::*;
use cpchain_core::Address;
use cpchain_crypto::SecretKey;
use cpchain_node::config::{load_key, NodeConfig};
use cpchain_node::tx::{tx_hash, Transaction, GENESIS_BALANCE};
use cpchain_node::validator::{MEMPOOL_BYTES, MEMPOOL_CAPACITY};
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// Flooding accounts.
const SENDERS: usize = 100;
/// Transfers per account: SENDERS × PER_SENDER = 100,000.
const PER_SENDER: u64 = 1_000;
/// Transactions per `POST /txs`.
const BATCH: usize = 2_000;
/// Submitted and not yet committed: below the pool's count (and, at ~100 + 512 charged
/// bytes each, its byte budget), so no node's pool fills with transactions whose earlier
/// nonces it had to refuse.
const IN_FLIGHT: u64 = 30_000;
/// Peak resident set of each node process (debug build): measured 60-75 MiB in this
/// test (three runs); the ceiling leaves room for a slower, more loaded machine, and is far below
/// what holding 100,000 transactions and their senders unbounded would add.
const RSS_CEILING_KB: u64 = 256 * 1024;
/// Block body limit of this test's network (~1,400 transfers).
const BLOCK_BYTES: usize = 128 << 10;
/// Funding per flooding account.
const FUND: u128 = 1_000_000_000_000;

/// Peak resident set (VmHWM) of a process, kB.
fn peak_rss_kb(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM")
}

/// Sign `PER_SENDER` transfers for each key on every core, ordered nonce-major (each
/// batch carries a few nonces of every account).
fn presign(keys: &[SecretKey], to: Address) -> Vec<Vec<u8>> {
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let per_key: Vec<Vec<Vec<u8>>> = std::thread::scope(|s| {
        let handles: Vec<_> = keys
            .chunks(keys.len().div_ceil(cores))
            .map(|chunk| {
                s.spawn(move || {
                    chunk
                        .iter()
                        .map(|k| {
                            (0..PER_SENDER)
                                .map(|n| signed_transfer(k, 41, n, to, 1))
                                .collect::<Vec<_>>()
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("signer thread"))
            .collect()
    });
    (0..PER_SENDER as usize)
        .flat_map(|n| per_key.iter().map(move |txs| txs[n].clone()))
        .collect()
}

#[test]
fn a_flood_of_100000_signed_transfers_commits_each_once_refuses_invalid_ones_and_stays_bounded() {
    let started = Instant::now();
    let mut net = Net::init("tx", 4, 300, 3_000, false);
    // Blocks of at most BLOCK_BYTES: an unoptimised (dev-profile) node on a shared 2-core
    // machine must judge a block well within the impeach timeout (see the crate docs).
    for c in &net.configs {
        let mut cfg = NodeConfig::load(c).expect("cfg");
        cfg.max_block_bytes = BLOCK_BYTES;
        cfg.save(c).expect("save");
    }
    net.start_all();
    assert!(
        net.wait_heads(&[0, 1, 2, 3], 2, Duration::from_secs(40)),
        "no start"
    );
    let cfgs = net.loaded_configs();
    let ports = net.api_ports();
    let funder = load_key(&cfgs[0].key_file).expect("key");
    let keys: Vec<SecretKey> = (0..SENDERS)
        .map(|i| {
            let mut b = [0x11u8; 32];
            b[..8].copy_from_slice(&(i as u64 + 1).to_le_bytes());
            SecretKey::from_bytes(&b).expect("scalar")
        })
        .collect();
    let senders: Vec<Address> = keys.iter().map(|k| k.public_key().address()).collect();
    let to = Address([7; 20]);

    // Fund the flooding accounts (validator 0's nonces 0..SENDERS).
    let funding: Vec<Vec<u8>> = senders
        .iter()
        .enumerate()
        .map(|(n, a)| signed_transfer(&funder, 41, n as u64, *a, FUND))
        .collect();
    let mut valid: Vec<[u8; 32]> = funding.iter().map(|t| tx_hash(t).0).collect();
    assert!(post_txs(ports[0], &funding).iter().all(Result::is_ok));

    // Pre-sign the flood on every core while the funding commits.
    let t_sign = Instant::now();
    let flood = presign(&keys, to);
    let sign_time = t_sign.elapsed();
    valid.extend(flood.iter().map(|t| tx_hash(t).0));
    let deadline = Instant::now() + Duration::from_secs(60);
    while account_state(ports[1], &funder.public_key().address()).0 < SENDERS as u64 {
        assert!(Instant::now() < deadline, "funding not committed");
        std::thread::sleep(Duration::from_millis(200));
    }

    // The flood, with three invalid transactions in every batch.
    let t_flood = Instant::now();
    let mut invalid: Vec<[u8; 32]> = Vec::new();
    let mut retries: Vec<Vec<u8>> = Vec::new();
    let mut refused_codes: HashMap<String, usize> = HashMap::new();
    let mut max_mempool = 0usize;
    let mut max_mempool_bytes = 0usize;
    let committed = |net: &Net| {
        (0..4)
            .filter_map(|i| net.status(i))
            .map(|s| s.committed_txs)
            .max()
            .unwrap_or(0)
    };
    let mut submitted = 0u64;
    let mut retried = 0u64;
    let mut chunks: Vec<Vec<Vec<u8>>> = flood.chunks(BATCH).map(<[_]>::to_vec).collect();
    chunks.reverse();
    let mut b = 0usize;
    while let Some(mut batch) = chunks.pop() {
        // Flow control: keep what is pending under the pools' bounds.
        while submitted.saturating_sub(committed(&net)) > IN_FLIGHT {
            for i in 0..4 {
                if let Some(s) = net.status(i) {
                    max_mempool = max_mempool.max(s.mempool);
                    max_mempool_bytes = max_mempool_bytes.max(s.mempool_bytes);
                }
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let n_valid = batch.len();
        let k = &keys[b % SENDERS];
        let mut bad_sig =
            Transaction::from_bytes(&signed_transfer(k, 41, PER_SENDER + 7, to, 1)).expect("tx");
        bad_sig.signature[64] = 9;
        let bad = [
            (bad_sig.to_bytes(), "bad_signature"),
            (signed_transfer(k, 42, PER_SENDER + 8, to, 1), "wrong_chain"),
            (
                signed_transfer(&funder, 41, (b % SENDERS) as u64, to, 1),
                "nonce_replayed",
            ),
        ];
        for (t, _) in &bad {
            invalid.push(tx_hash(t).0);
            batch.push(t.clone());
        }
        let port = ports[b % 4];
        let results = post_txs(port, &batch);
        for (i, r) in results.iter().enumerate() {
            if i >= n_valid {
                assert_eq!(
                    r.as_ref().err().map(String::as_str),
                    Some(bad[i - n_valid].1)
                );
                *refused_codes
                    .entry(bad[i - n_valid].1.to_string())
                    .or_default() += 1;
                continue;
            }
            match r {
                Ok(h) => {
                    assert_eq!(*h, tx_hash(&batch[i]).0);
                    submitted += 1;
                }
                Err(code) if code == "mempool_full" => {
                    retried += 1;
                    retries.push(batch[i].clone());
                }
                Err(code) => panic!("valid transaction refused: {code}"),
            }
        }
        if chunks.is_empty() && !retries.is_empty() {
            std::thread::sleep(Duration::from_millis(500));
            chunks.push(std::mem::take(&mut retries));
        }
        b += 1;
    }
    let submit_time = t_flood.elapsed();

    // Every flooding account's nonce reaches PER_SENDER on every node.
    let total = valid.len() as u64;
    let deadline = Instant::now() + Duration::from_secs(240);
    loop {
        let c = (0..4)
            .filter_map(|i| net.status(i))
            .map(|s| s.committed_txs)
            .min()
            .unwrap_or(0);
        for i in 0..4 {
            if let Some(s) = net.status(i) {
                max_mempool = max_mempool.max(s.mempool);
                max_mempool_bytes = max_mempool_bytes.max(s.mempool_bytes);
            }
        }
        if c >= total {
            break;
        }
        assert!(Instant::now() < deadline, "committed {c} of {total}");
        std::thread::sleep(Duration::from_millis(250));
    }
    let commit_time = t_flood.elapsed();
    for (i, s) in senders.iter().enumerate() {
        assert_eq!(account_state(ports[i % 4], s).0, PER_SENDER, "sender {i}");
    }
    assert_eq!(
        account_state(ports[2], &to).1,
        u128::from(PER_SENDER) * SENDERS as u128
    );
    // A replay of a committed flood transaction is refused.
    let replay = post_txs(ports[3], &flood[..1]);
    assert_eq!(
        replay[0].as_ref().err().map(String::as_str),
        Some("nonce_replayed")
    );
    // Supply is conserved (fees move from senders to coinbases).
    let validators: Vec<Address> = cfgs
        .iter()
        .map(|c| load_key(&c.key_file).expect("key").public_key().address())
        .collect();
    let supply: u128 = validators
        .iter()
        .chain(senders.iter())
        .chain(std::iter::once(&to))
        .map(|a| account_state(ports[3], a).1)
        .sum();
    assert_eq!(supply, 4 * GENESIS_BALANCE);

    // Memory: the pools stayed within their bounds; every process under the ceiling.
    assert!(max_mempool <= MEMPOOL_CAPACITY && max_mempool_bytes <= MEMPOOL_BYTES);
    let mut rss = Vec::new();
    let mut recoveries = Vec::new();
    for (i, c) in net.children.iter().enumerate() {
        let pid = c.as_ref().expect("running").id();
        rss.push(peak_rss_kb(pid));
        let s = net.status(i).expect("status");
        recoveries.push((s.recoveries, s.sender_cache_hits, s.block_recoveries));
    }
    let seen_by_each = total + invalid.len() as u64;
    eprintln!(
        "flood: {total} valid + {} invalid; signing {sign_time:?}, submission {submit_time:?}, \
         all committed after {commit_time:?}, whole test {:?}; peak mempool {max_mempool} txs / \
         {max_mempool_bytes} bytes; peak RSS kB {rss:?}; (recoveries, cache hits, block \
         recoveries) per node {recoveries:?}",
        invalid.len(),
        started.elapsed()
    );
    for (i, kb) in rss.iter().enumerate() {
        assert!(
            *kb <= RSS_CEILING_KB,
            "node {i} peak RSS {kb} kB > {RSS_CEILING_KB} kB"
        );
    }
    for (i, (rec, hits, block_rec)) in recoveries.iter().enumerate() {
        // Once per transaction it saw (by API or gossip); judging and committing blocks
        // takes senders from the cache (every committed transaction is looked up at least
        // at commit). The only second recoveries are of transactions a block brought
        // while the gossiped batch carrying them was still being recovered (a race the
        // node does not wait out) or while a gossiped batch was shed because every
        // recovery slot was busy: counted as block recoveries. How many depends on the
        // machine's load (16,978 of 100,100 on one node in a loaded CI run), so
        // the bound asserted is the load-independent one: a block transaction is
        // recovered at most once more, never once per block that carries or judges it.
        assert!(
            *rec <= seen_by_each + block_rec + retried,
            "node {i} recovered {rec} times for {seen_by_each} transactions"
        );
        assert!(
            *block_rec <= total,
            "node {i} recovered {block_rec} block transactions again (more than one each)"
        );
        assert!(
            hits + block_rec >= total,
            "node {i}: block senders from the cache {hits} < {total}"
        );
    }

    // Stop, then read every block of every node: each valid transaction exactly once, no
    // invalid one, and the chains agree.
    let target = (0..4).map(|i| net.head(i)).max().unwrap_or(0);
    assert!(net.wait_heads(&[0, 1, 2, 3], target, Duration::from_secs(30)));
    net.stop_all();
    let chains: Vec<_> = (0..4).map(|i| net.chain(i)).collect();
    assert_chains_agree(&chains);
    for cfg in &cfgs {
        let store = cpchain_node::store::Store::open_existing(&cfg.db_path()).expect("db");
        let mut seen: HashMap<[u8; 32], u32> = HashMap::with_capacity(valid.len());
        for v in store.all().expect("blocks") {
            for t in &v.block.transactions {
                *seen.entry(tx_hash(t).0).or_default() += 1;
            }
        }
        for (n, h) in valid.iter().enumerate() {
            assert_eq!(
                seen.get(h),
                Some(&1),
                "tx {n} committed {:?} times",
                seen.get(h)
            );
        }
        for h in &invalid {
            assert_eq!(seen.get(h), None, "an invalid transaction was committed");
        }
        assert_eq!(
            seen.len(),
            valid.len(),
            "unexpected transactions in the chain"
        );
    }
    assert_eq!(refused_codes.len(), 3);
}
